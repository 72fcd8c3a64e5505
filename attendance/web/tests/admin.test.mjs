// The admin screens: import a CSV with an error (its row shown), a good one (the counts),
// generate tickets, print (one figure per ticket, the print dialog opened), statistics equal to
// GET /events/{id}/stats, Download CSV equal to the API's CSV, Undo (the ticket valid again).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import {
  startGate, stopGate, newPhone, makeEvent, api, openGate, scan, waitStatus, ticketOf,
} from './harness.mjs';

let stack, browser, admin, page, context;

before(async () => {
  ({ stack, browser, admin } = await startGate());
  await makeEvent(stack, admin, 'admin-ev', { name: 'Admin Event', capacity: 50 });
  context = await newPhone(browser, { acceptDownloads: true });
  page = await context.newPage();
  await openGate(page, stack.pageUrl, 'admin1', 'admin-ev');
  await page.getByRole('button', { name: 'Events', exact: true }).click();
  await page.getByLabel('CSV file', { exact: true }).waitFor();
});

after(async () => {
  await context?.close();
  await stopGate(stack, browser);
});

async function importCsv(csv) {
  await page.getByLabel('CSV file', { exact: true }).setInputFiles({ name: 'tickets.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
  await page.getByRole('button', { name: 'Import tickets', exact: true }).click();
}

test('import: a CSV with an error shows its row; a good one shows the counts', async () => {
  const longHolder = 'x'.repeat(201);
  await importCsv(`ticket_id,holder,category\nAD-1,Hana,VIP\nAD-2,${longHolder},VIP\n`);
  await page.locator('#import-errors').getByText(/Row 3, holder: /).waitFor();
  const listed = await api(stack, 'GET', '/events/admin-ev/tickets', { token: admin });
  assert.equal(listed.json.tickets.length, 0, 'nothing imported');

  await importCsv('ticket_id,holder,category\nAD-1,Hana,VIP\nAD-2,Indra,Regular\n');
  try {
    await page.locator('#import-result').getByText(/^2 created, 0 updated, 0 unchanged\b/).waitFor();
  } catch (error) {
    const now = await page.evaluate(() => [document.querySelector('#import-result')?.textContent, document.querySelector('#import-errors')?.textContent]);
    throw new Error(`after the good import the page shows ${JSON.stringify(now)}`, { cause: error });
  }
  const after2 = await api(stack, 'GET', '/events/admin-ev/tickets', { token: admin });
  assert.deepEqual(after2.json.tickets.map((t) => t.ticket_id).sort(), ['AD-1', 'AD-2']);
});

test('generate tickets, then print: one figure per ticket and the print dialog', async () => {
  await page.getByLabel('Count', { exact: true }).fill('3');
  await page.getByLabel('Category', { exact: true }).fill('Gen');
  await page.getByLabel('Prefix', { exact: true }).fill('GX');
  await page.getByRole('button', { name: 'Generate', exact: true }).click();
  await page.locator('#generated li').nth(2).waitFor();
  const shown = (await page.locator('#generated li').allTextContents()).map((s) => s.trim());
  const tickets = (await api(stack, 'GET', '/events/admin-ev/tickets', { token: admin })).json.tickets;
  const generated = tickets.filter((t) => t.category === 'Gen').map((t) => t.ticket_id);
  assert.equal(generated.length, 3);
  for (const id of generated) {
    assert.match(id, /^GX/);
    assert.ok(shown.some((s) => s.includes(id)), `${id} listed on the page`);
  }

  await page.evaluate(() => { window.__printed = 0; window.print = () => { window.__printed += 1; }; });
  await page.getByRole('button', { name: 'Print QR codes', exact: true }).click();
  await page.waitForFunction(() => window.__printed > 0, null, { timeout: 5000 });
  const figures = page.locator('#print-view figure');
  assert.equal(await figures.count(), tickets.length);
  for (const t of tickets) assert.equal(await page.locator('#print-view figure').filter({ hasText: t.ticket_id }).count(), 1);
  assert.equal(await page.locator('#print-view figure svg, #print-view figure img').count(), tickets.length, 'a QR code in each');
  await page.getByRole('button', { name: 'Close', exact: true }).click();
});

test('statistics equal the API; Download CSV equals the API\'s CSV; Undo makes the ticket valid again', async () => {
  await page.getByRole('button', { name: 'Scan', exact: true }).click();
  await scan(page, 'AD-1');
  await waitStatus(page, /Checked in/);
  await page.getByLabel('Gate', { exact: true }).fill('North');
  await scan(page, 'AD-2');
  await waitStatus(page, /Checked in/);
  await scan(page, 'NOT-LISTED');
  await waitStatus(page, /Unknown ticket/);

  await page.getByRole('button', { name: 'Statistics', exact: true }).click();
  const stats = (await api(stack, 'GET', '/events/admin-ev/stats', { token: admin })).json;
  await page.locator('#stats-body dt').first().waitFor();
  const shown = await page.evaluate(() => Object.fromEntries([...document.querySelectorAll('#stats-body dt')]
    .map((dt) => [dt.textContent.trim(), dt.nextElementSibling?.textContent.trim()])));
  const num = (s) => Number(String(s).replace(/[^\d]/g, ''));
  assert.equal(num(shown.Tickets), stats.tickets, JSON.stringify(shown));
  assert.equal(num(shown['Checked in']), stats.checked_in);
  assert.equal(num(shown.Remaining), stats.remaining);
  assert.equal(num(shown.Capacity), stats.capacity);
  assert.equal(stats.checked_in, 2);
  assert.equal(stats.refused.unknown_ticket, 1);
  const bodyText = await page.locator('#screen-stats').innerText();
  assert.match(bodyText, /North/, 'by gate');
  assert.match(bodyText, /admin1/, 'by staff');
  const chart = page.locator('#screen-stats svg[role="img"]');
  assert.match(await chart.getAttribute('aria-label'), /\d/);

  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Download CSV', exact: true }).click(),
  ]);
  assert.equal(download.suggestedFilename(), 'admin-ev-attendance.csv');
  const csv = fs.readFileSync(await download.path(), 'utf8');
  const apiCsv = await api(stack, 'GET', '/attendance/admin-ev?format=csv', { token: admin, raw: true });
  assert.equal(csv, apiCsv.text);
  assert.equal(csv.trim().split('\n').length, 3);

  // Undo (admin): a fresh green answer has the button; afterwards the ticket is valid again.
  await page.getByRole('button', { name: 'Scan', exact: true }).click();
  await api(stack, 'POST', '/events/admin-ev/tickets', { token: admin, body: { tickets: [{ ticket_id: 'AD-3', holder: 'Joko' }] } });
  await scan(page, 'AD-3');
  await waitStatus(page, /Checked in/);
  assert.equal((await ticketOf(stack, admin, 'admin-ev', 'AD-3')).status, 'checked_in');
  await page.getByRole('button', { name: 'Undo', exact: true }).click();
  for (let i = 0; i < 50 && (await ticketOf(stack, admin, 'admin-ev', 'AD-3')).status !== 'valid'; i++) await page.waitForTimeout(100);
  assert.equal((await ticketOf(stack, admin, 'admin-ev', 'AD-3')).status, 'valid');
});
