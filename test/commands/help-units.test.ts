import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { captureIo } from '../helpers/cli.js';
import { registerCompare } from '../../cli/compare.js';
import { registerDispatcher } from '../../cli/dispatcher.js';
import { registerHost } from '../../cli/host.js';
import { registerLoad } from '../../cli/load.js';
import { registerSimulate } from '../../cli/simulate.js';
import { registerUp } from '../../cli/up.js';

describe('--help', () => {
  it('shows durations as durations (10s), never as bare milliseconds', () => {
    const program = new Command('dispatchlab');
    for (const register of [registerCompare, registerSimulate, registerLoad, registerHost, registerUp, registerDispatcher]) register(program, captureIo());
    const helps = program.commands.map((c) => c.helpInformation());
    const load = helps.find((h) => h.includes('--round')) ?? '';
    expect(load).toMatch(/--round <time>\s+length\s+of\s+one\s+round,\s+one\s+printed\s+line\s+each\s+\(default:\s+10s\)/);
    expect(load).toMatch(/--timeout <time>[\s\S]*?\(default: 10s\)/);
    // A duration or size default of four digits or more with no unit is a number the reader must decode (ports aside).
    const options = helps.flatMap((h) => h.split(/\n(?= +-)/)).filter((o) => !/port/.test(o));
    for (const option of options) expect(option).not.toMatch(/\(default: \d{4,}\)/);
  });
});
