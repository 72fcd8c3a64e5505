// Plain HTTP (not a secure context): Camera disabled with a note saying why, typed check-in
// still works. And the README's local start: no edge, attendance with GATE_IDENTITY_URL,
// identity with CORS_ORIGINS, the page opened at http://127.0.0.1:<attendance port>/.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startStack, launchBrowser, newPhone, tokenFor, makeEvent, openGate, scan, waitStatus, ticketOf,
} from './harness.mjs';

const stacks = [];
const browsers = [];
after(async () => {
  for (const b of browsers) await b.close();
  for (const s of stacks) await s.stop();
});

test('plain HTTP: Camera disabled, the note says why, typed check-in works', async () => {
  const stack = await startStack();
  stacks.push(stack);
  const browser = await launchBrowser(stack);
  browsers.push(browser);
  const admin = await tokenFor(stack, 'admin1');
  await makeEvent(stack, admin, 'plain', { tickets: [{ ticket_id: 'PL-1', holder: 'Eka Plain' }] });
  const context = await newPhone(browser);
  const page = await context.newPage();
  await openGate(page, stack.plainUrl, 'panitia1', 'plain');
  assert.equal(await page.evaluate(() => window.isSecureContext), false);
  const camera = page.getByRole('button', { name: 'Camera', exact: true });
  assert.equal(await camera.isDisabled(), true);
  const note = page.getByText(/browsers open the camera only on secure \(https\) pages/i);
  await note.waitFor();
  await scan(page, 'PL-1');
  assert.match(await waitStatus(page, /Checked in/), /Eka Plain/);
  assert.equal((await ticketOf(stack, admin, 'plain', 'PL-1')).status, 'checked_in');
  await context.close();
});

test('local start (no edge): log in from http://127.0.0.1:<attendance port>/ works', async () => {
  const stack = await startStack({ local: true });
  stacks.push(stack);
  const browser = await launchBrowser(stack);
  browsers.push(browser);
  const admin = await tokenFor(stack, 'admin1');
  await makeEvent(stack, admin, 'lokal', { tickets: [{ ticket_id: 'LO-1', holder: 'Fajar Lokal' }] });
  const context = await newPhone(browser);
  const page = await context.newPage();
  const logins = [];
  page.on('response', (r) => { if (new URL(r.url()).pathname === '/auth/login') logins.push([r.url(), r.status()]); });
  await openGate(page, `${stack.attendanceUrl}/`, 'panitia1', 'lokal');
  assert.deepEqual(logins, [[`${stack.identityUrl}/auth/login`, 200]]);
  await scan(page, 'LO-1');
  assert.match(await waitStatus(page, /Checked in/), /Fajar Lokal/);
  await context.close();
});
