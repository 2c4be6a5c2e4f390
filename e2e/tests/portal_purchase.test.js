// Issue 5: the whole purchase of seed 000 in a real browser. A LAN server makes its
// registration key; a customer signs up on the portal, confirms from the e-mail in the
// outbox, buys a Corporate subscription for that server, pays by bank transfer with
// company info and Contract and Acts; the invoice and the staff notice are mailed; staff
// mark the order Paid in the back office; the activation key from the Orders section is
// imported into the real LAN server, and a program gets a seat there.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import {
  tessera, start, browser, api, unlabelledControls, waitForMail, join, writeFileSync,
} from '../lib/tessera.js';

const PASSWORD = 'a long enough password';
const CUSTOMER = 'buyer@office.example';
const BILLING = 'accounts@office.example';
const STAFF = 'staff@tessera.example';

let dir;
let vendor;
let serverData;
let registrationKey;
let portal;
let outboxDir;
let chrome;
let customer;
let page;
let order;
let activationKey;
let lan;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-e2e-portal-'));
  vendor = join(dir, 'vendor');
  serverData = join(dir, 'server');
  tessera(['vendor', 'keygen', '--out', vendor]);
  registrationKey = tessera(['server', 'registration-key', '--data', serverData]).trim();
  const data = join(dir, 'portal');
  outboxDir = join(data, 'outbox');
  portal = await start(['portal', '--data', data, '--listen', '127.0.0.1:0',
    '--vendor-secret-key', join(vendor, 'vendor.secret')]);
  chrome = await browser();
  customer = await chrome.newContext();
  customer.setDefaultTimeout(10000);
  page = await customer.newPage();
});

after(async () => {
  await chrome?.close();
  portal?.proc.kill('SIGTERM');
  lan?.proc.kill('SIGTERM');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Signs up in the browser, opens the confirmation link from the e-mail, signs in. */
async function signUpAndIn(p, email, organization) {
  await p.goto(portal.url + '/');
  await p.locator('#menu-sign-up').click();
  await p.getByLabel('E-mail').fill(email);
  await p.getByLabel('Organization').fill(organization);
  await p.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await p.getByLabel('Password again').fill(PASSWORD);
  await p.locator('#sign-up').click();
  await p.getByRole('heading', { name: 'Check your e-mail' }).waitFor();

  const mail = await waitForMail(outboxDir, (m) => m.to.includes(email) && /Confirm your e-mail/.test(m.subject));
  const link = mail.text.match(/https?:\/\/\S+\/confirm\?token=[^\s"<>]+/);
  assert.ok(link, `a confirmation link in: ${mail.text}`);
  await p.goto(link[0]);
  assert.doesNotMatch(await p.textContent('main'), /not valid|expired/i);

  await p.goto(portal.url + '/signin');
  await p.getByLabel('E-mail').fill(email);
  await p.getByLabel('Password').fill(PASSWORD);
  await p.locator('#sign-in').click();
  await p.locator('#sign-out').waitFor();
  assert.match(await p.locator('.who').textContent(), new RegExp(email.replace('.', '\\.')));
}

test('a customer signs up, confirms from the e-mail and signs in', async () => {
  await signUpAndIn(page, CUSTOMER, 'Office & Co');
});

test('the registration key is checked as it is typed, and a wrong last character is a typing error', async () => {
  await page.goto(portal.url + '/buy/autocad');
  const keyField = page.getByLabel('Registration key');
  const say = page.locator('#registration_key-check');
  // Typed key by key, the field never losing focus: the check answers after a pause.
  await keyField.click();
  await keyField.pressSequentially(registrationKey, { delay: 5 });
  await page.waitForFunction(() => document.getElementById('registration_key-check').textContent === 'Registration key OK.');
  assert.equal(await keyField.getAttribute('aria-invalid'), 'false');
  // The last character changed: the old message goes at once, and the new one says what
  // is wrong (the checksum), not that a character is outside A–Z and 2–7.
  const last = registrationKey.slice(-1);
  await keyField.press('Backspace');
  assert.equal(await say.textContent(), '', 'no message about an earlier value stays under a new one');
  await keyField.press(last === 'A' ? 'B' : 'A');
  await page.waitForFunction(() => document.getElementById('registration_key').getAttribute('aria-invalid') === 'true');
  const message = await say.textContent();
  assert.match(message, /checksum/);
  assert.doesNotMatch(message, /outside A–Z/);
  assert.ok(await keyField.evaluate((el) => el === document.activeElement), 'checked while the field has the focus');
});

test('the subscription page refuses a mangled registration key and adds the real one to the cart', async () => {
  await page.locator('#menu-buy').click();
  await page.getByRole('heading', { name: 'Buy — Corporate subscription' }).waitFor();
  await page.getByRole('link', { name: 'Buy AutoCAD plugins, 1 year' }).click();
  await page.getByRole('heading', { name: /Corporate subscription: AutoCAD plugins/ }).waitFor();
  assert.ok(await page.locator('#option-autocad-1y').isChecked(), 'the chosen validity period is selected');
  assert.deepEqual(await unlabelledControls(page), []);

  const startField = page.getByLabel('Start of the subscription period');
  const today = await startField.inputValue();
  assert.match(today, /^\d{4}-\d{2}-\d{2}$/, 'the start is filled in with today');
  assert.equal(today, await startField.getAttribute('min'));
  await page.getByLabel('Number of users').fill('3');

  // A key with a typo: the live check says so, and the form is refused on submit.
  const mangled = registrationKey.slice(0, 12) + (registrationKey[12] === 'A' ? 'B' : 'A') + registrationKey.slice(13, -3);
  const keyField = page.getByLabel('Registration key');
  await keyField.fill(mangled);
  await keyField.blur();
  await page.waitForFunction(() => document.getElementById('registration_key').getAttribute('aria-invalid') === 'true');
  await page.locator('#add-to-cart').click();
  await page.getByRole('alert').waitFor();
  assert.match(await page.getByRole('alert').textContent(), /Registration key is not valid/);
  assert.equal(await page.locator('#cart-count').textContent(), '0');

  // The real key from the LAN server.
  await page.locator('#option-autocad-1y').check();
  await page.getByLabel('Number of users').fill('3');
  await page.getByLabel('Registration key').fill(registrationKey);
  await page.getByLabel('Registration key').blur();
  await page.waitForFunction(() => document.getElementById('registration_key').getAttribute('aria-invalid') === 'false');
  await page.locator('#add-to-cart').click();

  const dialog = page.getByRole('dialog', { name: 'Your cart' });
  await dialog.waitFor();
  assert.match(await dialog.textContent(), /AutoCAD plugins.*1 year.*3 user\(s\)/s);
  assert.ok(await dialog.locator('#go-to-checkout').isVisible());
  assert.ok(await dialog.locator('#return-to-site').isVisible());
  assert.equal(await page.locator('#cart-count').textContent(), '1');

  // The dialog closes with Return to site and opens again from the cart button.
  await dialog.locator('#return-to-site').click();
  await dialog.waitFor({ state: 'hidden' });
  await page.locator('#cart-button').click();
  await dialog.waitFor();
  await dialog.getByRole('link', { name: 'Go to checkout' }).click();
  await page.getByRole('heading', { name: 'Checkout' }).waitFor();
});

test('checkout by bank transfer with company info and Contract and Acts places a Pending order', async () => {
  await page.getByLabel('Bank transfer').check();
  await page.locator('#add-company-info').click();
  const dialog = page.getByRole('dialog', { name: 'Add company info' });
  await dialog.waitFor();
  await dialog.getByLabel('Company name').fill('Office & Co Sp. z o.o.');
  await dialog.getByLabel('Address').fill('ul. Długa 1\n00-001 Warszawa\nPoland');
  await dialog.getByLabel('Tax ID (VAT number)').fill('PL5252812345');
  await dialog.getByLabel('E-mail for invoices').fill(BILLING);
  await dialog.locator('#save-company-info').click();
  await page.waitForURL(/\/checkout\?payment=bank_transfer$/);
  // Back on the checkout page Bank transfer is still chosen and the saved details show under it.
  assert.equal(await page.getByLabel('Bank transfer').isChecked(), true);
  await page.locator('#company-summary').waitFor();
  assert.match(await page.locator('#company-summary').textContent(), /Office & Co Sp\. z o\.o\..*PL5252812345.*accounts@office\.example/s);
  assert.deepEqual(await unlabelledControls(page), []);

  // One look on a phone at the same checkout page.
  const phone = await chrome.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  await phone.addCookies(await customer.cookies());
  const phonePage = await phone.newPage();
  await phonePage.goto(portal.url + '/checkout');
  await phonePage.locator('#checkout-button').waitFor();
  const overflow = await phonePage.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the checkout page is ${overflow}px wider than the phone`);
  await phone.close();

  await page.getByLabel('Bank transfer').check();
  await page.getByLabel(/Contract and Acts/).check();
  await page.locator('#checkout-button').click();
  await page.waitForURL(/\/account\/orders\?placed=ORD-/);
  await page.getByRole('heading', { name: 'Orders', exact: true }).waitFor();
  order = new URL(page.url()).searchParams.get('placed');
  assert.match(order, /^ORD-[^,]+$/);
  const section = page.locator(`[id="order-${order}"]`);
  await section.waitFor();
  assert.equal(await page.locator(`[id="status-${order}"]`).textContent(), 'Pending');
  assert.match(await section.textContent(), /3/);
  assert.match(await section.textContent(), new RegExp(registrationKey.slice(0, 20).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  assert.match(await section.textContent(), /Contract and Acts\s*Yes/);
});

test('the invoice goes to the customer and the notice to the staff', async () => {
  assert.ok(order, 'an order was placed');
  const invoice = await waitForMail(outboxDir, (m) => m.to.includes(CUSTOMER) && m.subject.includes(order));
  assert.match(invoice.subject, new RegExp(`^Order ${order} — invoice INV-`));
  assert.ok(invoice.to.includes(BILLING), `the invoice e-mail is a recipient too: ${invoice.to}`);
  assert.ok(invoice.attachments.some((a) => /^INV-.*\.pdf$/.test(a)), `an invoice PDF: ${invoice.attachments}`);
  assert.ok(invoice.attachments.some((a) => /^AGR-.*\.pdf$/.test(a)), `the agreement: ${invoice.attachments}`);
  assert.match(invoice.raw, /Content-Type: application\/pdf/i);

  const notice = await waitForMail(outboxDir, (m) => m.to.includes('sales@tessera.example') && m.subject.includes(order));
  assert.equal(notice.subject, `New order ${order} from Office & Co Sp. z o.o.`);
  assert.deepEqual(notice.to, ['sales@tessera.example']);
  assert.match(notice.text, new RegExp(`/staff/orders/${order}`));
  assert.match(notice.text, /Contract and Acts/);
});

test('staff find the order in the back office and mark it Paid', async () => {
  assert.ok(order, 'an order was placed');
  const staff = await chrome.newContext();
  staff.setDefaultTimeout(10000);
  const s = await staff.newPage();
  await signUpAndIn(s, STAFF, 'Tessera Software');
  await s.locator('#menu-back-office').click();
  await s.getByRole('heading', { name: 'Back office: orders' }).waitFor();
  await s.getByLabel('Search by order number, company or e-mail').fill('office');
  await s.getByLabel('Status').selectOption('Pending');
  await s.locator('#search-orders').click();
  await s.locator(`[id="open-${order}"]`).click();
  await s.getByRole('heading', { name: new RegExp(`Order ${order}`) }).waitFor();
  assert.equal(await s.locator('#order-status').textContent(), 'Pending');
  await s.locator('#mark-paid').click();
  await s.waitForURL(/done=paid/);
  assert.equal(await s.locator('#order-status').textContent(), 'Paid');
  await staff.close();
});

test('the Orders section shows the activation key, and the LAN server accepts it', async () => {
  assert.ok(order, 'an order was placed');
  await page.locator('#menu-orders').click();
  await page.locator(`[id="status-${order}"]`).waitFor();
  assert.equal(await page.locator(`[id="status-${order}"]`).textContent(), 'Paid');
  assert.ok(await page.locator(`[id="copy-activation-key-${order}"]`).isVisible(), 'a copy button');
  activationKey = (await page.getByLabel('Activation key').inputValue()).trim();
  assert.ok(activationKey.length > 40, activationKey);
  const href = await page.locator(`[id="download-activation-key-${order}"]`).getAttribute('href');
  const download = await page.request.get(portal.url + href);
  assert.equal(download.status(), 200);
  assert.equal((await download.text()).trim(), activationKey);

  const paid = await waitForMail(outboxDir, (m) => m.to.includes(CUSTOMER) && m.subject.includes(`${order} is Paid`));
  assert.ok(paid.text.includes(activationKey), 'the key is in the e-mail');

  const file = join(dir, 'activation.key');
  writeFileSync(file, activationKey + '\n');
  const pub = join(vendor, 'vendor.public');
  tessera(['server', 'activate', '--data', serverData, '--vendor-public-key', pub, file]);
  lan = await start(['server', '--data', serverData, '--vendor-public-key', pub, '--listen', '127.0.0.1:0']);
  for (const user of ['anna', 'bob', 'carl']) {
    const lease = await api(lan.url, '/api/v1/leases', {
      method: 'POST', body: { product: 'autocad', user, host: `${user}-pc`, client_id: `e2e-${user}` },
    });
    assert.equal(lease.status, 201, JSON.stringify(lease.json));
  }
  const fourth = await api(lan.url, '/api/v1/leases', {
    method: 'POST', body: { product: 'autocad', user: 'dora', host: 'dora-pc', client_id: 'e2e-dora' },
  });
  assert.equal(fourth.status, 409, 'three users were bought');
});
