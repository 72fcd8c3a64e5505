// The offline queue: the attendance service stopped (the edge answers 502 for it), three scans
// queued (`3 pending`), a reload keeps them (the service worker serves the page), the service
// back on the same port and data dir: each ticket checked in exactly once, every request with
// an Idempotency-Key, the same key for every try of one scan.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startGate, stopGate, newPhone, makeEvent, api, openGate, scan, waitStatus, pendingText,
  checkinsOf,
} from './harness.mjs';

let stack, browser, admin;
const IDS = ['OFF-1', 'OFF-2', 'OFF-3'];

before(async () => {
  ({ stack, browser, admin } = await startGate());
  await makeEvent(stack, admin, 'offline', {
    tickets: IDS.map((id, i) => ({ ticket_id: id, holder: `Holder ${i + 1}` })),
  });
});

after(async () => {
  await stopGate(stack, browser);
});

test('three scans while the service is down: 3 pending, kept over a reload, each sent once with its key', async () => {
  const context = await newPhone(browser);
  const page = await context.newPage();
  const posts = [];
  context.on('request', (r) => {
    if (r.method() === 'POST' && new URL(r.url()).pathname === '/checkins') {
      posts.push({ key: r.headers()['idempotency-key'], ticket: JSON.parse(r.postData() || '{}').ticket_id });
    }
  });
  await openGate(page, stack.pageUrl, 'panitia1', 'offline');
  // The service worker has the page's files before the box goes away.
  await page.waitForFunction(async () => Boolean(await navigator.serviceWorker?.ready), null, { timeout: 10000 });

  await stack.stopAttendance();
  for (const id of IDS) {
    await scan(page, id);
    await waitStatus(page, /Saved, will be sent/, 8000);
  }
  await page.getByText('3 pending', { exact: true }).first().waitFor({ timeout: 8000 });

  await page.reload();
  try {
    await page.getByLabel('Ticket', { exact: true }).waitFor({ timeout: 10000 });
  } catch (error) {
    const body = await page.evaluate(() => document.body?.innerText.slice(0, 300)).catch(() => '?');
    throw new Error(`after the reload the page is not there; it shows: ${JSON.stringify(body)}`, { cause: error });
  }
  await page.getByText('3 pending', { exact: true }).first().waitFor({ timeout: 8000 });

  await stack.startAttendance();
  // Sent again when the connection returns (the retry every 5 s).
  await page.waitForFunction(() => !/\d+ pending/.test(document.body.innerText), null, { timeout: 20000 });
  assert.equal(await pendingText(page), null);

  const records = await checkinsOf(stack, admin, 'offline');
  for (const id of IDS) {
    assert.equal(records.filter((r) => r.ticket_id === id).length, 1, `${id} checked in exactly once`);
  }
  assert.equal(records.length, 3);
  for (const id of IDS) {
    const tries = posts.filter((p) => p.ticket === id);
    assert.ok(tries.length >= 2, `${id}: a try while down and one after (${tries.length})`);
    assert.ok(tries.every((p) => typeof p.key === 'string' && p.key.length > 0), `${id}: every try has an Idempotency-Key`);
    assert.equal(new Set(tries.map((p) => p.key)).size, 1, `${id}: the same key on every try`);
  }
  assert.equal(new Set(IDS.map((id) => posts.find((p) => p.ticket === id).key)).size, 3, 'one key per scan');
  await context.close();
});
