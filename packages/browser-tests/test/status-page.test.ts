// The status page in a real browser: the built services as processes (the local runner), headless Chromium
// (playwright-core), an admin signing in, every service on the page, and an instance killed turning red.
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { startSystem, type RunningSystem } from '@msa/runner';
import { createLogger, createRedis } from '@msa/service-kit';
import { Client } from 'pg';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const SERVICES_DIR = path.resolve(__dirname, '..', '..', '..', 'services');
const SERVICES = ['gateway', 'member', 'product', 'purchase'];
const ADMIN = { email: 'status-admin@msa.local', password: 'status-page-test-password' };
// Short, so a killed instance is dropped (and turns red) within about three seconds; long enough that a busy
// machine does not miss heartbeats (every lease / 3) and drop healthy instances.
const LEASE_MS = 3000;
/** Where the screenshot goes (a temporary file; docs/status-page.png is made with SCREENSHOT_PATH=$PWD/docs/status-page.png). */
const SCREENSHOT = path.resolve(process.env.SCREENSHOT_PATH || path.join(tmpdir(), 'msa-status-page.png'));

const id = `${process.pid}_${randomBytes(3).toString('hex')}`;
const databasePrefix = `browser_${id}`;
const redisPrefix = `browser:${id}:`;
// A root of its own whose services/ is this checkout's: its .data (embedded databases, certificate) is shared
// with nobody, not even `npm start` in this checkout.
const rootDir = mkdtempSync(path.join(tmpdir(), 'msa-browser-'));
const profileDir = mkdtempSync(path.join(tmpdir(), 'msa-chromium-'));

let system: RunningSystem | undefined;
let browser: BrowserContext | undefined;
let page: Page;

const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  console.warn(`status page browser test skipped: no Chromium at ${CHROMIUM} (apt-get install -y chromium)`);
}
const describeWithChromium = haveChromium ? describe : describe.skip;

describeWithChromium('the status page in a browser', () => {
  beforeAll(async () => {
    symlinkSync(SERVICES_DIR, path.join(rootDir, 'services'), 'dir');
    const [started, context] = await Promise.all([
      startSystem({
        rootDir,
        only: SERVICES,
        scale: { product: 2 },
        quiet: true,
        databasePrefix,
        startTimeoutMs: 60_000,
        stopTimeoutMs: 5000,
        env: {
          ...process.env,
          DISTRIBUTOR_PORT: '0',
          GATEWAY_PORT: '0',
          GATEWAY_HTTPS_PORT: '0',
          LOG_LEVEL: 'warn',
          REDIS_KEY_PREFIX: redisPrefix,
          REGISTRY_LEASE_MS: String(LEASE_MS),
          ADMIN_EMAIL: ADMIN.email,
          ADMIN_PASSWORD: ADMIN.password,
          SHUTDOWN_TIMEOUT_MS: '3000',
        },
      }),
      chromium.launchPersistentContext(profileDir, {
        executablePath: CHROMIUM,
        headless: true,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
        ignoreHTTPSErrors: true, // the development certificate is self-signed
        viewport: { width: 1280, height: 900 },
      }),
    ]);
    system = started;
    browser = context;
    page = context.pages()[0] ?? (await context.newPage());
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await system?.stop();
    await cleanUp();
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

async function cleanUp(): Promise<void> {
  rmSync(rootDir, { recursive: true, force: true });
  rmSync(profileDir, { recursive: true, force: true });
  if (process.env.DATABASE_URL) {
    const admin = new Client({ connectionString: process.env.DATABASE_URL });
    await admin.connect();
    try {
      const { rows } = await admin.query<{ datname: string }>(
        'SELECT datname FROM pg_database WHERE datname LIKE $1',
        [`${databasePrefix}\\_%`],
      );
      for (const { datname } of rows) await admin.query(`DROP DATABASE "${datname}" WITH (FORCE)`);
    } finally {
      await admin.end();
    }
  }
  if (process.env.REDIS_URL) {
    const redis = createRedis(
      process.env.REDIS_URL,
      createLogger({ service: 'browser-tests', instanceId: 'cleanup', level: 'silent' }),
    );
    try {
      await redis.connect();
      let cursor = '0';
      for (let round = 0; round < 1000; round++) {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${redisPrefix}*`, 'COUNT', 500);
        if (keys.length > 0) await redis.del(...keys);
        cursor = next;
        if (cursor === '0') break;
      }
    } finally {
      redis.disconnect();
    }
  }
}
