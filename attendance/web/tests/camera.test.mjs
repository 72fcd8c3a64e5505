// The camera: Chromium's fake capture device plays a Y4M file made here from the real QR code
// (GET /events/{id}/tickets/{tid}/qr) of a listed ticket; pressing Camera checks it in.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import {
  startStack, launchBrowser, newPhone, tokenFor, makeEvent, api, openGate, waitStatus, ticketOf,
  CHROMIUM, BASE_ARGS,
} from './harness.mjs';

const W = 640;
const H = 480;
let stack, browser, admin, y4m;

// The SVG drawn to pixels by the browser itself (onto a canvas, read back with getImageData).
async function svgToRgba(svg) {
  const renderer = await chromium.launch({ executablePath: CHROMIUM, args: BASE_ARGS });
  try {
    const page = await renderer.newPage();
    const rgba = await page.evaluate(async ({ svg, W, H }) => {
      const img = new Image();
      img.src = `data:image/svg+xml;base64,${btoa(svg)}`;
      await img.decode();
      const canvas = document.createElement('canvas');
      canvas.width = W;
      canvas.height = H;
      const ctx = canvas.getContext('2d');
      ctx.fillStyle = '#fff';
      ctx.fillRect(0, 0, W, H);
      ctx.imageSmoothingEnabled = false;
      const side = 400;
      ctx.drawImage(img, (W - side) / 2, (H - side) / 2, side, side);
      const data = ctx.getImageData(0, 0, W, H).data;
      let s = '';
      for (let i = 0; i < data.length; i += 8192) s += String.fromCharCode(...data.subarray(i, i + 8192));
      return btoa(s);
    }, { svg, W, H });
    return Buffer.from(rgba, 'base64');
  } finally {
    await renderer.close();
  }
}

// RGBA -> Y4M (4:2:0, BT.601 full range as C420jpeg says), a few identical frames.
function writeY4m(file, rgba, frames = 10) {
  const y = Buffer.alloc(W * H);
  const u = Buffer.alloc((W / 2) * (H / 2));
  const v = Buffer.alloc((W / 2) * (H / 2));
  for (let j = 0; j < H; j++) {
    for (let i = 0; i < W; i++) {
      const k = (j * W + i) * 4;
      const [r, g, b] = [rgba[k], rgba[k + 1], rgba[k + 2]];
      y[j * W + i] = Math.max(0, Math.min(255, Math.round(0.299 * r + 0.587 * g + 0.114 * b)));
    }
  }
  for (let j = 0; j < H / 2; j++) {
    for (let i = 0; i < W / 2; i++) {
      let r = 0, g = 0, b = 0;
      for (const [dx, dy] of [[0, 0], [1, 0], [0, 1], [1, 1]]) {
        const k = ((2 * j + dy) * W + 2 * i + dx) * 4;
        r += rgba[k]; g += rgba[k + 1]; b += rgba[k + 2];
      }
      r /= 4; g /= 4; b /= 4;
      u[j * (W / 2) + i] = Math.max(0, Math.min(255, Math.round(128 - 0.168736 * r - 0.331264 * g + 0.5 * b)));
      v[j * (W / 2) + i] = Math.max(0, Math.min(255, Math.round(128 + 0.5 * r - 0.418688 * g - 0.081312 * b)));
    }
  }
  const parts = [Buffer.from(`YUV4MPEG2 W${W} H${H} F10:1 Ip A1:1 C420jpeg\n`)];
  for (let f = 0; f < frames; f++) parts.push(Buffer.from('FRAME\n'), y, u, v);
  fs.writeFileSync(file, Buffer.concat(parts));
}

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
