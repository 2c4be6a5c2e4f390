// Every page of the portal once in a real browser with its console watched: `tessera
// demo` gives each page something to show (orders Paid and Pending, a team with named
// seats, tokens, a web license server), and a visitor, the demo customer and the
// vendor's staff open the pages they have. No page may log an error or a warning to the
// console, or throw.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { start, browser, join } from '../lib/tessera.js';

let dir;
let demo;
let portalUrl;
let panelUrl;
let chrome;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-e2e-console-'));
  demo = await start(['demo', '--data', dir, '--listen', '127.0.0.1:0', '--portal-listen', '127.0.0.1:0']);
  const out = demo.stdout();
  portalUrl = out.match(/^\s*portal\s+(\S+?)\/\s/m)[1];
  panelUrl = out.match(/^\s*web license server\s+(\S+)/m)[1];
  chrome = await browser();
});

after(async () => {
  await chrome?.close();
  demo?.proc.kill('SIGTERM');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A new browser context whose page records console errors and warnings, and page errors. */
async function watchedPage() {
  const context = await chrome.newContext();
  context.setDefaultTimeout(10000);
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`${page.url()}: ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`${page.url()}: ${e.message}`));
  return { context, page, problems };
}

async function signIn(page, email, password) {
  await page.goto(portalUrl + '/signin');
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.locator('#sign-in').click();
  await page.locator('#sign-out').waitFor();
}

/** Opens each path and waits until the page is loaded and its scripts have run. */
async function visit(page, paths) {
  for (const path of paths) {
    await page.goto(path.startsWith('http') ? path : portalUrl + path, { waitUntil: 'load' });
    await page.waitForTimeout(50);
  }
}

/** The first `href` on the page matching the pattern. */
async function firstLink(page, pattern) {
  const hrefs = await page.locator('a[href]').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
  const found = hrefs.find((h) => pattern.test(h));
  assert.ok(found, `a link matching ${pattern} in ${hrefs.join(' ')}`);
  return found;
}

/** Chrome's own line for a page answered with an error status: not the page's doing. */
const statusLine = /: error: Failed to load resource: the server responded with a status of (\d+)/;

test('a visitor sees no console error or warning on any public page', async () => {
  const { context, page, problems } = await watchedPage();
  await visit(page, ['/', '/buy', '/buy/autocad', '/buy/share', '/buy/tokens', '/buy/all', '/cart', '/signin',
    '/signup', '/password/forgot']);
  // A link that is no longer valid answers 410 Gone, which Chrome reports as a failed
  // load; the page itself logs nothing.
  const gone = ['/password/reset?token=nothing', '/invitation?token=nothing', '/confirm?token=nothing'];
  const before = problems.length;
  await visit(page, gone);
  const statuses = problems.splice(before).map((p) => (p.match(statusLine) || [p])[1] || p);
  assert.deepEqual(statuses, gone.map(() => '410'));
  // The cart dialog and the registration key's live check run their scripts too.
  await page.goto(portalUrl + '/buy/autocad');
  await page.getByLabel('Registration key').pressSequentially('TSR1-ABC', { delay: 5 });
  await page.waitForTimeout(500);
  await context.close();
  assert.deepEqual(problems, []);
});

test('the demo customer sees no console error or warning on any of their pages', async () => {
  const { context, page, problems } = await watchedPage();
  await signIn(page, 'buyer@office.example', 'buyer-demo-password');
  await visit(page, ['/', '/account/orders', '/account/subscriptions', '/account/teams', '/account/licenses',
    '/account/lan-usage', '/account/reports/insights', '/account/reports/seats', '/account/reports/tokens',
    '/account/company', '/checkout', '/buy/share', panelUrl, '/account/audit', panelUrl + 'audit']);
  await page.goto(portalUrl + '/account/teams');
  const team = await firstLink(page, /^\/account\/teams\/[^/]+$/);
  await visit(page, [team, `${team}/roles`, `${team}/import`]);
  await page.goto(portalUrl + team);
  const subscription = await firstLink(page, /\/subscriptions\//);
  await visit(page, [subscription]);
  // Add to Cart opens the cart dialog.
  await page.goto(portalUrl + '/buy/revit');
  await page.getByLabel('Use Web License Server').check();
  await page.locator('#add-to-cart').click();
  await page.getByRole('dialog', { name: 'Your cart' }).waitFor();
  await visit(page, ['/checkout']);
  await context.close();
  assert.deepEqual(problems, []);
});

test('the vendor staff see no console error or warning in the back office', async () => {
  const { context, page, problems } = await watchedPage();
  await signIn(page, 'staff@tessera.example', 'staff-demo-password');
  await visit(page, ['/staff/orders', '/staff/orders?status=Pending', '/staff/lan-usage', '/staff/tokens',
    '/staff/audit']);
  await page.goto(portalUrl + '/staff/orders');
  const order = await firstLink(page, /^\/staff\/orders\/ORD-/);
  await visit(page, [order]);
  await context.close();
  assert.deepEqual(problems, []);
});
