// Issue 23: a program signs its person in through the browser. `tessera login --browser`
// runs as a process against `tessera demo`; Chromium opens the address it prints, signs
// in with the portal's own sign-in and approves "Sign in Tessera on <computer>"; the CLI
// then holds the named-user token and checks out Share. A denied sign-in fails with its
// message, and the code cannot be used again.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { BIN, start, browser, unlabelledControls, join } from '../lib/tessera.js';

const CUSTOMER = 'buyer@office.example';
const PASSWORD = 'buyer-demo-password';

let dir;
let demo;
let portalUrl;
let chrome;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-e2e-browser-sign-in-'));
  demo = await start(['demo', '--data', dir, '--listen', '127.0.0.1:0', '--portal-listen', '127.0.0.1:0']);
  portalUrl = demo.stdout().match(/^\s*portal\s+(\S+?)\/\s/m)[1];
  chrome = await browser();
});

after(async () => {
  await chrome?.close();
  demo?.proc.kill('SIGTERM');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function env(cache) {
  const { TESSERA_PASSWORD: _p, TESSERA_SERVER: _s, TESSERA_SITE_KEY: _k, ...rest } = process.env;
  return { ...rest, TESSERA_VENDOR_PUBLIC_KEY: join(dir, 'vendor', 'vendor.public'), TESSERA_CACHE_DIR: join(dir, cache) };
}

/** `tessera login --browser` in a process: resolves with the address it prints and its end. */
function loginInBrowser(cache) {
  return new Promise((resolve, reject) => {
    const proc = spawn(BIN, ['login', '--browser', '--no-open', '--portal', portalUrl], { env: env(cache) });
    let out = '';
    const ended = new Promise((done) => proc.on('exit', (code) => done({ code, out: () => out })));
    const timer = setTimeout(() => reject(new Error(`no address printed: ${out}`)), 20000);
    const take = (d) => {
      out += d;
      const m = out.match(/\(or open (\S+)\)/);
      const code = out.match(/enter the code (\S+)/);
      if (m && code) { clearTimeout(timer); resolve({ url: m[1], code: code[1], ended, proc }); }
    };
    proc.stdout.on('data', take);
    proc.stderr.on('data', take);
  });
}

async function approveAs(url, decision) {
  const context = await chrome.newContext();
  context.setDefaultTimeout(10000);
  const page = await context.newPage();
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto(url);
  // Not signed in yet: the portal's own sign-in first, then back to the approval.
  await page.getByLabel('E-mail').fill(CUSTOMER);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.locator('#sign-in').click();
  await page.locator('#device-decision').waitFor();
  assert.deepEqual(await unlabelledControls(page), []);
  const question = await page.locator('#device-question').textContent();
  await page.locator(decision === 'approve' ? '#device-approve' : '#device-deny').click();
  const done = await page.locator('#device-done').textContent();
  assert.deepEqual(errors, []);
  await context.close();
  return { question, done };
}

test('tessera login --browser signs in once the person approves, and the program then checks out Share', async () => {
  const login = await loginInBrowser('approving-pc');
  assert.match(login.code, /^[B-Z]{4}-[B-Z]{4}$/);
  const { question, done } = await approveAs(login.url, 'approve');
  assert.match(question, /Sign in Tessera on .+ as you\?/);
  assert.match(question, new RegExp(login.code));
  assert.match(done, /is signed in as buyer@office\.example/);
  const { code, out } = await login.ended;
  assert.equal(code, 0, out());
  assert.match(out(), /signed in as buyer@office\.example on this computer/);
  assert.doesNotMatch(out(), /Password/);

  const checkout = spawn(BIN, ['checkout', 'share'], { env: env('approving-pc') });
  let text = '';
  checkout.stdout.on('data', (d) => { text += d; });
  checkout.stderr.on('data', (d) => { text += d; });
  const status = await new Promise((r) => checkout.on('exit', r));
  assert.equal(status, 0, text);
  assert.match(text, /share is licensed to buyer@office\.example on this computer \(named user\)/);

  // The code is spent: its page finds nothing any more.
  const context = await chrome.newContext();
  const page = await context.newPage();
  await page.goto(`${portalUrl}/signin`);
  await page.getByLabel('E-mail').fill(CUSTOMER);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.locator('#sign-in').click();
  await page.locator('#sign-out').waitFor();
  await page.goto(login.url);
  assert.match(await page.locator('#device-error').textContent(), /No program is waiting/);
  await context.close();
});

test('a sign-in denied in the browser fails in the program with its message', async () => {
  const login = await loginInBrowser('denying-pc');
  const { done } = await approveAs(login.url, 'deny');
  assert.match(done, /was denied/);
  const { code, out } = await login.ended;
  assert.notEqual(code, 0);
  assert.match(out(), /access_denied/);
  assert.match(out(), /denied in the browser/);
});
