// The camera: Chromium's fake capture device plays a Y4M file made here from the real QR code
// (GET /events/{id}/tickets/{tid}/qr) of a listed ticket; pressing Camera checks it in.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import {
  startStack, launchBrowser, newPhone, tokenFor, makeEvent, api, openGate, waitStatus, ticketOf,
} from './harness.mjs';
import { svgToRgba, writeY4m } from './fake-camera.mjs';

let stack, browser, admin, y4m;

before(async () => {
  stack = await startStack();
  admin = await tokenFor(stack, 'admin1');
  await makeEvent(stack, admin, 'kamera', {
    tickets: [{ ticket_id: 'CAM-7F3K-9QZ2', holder: 'Dewi Kamera', category: 'VIP' }],
  });
  const qr = await api(stack, 'GET', '/events/kamera/tickets/CAM-7F3K-9QZ2/qr', { token: admin, raw: true });
  assert.equal(qr.status, 200);
  assert.match(qr.headers.get('content-type'), /image\/svg\+xml/);
  y4m = path.join(stack.work, 'qr.y4m');
  writeY4m(y4m, await svgToRgba(qr.text));
  browser = await launchBrowser(stack, [
    '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', `--use-file-for-fake-video-capture=${y4m}`,
  ]);
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

test('the camera (fake capture device playing the ticket\'s QR code) checks the ticket in', async () => {
  const context = await newPhone(browser, { permissions: ['camera'] });
  const page = await context.newPage();
  await openGate(page, stack.pageUrl, 'panitia1', 'kamera');
  assert.equal(await page.evaluate(() => window.isSecureContext), true);
  assert.equal(await page.evaluate(() => 'BarcodeDetector' in window), false, 'Linux Chromium: the npm decoder is used');
  const camera = page.getByRole('button', { name: 'Camera', exact: true });
  assert.equal(await camera.isEnabled(), true);
  const decoderLoads = [];
  page.on('request', (r) => { if (/jsqr|decoder/.test(r.url())) decoderLoads.push(r.url()); });
  await camera.click();
  await page.getByRole('button', { name: 'Stop camera', exact: true }).waitFor({ timeout: 5000 });
  const text = await waitStatus(page, /Checked in/, 15000);
  assert.match(text, /Dewi Kamera/);
  const ticket = await ticketOf(stack, admin, 'kamera', 'CAM-7F3K-9QZ2');
  assert.equal(ticket.status, 'checked_in');
  assert.equal(ticket.record.checked_in_by, 'panitia1');
  assert.ok(decoderLoads.length > 0, 'the decoder was loaded when the camera started');
  // The same id is not sent again within 3 s: still one check-in, no "Already checked in".
  await page.waitForTimeout(1500);
  const records = (await api(stack, 'GET', '/attendance/kamera', { token: admin })).json.records;
  assert.equal(records.length, 1);
  const refusals = (await api(stack, 'GET', '/events/kamera/refusals', { token: admin })).json;
  assert.equal(refusals.total, 0, JSON.stringify(refusals));
  await page.getByRole('button', { name: 'Stop camera', exact: true }).click();
  await page.getByRole('button', { name: 'Camera', exact: true }).waitFor();
  await context.close();
});
