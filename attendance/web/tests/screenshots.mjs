// The README's screenshots at phone width (360 px, device scale 2), through the real edge:
//   node tests/screenshots.mjs
// writes docs/screenshots/scan.png (the scan screen after a green answer, with the live count)
// and docs/screenshots/statistics.png (the statistics of a few check-ins).
import fs from 'node:fs';
import path from 'node:path';
import {
  ROOT, startStack, launchBrowser, newPhone, tokenFor, makeEvent, api, openGate, scan, waitStatus,
} from './harness.mjs';

const out = path.join(ROOT, 'docs/screenshots');
fs.mkdirSync(out, { recursive: true });
const stack = await startStack();
let browser;
try {
  browser = await launchBrowser(stack);
  const admin = await tokenFor(stack, 'admin1');
  const tickets = ['Ayu Lestari', 'Budi Santoso', 'Citra Dewi', 'Dimas Pratama', 'Eka Putri', 'Fajar Nugroho']
    .map((holder, i) => ({ ticket_id: `KK-${1001 + i}`, holder, category: i % 3 === 0 ? 'VIP' : 'Regular' }));
  await makeEvent(stack, admin, 'konser-kampus', { name: 'Konser Kampus', capacity: 500, tickets });
  for (const [i, gate] of [[1, 'North'], [2, 'North'], [3, 'South']]) {
    await api(stack, 'POST', '/checkins', { token: admin, body: { event_id: 'konser-kampus', ticket_id: tickets[i].ticket_id, gate } });
  }
  await api(stack, 'POST', '/checkins', { token: admin, body: { event_id: 'konser-kampus', ticket_id: 'FAKE-1' } });
  const context = await newPhone(browser);
  const page = await context.newPage();
  await openGate(page, stack.pageUrl, 'admin1', 'konser-kampus');
  await page.getByLabel('Gate', { exact: true }).fill('North');
  await scan(page, 'KK-1001');
  await waitStatus(page, /Checked in/);
  await page.getByText(/checked in of/).first().waitFor();
  // The full-screen panel shows for 3 s; then the scan screen with the answer and the count.
  await page.waitForTimeout(3500);
  await page.screenshot({ path: path.join(out, 'scan.png') });
  await page.getByRole('button', { name: 'Statistics', exact: true }).click();
  await page.locator('#screen-stats svg[role="img"]').waitFor();
  await page.screenshot({ path: path.join(out, 'statistics.png'), fullPage: true });
  await context.close();
  console.log(`wrote ${path.join(out, 'scan.png')} and ${path.join(out, 'statistics.png')}`);
} finally {
  await browser?.close();
  await stack.stop();
}
