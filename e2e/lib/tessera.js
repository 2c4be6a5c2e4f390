// Test harness for browser tests: the real `tessera` binary as processes on loopback,
// and Debian's chromium driven by playwright-core (never a downloaded browser).
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const targetDir = process.env.CARGO_TARGET_DIR ? resolve(process.env.CARGO_TARGET_DIR) : resolve(here, '../../target');
export const BIN = process.env.TESSERA_BIN || join(targetDir, 'debug', 'tessera');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

/** Runs the binary and returns its standard output. */
export function tessera(args, env = {}) {
  return execFileSync(BIN, args, { env: { ...process.env, TESSERA_MACHINE_ID: 'e2e-machine', ...env } }).toString();
}

/** Starts `tessera ARGS` and resolves with { url, proc } once it prints "listening on URL". */
export function start(args, env = {}) {
  return new Promise((resolvePromise, reject) => {
    const proc = spawn(BIN, args, { env: { ...process.env, TESSERA_MACHINE_ID: 'e2e-machine', ...env } });
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`did not start: ${err}`)), 30000);
    proc.stderr.on('data', (d) => { err += d; });
    proc.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/^listening on (\S+)/m);
      if (m) {
        clearTimeout(timer);
        resolvePromise({ url: m[1], proc, stdout: () => out });
      }
    });
    proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`exited ${code}: ${err}`)); });
  });
}

/** A vendor key pair and a LAN server activated with `pools` ([{product, seats}]). */
export async function lanServer({ product = 'autocad', seats = 3 } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-e2e-'));
  const data = join(dir, 'server');
  tessera(['vendor', 'keygen', '--out', join(dir, 'vendor')]);
  const reg = tessera(['server', 'registration-key', '--data', data]).trim();
  const key = join(dir, 'activation.key');
  tessera(['vendor', 'issue', '--secret-key', join(dir, 'vendor', 'vendor.secret'), '--registration-key', reg,
    '--org', 'Browser Office', '--product', product, '--seats', String(seats), '--days', '30', '--pool-id', 'e2e-pool', '--out', key]);
  const pub = join(dir, 'vendor', 'vendor.public');
  tessera(['server', 'activate', '--data', data, '--vendor-public-key', pub, key]);
  const { url, proc } = await start(['server', '--data', data, '--vendor-public-key', pub, '--listen', '127.0.0.1:0']);
  const adminToken = tessera(['server', 'admin-token', '--data', data]).trim();
  return { url, proc, adminToken, dir, data, stop: () => proc.kill('SIGTERM') };
}

/** Headless chromium with the flags this closed network needs. */
export async function browser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
}

/** JSON over HTTP with status. */
export async function api(url, path, { method = 'GET', body, token } = {}) {
  const headers = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers.authorization = `Bearer ${token}`;
  const r = await fetch(url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  return { status: r.status, json: text ? JSON.parse(text) : null };
}

/** Every visible form control has an accessible label. Returns the ones that do not. */
export async function unlabelledControls(page) {
  return page.evaluate(() => {
    const controls = [...document.querySelectorAll('input:not([type=hidden]), select, textarea, button')];
    return controls.filter((el) => {
      const label = el.labels && el.labels.length > 0;
      const aria = el.getAttribute('aria-label') || el.getAttribute('aria-labelledby');
      const text = el.tagName === 'BUTTON' && el.textContent.trim().length > 0;
      return !(label || aria || text);
    }).map((el) => el.outerHTML.slice(0, 120));
  });
}

export { readFileSync, writeFileSync, join };

/** Decodes quoted-printable text: soft line breaks (`=\r\n`) go, `=3D` and the like become bytes. */
export function decodeQuotedPrintable(text) {
  const bytes = [];
  const s = text.replace(/=\r?\n/g, '');
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '=' && /^[0-9A-Fa-f]{2}$/.test(s.slice(i + 1, i + 3))) {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(s[i], 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

function decodeWords(value) {
  return value.replace(/\?=\s+=\?/g, '?==?').replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g, (_, _charset, enc, data) =>
    (enc.toUpperCase() === 'B' ? Buffer.from(data, 'base64').toString('utf8') : decodeQuotedPrintable(data.replace(/_/g, ' '))));
}

function mimeHeaders(block) {
  const headers = {};
  for (const line of block.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const at = line.indexOf(':');
    if (at > 0) headers[line.slice(0, at).trim().toLowerCase()] = line.slice(at + 1).trim();
  }
  return headers;
}

function mimePart(raw, out) {
  const split = raw.search(/\r?\n\r?\n/);
  const head = split < 0 ? raw : raw.slice(0, split);
  const body = split < 0 ? '' : raw.slice(split).replace(/^\r?\n\r?\n/, '');
  const h = mimeHeaders(head);
  const type = h['content-type'] || 'text/plain';
  const boundary = type.match(/boundary="?([^";]+)"?/i);
  if (/^multipart\//i.test(type) && boundary) {
    const parts = body.split(`--${boundary[1]}`).slice(1);
    for (const part of parts) {
      if (part.startsWith('--')) break;
      mimePart(part.replace(/^\r?\n/, ''), out);
    }
    return h;
  }
  const name = ((h['content-disposition'] || '').match(/filename="?([^";]+)"?/i)
    || type.match(/name="?([^";]+)"?/i) || [])[1];
  const encoding = (h['content-transfer-encoding'] || '').toLowerCase();
  if (name) {
    out.attachments.push(decodeWords(name));
  } else if (/^text\/plain/i.test(type)) {
    out.text += encoding === 'quoted-printable' ? decodeQuotedPrintable(body)
      : encoding === 'base64' ? Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8') : body;
  }
  return h;
}

/** One .eml file: { file, to: [addresses], subject, text (decoded), attachments: [filenames], raw }. */
export function readMail(file) {
  const raw = readFileSync(file, 'utf8');
  const out = { file, text: '', attachments: [], raw };
  const h = mimePart(raw, out);
  out.subject = decodeWords(h.subject || '');
  out.to = (h.to || '').match(/[^\s<>,"]+@[^\s<>,"]+/g) || [];
  return out;
}

/** Every message in the outbox folder, oldest first. */
export function outbox(dir) {
  let names = [];
  try { names = readdirSync(dir).filter((n) => n.endsWith('.eml')); } catch { return []; }
  return names.map((n) => join(dir, n))
    .sort((a, b) => statSync(a).mtimeMs - statSync(b).mtimeMs || a.localeCompare(b))
    .map(readMail);
}

/** Waits for the newest message in the outbox that `match(mail)` accepts. */
export async function waitForMail(dir, match, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = outbox(dir).reverse().find(match);
    if (found) return found;
    if (Date.now() > deadline) {
      throw new Error(`no such mail in ${dir}: ${JSON.stringify(outbox(dir).map((m) => [m.to, m.subject, m.attachments]))}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
