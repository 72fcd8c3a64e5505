// Every screen at 360 px without sideways scrolling, axe-core with no serious or critical
// findings (login, scan, answer, events, statistics), and the Indonesian locale with its switch.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  startGate, stopGate, newPhone, makeEvent, api, login, chooseEvent, scan, waitStatus,
  noSidewaysScroll, WEB,
} from './harness.mjs';

const AXE = fs.readFileSync(path.join(WEB, 'node_modules/axe-core/axe.min.js'), 'utf8');
let stack, browser, admin;

before(async () => {
  ({ stack, browser, admin } = await startGate());
  await makeEvent(stack, admin, 'layar', {
    name: 'Festival dengan nama acara yang sangat panjang sekali untuk layar kecil',
    capacity: 100,
    tickets: [{ ticket_id: 'SCR-1', holder: 'Gita Layar', category: 'VIP' }, { ticket_id: 'SCR-2' }],
  });
  await api(stack, 'POST', '/checkins', { token: admin, body: { event_id: 'layar', ticket_id: 'SCR-2', gate: 'North' } });
});

after(async () => {
  await stopGate(stack, browser);
});

async function axe(page) {
  // Evaluated through the DevTools protocol, like a screen reader audit: not a <script> of the
  // page, so the page's CSP is left exactly as served.
  await page.evaluate(AXE);
  const result = await page.evaluate(async () => {
    const r = await window.axe.run(document);
    return {
      passes: r.passes.length,
      violations: r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 3) })),
    };
  });
  assert.ok(result.passes > 10, `axe ran its rules (${result.passes} passed)`);
  return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

async function checkScreen(page, name, findings) {
  const { scrollWidth, innerWidth } = await noSidewaysScroll(page);
  assert.ok(scrollWidth <= innerWidth, `${name}: scrollWidth ${scrollWidth} > innerWidth ${innerWidth}`);
  assert.equal(innerWidth, 360);
  const bad = await axe(page);
  if (bad.length) findings.push(`${name}: ${JSON.stringify(bad)}`);
}

test('360 px and axe-core on login, scan, answer, events and statistics', async () => {
  const context = await newPhone(browser);
  const page = await context.newPage();
  const findings = [];
  await page.goto(stack.pageUrl);
  await page.getByLabel('Username', { exact: true }).waitFor();
  await checkScreen(page, 'login', findings);
  await login(page, 'admin1');
  await chooseEvent(page, 'layar');
  await checkScreen(page, 'scan', findings);
  await scan(page, 'SCR-1');
  await waitStatus(page, /Checked in/);
  await checkScreen(page, 'answer (green)', findings);
  await scan(page, 'SCR-1');
  await waitStatus(page, /Already checked in/);
  await checkScreen(page, 'answer (yellow)', findings);
  await page.getByRole('button', { name: 'Events', exact: true }).click();
  await page.getByRole('button', { name: 'Create event', exact: true }).waitFor();
  await checkScreen(page, 'events', findings);
  await page.getByRole('button', { name: 'Statistics', exact: true }).click();
  await page.getByRole('button', { name: 'Download CSV', exact: true }).waitFor();
  await page.locator('svg[role="img"]').first().waitFor();
  await checkScreen(page, 'statistics', findings);
  assert.deepEqual(findings, []);
  await context.close();
});

test('Indonesian from the browser\'s language, and the switch back to English (kept over a reload)', async () => {
  const context = await newPhone(browser, { locale: 'id-ID' });
  const page = await context.newPage();
  await page.goto(stack.pageUrl);
  await page.getByLabel('Nama pengguna', { exact: true }).waitFor();
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'id');
  assert.equal(await page.getByLabel('Kata sandi', { exact: true }).count(), 1);
  assert.equal(await page.getByRole('button', { name: 'Masuk', exact: true }).count(), 1);
  assert.equal(await page.getByRole('button', { name: 'Log in', exact: true }).count(), 0);
  const { scrollWidth, innerWidth } = await noSidewaysScroll(page);
  assert.ok(scrollWidth <= innerWidth, `Indonesian login: ${scrollWidth} > ${innerWidth}`);

  // Logged in, in Indonesian: the scan screen's labels too.
  await page.getByLabel('Nama pengguna', { exact: true }).fill('panitia1');
  await page.getByLabel('Kata sandi', { exact: true }).fill('secret');
  await page.getByRole('button', { name: 'Masuk', exact: true }).click();
  await page.getByLabel('Acara', { exact: true }).selectOption('layar');
  await page.getByLabel('Tiket', { exact: true }).waitFor();
  assert.equal(await page.getByLabel('Ticket', { exact: true }).count(), 0);

  await page.getByRole('button', { name: 'English', exact: true }).click();
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'en');
  await page.getByLabel('Ticket', { exact: true }).waitFor();
  await page.getByRole('button', { name: 'Bahasa Indonesia', exact: true }).waitFor();
  await page.reload();
  await page.getByLabel('Ticket', { exact: true }).waitFor();
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'en');
  await context.close();
});
