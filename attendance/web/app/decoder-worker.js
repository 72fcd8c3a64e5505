// The QR decoder for browsers without BarcodeDetector: decodes each frame (ImageData's bytes,
// width, height) posted to it with jsQR from npm, and answers the code's text or null.
/* global jsQR */
importScripts('/app/vendor/jsqr.js');

self.onmessage = (e) => {
  const { width, height, data } = e.data;
  let text = null;
  try {
    const code = jsQR(new Uint8ClampedArray(data), width, height, { inversionAttempts: 'attemptBoth' });
    if (code && code.data) text = code.data;
  } catch {
    text = null;
  }
  self.postMessage(text);
};
