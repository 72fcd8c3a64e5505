// A video for Chromium's fake capture device (--use-file-for-fake-video-capture): a QR code's SVG,
// as the service serves it, drawn to pixels by the browser itself and written as Y4M frames.
import fs from 'node:fs';
import { chromium } from 'playwright-core';
import { CHROMIUM, BASE_ARGS } from './harness.mjs';

const W = 640;
const H = 480;

// The SVG drawn to pixels by the browser itself (onto a canvas, read back with getImageData).
export async function svgToRgba(svg) {
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
export function writeY4m(file, rgba, frames = 10) {
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
