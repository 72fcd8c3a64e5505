// The offline queue where a phone's network lies or its storage fails: an answer that is not the
// service's own (a captive portal's 200 page) keeps the scan queued, and a phone whose
// localStorage refuses the queue says the scan is not saved, yet still sends it once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startGate, stopGate, newPhone, makeEvent, openGate, scan, waitStatus, checkinsOf,
} from './harness.mjs';

let stack, browser, admin;

before(async () => {
  ({ stack, browser, admin } = await startGate());
  await makeEvent(stack, admin, 'edges', {
    tickets: [{ ticket_id: 'PORTAL-1', holder: 'Gita Portal' }, { ticket_id: 'FULL-1', holder: 'Hadi Penuh' }],
  });
});

after(async () => {
  await stopGate(stack, browser);
});

test('a captive portal answering 200 with its own page: the scan stays queued, then is sent once', async () => {
  const context = await newPhone(browser);
  const page = await context.newPage();
  await openGate(page, stack.pageUrl, 'panitia1', 'edges');
  let portal = 0;
  await page.route('**/checkins', (route) => {
    portal += 1;
    return route.fulfill({ status: 200, contentType: 'text/html', body: '<html><body>Log in to the Wi-Fi</body></html>' });
  });
  await scan(page, 'PORTAL-1');
  await waitStatus(page, /Saved, will be sent/, 8000);
  await page.getByText('1 pending', { exact: true }).first().waitFor();
  assert.ok(portal >= 1);
  assert.equal((await checkinsOf(stack, admin, 'edges')).length, 0, 'the portal wrote nothing');

  await page.unroute('**/checkins');
  await page.locator('#pending').waitFor({ state: 'hidden', timeout: 15000 });
  const records = (await checkinsOf(stack, admin, 'edges')).filter((r) => r.ticket_id === 'PORTAL-1');
  assert.equal(records.length, 1, 'checked in once the box answered');
  await context.close();
});

test('localStorage refusing the queue: the answer says it is not saved, and it is still sent once', async () => {
  const context = await newPhone(browser);
  const page = await context.newPage();
  await openGate(page, stack.pageUrl, 'panitia1', 'edges');
  // From now on this phone's storage is full for the queue (QuotaExceededError).
  await page.evaluate(() => {
    const setItem = Storage.prototype.setItem;
    Storage.prototype.setItem = function refuse(key, value) {
      if (key === 'tixgo.queue') throw new DOMException('full', 'QuotaExceededError');
      return setItem.call(this, key, value);
    };
  });
  await stack.stopAttendance();
  await scan(page, 'FULL-1');
  await waitStatus(page, /Not saved on this phone: keep this page open until it is sent/, 8000);
  await page.getByText('1 pending', { exact: true }).first().waitFor();
  await stack.startAttendance();
  await page.locator('#pending').waitFor({ state: 'hidden', timeout: 20000 });
  const records = (await checkinsOf(stack, admin, 'edges')).filter((r) => r.ticket_id === 'FULL-1');
  assert.equal(records.length, 1);
  assert.equal(records[0].checked_in_by, 'panitia1');
  await context.close();
});
