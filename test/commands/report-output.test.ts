import { afterEach, describe, expect, it } from 'vitest';
import { useColor } from '../../cli/report-output.js';

describe('colour in the terminal table', () => {
  const saved = process.env.NO_COLOR;
  afterEach(() => {
    if (saved === undefined) delete process.env.NO_COLOR;
    else process.env.NO_COLOR = saved;
  });

  it('only on a terminal, and never when NO_COLOR is set (no-color.org)', () => {
    const tty = { isTTY: true } as NodeJS.WriteStream;
    delete process.env.NO_COLOR;
    expect(useColor(tty)).toBe(true);
    expect(useColor({ isTTY: false } as NodeJS.WriteStream)).toBe(false);
    process.env.NO_COLOR = '1';
    expect(useColor(tty)).toBe(false);
  });
});
