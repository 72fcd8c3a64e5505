#!/usr/bin/env python3
"""Two attendance instances on one PostgreSQL database behind the edge (SPEC §11), as
docker-compose.postgres.yml runs them; started by scripts/ci-postgres-edge.sh.

    postgres_edge.py --edge URL --instance URL --instance URL --kill-pid PID \
        --admin NAME --password PASSWORD

Every request goes through the edge, except the reads of each instance's own /metrics (the
edge does not publish it) and the cross-instance check. Prints one line per check, ends with
"N passed, M failed" and exits 1 on a failure. Every loop is bounded in count and time.
"""

import argparse
import json
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

# Answers a gate retries with the same Idempotency-Key: the edge could not reach an instance
# (502), the instance could not reach the database (503), or it was too slow (504).
RETRIED = {502, 503, 504}
TRIES = 8
EVENT = "pg-edge"


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"PASS {name}")
        else:
            self.failed += 1
            print(f"FAIL {name}" + (f": {detail}" if detail else ""))
        return ok


def call(url, method="GET", body=None, headers=None, timeout=10):
    """(status, headers, parsed JSON body or text) of one request; never raises for a status."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw, head = response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        status, raw, head = error.code, error.read(), error.headers
    except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
        return 0, {}, str(error)
    text = raw.decode("utf-8", "replace")
    try:
        return status, head, json.loads(text)
    except ValueError:
        return status, head, text


def checked_in_total(instance):
    """tixgo_checkins_total of one instance, summed over its labels (its own /metrics)."""
    status, _, text = call(f"{instance}/metrics")
    if status != 200 or not isinstance(text, str):
        return None
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("tixgo_checkins_total"))


class Gate:
    """A gate's phone: each ticket once, with one Idempotency-Key, retried on 502/503/504 as the
    gate page retries its queue, until a 201."""

    def __init__(self, edge, token):
        self.edge = edge
        self.auth = {"Authorization": f"Bearer {token}"}
        self.lock = threading.Lock()
        self.acknowledged = {}
        self.retries = 0
        self.wrong = []

    def scan(self, ticket):
        key = str(uuid.uuid4())
        headers = dict(self.auth, **{"Idempotency-Key": key})
        body = {"event_id": EVENT, "ticket_id": ticket}
        for _ in range(TRIES):
            status, _, answer = call(f"{self.edge}/checkins", "POST", body, headers)
            record = answer.get("record") if isinstance(answer, dict) else None
            if status == 201 and isinstance(record, dict) and record.get("ticket_id") == ticket:
                with self.lock:
                    self.acknowledged[ticket] = record
                return
            if status in RETRIED or status == 0:
                with self.lock:
                    self.retries += 1
                time.sleep(0.2)
                continue
            break
        with self.lock:
            self.wrong.append((ticket, status, answer))

    def run(self, tickets, threads=4, during=None):
        """Scans `tickets` on `threads` phones; `during` runs once a third of them are sent."""
        queue = list(tickets)
        started = threading.Event()
        sent = [0]

        def phone():
            while True:
                with self.lock:
                    if not queue:
                        return
                    ticket = queue.pop(0)
                    sent[0] += 1
                    if sent[0] * 3 >= len(tickets):
                        started.set()
                self.scan(ticket)

        workers = [threading.Thread(target=phone) for _ in range(threads)]
        for worker in workers:
            worker.start()
        if during is not None:
            started.wait(60)
            during()
        for worker in workers:
            worker.join(120)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--edge", required=True)
    parser.add_argument("--instance", action="append", required=True)
    parser.add_argument("--kill-pid", type=int, required=True)
    parser.add_argument("--admin", required=True)
    parser.add_argument("--password", required=True)
    args = parser.parse_args()
    edge, (first, second) = args.edge, args.instance
    c = Checks()

    status, _, answer = call(f"{edge}/auth/login", "POST",
                             {"username": args.admin, "password": args.password})
    if not c.check("the admin logs in through the edge (/auth/ on the attendance origin)",
                   status == 200 and isinstance(answer, dict) and "access_token" in answer,
                   f"{status} {answer}"):
        return 1
    token = answer["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    status, _, answer = call(f"{edge}/events", "POST",
                             {"event_id": EVENT, "name": "Two instances, one database"}, auth)
    c.check("POST /events through the edge is 201", status == 201, f"{status} {answer}")
    for instance in (first, second):
        status, _, answer = call(f"{instance}/events/{EVENT}", headers=auth)
        c.check(f"the event is there on {instance}",
                status == 200 and isinstance(answer, dict) and answer.get("event_id") == EVENT,
                f"{status} {answer}")

    # identity on PostgreSQL through the edge: an admin adds a gate user, who logs in and is
    # known on every request (this is also the traffic /metrics is checked after).
    status, _, answer = call(f"{edge}/auth/register", "POST",
                             {"username": "gate-pg", "password": "gate-pg-password"}, auth)
    c.check("the admin adds a gate user through the edge (POST /auth/register, 200)",
            status == 200, f"{status} {answer}")
    status, _, answer = call(f"{edge}/auth/login", "POST",
                             {"username": "gate-pg", "password": "gate-pg-password"})
    gate_token = answer.get("access_token") if isinstance(answer, dict) else None
    c.check("the gate user logs in through the edge", status == 200 and gate_token,
            f"{status} {answer}")
    me = [call(f"{edge}/auth/me", headers={"Authorization": f"Bearer {gate_token}"})
          for _ in range(120)]
    c.check("GET /auth/me through the edge, 120 times: the gate user each time",
            all(status == 200 and isinstance(body, dict) and body.get("username") == "gate-pg"
                for status, _, body in me), [m[0] for m in me if m[0] != 200][:5])

    gate = Gate(edge, token)
    before = [checked_in_total(i) or 0 for i in (first, second)]
    gate.run([f"T-{n:04d}" for n in range(200)])
    c.check("200 tickets through the edge: each acknowledged with its own 201",
            len(gate.acknowledged) == 200 and not gate.wrong, f"{len(gate.acknowledged)} {gate.wrong[:3]}")
    after = [checked_in_total(i) for i in (first, second)]
    spread = [None if a is None else a - b for a, b in zip(after, before)]
    c.check("the edge spreads the check-ins over both instances (each one's /metrics counts some)",
            None not in spread and all(n >= 20 for n in spread) and sum(spread) == 200, spread)

    # Each instance sees the other's check-ins: one ticket, straight to each.
    status, _, created = call(f"{first}/checkins", "POST",
                              {"event_id": EVENT, "ticket_id": "CROSS-1"}, auth)
    c.check("a check-in straight to the first instance is 201", status == 201, f"{status} {created}")
    status, _, answer = call(f"{second}/checkins", "POST",
                             {"event_id": EVENT, "ticket_id": "CROSS-1"}, auth)
    c.check("the same ticket on the second instance is 409 with the first's record",
            status == 409 and isinstance(answer, dict)
            and answer.get("reason") == "already_checked_in"
            and isinstance(created, dict) and answer.get("record") == created.get("record"),
            f"{status} {answer}")

    # One instance killed mid-run: nothing acknowledged is lost, each ticket is there once.
    def kill():
        os.kill(args.kill_pid, signal.SIGKILL)

    gate.run([f"K-{n:04d}" for n in range(200)], during=kill)
    killed = [t for t in gate.acknowledged if t.startswith("K-")]
    c.check("200 more tickets while one instance is killed with SIGKILL: each acknowledged "
            f"({gate.retries} retries with the same Idempotency-Key)",
            len(killed) == 200 and not gate.wrong, f"{len(killed)} {gate.wrong[:3]}")
    status, _, answer = call(f"{edge}/attendance/{EVENT}", headers=auth, timeout=30)
    records = answer.get("records", []) if isinstance(answer, dict) else []
    tickets = [r.get("ticket_id") for r in records]
    expected = sorted(list(gate.acknowledged) + ["CROSS-1"])
    c.check("the listing through the edge has every acknowledged ticket exactly once",
            status == 200 and sorted(tickets) == expected
            and answer.get("total_checkins") == len(expected),
            f"{status} {len(tickets)} rows, {len(set(tickets))} distinct, {len(expected)} expected")
    listed = {r.get("ticket_id"): r for r in records}
    # A listing's rows are the records without their event_id (the listing names it once).
    differ = [(r, listed.get(t)) for t, r in gate.acknowledged.items()
              if r.get("event_id") != EVENT
              or listed.get(t) != {k: v for k, v in r.items() if k != "event_id"}]
    c.check("each listed record is the one its 201 acknowledged", not differ, differ[:2])
    status, _, answer = call(f"{second}/events/{EVENT}/stats", headers=auth)
    c.check("the surviving instance's statistics count them all",
            status == 200 and isinstance(answer, dict) and answer.get("checked_in") == len(expected),
            f"{status} {answer}")

    print(f"{c.passed} passed, {c.failed} failed")
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main())
