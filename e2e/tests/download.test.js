// Issue 22: seed 000's "comparison page" and "download and install the LAN License
// Server" in a real browser. The License servers page is reached from the Corporate
// subscription form and the home page; the Download page lists a package the vendor
// published and signed, the file the browser downloads has the SHA-256 the page shows,
// and `tessera vendor verify` accepts it with its signature; a tampered file fails that
// check, and a tampered package on the portal is flagged and not offered.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import {
  BIN, tessera, start, browser, unlabelledControls, join, readFileSync, writeFileSync,
} from '../lib/tessera.js';

const PACKAGE = 'tessera_9.9.9-1_amd64.deb';

let dir;
let vendor;
let downloads;
let portal;
let chrome;
let page;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-e2e-download-'));
  vendor = join(dir, 'vendor');
  downloads = join(dir, 'downloads');
  mkdirSync(downloads);
  tessera(['vendor', 'keygen', '--out', vendor]);
  writeFileSync(join(downloads, PACKAGE), randomBytes(300000));
  tessera(['vendor', 'sign', '--secret-key', join(vendor, 'vendor.secret'), join(downloads, PACKAGE)]);
  portal = await start(['portal', '--data', join(dir, 'portal'), '--listen', '127.0.0.1:0',
    '--vendor-secret-key', join(vendor, 'vendor.secret'), '--downloads', downloads]);
  chrome = await browser();
  const context = await chrome.newContext({ acceptDownloads: true });
  context.setDefaultTimeout(10000);
  page = await context.newPage();
});

after(async () => {
  await chrome?.close();
  portal?.proc.kill('SIGTERM');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const sha256 = (file) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** `tessera vendor verify FILE SIG` with the vendor's public key: { ok, output }. */
function verify(file, sig) {
  try {
    const output = execFileSync(BIN, ['vendor', 'verify', file, sig, '--vendor-public-key', join(vendor, 'vendor.public')],
      { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
    return { ok: true, output };
  } catch (e) {
    return { ok: false, output: `${e.stdout}${e.stderr}` };
  }
}

/** Clicks a download link and saves the file under its own name in `folder`. */
async function download(link, folder) {
  mkdirSync(folder, { recursive: true });
  const [file] = await Promise.all([page.waitForEvent('download'), link.click()]);
  const path = join(folder, file.suggestedFilename());
  await file.saveAs(path);
  return path;
}

test('the comparison page is reachable from the subscription form and from the home page', async () => {
  await page.goto(portal.url + '/buy/autocad');
  await page.getByRole('heading', { name: /Corporate subscription: AutoCAD plugins/ }).waitFor();
  const fieldset = page.getByRole('group', { name: 'License server' });
  assert.ok(await fieldset.getByLabel('Use Web License Server').isVisible());
  await fieldset.getByRole('link', { name: 'compare license servers' }).click();
  await page.getByRole('heading', { name: 'License servers', level: 1 }).waitFor();
  const table = page.locator('#license-server-comparison');
  for (const row of ['Where it runs', 'Do users need the Internet?', 'Tied to the office network?',
    'Borrowing for offline work', 'Who administers it, and where', 'When the machine or the connection is down',
    'Moving it to another machine']) {
    assert.ok(await table.getByRole('rowheader', { name: row }).isVisible(), `${row} is on the page`);
  }
  assert.match(await table.locator('#row-internet').textContent(), /in the absence of Internet access/);

  await page.goto(portal.url + '/');
  await page.locator('#home-compare').click();
  await page.getByRole('heading', { name: 'License servers', level: 1 }).waitFor();
});

test('the download page lists a package whose checksum matches the file served and whose signature verifies', async () => {
  await page.locator('#go-download').click();
  await page.getByRole('heading', { name: 'Download the LAN License Server' }).waitFor();
  assert.deepEqual(await unlabelledControls(page), []);
  assert.match(await page.locator('#install-on-final-machine').textContent(),
    /install the license server immediately on the computer or server where it is intended to be used further/);
  assert.match(await page.locator('#install-debian').textContent(),
    /sudo dpkg -i tessera_9\.9\.9-1_amd64\.deb.*tessera server registration-key.*paste it into your order/s);

  const row = page.locator(`tr[data-file="${PACKAGE}"]`);
  assert.match(await row.locator('.platform').textContent(), /Debian, Ubuntu \(amd64\)/);
  assert.equal(await row.locator('.version').textContent(), '9.9.9-1');
  assert.equal(await row.locator('.size').getAttribute('data-bytes'), '300000');
  assert.match(await row.locator('.date').textContent(), /^\d{4}-\d{2}-\d{2}$/);
  const listed = (await row.locator('.sha256').textContent()).trim();
  assert.match(listed, /^[0-9a-f]{64}$/);
  assert.match(await row.textContent(), /the signature matches this file/);

  const got = join(dir, 'got');
  const file = await download(row.locator('.package-link'), got);
  const sig = await download(row.locator('.signature-link'), got);
  assert.equal(file, join(got, PACKAGE));
  assert.equal(sha256(file), listed, 'the downloaded file has the SHA-256 the page shows');
  const checked = verify(file, sig);
  assert.ok(checked.ok, checked.output);
  assert.match(checked.output, /good signature/);

  // A byte changed on the way: the check fails.
  const bytes = readFileSync(file);
  bytes[1000] ^= 0xff;
  const tampered = join(dir, 'tampered', PACKAGE);
  mkdirSync(join(dir, 'tampered'));
  writeFileSync(tampered, bytes);
  const refused = verify(tampered, sig);
  assert.ok(!refused.ok, 'a tampered file verified');
  assert.match(refused.output, /damaged or not the one the vendor published/);
});

test('a package changed on the portal after signing is flagged and not offered', async () => {
  const published = join(downloads, PACKAGE);
  const bytes = readFileSync(published);
  bytes[0] ^= 0xff;
  writeFileSync(published, bytes);
  await page.reload();
  const row = page.locator(`tr[data-file="${PACKAGE}"]`);
  assert.match(await row.getByRole('alert').textContent(), /does not match the vendor's signature.*Do not install it/s);
  assert.equal(await row.locator('.package-link').count(), 0, 'a tampered package is still offered');
});
