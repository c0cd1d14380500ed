import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expandVms, loadScenario, parseScenario } from '../../core/scenario.js';
import type { AdminBackend, DashboardFrame } from '../../dispatcher/admin-api.js';
import { startUp, type RunningUp } from '../../dispatcher/local-fleet.js';
import { CHROMIUM_PATH, haveChromium, launchChromium, type Browser } from '../../scripts/chromium.js';
import { ADMIN_TOKEN } from './dispatcher-helpers.js';

/**
 * The dashboard in a real browser: Debian's Chromium (scripts/ensure-chromium.sh, which CI runs),
 * driven by playwright-core, against `up` on the default scenario (real sockets, port 0) under a
 * small, bounded load. Where no Chromium is installed the suite says so and skips; in CI a missing
 * Chromium is a failure. (scripts/dashboard-screenshot.ts takes the README's picture the same way.)
 */

const chromiumHere = haveChromium();
if (!chromiumHere) {
  const message = `dashboard browser test: ${CHROMIUM_PATH} is absent, so the browser tests are skipped (install it: bash scripts/ensure-chromium.sh)`;
  if (process.env.CI) throw new Error(`${message}; CI must install it`);
  console.warn(message);
}

const scenario = loadScenario('scenarios/default.yaml');
/**
 * Frequent health checks, so a crashed VM (its /healthz answers 503 at once) leaves the rotation
 * within a second; a generous timeout, so a busy machine does not take healthy replicas out.
 */
const settings = { ...scenario.dispatcher, healthCheck: { ...scenario.dispatcher.healthCheck, intervalMs: 200, timeoutMs: 2000, rise: 1, fall: 1 } };
/** Bounds on the load: concurrent clients and total requests. */
const LOAD_CLIENTS = 6;
const LOAD_MAX_REQUESTS = 60_000;

let up: RunningUp;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let stopLoad: () => Promise<void> = async () => {};

/** Closed-loop load on the proxy until stopped (or LOAD_MAX_REQUESTS), from LOAD_CLIENTS clients. */
function startLoad(url: string): () => Promise<void> {
  let stop = false;
  let sent = 0;
  const client = async (i: number): Promise<void> => {
    while (!stop && sent < LOAD_MAX_REQUESTS) {
      sent++;
      await fetch(`${url}/${i % 10 === 0 ? 'report' : 'page'}`).then((r) => r.arrayBuffer(), () => undefined);
    }
  };
  const clients = Array.from({ length: LOAD_CLIENTS }, (_, i) => client(i));
  return async () => {
    stop = true;
    await Promise.all(clients);
  };
}

async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  const res = await fetch(`${up.dispatcher.adminUrl}${path}`, init);
  return (await res.json()) as T;
}

async function frame(): Promise<DashboardFrame> {
  return api<DashboardFrame>('/dashboard.json');
}

/** A change through the admin API, as curl or another tab would make it. */
async function change(method: string, path: string, body: unknown): Promise<void> {
  const res = await fetch(`${up.dispatcher.adminUrl}${path}`, {
    method,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
    body: JSON.stringify(body),
  });
  expect(res.status, await res.text()).toBe(200);
}

/** A fresh tab on the dashboard, unlocked, with a frame shown. */
async function openUnlocked(): Promise<Page> {
  const p = await context.newPage();
  await p.goto(`${up.dispatcher.adminUrl}/`);
  await p.waitForSelector('body[data-frames]');
  await unlock(p);
  return p;
}

/** Until the page has rendered `count` more frames than now. */
async function nextFrames(p: Page, count = 1): Promise<void> {
  const shown = Number(await p.locator('body').getAttribute('data-frames'));
  await expect.poll(async () => Number(await p.locator('body').getAttribute('data-frames')), { timeout: 10_000 }).toBeGreaterThanOrEqual(shown + count);
}

async function unlock(p: Page): Promise<void> {
  await p.fill('#token', ADMIN_TOKEN);
  await p.click('#unlock');
  await p.waitForSelector('#auth-state.unlocked');
}

describe.skipIf(!chromiumHere)('the dashboard in Chromium', () => {
  beforeAll(async () => {
    up = await startUp({ scenario, policy: 'round-robin', adminToken: ADMIN_TOKEN, dispatcher: { settings } });
    browser = await launchChromium();
    context = browser.context;
    page = context.pages()[0] ?? (await context.newPage());
    await page.goto(`${up.dispatcher.adminUrl}/`);
  }, 60_000);

  afterAll(async () => {
    await stopLoad();
    await browser?.close();
    await up?.close();
  });

  it('renders every host and VM of the scenario, with its technique, paging and state', async () => {
    await page.waitForSelector('body[data-frames]');
    expect(await page.locator('.host').count()).toBe(scenario.hosts.length);
    for (const vm of expandVms(scenario)) {
      const card = page.locator(`.host[data-host="${vm.host}"] .vm[data-vm="${vm.name}"]`);
      await expect.poll(() => card.getAttribute('data-status'), { timeout: 10_000 }).toBe('running');
      const text = await card.innerText();
      expect(text).toContain(vm.virtualization);
      expect(text).toContain(vm.mmu === 'shadow' ? 'shadow page tables' : 'nested paging');
      expect(text).toContain(vm.serves ? 'replica' : 'neighbour');
    }
    for (const h of scenario.hosts) expect(await page.locator(`.host[data-host="${h.name}"] .core`).count()).toBe(h.cores);
    expect(await page.locator('#policy').innerText()).toBe('round-robin');
    // Five VMs: every card and backend shows, none folded.
    expect(await page.locator('.host-vms').count()).toBe(0);
    expect(await page.locator('.backends-fold').count()).toBe(0);
  });

  it('under load the numbers move: rates, CPU and the period counts', async () => {
    const requestsInPeriod = async () => Object.values((await frame()).live.periods.at(-1)?.requests ?? {}).reduce((a, b) => a + b, 0);
    const before = await requestsInPeriod();
    stopLoad = startLoad(up.dispatcher.url);
    await expect.poll(async () => Number(await page.locator('#total-rps').innerText()), { timeout: 15_000 }).toBeGreaterThan(0);
    await expect.poll(async () => (await page.locator('.vm[data-vm="web-a-1"] .cpu-text').innerText()).replace('CPU ', ''), { timeout: 15_000 }).not.toBe('0.00');
    await expect.poll(async () => (await page.locator('#total-p99').innerText()), { timeout: 15_000 }).toMatch(/ms$/);
    // The neighbour burns its own background load, traffic or not.
    expect(Number((await page.locator('.vm[data-vm="batch"] .cpu-text').innerText()).replace('CPU ', ''))).toBeGreaterThan(0);
    const shown = await page.locator('body').getAttribute('data-frames');
    await expect.poll(() => page.locator('body').getAttribute('data-frames'), { timeout: 10_000 }).not.toBe(shown);
    expect(await requestsInPeriod()).toBeGreaterThan(before);
    await expect.poll(() => page.locator('#chart-rps polyline[data-series="*"]').count(), { timeout: 10_000 }).toBe(1);
  });

  it('without the token the controls are disabled, and the API refuses them', async () => {
    const readOnly = await context.newPage();
    try {
      await readOnly.goto(`${up.dispatcher.adminUrl}/`);
      await readOnly.waitForSelector('.vm[data-vm="web-b1"] button.crash');
      expect(await readOnly.locator('#auth-state').innerText()).toBe('read-only');
      expect(await readOnly.locator('.vm[data-vm="web-b1"] button.crash').isDisabled()).toBe(true);
      expect(await readOnly.locator('#policy-apply').isDisabled()).toBe(true);
      // Enable the controls and click, in one turn (the next frame disables them again): the page
      // has no token to send, and the admin port refuses.
      const forceClick = (selector: string): Promise<unknown> =>
        readOnly.evaluate(`document.querySelectorAll('.control').forEach((c) => { c.disabled = false; }); document.querySelector('${selector}').click();`);
      await forceClick('#policy-apply');
      await expect.poll(() => readOnly.locator('#message').innerText(), { timeout: 10_000 }).toMatch(/PUT policy refused \(401\)/);
      await forceClick('.vm[data-vm="web-b1"] button.crash');
      await expect.poll(() => readOnly.locator('#message').innerText(), { timeout: 10_000 }).toMatch(/crash refused \(401\)/);
      expect((await api<{ name: string }>('/policy')).name).toBe('round-robin');
      expect((await frame()).fleet.hosts.flatMap((h) => h.vms).find((v) => v.name === 'web-b1')?.status).toBe('running');
    } finally {
      await readOnly.close();
    }
  });

  it('switching the policy from the page changes the dispatcher policy, and the charts mark it', async () => {
    await unlock(page);
    // The token lives in this tab's sessionStorage, never in the URL.
    expect(await page.evaluate("sessionStorage.getItem('dispatchlab.adminToken')")).toBe(ADMIN_TOKEN);
    expect(page.url()).not.toContain(ADMIN_TOKEN);
    await page.selectOption('#policy-name', 'least-loaded');
    await page.click('#policy-apply');
    await expect.poll(async () => (await api<{ name: string }>('/policy')).name, { timeout: 10_000 }).toBe('least-loaded');
    await expect.poll(() => page.locator('#policy').innerText(), { timeout: 10_000 }).toBe('least-loaded');
    await expect.poll(() => page.locator('#chart-rps text.marker-label', { hasText: 'least-loaded' }).count(), { timeout: 10_000 }).toBe(1);
    await expect.poll(() => page.locator('#periods .period.current strong').innerText(), { timeout: 10_000 }).toBe('least-loaded');
  });

  it('crashing a VM from the page shows it crashed, and its requests go elsewhere', async () => {
    const card = page.locator('.vm[data-vm="web-a-1"]');
    await card.locator('button.crash').click();
    await expect.poll(() => card.getAttribute('data-status'), { timeout: 10_000 }).toBe('crashed');
    await expect.poll(async () => (await api<{ backends: AdminBackend[] }>('/backends')).backends.find((b) => b.id === 'web-a-1')?.healthy, { timeout: 10_000 }).toBe(false);
    const counts = async () => (await frame()).live.periods.at(-1)?.requests ?? {};
    const before = await counts();
    // Two frames' worth of traffic with the VM down.
    await page.waitForTimeout(2500);
    const after = await counts();
    expect(after['web-a-1'] ?? 0).toBe(before['web-a-1'] ?? 0);
    for (const other of ['web-a-2', 'web-b1', 'web-b2']) expect(after[other] ?? 0).toBeGreaterThan(before[other] ?? 0);
  });

  it('the policy and weight controls follow a change made elsewhere, so pressing them does not undo it', async () => {
    const p = await openUnlocked();
    try {
      await change('PUT', '/policy', { name: 'power-of-two', options: { choices: 3 } });
      await change('PUT', '/backends/web-b2/weight', { weight: 3 });
      // The header and the weight cell are drawn in the same frame as the controls.
      await expect.poll(() => p.locator('#policy').innerText(), { timeout: 10_000 }).toBe('power-of-two');
      await expect.poll(() => p.locator('tr[data-backend="web-b2"] .weight').innerText(), { timeout: 10_000 }).toBe('3');
      expect(await p.locator('#policy-name').inputValue()).toBe('power-of-two');
      expect(JSON.parse(await p.locator('#policy-options').inputValue())).toEqual({ choices: 3 });
      expect(await p.locator('input[aria-label="weight of web-b2"]').inputValue()).toBe('3');
      // Pressing the controls now sends what is in force: nothing is undone.
      await p.click('#policy-apply');
      await expect.poll(() => p.locator('#message').innerText(), { timeout: 10_000 }).toBe('PUT policy: done');
      await p.locator('tr[data-backend="web-b2"] button', { hasText: 'Set weight' }).click();
      await expect.poll(() => p.locator('#message').innerText(), { timeout: 10_000 }).toBe('PUT backends/web-b2/weight: done');
      expect(await api<{ name: string; options: unknown }>('/policy')).toMatchObject({ name: 'power-of-two', options: { choices: 3 } });
      expect((await api<{ backends: AdminBackend[] }>('/backends')).backends.find((b) => b.id === 'web-b2')?.weight).toBe(3);
      // Picking another policy offers its own options (empty), not those of the policy in force,
      // which it would refuse.
      await p.selectOption('#policy-name', 'round-robin');
      expect(await p.locator('#policy-options').inputValue()).toBe('{}');
    } finally {
      await p.close();
      await change('PUT', '/backends/web-b2/weight', { weight: 1 });
    }
  });

  it('a control being edited is not overwritten by the frames; once sent, it follows again', async () => {
    const p = await openUnlocked();
    try {
      const weight = p.locator('input[aria-label="weight of web-b1"]');
      // The policy changed (not sent) and left; the weight being typed (focused).
      await p.selectOption('#policy-name', 'random');
      await weight.fill('5');
      await change('PUT', '/policy', { name: 'least-loaded', options: {} });
      await change('PUT', '/backends/web-b1/weight', { weight: 2 });
      await expect.poll(() => p.locator('#policy').innerText(), { timeout: 10_000 }).toBe('least-loaded');
      await expect.poll(() => p.locator('tr[data-backend="web-b1"] .weight').innerText(), { timeout: 10_000 }).toBe('2');
      await nextFrames(p);
      expect(await p.locator('#policy-name').inputValue()).toBe('random');
      expect(await weight.inputValue()).toBe('5');
      // Changed and no longer focused: still the user's.
      await p.locator('h1').click();
      await nextFrames(p);
      expect(await weight.inputValue()).toBe('5');
      // Sent: the API has the user's values, and the controls follow the next change made elsewhere.
      await p.locator('tr[data-backend="web-b1"] button', { hasText: 'Set weight' }).click();
      await expect.poll(async () => (await api<{ backends: AdminBackend[] }>('/backends')).backends.find((b) => b.id === 'web-b1')?.weight, { timeout: 10_000 }).toBe(5);
      await p.click('#policy-apply');
      await expect.poll(async () => (await api<{ name: string }>('/policy')).name, { timeout: 10_000 }).toBe('random');
      await change('PUT', '/policy', { name: 'round-robin', options: {} });
      await change('PUT', '/backends/web-b1/weight', { weight: 1.5 });
      await expect.poll(() => p.locator('#policy-name').inputValue(), { timeout: 10_000 }).toBe('round-robin');
      await expect.poll(() => weight.inputValue(), { timeout: 10_000 }).toBe('1.5');
    } finally {
      await p.close();
      await change('PUT', '/backends/web-b1/weight', { weight: 1 });
    }
  });

  it('the host load input follows the load set elsewhere, so pressing Set host load does not undo it; being edited, it stays', async () => {
    const hostLoad = async (): Promise<number | undefined> => (await frame()).fleet.hosts.find((h) => h.name === 'host-b')?.hostLoad;
    const p = await openUnlocked();
    try {
      const input = p.locator('input[aria-label="host load of host-b"]');
      const set = p.locator('.host[data-host="host-b"] button', { hasText: 'Set host load' });
      // The scenario's load (1.5), not a fixed default.
      expect(await hostLoad()).toBe(1.5);
      await expect.poll(() => input.inputValue(), { timeout: 10_000 }).toBe('1.5');
      await change('PUT', '/hosts/host-b/load', { cores: 0.5 });
      await expect.poll(() => p.locator('.host[data-host="host-b"] .hostload').innerText(), { timeout: 10_000 }).toBe('host OS load 0.5 cores');
      expect(await input.inputValue()).toBe('0.5');
      // Pressing it now sends what is in force: nothing is undone.
      await set.click();
      await expect.poll(() => p.locator('#message').innerText(), { timeout: 10_000 }).toBe('PUT hosts/host-b/load: done');
      expect(await hostLoad()).toBe(0.5);
      // Being edited (typed, then left unsent), it keeps the user's value through frames.
      await input.fill('3');
      await change('PUT', '/hosts/host-b/load', { cores: 1 });
      await expect.poll(() => p.locator('.host[data-host="host-b"] .hostload').innerText(), { timeout: 10_000 }).toBe('host OS load 1.0 cores');
      await p.locator('h1').click();
      await nextFrames(p);
      expect(await input.inputValue()).toBe('3');
      // Sent: the model has it, and the input follows the next change made elsewhere.
      await set.click();
      await expect.poll(hostLoad, { timeout: 10_000 }).toBe(3);
      await change('PUT', '/hosts/host-b/load', { cores: 2.5 });
      await expect.poll(() => input.inputValue(), { timeout: 10_000 }).toBe('2.5');
    } finally {
      await p.close();
      await change('PUT', '/hosts/host-b/load', { cores: scenario.hosts.find((h) => h.name === 'host-b')!.hostLoad });
    }
  });

  it('a policy loaded from a file shows as its file in the switch, and switching sends the file again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dispatchlab-dashboard-policy-'));
    const file = join(dir, 'first-eligible.ts');
    writeFileSync(
      file,
      [
        "import { eligible, z, type PolicyDefinition } from 'dispatchlab/policy';",
        'const def: PolicyDefinition = {',
        "  name: 'first-eligible', summary: 'test', options: z.strictObject({ spare: z.number().optional() }),",
        "  create: () => ({ name: 'first-eligible', pick: (backends, ctx) => eligible(backends, ctx.avoid)[0]?.id }),",
        '};',
        'export default def;',
      ].join('\n'),
    );
    const p = await openUnlocked();
    try {
      await change('PUT', '/policy', { file, options: { spare: 1 } });
      await expect.poll(() => p.locator('#policy').innerText(), { timeout: 10_000 }).toBe('first-eligible');
      const selected = p.locator('#policy-name option:checked');
      expect(await selected.innerText()).toContain(file);
      expect(JSON.parse(await p.locator('#policy-options').inputValue())).toEqual({ spare: 1 });
      // The file option sends the file again, here with new options.
      await p.fill('#policy-options', '{"spare": 2}');
      await p.click('#policy-apply');
      await expect.poll(async () => (await api<{ name: string; options: unknown }>('/policy')).options, { timeout: 10_000 }).toEqual({ spare: 2 });
      expect((await api<{ name: string }>('/policy')).name).toBe(file);
      // Back on a built-in, the file's option goes.
      await change('PUT', '/policy', { name: 'round-robin', options: {} });
      await expect.poll(() => p.locator('#policy-name').inputValue(), { timeout: 10_000 }).toBe('round-robin');
      expect(await p.locator('#policy-name option', { hasText: file }).count()).toBe(0);
    } finally {
      await p.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!chromiumHere)('the dashboard of a large fleet in Chromium', () => {
  /** 11 hosts of 4 VMs: past the 40 VMs at which each host's cards start folded. */
  const large = parseScenario({
    name: 'rack',
    hosts: [{ name: 'rack', count: 11, cores: 2, memoryMb: 4096 }],
    vms: [{ name: 'web', count: 4, host: 'rack', vcpus: 1, memoryMb: 512 }],
    workload: { classes: [{ name: 'page', share: 1, cpuMs: 1 }] },
  });
  let largeUp: RunningUp;
  let largeBrowser: Browser;

  beforeAll(async () => {
    largeUp = await startUp({ scenario: large, policy: 'round-robin', adminToken: ADMIN_TOKEN });
    largeBrowser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await largeBrowser?.close();
    await largeUp?.close();
  });

  it("folds each host's VM cards under a count by status, and the backends table under its count; a click unfolds them", async () => {
    const p = largeBrowser.context.pages()[0] ?? (await largeBrowser.context.newPage());
    await p.goto(`${largeUp.dispatcher.adminUrl}/`);
    await p.waitForSelector('body[data-frames]');
    expect(await p.locator('.host').count()).toBe(11);
    expect(await p.locator('details.host-vms:not([open])').count()).toBe(11);
    const host = p.locator('.host[data-host="rack-3"]');
    await expect.poll(() => host.locator('.vm-summary').innerText(), { timeout: 10_000 }).toBe('4 VMs: 4 running');
    const card = host.locator('.vm[data-vm="web-rack-3-2"]');
    expect(await card.isVisible()).toBe(false);
    await host.locator('.vm-summary').click();
    expect(await card.isVisible()).toBe(true);
    expect(await card.innerText()).toContain('hardware-assisted');
    // So is the backends table, under its count.
    const backends = p.locator('details.backends-fold:not([open])');
    await expect.poll(() => backends.locator('summary').innerText(), { timeout: 10_000 }).toBe('44 backends');
    expect(await backends.locator('tr[data-backend]').count()).toBe(44);
    expect(await p.locator('tr[data-backend="web-rack-1-1"]').isVisible()).toBe(false);
  });
});
