// Issue 9: token licensing and Reporting in a real browser. Staff grant a customer a token
// pack in the back office; the customer signs in on a computer with `tessera login` and
// uses AutoCAD with `tessera use-tokens` (charged once); the Reporting menu shows Token
// Usage with the charge, the balance and a chart, every control labelled; the CSV link
// downloads the same columns and figures; the page fits a phone.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { tessera, start, browser, unlabelledControls, waitForMail, join, readFileSync } from '../lib/tessera.js';

const PASSWORD = 'a long enough password';
const BUYER = 'buyer@tokens.example';
const STAFF = 'staff@tessera.example';

let dir;
let vendor;
let portal;
let outboxDir;
let chrome;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-e2e-reports-'));
  vendor = join(dir, 'vendor');
  tessera(['vendor', 'keygen', '--out', vendor]);
  const data = join(dir, 'portal');
  outboxDir = join(data, 'outbox');
  portal = await start(['portal', '--data', data, '--listen', '127.0.0.1:0',
    '--vendor-secret-key', join(vendor, 'vendor.secret')]);
  chrome = await browser();
});

after(async () => {
  await chrome?.close();
  portal?.proc.kill('SIGTERM');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function signUpAndIn(p, email, organization) {
  await p.goto(portal.url + '/signup');
  await p.getByLabel('E-mail').fill(email);
  await p.getByLabel('Organization').fill(organization);
  await p.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await p.getByLabel('Password again').fill(PASSWORD);
  await p.locator('#sign-up').click();
  await p.getByRole('heading', { name: 'Check your e-mail' }).waitFor();
  const mail = await waitForMail(outboxDir, (m) => m.to.includes(email) && /Confirm your e-mail/.test(m.subject));
  await p.goto(mail.text.match(/https?:\/\/\S+\/confirm\?token=[^\s"<>]+/)[0]);
  await p.goto(portal.url + '/signin');
  await p.getByLabel('E-mail').fill(email);
  await p.getByLabel('Password').fill(PASSWORD);
  await p.locator('#sign-in').click();
  await p.locator('#sign-out').waitFor();
}

test('a token charge shows in Token Usage and its CSV export', async () => {
  const buyerContext = await chrome.newContext({ acceptDownloads: true });
  buyerContext.setDefaultTimeout(10000);
  const page = await buyerContext.newPage();
  await signUpAndIn(page, BUYER, 'Token Office');

  const staffContext = await chrome.newContext();
  staffContext.setDefaultTimeout(10000);
  const staff = await staffContext.newPage();
  await signUpAndIn(staff, STAFF, 'Tessera Software');
  await staff.goto(portal.url + '/staff/tokens');
  assert.deepEqual(await unlabelledControls(staff), []);
  await staff.getByLabel('Organization (its name in URLs)').fill('token-office');
  await staff.getByLabel('Tokens', { exact: true }).fill('100');
  await staff.getByLabel('Note (order number, reason)').fill('e2e');
  await staff.locator('#grant-pack').click();
  await staff.getByText('100 tokens granted.').waitFor();
  assert.equal((await staff.locator('#staff-token-balance').textContent()).trim(), '100');

  // A program on the buyer's computer: sign in, then use AutoCAD twice (charged once).
  const env = {
    TESSERA_CACHE_DIR: join(dir, 'computer'),
    TESSERA_VENDOR_PUBLIC_KEY: join(vendor, 'vendor.public'),
    TESSERA_PASSWORD: PASSWORD,
  };
  tessera(['login', '--portal', portal.url, '--email', BUYER, '--product', 'autocad'], env);
  assert.match(tessera(['use-tokens', 'autocad'], env), /charged 10 token\(s\).*balance 90/);
  assert.match(tessera(['use-tokens', 'autocad'], env), /already paid/);

  await page.goto(portal.url + '/');
  await page.locator('#menu-reporting').click();
  await page.getByRole('heading', { name: 'Reporting: Insights' }).waitFor();
  await page.getByRole('link', { name: 'Token Usage' }).click();
  await page.getByRole('heading', { name: 'Reporting: Token Usage' }).waitFor();
  assert.deepEqual(await unlabelledControls(page), []);
  assert.equal((await page.locator('#token-balance-value').textContent()).trim(), '90');
  const today = new Date().toISOString().slice(0, 10);
  const cells = await page.locator('#report-table tbody tr').first().locator('td').allTextContents();
  assert.deepEqual(cells.map((c) => c.trim()), [today, BUYER, 'autocad', '10']);
  const headers = await page.locator('#report-table thead th').allTextContents();
  assert.equal(await page.locator('#report-chart svg rect').count(), 1);

  // The filter: a period without use shows nothing.
  await page.getByLabel('From', { exact: true }).fill('2020-01-01');
  await page.getByLabel('To', { exact: true }).fill('2020-01-31');
  await page.locator('#apply-filter').click();
  await page.locator('#report-empty').waitFor();
  await page.getByLabel('From', { exact: true }).fill(today);
  await page.getByLabel('To', { exact: true }).fill(today);
  await page.locator('#apply-filter').click();
  await page.locator('#report-table').waitFor();

  const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#export-csv').click()]);
  const text = readFileSync(await download.path(), 'utf8');
  const lines = text.trim().split(/\r?\n/);
  assert.deepEqual(lines[0].split(','), headers.map((h) => h.trim()));
  assert.deepEqual(lines.slice(1), [`${today},${BUYER},autocad,10`]);

  // On a phone the report fits the screen.
  await page.setViewportSize({ width: 390, height: 800 });
  await page.reload();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `the report is ${overflow}px wider than the phone`);
  await buyerContext.close();
  await staffContext.close();
});
