// Issue 6: the web license server's administration panel in a real browser. `tessera
// demo` gives the demo customer's organization a web license server; a real
// `tessera checkout --hold` holds a seat on it by URL; the customer signs in, opens
// "Use Web License Server", sees the seat with the program, the credential it was taken
// with, address and OS account, removes it (the holding program learns on its next
// heartbeat), refuses a bad policy and saves a good one that the next checkout obeys, makes
// and revokes site keys (a revoked key's seat ends and it takes no more), sees a person's
// verified e-mail on a seat taken with `tessera login`, and the panel fits a phone.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { BIN, start, browser, api, unlabelledControls, join } from '../lib/tessera.js';

const CUSTOMER = 'buyer@office.example';
const PASSWORD = 'buyer-demo-password';

let dir;
let demo;
let portalUrl;
let panelUrl;
let serverUrl;
let clientEnv;
let siteKey;
let chrome;
const holders = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-e2e-web-'));
  demo = await start(['demo', '--data', dir, '--listen', '127.0.0.1:0', '--portal-listen', '127.0.0.1:0']);
  const out = demo.stdout();
  portalUrl = out.match(/^\s*portal\s+(\S+?)\/\s/m)[1];
  panelUrl = out.match(/^\s*web license server\s+(\S+)/m)[1];
  serverUrl = panelUrl.replace(/\/$/, '');
  siteKey = out.match(/^\s*site key\s+(tsk_\S+)/m)[1];
  clientEnv = {
    ...process.env,
    TESSERA_VENDOR_PUBLIC_KEY: join(dir, 'vendor', 'vendor.public'),
    TESSERA_CACHE_DIR: join(dir, 'client-cache'),
    TESSERA_SITE_KEY: siteKey,
  };
  chrome = await browser();
});

after(async () => {
  for (const h of holders) h.kill('SIGTERM');
  await chrome?.close();
  demo?.proc.kill('SIGTERM');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** `tessera checkout autocad --hold` as USER against the web license server; resolves once held. */
function hold(user, email, env = clientEnv) {
  return new Promise((resolve, reject) => {
    const proc = spawn(BIN, ['checkout', 'autocad', '--hold', '--server', serverUrl, '--user', user],
      { env: { ...env, TESSERA_EMAIL: email } });
    holders.push(proc);
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`not held: ${out} ${err}`)), 20000);
    proc.stdout.on('data', (d) => {
      out += d;
      if (/holding the seat/.test(out)) { clearTimeout(timer); resolve({ proc, out: () => out, err: () => err }); }
    });
    proc.stderr.on('data', (d) => { err += d; });
    proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`exited ${code}: ${out} ${err}`)); });
  });
}

/** A one-off `tessera checkout` (checks in again at once); { code, text }. */
function checkoutOnce(user, env = clientEnv) {
  return new Promise((resolve) => {
    const proc = spawn(BIN, ['checkout', 'autocad', '--server', serverUrl, '--user', user], { env });
    let text = '';
    proc.stdout.on('data', (d) => { text += d; });
    proc.stderr.on('data', (d) => { text += d; });
    proc.on('exit', (code) => resolve({ code, text }));
  });
}

async function signIn(page) {
  await page.goto(portalUrl + '/signin');
  await page.getByLabel('E-mail').fill(CUSTOMER);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.locator('#sign-in').click();
  await page.locator('#sign-out').waitFor();
}

test('the customer sees a seat a real program holds, removes it, and the program learns', async () => {
  const anna = await hold('e2e-anna', 'anna@office.example');
  const context = await chrome.newContext();
  context.setDefaultTimeout(10000);
  const page = await context.newPage();
  await signIn(page);
  await page.goto(panelUrl);
  await page.getByRole('heading', { name: /Web License Server/ }).waitFor();
  assert.deepEqual(await unlabelledControls(page), []);
  assert.match(await page.locator('#pools').textContent(), /autocad\s*1 \/ 3/);
  const row = page.locator('tr.seat', { hasText: 'e2e-anna' });
  const text = await row.textContent();
  assert.match(text, /site key “Demo office PCs”/);
  assert.doesNotMatch(text, /anna@office\.example/, 'a typed e-mail is not shown as if it were verified');
  assert.match(text, /127\.0\.0\.1/);
  assert.match(text, /autocad/);

  await page.getByRole('button', { name: /Remove the seat of e2e-anna on / }).click();
  await page.getByText('The seat was removed').waitFor();
  assert.equal(await page.locator('tr.seat', { hasText: 'e2e-anna' }).count(), 0);
  assert.match(await page.locator('#pools').textContent(), /0 \/ 3/);
  const info = await api(serverUrl, '/api/v1/server', { token: siteKey });
  assert.equal(info.json.products[0].in_use, 0);

  // The holding program hears it on its next heartbeat (every 30 s by default); the
  // client library then takes a seat again if one is free, as after any lapse.
  const deadline = Date.now() + 45000;
  while (!/no longer held on the license server/.test(anna.err()) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.match(anna.err(), /no longer held on the license server: the lease has expired or was checked in or removed/);
  await page.goto(panelUrl);
  await page.locator('tr.seat', { hasText: 'e2e-anna' }).waitFor();
  anna.proc.kill('SIGTERM');
  await context.close();
});

test('the panel\'s live use and seats change by themselves, without a reload', async () => {
  const context = await chrome.newContext();
  context.setDefaultTimeout(10000);
  const page = await context.newPage();
  await signIn(page);
  let loads = 0;
  page.on('load', () => { loads += 1; });
  await page.goto(panelUrl);
  await page.getByRole('heading', { name: /Web License Server/ }).waitFor();
  assert.equal(await page.locator('tr.seat', { hasText: 'e2e-live' }).count(), 0);
  // Something typed into a form stays: only the live parts are swapped.
  await page.getByLabel('Name of a new site key').fill('typed, not sent');
  await page.evaluate(() => { window.stillTheSamePage = true; });
  const live = await hold('e2e-live', 'live@office.example');
  await page.locator('tr.seat', { hasText: 'e2e-live' }).waitFor({ timeout: 4000 });
  live.proc.kill('SIGTERM');
  await page.locator('tr.seat', { hasText: 'e2e-live' }).waitFor({ state: 'detached', timeout: 8000 });
  assert.equal(await page.evaluate(() => window.stillTheSamePage), true, 'the panel was reloaded');
  assert.equal(await page.getByLabel('Name of a new site key').inputValue(), 'typed, not sent');
  assert.equal(loads, 1);
  await context.close();
});

test('a bad policy is refused with its line and a good one applies to the next checkout', async () => {
  const context = await chrome.newContext();
  context.setDefaultTimeout(10000);
  const page = await context.newPage();
  await signIn(page);
  await page.goto(panelUrl);
  const editor = page.getByLabel(/Policy \(TOML/);
  await editor.fill('[[rule]]\nproduct = "autocad"\nexclude = ["crowd:all"]\n');
  await page.getByRole('button', { name: 'Save policy' }).click();
  assert.match(await page.locator('#policy-error').textContent(), /line 1.*crowd.*unchanged/s);
  assert.match(await page.getByLabel(/Policy \(TOML/).inputValue(), /crowd:all/);

  await page.getByLabel(/Policy \(TOML/).fill('[[rule]]\nproduct = "autocad"\nexclude = ["user:e2e-mallory"]\n');
  await page.getByRole('button', { name: 'Save policy' }).click();
  await page.getByText('The policy was saved').waitFor();
  assert.match(await page.getByLabel(/Policy \(TOML/).inputValue(), /e2e-mallory/);

  const refused = await checkoutOnce('e2e-mallory');
  assert.notEqual(refused.code, 0);
  assert.match(refused.text, /excluded/);
  const allowed = await checkoutOnce('e2e-carol');
  assert.equal(allowed.code, 0, allowed.text);

  // The switch: off refuses every checkout, on again takes them.
  await page.getByRole('button', { name: 'Switch off' }).click();
  await page.getByText('is switched off').waitFor();
  assert.match((await checkoutOnce('e2e-carol')).text, /switched off/);
  await page.getByRole('button', { name: 'Switch on' }).click();
  await page.getByText('is switched on').waitFor();
  assert.equal((await checkoutOnce('e2e-carol')).code, 0);
  await context.close();
});

test('without a credential a program is told how to get one; a site key made in the panel works until revoked', async () => {
  const { TESSERA_SITE_KEY: _, ...noKey } = clientEnv;
  const stranger = await checkoutOnce('e2e-stranger', noKey);
  assert.notEqual(stranger.code, 0);
  assert.match(stranger.text, /authentication_required/);
  assert.match(stranger.text, /tessera login/);
  assert.equal((await api(serverUrl, '/api/v1/server')).status, 401);

  const context = await chrome.newContext();
  context.setDefaultTimeout(10000);
  const page = await context.newPage();
  await signIn(page);
  await page.goto(panelUrl);
  await page.getByLabel('Name of a new site key').fill('E2E plotter room');
  await page.getByRole('button', { name: 'Make a site key' }).click();
  const made = (await page.locator('#new-site-key').textContent()).trim();
  assert.match(made, /^tsk_[a-z0-9]{52}$/);
  assert.deepEqual(await unlabelledControls(page), []);
  // Shown once: a reload shows the key's name, never its text.
  await page.goto(panelUrl);
  assert.match(await page.locator('#key-table').textContent(), /E2E plotter room/);
  assert.doesNotMatch(await page.textContent('body'), new RegExp(made));

  const withKey = { ...noKey, TESSERA_SITE_KEY: made };
  const held = await hold('e2e-plotter', 'x@example.com', withKey);
  assert.match(held.out(), /taken with the site key/);
  await page.goto(panelUrl);
  const row = page.locator('tr.seat', { hasText: 'e2e-plotter' });
  assert.match(await row.textContent(), /site key “E2E plotter room”/);
  const keyRow = page.locator('tr.site-key', { hasText: 'E2E plotter room' });
  assert.match(await keyRow.textContent(), /127\.0\.0\.1/, 'the last address is shown');

  await page.getByRole('button', { name: 'Revoke the site key E2E plotter room' }).click();
  await page.getByText('The site key was revoked').waitFor();
  assert.equal(await page.locator('tr.seat', { hasText: 'e2e-plotter' }).count(), 0, 'its seat ended');
  assert.match(await page.locator('tr.site-key', { hasText: 'E2E plotter room' }).textContent(), /revoked/);
  const refused = await checkoutOnce('e2e-plotter-2', withKey);
  assert.notEqual(refused.code, 0);
  assert.match(refused.text, /invalid_credential/);
  held.proc.kill('SIGTERM');
  await context.close();
});

test('a person signed in with tessera login takes a seat under their verified e-mail', async () => {
  const { TESSERA_SITE_KEY: _, ...noKey } = clientEnv;
  const person = { ...noKey, TESSERA_CACHE_DIR: join(dir, 'person-cache'), TESSERA_PASSWORD: PASSWORD };
  const login = spawn(BIN, ['login', '--portal', portalUrl, '--email', CUSTOMER], { env: person });
  let said = '';
  login.stdout.on('data', (d) => { said += d; });
  login.stderr.on('data', (d) => { said += d; });
  const code = await new Promise((resolve) => login.on('exit', resolve));
  assert.equal(code, 0, said);
  const held = await hold('e2e-signed-in', 'someone-else@elsewhere.example', person);
  assert.match(held.out(), new RegExp(`taken as ${CUSTOMER.replace('.', '\\.')}`));
  const context = await chrome.newContext();
  context.setDefaultTimeout(10000);
  const page = await context.newPage();
  await signIn(page);
  await page.goto(panelUrl);
  const text = await page.locator('tr.seat', { hasText: 'e2e-signed-in' }).textContent();
  assert.match(text, /signed in as buyer@office\.example/);
  assert.doesNotMatch(text, /someone-else/);
  held.proc.kill('SIGTERM');
  await context.close();
});

test('the panel fits a phone and shows nothing to someone not signed in', async () => {
  const context = await chrome.newContext({ viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true });
  context.setDefaultTimeout(10000);
  const page = await context.newPage();
  const held = await hold('e2e-phone-user', 'phone@office.example');
  await signIn(page);
  await page.goto(panelUrl);
  await page.locator('tr.seat', { hasText: 'e2e-phone-user' }).waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `no sideways scrolling on a phone (${overflow}px)`);
  const button = page.getByRole('button', { name: /Remove the seat of e2e-phone-user/ });
  const box = await button.boundingBox();
  assert.ok(box && box.x >= 0 && box.x + box.width <= 375, `the Remove button is on screen: ${JSON.stringify(box)}`);
  held.proc.kill('SIGTERM');
  await context.close();

  // Nobody signed in: the panel sends to sign-in and shows nothing.
  const anonymous = await chrome.newContext();
  const p = await anonymous.newPage();
  await p.goto(panelUrl);
  assert.match(p.url(), /\/signin/);
  assert.doesNotMatch(await p.textContent('body'), /e2e-/);
  await anonymous.close();
});
