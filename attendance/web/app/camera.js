// The camera, loaded only when `Camera` is pressed: the back camera into a <video>, each frame
// decoded by BarcodeDetector where the browser has it for QR codes, else by a Web Worker running
// jsQR (/app/decoder-worker.js), one frame at a time.

const FRAME_GAP_MS = 120;
const MAX_SIDE = 720;

/**
 * Starts reading QR codes into `onCode(text)`; resolves to a stop() function. `onFail(error)`
 * runs once if decoding cannot go on (the decoder did not load), after the camera is stopped.
 */
export async function start(video, onCode, onFail = () => {}) {
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: false,
    video: { facingMode: { ideal: 'environment' }, width: { ideal: 1280 }, height: { ideal: 720 } },
  });
  try {
    return await read(stream, video, onCode, onFail);
  } catch (err) {
    for (const track of stream.getTracks()) track.stop();
    video.srcObject = null;
    video.hidden = true;
    throw err;
  }
}

async function read(stream, video, onCode, onFail) {
  video.srcObject = stream;
  video.hidden = false;
  try { await video.play(); } catch { /* autoplay of a muted video is allowed; keep going */ }

  let running = true;
  let failed = null;
  let timer = 0;
  let worker = null;
  let decode;

  let detector = null;
  if ('BarcodeDetector' in window) {
    try {
      const formats = await window.BarcodeDetector.getSupportedFormats();
      if (formats.includes('qr_code')) detector = new window.BarcodeDetector({ formats: ['qr_code'] });
    } catch { detector = null; }
  }

  if (detector) {
    decode = async () => {
      const codes = await detector.detect(video);
      return codes.length ? codes[0].rawValue : null;
    };
  } else {
    worker = new Worker('/app/decoder-worker.js');
    const canvas = document.createElement('canvas');
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    let pending = null;
    worker.onmessage = (e) => { if (pending) { pending(e.data); pending = null; } };
    // A worker whose script or decoder did not load (offline, before the camera was ever used
    // online) answers nothing: the camera stops and says so instead of running blind.
    worker.onerror = (e) => {
      e.preventDefault?.();
      failed = new Error('the QR decoder did not load');
      if (pending) { pending(null); pending = null; }
    };
    decode = () => {
      if (failed) return Promise.resolve(null);
      const w0 = video.videoWidth;
      const h0 = video.videoHeight;
      if (!w0 || !h0) return Promise.resolve(null);
      const scale = Math.min(1, MAX_SIDE / Math.max(w0, h0));
      const w = Math.round(w0 * scale);
      const h = Math.round(h0 * scale);
      canvas.width = w;
      canvas.height = h;
      ctx.drawImage(video, 0, 0, w, h);
      const img = ctx.getImageData(0, 0, w, h);
      return new Promise((resolve) => {
        pending = resolve;
        worker.postMessage({ width: w, height: h, data: img.data.buffer }, [img.data.buffer]);
      });
    };
  }

  const loop = async () => {
    if (!running) return;
    let text = null;
    try {
      if (video.readyState >= 2) text = await decode();
    } catch { text = null; }
    if (!running) return;
    if (failed) { stop(); onFail(failed); return; }
    if (text) onCode(text);
    timer = setTimeout(loop, FRAME_GAP_MS);
  };
  timer = setTimeout(loop, 0);

  function stop() {
    running = false;
    clearTimeout(timer);
    if (worker) worker.terminate();
    for (const track of stream.getTracks()) track.stop();
    video.srcObject = null;
    video.hidden = true;
  }
  return stop;
}
