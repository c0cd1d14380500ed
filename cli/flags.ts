import type { Command } from 'commander';
import { parseDuration } from '../core/duration.js';
import { policyLabel, type PolicySpec, type Scenario } from '../core/scenario.js';
import { parseSlo, SloError } from '../core/slo.js';
import { policyNames } from '../policies/index.js';
import { MAX_RATE_RPS, MIN_RATE_RPS } from '../core/limits.js';
import { CliError } from './errors.js';
import { policyFileSpec } from './policy-files.js';

/** Command-line flag parsing shared by the commands: bad values exit 2 with the flag and what was expected. */

/** `--policies a,b`: each entry is a scenario label (keeping its options), a policy file or a registry name. */
export function selectPolicies(scenario: Scenario, list: string): PolicySpec[] {
  const names = list.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (names.length === 0) throw new CliError('--policies: expected a comma-separated list of policies');
  const specs = names.map((name) => {
    const fromScenario = scenario.policies.find((p) => policyLabel(p) === name);
    if (fromScenario !== undefined) return fromScenario;
    const file = policyFileSpec(name);
    if (file !== undefined) return file;
    if (!policyNames().includes(name)) {
      const labels = scenario.policies.map(policyLabel).filter((l) => !policyNames().includes(l));
      throw new CliError(`--policies: "${name}" is not a policy (known: ${[...policyNames(), ...labels].join(', ')})`);
    }
    return name;
  });
  // Reports key runs by label (two files of one name share theirs), as the scenario's list requires them unique.
  const labels = specs.map(policyLabel);
  const twice = labels.find((label, i) => labels.indexOf(label) !== i);
  if (twice !== undefined) throw new CliError(`--policies: two policies are labelled "${twice}"; give the scenario's labels or files of other names`);
  return specs;
}

/** A commander parser for a whole number >= 1, at most `max` (by default the largest a double counts exactly). */
export function parseCount(flag: string, max = Number.MAX_SAFE_INTEGER): (text: string) => number {
  return (text) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1) throw new CliError(`${flag}: expected a whole number >= 1, got "${text}"`);
    if (n > max) throw new CliError(`${flag}: expected a whole number at most ${max}, got "${text}"`);
    return n;
  };
}

/** A commander parser for a TCP port, 0 (ephemeral) to 65535. */
export function parsePort(flag: string): (text: string) => number {
  return (text) => {
    const port = Number(text);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliError(`${flag}: expected a port 0-65535, got "${text}"`);
    return port;
  };
}

/** A commander parser for a positive number. */
export function parsePositive(flag: string): (text: string) => number {
  return (text) => {
    const n = Number(text);
    if (!Number.isFinite(n) || n <= 0) throw new CliError(`${flag}: expected a number > 0, got "${text}"`);
    return n;
  };
}

/** A commander parser for a request rate, in the range a scenario's `arrival.rateRps` allows. */
export function parseRate(flag: string): (text: string) => number {
  const positive = parsePositive(flag);
  return (text) => {
    const rateRps = positive(text);
    if (rateRps < MIN_RATE_RPS || rateRps > MAX_RATE_RPS) throw new CliError(`${flag}: expected requests per second ${MIN_RATE_RPS}-${MAX_RATE_RPS}, got "${text}"`);
    return rateRps;
  };
}

/** A commander parser for a duration (`30s`, `500ms`, `2m`); `allowZero` for a warm-up. */
export function parseDurationFlag(flag: string, allowZero = false): (text: string) => number {
  return (text) => {
    const ms = parseDuration(text);
    if (ms === undefined || ms < 0 || (ms === 0 && !allowZero)) throw new CliError(`${flag}: expected a duration such as 30s or 2m, got "${text}"`);
    return ms;
  };
}

/**
 * The command line as the user typed it, for a report's `command` field: `dispatchlab simulate
 * --scenario ...`. The program has no options of its own, so its `args` are the subcommand's name
 * and everything after it, as given.
 */
export function commandLine(command: Command): string {
  let root = command;
  while (root.parent !== null) root = root.parent;
  return ['dispatchlab', ...root.args].join(' ');
}

/** `--slo 'p99<200ms,errors<1%'` (core/slo.ts): checked here, kept as written for the report. */
export function parseSloFlag(text: string): string {
  try {
    parseSlo(text);
  } catch (err) {
    if (err instanceof SloError) throw new CliError(`--slo: ${err.message}`);
    throw err;
  }
  return text;
}

export const SLO_HELP = "service-level objectives each policy must meet, e.g. 'p99<200ms,errors<1%' (default: the scenario's slo); exit code 1 when a policy fails them";
