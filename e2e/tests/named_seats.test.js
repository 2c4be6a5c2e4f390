// Issue 7: named-user seats in a real browser. A customer buys Share (named user) for 2
// people and staff mark it Paid; the buyer (the contract manager) holds one seat from
// the start, assigns the other to a new person (invited by e-mail), is refused a third,
// moves their own seat to someone else, and imports a CSV that would exceed the seats
// (refused whole, with a report per row). The invited person accepts and sees their license.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { tessera, start, browser, unlabelledControls, waitForMail, join } from '../lib/tessera.js';

const PASSWORD = 'a long enough password';
const BUYER = 'buyer@share.example';
const STAFF = 'staff@tessera.example';

let dir;
let portal;
let outboxDir;
let chrome;
let context;
let page;
let order;
let teamUrl;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-e2e-named-'));
  const vendor = join(dir, 'vendor');
  tessera(['vendor', 'keygen', '--out', vendor]);
  const data = join(dir, 'portal');
  outboxDir = join(data, 'outbox');
  portal = await start(['portal', '--data', data, '--listen', '127.0.0.1:0',
    '--vendor-secret-key', join(vendor, 'vendor.secret')]);
  chrome = await browser();
  context = await chrome.newContext();
  context.setDefaultTimeout(10000);
  page = await context.newPage();
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

const assigned = async () => (await page.locator('#assigned-count').textContent()).trim();

test('a named-user subscription is bought and paid', async () => {
  await signUpAndIn(page, BUYER, 'Share Office');
  await page.goto(portal.url + '/buy/share');
  await page.getByRole('heading', { name: /Corporate subscription: Share \(named user\)/ }).waitFor();
  await page.locator('#option-share-1y').check();
  await page.getByLabel('Number of users').fill('2');
  await page.locator('#add-to-cart').click();
  const cart = page.getByRole('dialog', { name: 'Your cart' });
  await cart.waitFor();
  await cart.getByRole('link', { name: 'Go to checkout' }).click();
  await page.getByLabel('Bank transfer').check();
  await page.locator('#add-company-info').click();
  const dialog = page.getByRole('dialog', { name: 'Add company info' });
  await dialog.getByLabel('Company name').fill('Share Office Ltd');
  await dialog.getByLabel('Address').fill('1 Main Street\nLondon');
  await dialog.getByLabel('Tax ID (VAT number)').fill('GB123');
  await dialog.getByLabel('E-mail for invoices').fill(BUYER);
  await dialog.locator('#save-company-info').click();
  await page.waitForURL(/\/checkout/);
  await page.getByLabel('Bank transfer').check();
  await page.locator('#checkout-button').click();
  await page.waitForURL(/\/account\/orders\?placed=ORD-/);
  order = new URL(page.url()).searchParams.get('placed');

  const staff = await chrome.newContext();
  staff.setDefaultTimeout(10000);
  const s = await staff.newPage();
  await signUpAndIn(s, STAFF, 'Tessera Software');
  await s.goto(`${portal.url}/staff/orders/${order}`);
  await s.locator('#mark-paid').click();
  await s.waitForURL(/done=paid/);
  await staff.close();
  const paid = await waitForMail(outboxDir, (m) => m.to.includes(BUYER) && m.subject.includes(`${order} is Paid`));
  assert.match(paid.text, /named-user seat\(s\) of Share \(named user\)/);
});

test('the contract manager holds a seat from the start and assigns the other by e-mail', async () => {
  await page.locator('#menu-teams').click();
  await page.getByRole('heading', { name: 'Teams' }).waitFor();
  await page.getByRole('link', { name: 'Share Office Ltd team' }).click();
  await page.getByRole('heading', { name: 'Team: Share Office Ltd team' }).waitFor();
  teamUrl = page.url();
  assert.match(await page.locator('#my-roles').textContent(), /Contract manager/);
  await page.getByRole('link', { name: 'Assign seats' }).click();
  await page.getByRole('heading', { name: 'Share (named user): assigned seats' }).waitFor();
  assert.equal(await assigned(), '1');
  assert.ok(await page.locator(`[id="assignee-${BUYER}"]`).isVisible(), 'the buyer holds a seat');
  assert.deepEqual(await unlabelledControls(page), []);

  await page.getByLabel('Email').fill('anna@share.example');
  await page.getByLabel('First name').fill('Anna');
  await page.getByLabel('Last name').fill('Kowalska');
  await page.locator('#assign').click();
  await page.getByRole('status').waitFor();
  assert.match(await page.getByRole('status').textContent(), /anna@share\.example: Invited to the team and assigned a seat/);
  assert.equal(await assigned(), '2');
  await waitForMail(outboxDir, (m) => m.to.includes('anna@share.example') && /invited to the team/.test(m.subject));
  await waitForMail(outboxDir, (m) => m.to.includes('anna@share.example') && /is assigned to you/.test(m.subject));
});

test('a third seat is refused, and the buyer moves their own seat instead', async () => {
  await page.getByLabel('Email').fill('bob@share.example');
  await page.locator('#assign').click();
  await page.getByRole('alert').waitFor();
  assert.match(await page.getByRole('alert').textContent(), /Not assigned: .*exceed/);
  assert.equal(await assigned(), '2');

  await page.getByRole('button', { name: `Unassign ${BUYER}` }).click();
  await page.getByRole('status').waitFor();
  assert.equal(await assigned(), '1');
  await page.getByLabel('Email').fill('bob@share.example');
  await page.locator('#assign').click();
  await page.getByRole('status').waitFor();
  assert.equal(await assigned(), '2');
  await waitForMail(outboxDir, (m) => m.to.includes(BUYER) && /was removed/.test(m.subject));

  // The same page on a phone fits its width.
  const phone = await chrome.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  await phone.addCookies(await context.cookies());
  const p = await phone.newPage();
  await p.goto(page.url());
  await p.locator('#assign-form').waitFor();
  const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the assignment page is ${overflow}px wider than the phone`);
  await phone.close();
});

test('an import beyond the seats is refused whole with a report per row', async () => {
  await page.goto(teamUrl);
  await page.locator('#import-assignments').click();
  await page.getByRole('heading', { name: 'Import assignments' }).waitFor();
  const href = await page.locator('#download-template').getAttribute('href');
  const template = await page.request.get(portal.url + href);
  assert.equal(template.status(), 200);
  assert.match(await template.text(), /^First name,Last name,Email,Product\r\n/);
  assert.deepEqual(await unlabelledControls(page), []);

  await page.getByLabel('CSV text').fill([
    'First name,Last name,Email,Product',
    'Anna,Kowalska,anna@share.example,share',
    'Carl,Nowak,carl@share.example,share',
    'Dora,Lis,not-an-address,share',
  ].join('\n'));
  await page.locator('#import').click();
  await page.getByRole('heading', { name: 'Not imported' }).waitFor();
  const rows = page.locator('#import-report tbody tr');
  assert.equal(await rows.count(), 3);
  assert.match(await rows.nth(0).textContent(), /Already has this product/);
  assert.match(await rows.nth(1).textContent(), /Failed.*exceed/s);
  assert.match(await rows.nth(2).textContent(), /Failed.*not an e-mail address/s);
  assert.match(await page.getByRole('alert').textContent(), /Nothing was imported/);

  await page.goto(teamUrl);
  assert.doesNotMatch(await page.locator('#members').textContent(), /carl@share\.example/);
});

test('the invited person accepts and sees their license', async () => {
  const mail = await waitForMail(outboxDir, (m) => m.to.includes('anna@share.example') && /invited to the team/.test(m.subject));
  const link = mail.text.match(/https?:\/\/\S+\/invitation\?token=[^\s"<>]+/)[0];
  const anna = await chrome.newContext();
  anna.setDefaultTimeout(10000);
  const a = await anna.newPage();
  await a.goto(link);
  await a.getByRole('heading', { name: 'Accept the invitation' }).waitFor();
  await a.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await a.getByLabel('Password again').fill(PASSWORD);
  await a.locator('#accept-invitation').click();
  await a.getByRole('heading', { name: 'Your licenses' }).waitFor();
  assert.match(await a.locator('#seats').textContent(), /Share \(named user\)/);
  assert.ok(await a.getByRole('button', { name: 'Sign out of all devices' }).isVisible());
  // A user of the team does not manage it.
  const res = await a.goto(teamUrl);
  assert.equal(res.status(), 403);
  await anna.close();
});
