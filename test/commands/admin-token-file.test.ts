import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { removeGeneratedToken, writeGeneratedToken } from '../../cli/dispatcher-options.js';

describe('a generated admin token', () => {
  it('is written to a fresh owner-only file, not printed', () => {
    const parent = mkdtempSync(join(tmpdir(), 'token-test-'));
    try {
      const file = writeGeneratedToken('generated-token-abcdef', parent);
      expect(readFileSync(file, 'utf8')).toBe('generated-token-abcdef\n');
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(statSync(dirname(file)).mode & 0o777).toBe(0o700);
      // Two dispatchers never share (or overwrite) one file.
      expect(writeGeneratedToken('another-token-123456', parent)).not.toBe(file);
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });

  it('is removed with its directory, and only that: the parent stays, a second removal is harmless', () => {
    const parent = mkdtempSync(join(tmpdir(), 'token-test-'));
    try {
      const file = writeGeneratedToken('generated-token-abcdef', parent);
      const other = writeGeneratedToken('another-token-123456', parent);
      removeGeneratedToken(file);
      expect(existsSync(dirname(file))).toBe(false);
      expect(existsSync(parent)).toBe(true);
      expect(readFileSync(other, 'utf8')).toBe('another-token-123456\n');
      expect(() => removeGeneratedToken(file)).not.toThrow();
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });
});
