// The headless Chromium both browser tests drive (Debian's package, through playwright-core), set up once.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const SERVICES_DIR = path.resolve(__dirname, '..', '..', '..', '..', 'services');

/**
 * `describe` when Chromium is there. Without it a developer's run skips the file with a line saying how to
 * install it, but CI (CI set, as GitHub Actions and .ci/run do) fails: a browser test that cannot run there
 * must not pass as green.
 */
export function describeWithChromium(what: string): jest.Describe {
  if (existsSync(CHROMIUM)) return describe;
  if (process.env.CI) {
    test(`${what}: Chromium is installed (CI)`, () => {
      throw new Error(`no Chromium at ${CHROMIUM}: CI must install it (apt-get install -y chromium)`);
    });
  } else {
    console.warn(`${what} skipped: no Chromium at ${CHROMIUM} (apt-get install -y chromium)`);
  }
  return describe.skip;
}

/**
 * A fresh headless Chromium with its own profile folder. The flags keep it off the network (this machine's
 * closed network refuses its background connections), and the development certificate is accepted.
 */
export async function launchChromium(
  profilePrefix: string,
): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const profileDir = mkdtempSync(path.join(tmpdir(), profilePrefix));
  const context = await chromium.launchPersistentContext(profileDir, {
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
    ignoreHTTPSErrors: true,
    viewport: { width: 1280, height: 900 },
  });
  return {
    context,
    async close() {
      await context.close().catch(() => undefined);
      rmSync(profileDir, { recursive: true, force: true });
    },
  };
}
