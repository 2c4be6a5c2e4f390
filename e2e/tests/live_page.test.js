// The LAN server's live page in a real browser: sign in with the admin token, see who
// uses which license, remove a seat, edit the policy; usable on a phone.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { lanServer, browser, api, unlabelledControls } from '../lib/tessera.js';

let server;
let chrome;

before(async () => {
  server = await lanServer({ product: 'autocad', seats: 3 });
  chrome = await browser();
});

after(async () => {
  await chrome?.close();
  server?.stop();
});

test('the admin signs in, sees who holds a seat and removes it', async () => {
  const lease = await api(server.url, '/api/v1/leases', {
    method: 'POST', body: { product: 'autocad', user: 'anna', host: 'anna-pc', client_id: 'e2e-1' },
  });
  assert.equal(lease.status, 201);
  const page = await chrome.newPage();
  await page.goto(server.url + '/');
  assert.deepEqual(await unlabelledControls(page), []);
  await page.getByLabel('Admin token').fill('not-the-token');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').waitFor();
  assert.match(await page.getByRole('alert').textContent(), /not this server's admin token/);

  await page.getByLabel('Admin token').fill(server.adminToken);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('Who uses a license now').waitFor();
  const body = await page.textContent('body');
  assert.match(body, /autocad/);
  assert.match(body, /1\s*in use/);
  assert.match(body, /anna-pc/);
  assert.deepEqual(await unlabelledControls(page), []);

  await page.getByRole('button', { name: 'Remove the seat of anna on anna-pc' }).click();
  await page.getByText('Nobody right now.').waitFor();
  const info = await api(server.url, '/api/v1/server');
  assert.equal(info.json.products[0].in_use, 0);
  await page.close();
});

test('the live page changes by itself when a seat is taken and freed, without a reload', async () => {
  const context = await chrome.newContext();
  await context.addCookies([{ name: 'tessera_admin', value: server.adminToken, url: server.url }]);
  const page = await context.newPage();
  let loads = 0;
  page.on('load', () => { loads += 1; });
  await page.goto(server.url + '/');
  await page.getByText('Who uses a license now').waitFor();
  assert.equal(await page.locator('td', { hasText: 'live-pc' }).count(), 0);
  // A mark that a reload would wipe.
  await page.evaluate(() => { window.stillTheSamePage = true; });
  const lease = await api(server.url, '/api/v1/leases', {
    method: 'POST', body: { product: 'autocad', user: 'liv', host: 'live-pc', client_id: 'e2e-live' },
  });
  assert.equal(lease.status, 201);
  await page.locator('td', { hasText: 'live-pc' }).waitFor({ timeout: 4000 });
  assert.match(await page.locator('#live').textContent(), /1\s*in use/);
  await api(server.url, `/api/v1/leases/${lease.json.lease_id}`, { method: 'DELETE', token: lease.json.token });
  await page.locator('td', { hasText: 'live-pc' }).waitFor({ state: 'detached', timeout: 4000 });
  assert.equal(await page.evaluate(() => window.stillTheSamePage), true, 'the page was reloaded');
  assert.equal(loads, 1);
  await context.close();
});

test('with scripts off the live page reloads itself instead', async () => {
  const context = await chrome.newContext({ javaScriptEnabled: false });
  await context.addCookies([{ name: 'tessera_admin', value: server.adminToken, url: server.url }]);
  const page = await context.newPage();
  await page.goto(server.url + '/');
  await page.getByText('Who uses a license now').waitFor();
  const lease = await api(server.url, '/api/v1/leases', {
    method: 'POST', body: { product: 'autocad', user: 'nos', host: 'noscript-pc', client_id: 'e2e-noscript' },
  });
  assert.equal(lease.status, 201);
  // The <noscript> refresh comes every 5 s.
  await page.locator('td', { hasText: 'noscript-pc' }).waitFor({ timeout: 12000 });
  await api(server.url, `/api/v1/leases/${lease.json.lease_id}`, { method: 'DELETE', token: lease.json.token });
  await context.close();
});

test('the policy editor refuses a bad policy with its line and saves a good one', async () => {
  const context = await chrome.newContext();
  const page = await context.newPage();
  await page.goto(server.url + '/');
  await page.getByLabel('Admin token').fill(server.adminToken);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('link', { name: 'Policy' }).click();
  const editor = page.getByLabel(/Policy \(TOML/);
  await editor.fill('[[rule]]\npool = "e2e-pool"\nexclude = ["crowd:all"]\n');
  await page.getByRole('button', { name: 'Save policy' }).click();
  assert.match(await page.getByRole('alert').textContent(), /line 1.*crowd/s);
  await page.getByLabel(/Policy \(TOML/).fill('[[rule]]\npool = "e2e-pool"\nexclude = ["user:mallory"]\n');
  await page.getByRole('button', { name: 'Save policy' }).click();
  assert.match(await page.getByRole('status').textContent(), /Saved: 1 rule/);
  const denied = await api(server.url, '/api/v1/leases', {
    method: 'POST', body: { product: 'autocad', user: 'mallory', host: 'pc', client_id: 'e2e-2' },
  });
  assert.equal(denied.status, 403);
  await context.close();
});

test('the live page fits a phone screen', async () => {
  const context = await chrome.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
  const page = await context.newPage();
  await page.goto(server.url + '/');
  await page.getByLabel('Admin token').fill(server.adminToken);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('Who uses a license now').waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than the phone`);
  await context.close();
});

test('the usage page draws each pool against its seats and says whether it fits', async () => {
  const context = await chrome.newContext();
  await context.addCookies([{ name: 'tessera_admin', value: server.adminToken, url: server.url }]);
  const page = await context.newPage();
  await page.goto(server.url + '/');
  await page.getByRole('link', { name: 'Usage' }).click();
  await page.getByRole('heading', { name: /autocad/ }).waitFor();
  const charts = page.getByRole('img');
  assert.equal(await charts.count(), 3);
  assert.match(await charts.first().getAttribute('aria-label'), /Peak seats in use per day over 30 days: at most \d+ of 3/);
  assert.match(await page.locator('.advice').textContent(), /autocad(: not enough history| looks| fits)/);
  await context.close();
});
