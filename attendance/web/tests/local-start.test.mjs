// The whole gate against the README's one start command: `scripts/run-local.sh` (on free ports
// and a data directory of its own), the page opened at the URL it prints. An admin sets up an
// event on the page (create, import a ticket list, generate tickets); a member of staff on a
// second phone checks them in by typing, by camera and while the phone is offline. Each ticket is
// then checked in exactly once, by that member of staff.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import {
  ROOT, CHROMIUM, BASE_ARGS, freePort, newPhone, api, tokenFor, login, chooseEvent, scan, waitStatus,
  checkinsOf,
} from './harness.mjs';
import { svgToRgba, writeY4m } from './fake-camera.mjs';

let dev, runLocal, output = '', local, browsers = [];

/** Waits until run-local.sh has printed `ready`, or fails with what it printed. */
async function ready(child, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (!/^ready\./m.test(output)) {
    if (child.exitCode !== null) throw new Error(`run-local.sh exited ${child.exitCode}:\n${output}`);
    if (Date.now() > deadline) throw new Error(`run-local.sh not ready in ${timeoutMs} ms:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

before(async () => {
  dev = fs.mkdtempSync(path.join(os.tmpdir(), 'tixgo-run-local-'));
  const [identityPort, attendancePort] = [await freePort(), await freePort()];
  runLocal = spawn('bash', [path.join(ROOT, 'scripts/run-local.sh')], {
    cwd: ROOT,
    env: {
      ...process.env, DEV_DIR: dev, IDENTITY_PORT: String(identityPort),
      ATTENDANCE_PORT: String(attendancePort), BCRYPT_COST: '10', READY_TIMEOUT: '60',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  runLocal.stdout.on('data', (chunk) => { output += chunk; });
  runLocal.stderr.on('data', (chunk) => { output += chunk; });
  // The first run builds release binaries (scripts/ci-browser.sh builds them beforehand).
  await ready(runLocal, 900_000);
  const url = /^gate page: +(\S+)$/m.exec(output)?.[1];
  assert.equal(url, `http://127.0.0.1:${attendancePort}/`, output);
  local = {
    pageUrl: url,
    identityUrl: `http://127.0.0.1:${identityPort}`,
    attendanceUrl: `http://127.0.0.1:${attendancePort}`,
  };
});

after(async () => {
  for (const browser of browsers) await browser.close();
  if (runLocal && runLocal.exitCode === null) {
    const exited = new Promise((resolve) => runLocal.once('exit', resolve));
    runLocal.kill('SIGTERM'); // its trap stops both services gracefully
    await exited;
  }
  if (dev) fs.rmSync(dev, { recursive: true, force: true });
});

test('run-local.sh: an admin sets up an event; staff check tickets in by typing, camera and offline', async () => {
  const admin = await chromium.launch({ executablePath: CHROMIUM, args: BASE_ARGS });
  browsers.push(admin);
  const adminPhone = await newPhone(admin);
  const page = await adminPhone.newPage();
  await page.goto(local.pageUrl);
  await login(page, 'admin1');
  await page.getByRole('button', { name: 'Events', exact: true }).click();
  await page.getByLabel('Event ID', { exact: true }).fill('malam-amal');
  await page.getByLabel('Name', { exact: true }).fill('Malam Amal');
  await page.getByLabel('Capacity', { exact: true }).fill('100');
  await page.getByRole('button', { name: 'Create event', exact: true }).click();
  await page.getByLabel('CSV file', { exact: true }).setInputFiles({
    name: 'tickets.csv',
    mimeType: 'text/csv',
    buffer: Buffer.from('ticket_id,holder,category\nMA-001,Sari Ketik,VIP\nMA-002,Budi Kamera,Regular\n'),
  });
  await page.getByRole('button', { name: 'Import tickets', exact: true }).click();
  await page.locator('#import-result').getByText(/^2 created, 0 updated, 0 unchanged\b/).waitFor();
  await page.getByLabel('Count', { exact: true }).fill('1');
  await page.getByRole('button', { name: 'Generate', exact: true }).click();
  await page.locator('#generated li').first().waitFor();

  const adminToken = await tokenFor(local, 'admin1');
  const listed = (await api(local, 'GET', '/events/malam-amal/tickets', { token: adminToken })).json.tickets;
  assert.equal(listed.length, 3, JSON.stringify(listed));
  const generated = listed.find((t) => !t.ticket_id.startsWith('MA-')).ticket_id;

  // The staff phone's camera plays the QR code of MA-002, as the service draws it.
  const qr = await api(local, 'GET', '/events/malam-amal/tickets/MA-002/qr', { token: adminToken, raw: true });
  assert.equal(qr.status, 200);
  const video = path.join(dev, 'ma-002.y4m');
  writeY4m(video, await svgToRgba(qr.text));
  const staff = await chromium.launch({
    executablePath: CHROMIUM,
    args: [...BASE_ARGS, '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
      `--use-file-for-fake-video-capture=${video}`],
  });
  browsers.push(staff);
  const staffPhone = await newPhone(staff, { permissions: ['camera'] });
  const gate = await staffPhone.newPage();
  await gate.goto(local.pageUrl);
  await login(gate, 'panitia1');
  await chooseEvent(gate, 'malam-amal');

  await scan(gate, 'MA-001');
  assert.match(await waitStatus(gate, /Checked in/), /Sari Ketik/);

  await gate.getByRole('button', { name: 'Camera', exact: true }).click();
  assert.match(await waitStatus(gate, /Checked in.*Budi Kamera|Budi Kamera.*Checked in/s, 15000), /Budi Kamera/);
  await gate.getByRole('button', { name: 'Stop camera', exact: true }).click();

  await staffPhone.setOffline(true);
  await scan(gate, generated);
  await waitStatus(gate, /Saved, will be sent/, 8000);
  await gate.getByText('1 pending', { exact: true }).first().waitFor();
  await staffPhone.setOffline(false);
  await gate.locator('#pending').waitFor({ state: 'hidden', timeout: 15000 });

  const records = await checkinsOf(local, adminToken, 'malam-amal');
  assert.deepEqual(records.map((r) => r.ticket_id).sort(), ['MA-001', 'MA-002', generated].sort());
  assert.ok(records.every((r) => r.checked_in_by === 'panitia1'), JSON.stringify(records));
});
