// The status page in a real browser: the built services as processes (the local runner), headless Chromium
// (playwright-core), an admin signing in, every service on the page, and an instance killed turning red.
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startIsolatedSystem, type IsolatedSystem, type RunningSystem } from '@msa/runner';
import type { Page } from 'playwright-core';
import { describeWithChromium, launchChromium, SERVICES_DIR } from './support/chromium';

const SERVICES = ['gateway', 'member', 'product', 'purchase'];
const ADMIN = { email: 'status-admin@msa.local', password: 'status-page-test-password' };
// Short, so a killed instance is dropped (and turns red) within about three seconds; long enough that a busy
// machine does not miss heartbeats (every lease / 3) and drop healthy instances.
const LEASE_MS = 3000;
/** Where the screenshot goes (a temporary file; docs/status-page.png is made with SCREENSHOT_PATH=$PWD/docs/status-page.png). */
const SCREENSHOT = path.resolve(process.env.SCREENSHOT_PATH || path.join(tmpdir(), 'msa-status-page.png'));

let isolated: IsolatedSystem | undefined;
let system: RunningSystem | undefined;
let browser: Awaited<ReturnType<typeof launchChromium>> | undefined;
let page: Page;

describeWithChromium('the status page in a browser')('the status page in a browser', () => {
  beforeAll(async () => {
    // Each is kept as soon as it is up, so that afterAll stops it even when the other one failed.
    await Promise.all([
      startIsolatedSystem({
        name: 'browser',
        servicesDir: SERVICES_DIR,
        only: SERVICES,
        scale: { product: 2 },
        quiet: true,
        startTimeoutMs: 60_000,
        stopTimeoutMs: 5000,
        env: {
          ...process.env,
          LOG_LEVEL: 'warn',
          REGISTRY_LEASE_MS: String(LEASE_MS),
          ADMIN_EMAIL: ADMIN.email,
          ADMIN_PASSWORD: ADMIN.password,
          SHUTDOWN_TIMEOUT_MS: '3000',
        },
      }).then((started) => (isolated = started)),
      launchChromium('msa-chromium-').then((launched) => (browser = launched)),
    ]);
    system = isolated!.system;
    page = browser!.context.pages()[0] ?? (await browser!.context.newPage());
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await isolated?.stop();
  }, 30_000);

  test('when an admin signs in, then every service shows; when an instance is killed, then it turns red', async () => {
    const base = system!.gatewayHttpsUrl!;
    expect(base).toMatch(/^https:\/\//);
    // A little traffic, so the page has rates and latencies to show.
    for (let i = 0; i < 20; i++) await fetch(`${system!.gatewayUrl}/products`);

    await page.goto(`${base}/status`);
    await page.locator('#login').waitFor({ state: 'visible' });
    await page.fill('input[name=email]', ADMIN.email);
    await page.fill('input[name=password]', ADMIN.password);
    await page.click('#login button[type=submit]');
    await page.locator('#conn[data-state=live]').waitFor();

    for (const service of SERVICES) {
      await page.locator(`tr.service[data-service="${service}"]`).waitFor();
    }
    const victim = system!.instance('product', 2).instanceId!;
    const row = page.locator(`tr.instance[data-instance="${victim}"]`);
    await row.waitFor();
    expect(await row.getAttribute('data-state')).toBe('healthy');
    for (const service of SERVICES) {
      const live = page.locator(`tr.instance[data-service="${service}"][data-state="healthy"]`);
      expect(await live.count()).toBeGreaterThan(0);
    }

    // No reload from here on: what changes comes over the stream.
    const restarted = system!.nextReady('product', 2);
    await system!.kill('product', 2);
    await page
      .locator(`tr.instance[data-instance="${victim}"][data-state="lost"]`)
      .waitFor({ timeout: 15_000 });
    expect(await row.locator('.badge').textContent()).toBe('lost');
    // One evaluation in the page: the table is redrawn every second, so a handle held across calls goes stale.
    const colour = await page.evaluate((id) => {
      const dot = document.querySelector(`tr.instance[data-instance="${id}"] .dot`);
      return dot === null ? null : getComputedStyle(dot).backgroundColor;
    }, victim);
    expect(colour).toBe('rgb(207, 34, 46)'); // the page's red
    await page.locator('#events li.error', { hasText: `${victim} lost` }).waitFor();

    // The runner starts a new product#2; the page shows it beside the lost one.
    const back = await restarted;
    await page.locator(`tr.instance[data-instance="${back.instanceId}"][data-state="healthy"]`).waitFor();
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
  }, 60_000);
});
