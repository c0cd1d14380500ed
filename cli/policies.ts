import type { Command } from 'commander';
import { z } from 'zod';
import { POLICIES } from '../policies/index.js';
import type { CliIo } from './io.js';

/**
 * `dispatchlab policies [--json]`: every registered policy with its options, their types, defaults
 * and meaning. Everything is derived from the registry's zod schemas (through JSON Schema), so the
 * listing cannot drift from what a scenario is validated against.
 */

type JsonSchema = {
  type?: string;
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  default?: unknown;
  description?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  properties?: Record<string, JsonSchema>;
};

export interface PolicyListing {
  readonly name: string;
  readonly summary: string;
  /** The options as JSON Schema (input side: what a scenario may write, with defaults). */
  readonly options: JsonSchema;
}

export function listPolicies(): PolicyListing[] {
  return Object.values(POLICIES).map((def) => ({
    name: def.name,
    summary: def.summary,
    options: z.toJSONSchema(def.options, { io: 'input' }) as JsonSchema,
  }));
}

/** Bounds zod adds for every int (the safe-integer range) say nothing to a reader. */
const isMeaningfulBound = (n: number | undefined): n is number => n !== undefined && Math.abs(n) < Number.MAX_SAFE_INTEGER;

/** A one-line type: `in-flight | reported`, `number >= 0`, `integer > 0`, `0 | number >= 1`. */
export function describeType(s: JsonSchema): string {
  if (s.anyOf) return s.anyOf.map(describeType).join(' | ');
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.enum) return s.enum.map(String).join(' | ');
  const bounds = [
    isMeaningfulBound(s.exclusiveMinimum) ? `> ${s.exclusiveMinimum}` : undefined,
    isMeaningfulBound(s.minimum) ? `>= ${s.minimum}` : undefined,
    isMeaningfulBound(s.maximum) ? `<= ${s.maximum}` : undefined,
  ].filter((b) => b !== undefined);
  return [s.type ?? 'any', ...bounds].join(' ');
}

function formatPolicies(listing: readonly PolicyListing[]): string {
  const lines: string[] = [];
  for (const p of listing) {
    lines.push(`${p.name}: ${p.summary}`);
    const options = Object.entries(p.options.properties ?? {});
    if (options.length === 0) lines.push('    (no options)');
    const nameWidth = Math.max(0, ...options.map(([name]) => name.length));
    for (const [name, s] of options) {
      const dflt = s.default === undefined ? '' : ` (default ${JSON.stringify(s.default)})`;
      lines.push(`    ${name.padEnd(nameWidth)}  ${describeType(s)}${dflt}${s.description ? `: ${s.description}` : ''}`);
    }
    lines.push('');
  }
  return lines.join('\n');
}

export function registerPolicies(program: Command, io: CliIo): void {
  program
    .command('policies')
    .description('list the balancing policies and their options (types, defaults)')
    .option('--json', 'machine-readable output: name, summary and the options as JSON Schema')
    .action((opts: { json?: boolean }) => {
      const listing = listPolicies();
      io.stdout.write(opts.json ? `${JSON.stringify(listing, null, 2)}\n` : formatPolicies(listing));
    });
}
