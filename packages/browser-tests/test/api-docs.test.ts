// The API reference at /docs in a real browser: the built services as processes (the local runner), headless
// Chromium (playwright-core), and one request made from the page ("Try it out" on GET /products) answered through
// the gateway it was served by. A CSP that blocked the page, its script or its call would fail it.
import { startIsolatedSystem, type IsolatedSystem, type RunningSystem } from '@msa/runner';
import type { Page } from 'playwright-core';
import { describeWithChromium, launchChromium, SERVICES_DIR } from './support/chromium';

const SERVICES = ['gateway', 'member', 'product'];
const MEMBER = { email: 'docs-admin@msa.local', password: 'docs-page-test-password' };

let isolated: IsolatedSystem | undefined;
let system: RunningSystem | undefined;
let browser: Awaited<ReturnType<typeof launchChromium>> | undefined;
let page: Page;

describeWithChromium('the API reference at /docs in a browser')(
  'the API reference at /docs in a browser',
  () => {
    const problems: string[] = [];

    beforeAll(async () => {
      await Promise.all([
        startIsolatedSystem({
          name: 'browserdocs',
          servicesDir: SERVICES_DIR,
          only: SERVICES,
          quiet: true,
          startTimeoutMs: 60_000,
          stopTimeoutMs: 5000,
          env: {
            ...process.env,
            LOG_LEVEL: 'warn',
            SHUTDOWN_TIMEOUT_MS: '3000',
            ADMIN_EMAIL: MEMBER.email,
            ADMIN_PASSWORD: MEMBER.password,
          },
        }).then((started) => (isolated = started)),
        launchChromium('msa-chromium-docs-').then((launched) => (browser = launched)),
      ]);
      system = isolated!.system;
      page = browser!.context.pages()[0] ?? (await browser!.context.newPage());
      // Anything the page's CSP refuses, or any script error, is reported here and fails the test.
      page.on('console', (msg) => {
        // A failed load is reported below with its address.
        if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource'))
          problems.push(msg.text());
      });
      page.on('pageerror', (err) => problems.push(err.message));
      page.on('response', (res) => {
        if (res.status() >= 400) problems.push(`${res.status()} ${res.url()}`);
      });
      page.on('requestfailed', (req) => problems.push(`failed: ${req.url()} ${req.failure()?.errorText}`));
    }, 90_000);

    afterAll(async () => {
      await browser?.close();
      await isolated?.stop();
    }, 30_000);

    test('when GET /products is tried from the page, then the gateway answers it and the page shows the products', async () => {
      const base = system!.gatewayHttpsUrl!;
      expect(base).toMatch(/^https:\/\//);
      await page.goto(`${base}/docs`);

      const operation = page.locator('#operations-product-getProducts');
      await operation.locator('.opblock-summary').click();
      await operation.locator('button.try-out__btn').click();
      await operation.locator('input[placeholder="limit"]').fill('2');
      const answered = page.waitForResponse((res) => new URL(res.url()).pathname === '/products');
      await operation.locator('button.execute').click();
      const response = await answered;

      // The call went to the gateway the page came from, and its answer is what the page shows.
      expect(new URL(response.url()).origin).toBe(new URL(base).origin);
      expect(response.status()).toBe(200);
      const body = (await response.json()) as { items: Array<{ id: string }>; limit: number };
      expect(body.limit).toBe(2);
      expect(body.items.length).toBeGreaterThan(0);
      const live = operation.locator('.live-responses-table');
      await live.locator('.response-col_status', { hasText: '200' }).waitFor();
      // The body as the page prints it (the id: a name may hold characters JSON escapes).
      await live.locator('.response-col_description', { hasText: body.items[0]!.id }).waitFor();
      expect(problems).toEqual([]);
    }, 60_000);

    test('when the login\'s token is given to "Authorize", then a member route answers from the page', async () => {
      const base = system!.gatewayHttpsUrl!;
      await page.goto(`${base}/docs`);

      // Sign in from the page itself.
      const login = page.locator('#operations-member-postMembersLogin');
      await login.locator('.opblock-summary').click();
      await login.locator('button.try-out__btn').click();
      await login.locator('textarea.body-param__text').fill(JSON.stringify(MEMBER));
      const signedIn = page.waitForResponse((res) => new URL(res.url()).pathname === '/members/login');
      await login.locator('button.execute').click();
      const loginAnswer = await signedIn;
      expect(loginAnswer.status()).toBe(200);
      const { token } = (await loginAnswer.json()) as { token: string };

      // bearerAuth, as the document declares it.
      await page.locator('.auth-wrapper button.authorize').click();
      const dialog = page.locator('.modal-ux');
      await dialog.locator('input[type=text]').fill(token);
      await dialog.locator('button.authorize').click();
      await dialog.locator('button.btn-done').click();

      const me = page.locator('#operations-member-getMembersMe');
      await me.locator('.opblock-summary').click();
      await me.locator('button.try-out__btn').click();
      const answered = page.waitForResponse((res) => new URL(res.url()).pathname === '/members/me');
      await me.locator('button.execute').click();
      const response = await answered;
      expect(response.request().headers().authorization).toBe(`Bearer ${token}`);
      expect(response.status()).toBe(200);
      expect(await response.json()).toMatchObject({ email: MEMBER.email, role: 'admin' });
      await me
        .locator('.live-responses-table .response-col_description', { hasText: MEMBER.email })
        .waitFor();
      expect(problems).toEqual([]);
    }, 60_000);
  },
);
