// Issue 24: Get Help in a real browser, on `tessera demo`. The demo customer opens Get
// Help from Subscriptions and Contracts (the menu opens at Post-purchase support >
// Subscription management), finds the renewal article by search, reads it and contacts a
// support agent about the Share subscription with a screenshot and a status file; staff
// assign and reply in the back office; the reply arrives by e-mail (the outbox) and on the
// customer's Support requests page, where the customer answers; a customer of another
// organization sees nothing of it. Every control is labelled and no page logs an error.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { start, browser, unlabelledControls, waitForMail, join } from '../lib/tessera.js';

const CUSTOMER = ['buyer@office.example', 'buyer-demo-password'];
const STAFF = ['staff@tessera.example', 'staff-demo-password'];
const OTHER = 'eve@elsewhere.example';
const OTHER_PASSWORD = 'a long enough password';
const PNG = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000'
  + '1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082', 'hex');

let dir;
let demo;
let portalUrl;
let outboxDir;
let chrome;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-e2e-help-'));
  demo = await start(['demo', '--data', dir, '--listen', '127.0.0.1:0', '--portal-listen', '127.0.0.1:0']);
  const out = demo.stdout();
  portalUrl = out.match(/^\s*portal\s+(\S+?)\/\s/m)[1];
  outboxDir = out.match(/^\s*portal e-mail\s+(\S+)/m)[1];
  chrome = await browser();
});

after(async () => {
  await chrome?.close();
  demo?.proc.kill('SIGTERM');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A page whose console errors and uncaught exceptions are collected in `errors`. */
async function watchedPage(context, errors) {
  const page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`${page.url()}: ${m.text()} (${m.location().url})`); });
  page.on('pageerror', (e) => errors.push(`${page.url()}: ${e.message}`));
  return page;
}

async function signIn(page, [email, password]) {
  await page.goto(portalUrl + '/signin');
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.locator('#sign-in').click();
  await page.locator('#sign-out').waitFor();
}

test('a customer finds the renewal article from the subscription page, contacts support, and reads the reply', async () => {
  const errors = [];
  const customerContext = await chrome.newContext();
  customerContext.setDefaultTimeout(10000);
  const page = await watchedPage(customerContext, errors);
  await signIn(page, CUSTOMER);

  // Get Help from the subscription page: the menu opens at its topic.
  await page.goto(portalUrl + '/account/subscriptions');
  await page.getByRole('heading', { name: 'Subscriptions and Contracts' }).waitFor();
  const box = await page.locator('#get-help').boundingBox();
  const viewport = page.viewportSize();
  assert.ok(box.x + box.width > viewport.width * 0.75 && box.y + box.height > viewport.height * 0.75,
    `Get Help is in the lower-right corner: ${JSON.stringify(box)}`);
  await page.locator('#get-help').click();
  const dialog = page.getByRole('dialog', { name: 'Get Help' });
  await dialog.waitFor();
  assert.equal(await dialog.locator('#help-topic-post-purchase-subscription-management').isVisible(), true);
  assert.equal(await dialog.locator('#help-topic-post-purchase-subscription-management-billing-orders').isVisible(), true,
    'Post-purchase support > Subscription management is open, with Billing & orders');
  assert.deepEqual(await unlabelledControls(page), []);

  // Search finds the renewal article.
  await dialog.getByLabel('Search help articles').fill('renewal');
  await dialog.getByRole('button', { name: 'Search' }).click();
  const result = dialog.locator('#help-article-renew-a-subscription');
  await result.waitFor();
  await result.click();
  await page.getByRole('heading', { name: 'Renew a subscription', level: 1 }).waitFor();
  assert.match(await page.locator('#article-renew-a-subscription').textContent(), /Renew now/);

  // Contact a support agent: the topic is the article's, the subscription is picked.
  await page.locator('#contact-agent').click();
  await page.getByRole('heading', { name: 'Contact a support agent' }).waitFor();
  assert.deepEqual(await unlabelledControls(page), []);
  const topic = await page.getByLabel('Topic').evaluate((s) => s.options[s.selectedIndex].text);
  assert.equal(topic, 'Post-purchase support > Subscription management > Renewals');
  const about = page.getByLabel('Order or subscription');
  const share = await about.evaluate((s) => [...s.options].find((o) => /Share \(named user\)/.test(o.text)).value);
  await about.selectOption(share);
  await page.getByLabel('Message').fill('When does our Share subscription renew, and can we add seats then?');
  await page.getByLabel('Attachments (optional)').setInputFiles([
    { name: 'screenshot.png', mimeType: 'image/png', buffer: PNG },
    { name: 'status.txt', mimeType: 'text/plain', buffer: Buffer.from('POOL  SEATS\nshare 1/3\n') },
  ]);
  await page.locator('#send-request').click();
  await page.getByText(/Your support request SR-\d{4}-\d{6} was sent/).waitFor();
  const number = (await page.getByRole('heading', { level: 1 }).textContent()).match(/SR-\d{4}-\d{6}/)[0];
  assert.match(await page.locator('#request-about').textContent(), /Share \(named user\)/);
  assert.equal(await page.locator('#thread').getByRole('link', { name: 'screenshot.png' }).count(), 1);
  await waitForMail(outboxDir, (m) => m.to.includes(CUSTOMER[0]) && m.subject === `Your support request ${number} was received`);
  const note = await waitForMail(outboxDir, (m) => m.subject.includes(`New support request ${number}`));
  assert.deepEqual(note.attachments.sort(), ['screenshot.png', 'status.txt']);

  // The back office: the queue, assign, reply.
  const staffContext = await chrome.newContext();
  staffContext.setDefaultTimeout(10000);
  const staff = await watchedPage(staffContext, errors);
  await signIn(staff, STAFF);
  await staff.goto(portalUrl + '/staff/support');
  assert.deepEqual(await unlabelledControls(staff), []);
  await staff.locator(`#open-${number}`).click();
  await staff.getByRole('heading', { name: new RegExp(`Support request ${number}`) }).waitFor();
  assert.deepEqual(await unlabelledControls(staff), []);
  await staff.getByLabel('Assign to').selectOption({ label: STAFF[0] });
  await staff.locator('#assign').click();
  await staff.getByText("The request's assignee is saved.").waitFor();
  assert.equal((await staff.locator('#request-assignee').textContent()).trim(), STAFF[0]);
  await staff.getByLabel('Reply to the customer').fill('It renews on its renewal date; Add seats is under Subscriptions and Contracts.');
  await staff.locator('#send-reply').click();
  await staff.getByText('Your reply was sent to the customer.').waitFor();

  // The reply by e-mail, and on the customer's Support requests page.
  const reply = await waitForMail(outboxDir, (m) => m.to.includes(CUSTOMER[0]) && m.subject === `Reply to your support request ${number}`);
  assert.match(reply.text, /Add seats is under Subscriptions and Contracts/);
  const link = reply.text.match(/https?:\/\/\S+\/account\/support\/SR-\S+/)[0];
  await page.goto(link);
  await page.locator('#thread').getByText('Add seats is under Subscriptions and Contracts').waitFor();
  assert.equal((await page.locator('#request-status').textContent()).trim(), 'Answered');
  await page.getByLabel('Your answer').fill('Thank you!');
  await page.locator('#send-answer').click();
  await page.getByText('Your answer was sent to our support agent.').waitFor();
  await waitForMail(outboxDir, (m) => m.to.includes(STAFF[0]) && m.subject.includes(number) && /Thank you!/.test(m.text));
  await page.goto(portalUrl + '/account/support');
  await page.locator(`#open-${number}`).waitFor();
  assert.deepEqual(await unlabelledControls(page), []);

  // Another organization sees nothing of it.
  const otherContext = await chrome.newContext();
  otherContext.setDefaultTimeout(10000);
  const other = await watchedPage(otherContext, errors);
  await other.goto(portalUrl + '/signup');
  await other.getByLabel('E-mail').fill(OTHER);
  await other.getByLabel('Organization').fill('Elsewhere Ltd');
  await other.getByLabel('Password', { exact: true }).fill(OTHER_PASSWORD);
  await other.getByLabel('Password again').fill(OTHER_PASSWORD);
  await other.locator('#sign-up').click();
  const confirm = await waitForMail(outboxDir, (m) => m.to.includes(OTHER) && /Confirm your e-mail/.test(m.subject));
  await other.goto(confirm.text.match(/https?:\/\/\S+\/confirm\?token=[^\s"<>]+/)[0]);
  await signIn(other, [OTHER, OTHER_PASSWORD]);
  await other.goto(portalUrl + '/account/support');
  await other.locator('#no-requests').waitFor();
  assert.equal(await other.getByText(number).count(), 0);
  const response = await other.goto(portalUrl + `/account/support/${number}`);
  assert.equal(response.status(), 404);
  assert.equal(await other.getByText('When does our Share subscription renew').count(), 0);
  const form = await other.goto(portalUrl + '/support/new');
  assert.equal(form.status(), 200);
  assert.equal(await other.getByLabel('Order or subscription').locator('option', { hasText: 'Share' }).count(), 0);
  assert.equal((await other.goto(portalUrl + '/staff/support')).status(), 403);

  // The 404 and 403 the other organization was answered above are not page errors.
  const asked = [`${portalUrl}/account/support/${number}: `, `${portalUrl}/staff/support: `];
  const unexpected = errors.filter((e) => !asked.some((a) => e.startsWith(a) && /status of 40[34]/.test(e)));
  assert.deepEqual(unexpected, []);
  await customerContext.close();
  await staffContext.close();
  await otherContext.close();
});
