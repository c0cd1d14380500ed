import { Option, type Command } from 'commander';
import { startHost } from '../backends/host-server.js';
import { DEFAULT_MAX_BODY_BYTES } from '../backends/replica-app.js';
import { loadScenario, ScenarioError } from '../core/scenario.js';
import { closeOnSignal } from './dispatcher-options.js';
import { CliError } from './errors.js';
import type { CliIo } from './io.js';
import { parsePort } from './flags.js';
import { listNames } from '../core/names.js';

/**
 * `dispatchlab host --scenario F --host NAME`: serve every replica VM of one host from this
 * process, around one shared hypervisor model. Prints one line per replica URL, then runs until
 * SIGTERM/SIGINT, when it stops accepting, gives in-flight requests a short grace and exits 0.
 */
export function registerHost(program: Command, io: CliIo): void {
  program
    .command('host')
    .description("serve one host's replica VMs (one HTTP port each) around its simulated hypervisor")
    .requiredOption('--scenario <file>', 'scenario YAML file')
    .requiredOption('--host <name>', 'which host of the scenario to run')
    .option('--bind <address>', 'address to listen on', '127.0.0.1')
    .option('--base-port <port>', "first replica port, overriding the host's basePort (0: ephemeral ports)", parsePort('--base-port'))
    .addOption(new Option('--max-body-bytes <bytes>', 'larger request bodies get 413').argParser(parseByteCount).default(DEFAULT_MAX_BODY_BYTES, `${DEFAULT_MAX_BODY_BYTES} (${DEFAULT_MAX_BODY_BYTES / (1024 * 1024)} MiB)`))
    .action(async (opts: { scenario: string; host: string; bind: string; basePort?: number; maxBodyBytes: number }) => {
      // Policies are the dispatcher's business; a host runs whatever the scenario's policies are.
      const scenario = loadScenario(opts.scenario);
      if (!scenario.hosts.some((h) => h.name === opts.host)) throw new CliError(noSuchHost(scenario.hosts, opts.host, opts.scenario));
      const running = await startHost({
        scenario,
        hostName: opts.host,
        port: opts.basePort,
        bind: opts.bind,
        maxBodyBytes: opts.maxBodyBytes,
      }).catch((err: unknown) => {
        if (err instanceof ScenarioError || !(err instanceof Error)) throw err;
        throw new CliError(err.message);
      });
      // Before anything is printed: whoever reads the addresses may send a signal at once.
      closeOnSignal(io, opts.host, () => running.close());
      for (const r of running.replicas) io.stdout.write(`${r.vm} ${r.url}\n`);
      io.stdout.write(`${opts.host}: metrics at ${running.metricsUrl}\n`);
    });
}

/**
 * Why `--host` names no host. An entry with `count: N` is N hosts, <name>-1 ... <name>-N, each run
 * by a process of its own, so its name alone is not a host: say so, rather than only list hosts.
 */
function noSuchHost(hosts: readonly { name: string }[], name: string, file: string): string {
  const names = new Set(hosts.map((h) => h.name));
  let counted = 0;
  while (names.has(`${name}-${counted + 1}`)) counted++;
  if (counted > 1) {
    return `--host: "${name}" in ${file} is a host entry of ${counted} hosts, ${name}-1 ... ${name}-${counted}: run one \`dispatchlab host\` for each (--host ${name}-1, and so on)`;
  }
  return `--host: no host named "${name}" in ${file} (hosts: ${listNames(names)})`;
}

function parseByteCount(text: string): number {
  const bytes = Number(text);
  if (!Number.isInteger(bytes) || bytes < 0) throw new CliError(`--max-body-bytes: expected a whole number of bytes, got "${text}"`);
  return bytes;
}
