/**
 * Takes docs/img/dashboard.png, the README's picture of the dashboard: `up` on
 * scenarios/default.yaml under open-loop load (the scenario's request mix at 150 req/s), in Debian's
 * Chromium. Round robin for 20 s, then least-loaded; at 30 s host-b's own load goes to 2.5 cores;
 * at 38 s web-a-2 is crashed from the page; the picture is taken at 50 s.
 *
 *   npm run dashboard:screenshot      # ~1 min; needs /usr/bin/chromium (scripts/ensure-chromium.sh)
 */
import { loadScenario } from '../core/scenario.js';
import { startUp } from '../dispatcher/local-fleet.js';
import { runOpenLoop } from '../loadtest/open-loop.js';
import { checkPolicySpecs } from '../policies/index.js';
import { CHROMIUM_PATH, haveChromium, launchChromium } from './chromium.js';

const SCENARIO = 'scenarios/default.yaml';
const OUT = 'docs/img/dashboard.png';
const TOKEN = 'screenshot-token-0123';
const RATE_RPS = 150;
const RUN_MS = 50_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  if (!haveChromium()) throw new Error(`${CHROMIUM_PATH} is absent: run scripts/ensure-chromium.sh first`);
  const scenario = loadScenario(SCENARIO, checkPolicySpecs);
  const up = await startUp({ scenario, policy: 'round-robin', adminToken: TOKEN });
  const browser = await launchChromium({ width: 1400, height: 1000 });
  try {
    const page = browser.context.pages()[0] ?? (await browser.context.newPage());
    await page.goto(`${up.dispatcher.adminUrl}/`);
    await page.fill('#token', TOKEN);
    await page.click('#unlock');
    await page.waitForSelector('#auth-state.unlocked');
    const load = runOpenLoop({
      kind: 'open',
      url: up.dispatcher.url,
      seed: scenario.seed,
      classes: scenario.workload.classes,
      sessions: scenario.workload.sessions,
      warmupMs: 0,
      durationMs: RUN_MS + 5000,
      timeoutMs: 5000,
      rateRps: RATE_RPS,
      maxInFlight: 512,
    });
    await sleep(20_000);
    await page.selectOption('#policy-name', 'least-loaded');
    await page.click('#policy-apply');
    await sleep(10_000);
    await page.fill('.host[data-host="host-b"] .host-controls input', '2.5');
    await page.click('.host[data-host="host-b"] .host-controls button');
    await sleep(8000);
    await page.click('.vm[data-vm="web-a-2"] button.crash');
    await sleep(RUN_MS - 38_000);
    await page.screenshot({ path: OUT, fullPage: true });
    process.stdout.write(`wrote ${OUT}\n`);
    await load;
  } finally {
    await browser.close();
    await up.close();
  }
}

await main();
