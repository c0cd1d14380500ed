import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

/**
 * Debian's Chromium (scripts/ensure-chromium.sh) through playwright-core, headless, in a fresh
 * profile of its own, for the dashboard's browser test and its screenshot script. No browser is
 * ever downloaded.
 */

export const CHROMIUM_PATH = '/usr/bin/chromium';

export function haveChromium(): boolean {
  return existsSync(CHROMIUM_PATH);
}

export interface Browser {
  readonly context: BrowserContext;
  /** Closes the browser and removes its profile. */
  close(): Promise<void>;
}

export async function launchChromium(viewport = { width: 1400, height: 1000 }): Promise<Browser> {
  const profileDir = mkdtempSync(join(tmpdir(), 'dispatchlab-chromium-'));
  try {
    // A persistent context is how playwright takes a --user-data-dir: this fresh one.
    const context = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      viewport,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    return {
      context,
      async close() {
        await context.close();
        rmSync(profileDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(profileDir, { recursive: true, force: true });
    throw err;
  }
}
