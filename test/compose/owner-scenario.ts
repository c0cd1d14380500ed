import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { parseScenarioText } from '../../core/scenario.js';

/**
 * The "make an owner come back" step of docs/compose.md, made by a program for the compose test:
 * copies scenarios/ into DIR and writes DIR/owner.yaml, the default scenario with OWNER_HOST's
 * owner coming back OWNER_AT after the host starts, for OWNER_FOR, and that host's replicas
 * harvested (suspended while the owner is active). Usage: owner-scenario.ts DIR
 */

const OWNER_HOST = 'host-b';
const OWNER_AT = '10s';
const OWNER_FOR = '30s';

function ownerScenarioText(defaultText: string): string {
  const doc = parseDocument(defaultText);
  const hosts = doc.get('hosts') as { items: { get(k: string): unknown; set(k: string, v: unknown): void }[] };
  const host = hosts.items.find((h) => h.get('name') === OWNER_HOST);
  if (!host) throw new Error(`the default scenario has no host ${OWNER_HOST}`);
  host.set('owner', doc.createNode([{ at: OWNER_AT, for: OWNER_FOR }]));
  host.set('onOwnerReturn', 'suspend');
  const vms = doc.get('vms') as { items: { get(k: string): unknown; set(k: string, v: unknown): void }[] };
  for (const vm of vms.items) {
    if (vm.get('host') === OWNER_HOST && vm.get('serves') !== false) vm.set('harvested', true);
  }
  doc.set('name', 'owner');
  const text = doc.toString();
  parseScenarioText(text, 'owner.yaml');
  return text;
}

const dir = process.argv[2];
if (dir === undefined) {
  process.stderr.write('usage: owner-scenario.ts DIR\n');
  process.exit(2);
}
mkdirSync(dir, { recursive: true });
for (const file of readdirSync('scenarios')) copyFileSync(join('scenarios', file), join(dir, file));
writeFileSync(join(dir, 'owner.yaml'), ownerScenarioText(readFileSync('scenarios/default.yaml', 'utf8')));
