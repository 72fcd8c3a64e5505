// The browser tests' shared harness: the real binaries (target/debug/identity and
// target/debug/attendance) on free loopback ports with temp data dirs, the real edge from
// deploy/nginx (copied to a temp dir as the CI scripts do: upstreams pointed at those ports,
// listen ports rewritten to free ones, certificates made by deploy/tls/make-certs.sh in the
// copy for gate.test and 127.0.0.1), and Chromium (Debian's /usr/bin/chromium through
// playwright-core) as a phone that reaches the box through the edge.
//
// Everything started here is stopped by its PID in stop() (each test file calls it in an
// `after` hook, which runs on failure too) and, as a last resort, when the process exits.

import { spawn, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium } from 'playwright-core';

export const WEB = path.resolve(import.meta.dirname, '..');
export const ROOT = path.resolve(WEB, '../..');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const NGINX = process.env.NGINX || (fs.existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx');
export const BASE_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run'];
export const PHONE = { viewport: { width: 360, height: 740 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };

const started = new Set(); // child processes still running, for the exit hook
process.on('exit', () => {
  for (const child of started) {
    try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone already */ }
  }
});

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function mkTemp(prefix) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(dir, 0o755); // nginx's workers (nobody) read the CA certificate in here
  return dir;
}

function startProcess(name, bin, args, env, logDir) {
  const log = fs.openSync(path.join(logDir, `${name}.log`), 'a');
  const child = spawn(bin, args, { env, stdio: ['ignore', log, log] });
  fs.closeSync(log);
  started.add(child);
  child.exited = new Promise((resolve) => child.once('exit', (code, signal) => {
    started.delete(child);
    resolve(code ?? signal);
  }));
  return child;
}

// SIGTERM, then SIGKILL after 5 s; resolves once the process has exited.
export async function stopProcess(child) {
  if (!child || !started.has(child)) return;
  try { process.kill(child.pid, child.stopSignal || 'SIGTERM'); } catch { /* gone */ }
  const timer = setTimeout(() => { try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ } }, 5000);
  await child.exited;
  clearTimeout(timer);
}

async function waitHealthy(url, child, name, logDir, options = {}) {
  for (let i = 0; i < 200; i++) { // 20 s at most
    if (!started.has(child)) break;
    try {
      const status = await getStatus(url, options);
      if (status === 200) return;
    } catch { /* not yet */ }
    await sleep(100);
  }
  const log = fs.readFileSync(path.join(logDir, `${name}.log`), 'utf8').slice(-2000);
  throw new Error(`${name} did not become healthy at ${url}:\n${log}`);
}

function getStatus(url, { ca } = {}) {
  if (url.startsWith('https:')) {
    return new Promise((resolve, reject) => {
      const req = https.get(url, { ca, timeout: 2000 }, (res) => { res.resume(); resolve(res.statusCode); });
      req.on('error', reject);
      req.on('timeout', () => req.destroy(new Error('timeout')));
    });
  }
  return fetch(url, { signal: AbortSignal.timeout(2000) }).then((r) => r.status);
}

// A token as identity makes it (docs/API.md, "Tokens"): HS256 over the JWT_SECRET.
export function makeToken(secret, claims) {
  const b64 = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');
  const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`;
  const sig = crypto.createHmac('sha256', secret).update(head).digest('base64url');
  return `${head}.${sig}`;
}

/**
 * Starts identity, attendance and (unless edge: false) the edge.
 * options: tokenExpireMinutes, edge (default true), local (the README's local start: attendance
 * with GATE_IDENTITY_URL, identity with CORS_ORIGINS, no edge).
 */
export async function startStack(options = {}) {
  const { tokenExpireMinutes = 60, local = false } = options;
  const edge = options.edge ?? !local;
  const work = mkTemp('tixgo-browser-');
  const secret = crypto.randomBytes(32).toString('hex');
  const idPort = await freePort();
  const attPort = await freePort();
  const identityBin = path.join(ROOT, 'target/debug/identity');
  const attendanceBin = path.join(ROOT, 'target/debug/attendance');
  for (const bin of [identityBin, attendanceBin]) {
    if (!fs.existsSync(bin)) throw new Error(`${bin} is missing: cargo build -p identity -p attendance`);
  }
  const common = {
    PATH: process.env.PATH, JWT_SECRET: secret, BIND_ADDR: '127.0.0.1', DEMO_USERS: 'true',
    BCRYPT_COST: '10', WRITE_LIMIT_PER_USER: '0', TOKEN_EXPIRE_MINUTES: String(tokenExpireMinutes),
    RUST_LOG: 'warn',
  };
  const stack = {
    work, secret, idPort, attPort, children: [],
    identityUrl: `http://127.0.0.1:${idPort}`,
    attendanceUrl: `http://127.0.0.1:${attPort}`,
  };
  const idData = path.join(work, 'identity-data');
  const attData = path.join(work, 'attendance-data');
  fs.mkdirSync(idData);
  fs.mkdirSync(attData);
  const idEnv = { ...common, PORT: String(idPort), DATA_DIR: idData };
  if (local) idEnv.CORS_ORIGINS = `http://127.0.0.1:${attPort}`;
  const attEnv = { ...common, PORT: String(attPort), DATA_DIR: attData };
  if (local) attEnv.GATE_IDENTITY_URL = stack.identityUrl;

  stack.identity = startProcess('identity', identityBin, [], idEnv, work);
  stack.children.push(stack.identity);
  stack.startAttendance = async () => {
    stack.attendance = startProcess('attendance', attendanceBin, [], attEnv, work);
    stack.children.push(stack.attendance);
    await waitHealthy(`${stack.attendanceUrl}/health`, stack.attendance, 'attendance', work);
  };
  stack.stopAttendance = async () => stopProcess(stack.attendance);
  stack.stop = async () => {
    for (const child of [...stack.children].reverse()) await stopProcess(child);
    if (!process.env.KEEP_TMP) fs.rmSync(work, { recursive: true, force: true });
  };
  try {
    await waitHealthy(`${stack.identityUrl}/health`, stack.identity, 'identity', work);
    await stack.startAttendance();
    if (edge) await startEdge(stack);
  } catch (error) {
    await stack.stop();
    throw error;
  }
  return stack;
}

// The edge as the CI scripts run it (scripts/ci-deploy-checks.sh): the repo's deploy/nginx
// in a temp prefix, upstreams and listen ports rewritten, certificates from make-certs.sh.
async function startEdge(stack) {
  const prefix = path.join(stack.work, 'nginx');
  const conf = path.join(prefix, 'conf');
  fs.mkdirSync(conf, { recursive: true });
  const src = path.join(ROOT, 'deploy/nginx');
  for (const name of fs.readdirSync(src)) {
    if (name.endsWith('.conf') || name === 'https.conf.template') fs.copyFileSync(path.join(src, name), path.join(conf, name));
  }
  const [idPlain, attPlain, attTls, idTls] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const edit = (file, pairs) => {
    let text = fs.readFileSync(file, 'utf8');
    for (const [from, to] of pairs) {
      if (!text.includes(from)) throw new Error(`${path.basename(file)}: "${from}" not found`);
      text = text.split(from).join(to);
    }
    fs.writeFileSync(file, text);
  };
  edit(path.join(conf, 'upstreams.conf'), [
    ['server identity:18081', `server 127.0.0.1:${stack.idPort}`],
    ['server attendance:18082', `server 127.0.0.1:${stack.attPort}`],
  ]);
  edit(path.join(conf, 'nginx.conf'), [
    ['listen 18081 reuseport;', `listen 127.0.0.1:${idPlain} reuseport;`],
    ['listen 18082 reuseport;', `listen 127.0.0.1:${attPlain} reuseport;`],
    ['/tmp/nginx', path.join(prefix, 'nginx')],
    ['/etc/nginx/tixgo/', `${conf}/`],
  ]);
  execFileSync('sh', [path.join(ROOT, 'deploy/tls/make-certs.sh'), 'gate.test', '127.0.0.1'], {
    env: { ...process.env, TIXGO_TLS_DIR: path.join(stack.work, 'tls'), TIXGO_NGINX_DIR: conf },
    stdio: 'pipe',
  });
  edit(path.join(conf, 'local.d/https.conf'), [
    ['listen 18443 ssl reuseport;', `listen 127.0.0.1:${attTls} ssl reuseport;`],
    ['listen 18444 ssl reuseport;', `listen 127.0.0.1:${idTls} ssl reuseport;`],
  ]);
  const args = ['-p', prefix, '-c', path.join(conf, 'nginx.conf'), '-e', path.join(prefix, 'error.log')];
  // nginx opens /dev/stdout (access_log) even for -t: give it a file.
  const testLog = fs.openSync(path.join(stack.work, 'nginx-t.log'), 'w');
  try {
    execFileSync(NGINX, ['-t', ...args], { stdio: ['ignore', testLog, testLog] });
  } catch (error) {
    throw new Error(`nginx -t: ${fs.readFileSync(path.join(stack.work, 'nginx-t.log'), 'utf8')}`, { cause: error });
  } finally {
    fs.closeSync(testLog);
  }
  stack.nginx = startProcess('nginx', NGINX, [...args, '-g', 'daemon off;'], { PATH: process.env.PATH }, stack.work);
  stack.nginx.stopSignal = 'SIGQUIT';
  stack.children.push(stack.nginx);
  stack.caFile = path.join(conf, 'certs/ca.crt');
  stack.serverCertFile = path.join(conf, 'certs/server.crt');
  const ca = fs.readFileSync(stack.caFile);
  await waitHealthy(`http://127.0.0.1:${attPlain}/health`, stack.nginx, 'nginx', stack.work);
  await waitHealthy(`https://127.0.0.1:${attTls}/health`, stack.nginx, 'nginx', stack.work, { ca });
  Object.assign(stack, {
    edgePorts: { idPlain, attPlain, attTls, idTls },
    pageUrl: `https://gate.test:${attTls}/`,
    plainUrl: `http://gate.test:${attPlain}/`,
    origin: `https://gate.test:${attTls}`,
  });
  // Chromium trusts exactly this server certificate (its SPKI), nothing else.
  const der = new crypto.X509Certificate(fs.readFileSync(stack.serverCertFile)).publicKey.export({ type: 'spki', format: 'der' });
  stack.spki = crypto.createHash('sha256').update(der).digest('base64');
}

/** Chromium as a phone reaching the box by the name gate.test. */
export async function launchBrowser(stack, extraArgs = []) {
  const args = [...BASE_ARGS, ...extraArgs];
  if (stack.spki) {
    args.push('--host-resolver-rules=MAP gate.test 127.0.0.1', `--ignore-certificate-errors-spki-list=${stack.spki}`);
  }
  return chromium.launch({ executablePath: CHROMIUM, args, timeout: 30000 });
}

export async function newPhone(browser, options = {}) {
  const context = await browser.newContext({ ...PHONE, locale: 'en-US', ...options });
  context.setDefaultTimeout(8000);
  return context;
}

// --- the API, straight to the services (no edge: its login limit is for the phones) ---------

export async function api(stack, method, urlPath, { token, body, headers = {}, service = 'attendance', raw = false } = {}) {
  const base = service === 'identity' ? stack.identityUrl : stack.attendanceUrl;
  const init = { method, headers: { ...headers }, signal: AbortSignal.timeout(10000) };
  if (token) init.headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) {
    if (typeof body === 'string') {
      init.body = body;
    } else {
      init.body = JSON.stringify(body);
      init.headers['Content-Type'] = 'application/json';
    }
  }
  const res = await fetch(base + urlPath, init);
  const text = await res.text();
  if (raw) return { status: res.status, text, headers: res.headers };
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, json, text, headers: res.headers };
}

export async function tokenFor(stack, username, password = 'secret') {
  const res = await api(stack, 'POST', '/auth/login', { service: 'identity', body: { username, password } });
  if (res.status !== 200) throw new Error(`login ${username}: ${res.status} ${res.text}`);
  return res.json.access_token;
}

/**
 * The start most test files share: a stack, a browser for it and admin1's token. If the browser
 * does not start, the stack is stopped here (the caller never got it to stop).
 */
export async function startGate(stackOptions = {}, browserArgs = []) {
  const stack = await startStack(stackOptions);
  try {
    const browser = await launchBrowser(stack, browserArgs);
    return { stack, browser, admin: await tokenFor(stack, 'admin1') };
  } catch (error) {
    await stack.stop();
    throw error;
  }
}

/** Stops what startGate started: the browser, then the stack (either may be missing). */
export async function stopGate(stack, browser) {
  await browser?.close();
  await stack?.stop();
}

/** An event with a ticket list. tickets: [{ticket_id, holder, category}]. */
export async function makeEvent(stack, admin, eventId, { name = eventId, capacity = null, tickets = [] } = {}) {
  const created = await api(stack, 'POST', '/events', {
    token: admin, body: { event_id: eventId, name, capacity, starts_at: '2026-12-02T18:00:00+07:00' },
  });
  if (created.status !== 201) throw new Error(`create ${eventId}: ${created.status} ${created.text}`);
  if (tickets.length) {
    const imported = await api(stack, 'POST', `/events/${encodeURIComponent(eventId)}/tickets`, { token: admin, body: { tickets } });
    if (imported.status !== 200) throw new Error(`import ${eventId}: ${imported.status} ${imported.text}`);
  }
}

export async function ticketOf(stack, token, eventId, ticketId) {
  const res = await api(stack, 'GET', `/events/${encodeURIComponent(eventId)}/tickets/${encodeURIComponent(ticketId)}`, { token });
  return res.json;
}

/** The live check-ins of an event, from the attendance listing (every page). */
export async function checkinsOf(stack, token, eventId) {
  const res = await api(stack, "GET", `/attendance/${encodeURIComponent(eventId)}`, { token });
  if (res.status !== 200) throw new Error(`attendance ${eventId}: ${res.status} ${res.text}`);
  return res.json.records;
}

// --- the page, by the labels, roles and names of docs/gate-page.md -------------------------

export async function login(page, username, password = 'secret') {
  await page.getByLabel('Username', { exact: true }).fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
}

export async function chooseEvent(page, eventId) {
  const select = page.getByLabel('Event', { exact: true });
  await select.waitFor({ state: 'visible' });
  // The list comes from GET /events; wait for the event's option to be there.
  await page.waitForFunction((id) => {
    const el = [...document.querySelectorAll('select')].find((s) => [...s.options].some((o) => o.value === id));
    return Boolean(el);
  }, eventId, { timeout: 8000 });
  await select.selectOption(eventId);
  await page.getByLabel('Ticket', { exact: true }).waitFor({ state: 'visible' });
}

/** Logs in from the page and opens the scan screen of eventId. */
export async function openGate(page, url, username, eventId) {
  await page.goto(url);
  await login(page, username);
  await chooseEvent(page, eventId);
}

export function statusText(page) {
  return page.getByRole('status').textContent();
}

/** Waits until the answer (role="status") matches re; returns its text. */
export async function waitStatus(page, re, timeout = 5000) {
  try {
    await page.waitForFunction(([source, flags]) => {
      const el = document.querySelector('[role="status"]');
      return el && new RegExp(source, flags).test(el.textContent);
    }, [re.source, re.flags], { timeout, polling: 'raf' });
  } catch (error) {
    const now = await page.evaluate(() => document.querySelector('[role="status"]')?.textContent).catch(() => '?');
    throw new Error(`status never matched ${re} (it says ${JSON.stringify(now)})`, { cause: error });
  }
  return statusText(page);
}

/** Types an id into the focused Ticket field and presses Enter, as a hardware scanner does. */
export async function scan(page, ticketId) {
  const field = page.getByLabel('Ticket', { exact: true });
  const focused = await field.evaluate((el) => el === document.activeElement);
  if (!focused) await field.focus();
  await field.fill('');
  await page.keyboard.type(ticketId);
  await page.keyboard.press('Enter');
}

/** Waits for a visible text anywhere on the page. */
export async function waitText(page, re, timeout = 8000) {
  await page.getByText(re).first().waitFor({ state: 'visible', timeout });
}

/** The element holding the queue count (`N pending`), or null when hidden. */
export async function pendingText(page) {
  return page.evaluate(() => {
    const all = [...document.querySelectorAll('body *')].filter((el) =>
      /^\s*\d+ pending\s*$/.test(el.textContent) && el.offsetParent !== null && el.children.length === 0);
    return all.length ? all[0].textContent.trim() : null;
  });
}

export async function noSidewaysScroll(page) {
  return page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
  }));
}

export function writeMismatch(text) {
  fs.appendFileSync('/tmp/h/page-mismatches.md', `${text}\n`);
}
