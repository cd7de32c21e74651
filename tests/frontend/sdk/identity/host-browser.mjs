// tests/frontend/sdk/identity/host-browser.mjs — owned by the x86 identity host suite
// (tests/host/identity_host.sh, host-identity.mjs). The user's browser: Debian's chromium,
// headless, driven by puppeteer-core. Each user gets a fresh incognito context (own cookies:
// the app's sign-in, the provider's session). consent() opens an authorization URL, signs in on
// the provider's own login page (oidc-provider's form: login + password), presses the consent
// page's button, and follows the redirects (provider -> silod's callback -> the app's return
// URL), recording every navigation with its full URL, so a test can replay the callback.
// No request leaves this machine: every host name but 127.0.0.1 fails to resolve (the
// provider's page links a web font), and chromium's background networking is off.
import { existsSync } from 'node:fs';
import puppeteer from 'puppeteer-core';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];

export function chromiumPath() {
  const p = process.env.SILO_CHROMIUM ?? CANDIDATES.find((c) => existsSync(c));
  if (!p || !existsSync(p)) throw new Error('no chromium found (Debian package chromium: make deps; or set SILO_CHROMIUM)');
  return p;
}

export async function startBrowser() {
  const browser = await puppeteer.launch({
    executablePath: chromiumPath(), headless: true, timeout: 30000, protocolTimeout: 60000,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run',
      '--no-default-browser-check', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--disable-quic', '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'],
  });

  /** A user's own browser profile (incognito context). */
  async function user() {
    const context = await browser.createBrowserContext();

    /** Opens url in a new tab, waits for it to load; { status, url, text }. */
    async function visit(url) {
      const page = await context.newPage();
      try {
        const res = await page.goto(url, { waitUntil: 'domcontentloaded', timeout: 20000 });
        return { status: res?.status() ?? 0, url: page.url(), text: (await page.evaluate(() => document.body?.innerText ?? '')).trim() };
      } finally { await page.close(); }
    }

    /**
     * Signs in as login on the provider's page and consents. stopAt: the URL prefix the flow
     * must end on. Returns { finalUrl, status, text, chain } (chain: every navigation request
     * after the consent button was pressed, full URLs).
     */
    async function consent(authorizationUrl, { login, password = 'any-password', stopAt, timeoutMs = 30000 }) {
      const page = await context.newPage();
      page.setDefaultTimeout(timeoutMs);
      page.setDefaultNavigationTimeout(timeoutMs);
      const chain = [];
      page.on('request', (r) => { if (r.isNavigationRequest() && r.frame() === page.mainFrame()) chain.push(r.url()); });
      try {
        await page.goto(authorizationUrl, { waitUntil: 'domcontentloaded' });
        await page.waitForSelector('input[name="login"]');
        await page.type('input[name="login"]', login);
        await page.type('input[name="password"]', password);
        await Promise.all([page.waitForNavigation({ waitUntil: 'domcontentloaded' }), page.click('button[type="submit"]')]);
        await page.waitForSelector('input[name="prompt"][value="consent"]');
        chain.length = 0;
        const [res] = await Promise.all([page.waitForNavigation({ waitUntil: 'domcontentloaded' }),
          page.click('button[type="submit"]')]);
        if (stopAt && !page.url().startsWith(stopAt))
          await page.waitForFunction((p) => location.href.startsWith(p), { timeout: timeoutMs }, stopAt);
        return { finalUrl: page.url(), status: res?.status() ?? 0, chain,
          text: (await page.evaluate(() => document.body?.innerText ?? '')).trim() };
      } catch (e) {
        const text = await page.evaluate(() => document.body?.innerText ?? '').catch(() => '');
        throw new Error(`browser (${login}): ${e.message}; at ${page.url().split('?')[0]}: ${String(text).slice(0, 300)}; chain: ${chain.map((u) => u.split('?')[0]).join(' -> ')}`);
      } finally { await page.close().catch(() => {}); }
    }

    return { visit, consent, close: () => context.close() };
  }

  return { user, version: () => browser.version(), close: () => browser.close() };
}
