// The audit log in a real browser. On a LAN server: the admin removes a seat on the live
// page, follows Audit log, sees the entry (who, from where, what, on what), narrows it
// with the What filter, and the CSV link carries the filter; the page fits a phone. In
// the portal: the demo customer makes a site key in the web license server's panel,
// opens Audit log from the menu and sees it, filters, and the page fits a phone.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { lanServer, start, browser, api, unlabelledControls, join } from '../lib/tessera.js';

let server;
let dir;
let demo;
let portalUrl;
let panelUrl;
let chrome;

before(async () => {
  server = await lanServer({ product: 'autocad', seats: 3 });
  dir = mkdtempSync(join(tmpdir(), 'tessera-e2e-audit-'));
  demo = await start(['demo', '--data', dir, '--listen', '127.0.0.1:0', '--portal-listen', '127.0.0.1:0']);
  const out = demo.stdout();
  portalUrl = out.match(/^\s*portal\s+(\S+?)\/\s/m)[1];
  panelUrl = out.match(/^\s*web license server\s+(\S+)/m)[1];
  chrome = await browser();
});

after(async () => {
  await chrome?.close();
  server?.stop();
  demo?.proc.kill('SIGTERM');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('the LAN admin finds a removed seat in the audit log, filters it and it fits a phone', async () => {
  const lease = await api(server.url, '/api/v1/leases', {
    method: 'POST', body: { product: 'autocad', user: 'anna', host: 'anna-pc', client_id: 'e2e-audit' },
  });
  assert.equal(lease.status, 201);
  const context = await chrome.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
  const page = await context.newPage();
  await page.goto(server.url + '/');
  await page.getByLabel('Admin token').fill(server.adminToken);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Remove the seat of anna on anna-pc' }).click();
  await page.getByText('Nobody right now.').waitFor();
  await page.getByRole('link', { name: 'Audit log' }).click();
  const table = page.getByRole('table', { name: 'Audit log' });
  await table.waitFor();
  const removed = table.locator('tr', { hasText: 'Seat removed' });
  assert.equal(await removed.count(), 1);
  const row = await removed.textContent();
  assert.match(row, /admin token/);
  assert.match(row, /127\.0\.0\.1/);
  assert.match(row, /anna@anna-pc/);
  // The activation imported with `tessera server activate` is there too.
  assert.match(await table.textContent(), /tessera server activate \(local\)/);
  assert.deepEqual(await unlabelledControls(page), []);
  await page.getByLabel('What', { exact: true }).selectOption('seat_removed');
  await page.getByRole('button', { name: 'Show' }).click();
  await page.waitForURL(/action=seat_removed/);
  assert.doesNotMatch(await page.getByRole('table', { name: 'Audit log' }).textContent(), /Activation imported/);
  const csv = await page.getByRole('link', { name: /CSV/ }).getAttribute('href');
  assert.equal(csv, '/audit.csv?action=seat_removed');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `the audit log is ${overflow}px wider than the phone`);
  await context.close();
});

test('the demo customer finds the site key they made in the audit log, and it fits a phone', async () => {
  const context = await chrome.newContext({ viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true });
  const page = await context.newPage();
  await page.goto(portalUrl + '/signin');
  await page.getByLabel('E-mail').fill('buyer@office.example');
  await page.getByLabel('Password').fill('buyer-demo-password');
  await page.locator('#sign-in').click();
  await page.locator('#sign-out').waitFor();
  await page.goto(panelUrl);
  await page.getByLabel('Name of a new site key').fill('E2E audit key');
  await page.getByRole('button', { name: 'Make a site key' }).click();
  await page.getByText('E2E audit key').first().waitFor();
  await page.goto(portalUrl + '/account/orders');
  await page.locator('#menu-audit').click();
  const table = page.locator('#audit-table');
  await table.waitFor();
  const made = table.locator('tr', { hasText: 'E2E audit key' });
  assert.equal(await made.count(), 1);
  assert.match(await made.textContent(), /Site key made/);
  assert.match(await made.textContent(), /buyer@office\.example/);
  assert.deepEqual(await unlabelledControls(page), []);
  await page.getByLabel('What', { exact: true }).selectOption('site_key_made');
  await page.locator('#audit-apply').click();
  await page.waitForURL(/action=site_key_made/);
  assert.equal(await page.locator('#audit-table tbody tr').count(), 1);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `the audit log is ${overflow}px wider than the phone`);
  await context.close();
});
