#!/usr/bin/env python3
"""Slow readers of a big listing through the nginx edge (scripts/ci-hostile-edge.sh runs this).

usage: slow_readers_edge.py EDGE_ATTENDANCE_PORT ATTENDANCE_PORT JWT_SECRET

Seeds an event with about 17 MB of listing (76,000 check-ins with 128-character ticket ids,
sent straight to the attendance service on ATTENDANCE_PORT by 200 users, so a per-user write
limit does not slow the seeding), then, through the edge: every 8 s a wave of 12 connections
from 127.0.0.1-4, each with a 2 KiB receive buffer, asks for the whole listing; half of them
read 2 KiB every quarter second, half never read. Meanwhile another client (from 127.0.0.5)
checks in through the edge, one new connection per check-in: every check-in must be answered
201 with a p99 under one second. Everything goes to 127.0.0.x and is bounded in time and count.
Prints one PASS/FAIL line and "N passed, M failed"; exits non-zero on a failure.
"""
import base64
import hashlib
import hmac
import json
import socket
import sys
import threading
import time

EDGE_PORT, SERVICE_PORT, SECRET = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3].encode()
HOST = "127.0.0.1"
EVENT = "edge-big-evt"
ROWS = 76_000
SEED_USERS = 200
SEED_THREADS = 16
READERS, SOURCES, WAVE, ATTACK = 12, 4, 8.0, 24.0
RECEIVE_BUFFER = 2048
NORMAL_SOURCE = "127.0.0.5"
CHECK_IN_LIMIT, P99_LIMIT = 3.0, 1.0


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def token(sub, role="committee"):
    now = int(time.time())
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    claims = {"sub": sub, "role": role, "iat": now, "exp": now + 3600}
    body = b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = b64(hmac.new(SECRET, head + b"." + body, hashlib.sha256).digest())
    return (head + b"." + body + b"." + signature).decode()


def check_in_raw(tok, event, ticket, keep_alive):
    body = '{"event_id":"%s","ticket_id":"%s"}' % (event, ticket)
    close = "" if keep_alive else "Connection: close\r\n"
    return ("POST /checkins HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
            "Content-Type: application/json\r\nContent-Length: %d\r\n%s\r\n%s"
            % (tok, len(body), close, body)).encode()


def read_answer(sock, buf):
    """Reads one answer with a Content-Length body off a keep-alive socket; (status, rest)."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        rest += chunk
    return int(head.split(b" ", 2)[1]), rest[length:]


def seed():
    """ROWS check-ins of EVENT straight to the service, on keep-alive connections."""
    tokens = [token("seed-gate-%03d" % u) for u in range(SEED_USERS)]
    failures = []

    def worker(t):
        sock = socket.create_connection((HOST, SERVICE_PORT), timeout=30)
        buf = b""
        for i in range(t, ROWS, SEED_THREADS):
            ticket = "%08d-%s" % (i, "t" * 119)
            sock.sendall(check_in_raw(tokens[i % SEED_USERS], EVENT, ticket, True))
            status, buf = read_answer(sock, buf)
            if status != 201:
                failures.append(status)
                return
        sock.close()

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(SEED_THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    if failures:
        raise AssertionError("seeding answered %r" % failures[:5])


def slow_reader(i, tok, statuses, lock, started):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
    s.bind(("127.0.0.%d" % (1 + i % SOURCES), 0))
    s.settimeout(0.25)
    status = 0
    try:
        s.connect((HOST, EDGE_PORT))
        s.sendall(("GET /attendance/%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                   "Connection: close\r\n\r\n" % (EVENT, tok)).encode())
        head = b""
        while time.time() - started < WAVE:
            if status and i % 2:
                time.sleep(0.05)
                continue
            try:
                chunk = s.recv(RECEIVE_BUFFER)
            except socket.timeout:
                chunk = None
            if chunk == b"":
                break
            if chunk and not status:
                head += chunk
                if len(head) >= 12:
                    status = int(head[9:12])
            time.sleep(0.25)
    except OSError:
        pass
    finally:
        s.close()
    with lock:
        statuses[status] = statuses.get(status, 0) + 1


def attack(stop, statuses):
    tok, lock, waves = token("edge-slow-reader"), threading.Lock(), 0
    began = time.time()
    while not stop.is_set() and time.time() - began < ATTACK and waves < 10:
        started = time.time()
        readers = [threading.Thread(target=slow_reader, args=(i, tok, statuses, lock, started))
                   for i in range(READERS)]
        for r in readers:
            r.start()
        for r in readers:
            r.join(WAVE + 5)
        waves += 1
    return waves


def check_in_through_the_edge(tok, n):
    s = socket.socket()
    s.settimeout(CHECK_IN_LIMIT)
    s.bind((NORMAL_SOURCE, 0))
    started = time.time()
    answer = b""
    try:
        s.connect((HOST, EDGE_PORT))
        s.sendall(check_in_raw(tok, "edge-slow-normal", "N%d-%d" % (int(started), n), False))
        while time.time() - started < CHECK_IN_LIMIT:
            chunk = s.recv(65536)
            if not chunk:
                break
            answer += chunk
    except OSError as e:
        return None, "%s after %.1f s" % (e, time.time() - started)
    finally:
        s.close()
    took = time.time() - started
    status = int(answer[9:12]) if len(answer) >= 12 else 0
    if status != 201:
        return None, "status %d after %.1f s" % (status, took)
    return took, None


def main():
    seeding = time.time()
    try:
        seed()
    except (OSError, AssertionError) as e:
        print("FAIL edge: slow readers of a 17 MB listing: seeding failed: %r" % e, flush=True)
        print("0 passed, 1 failed")
        return 1
    seeded = time.time() - seeding
    stop, statuses = threading.Event(), {}
    result = {}
    attacker = threading.Thread(target=lambda: result.update(waves=attack(stop, statuses)))
    attacker.start()
    tok = token("edge-slow-normal")
    latencies, failures, n = [], [], 0
    began = time.time()
    while time.time() - began < ATTACK and n < 2000:
        took, err = check_in_through_the_edge(tok, n)
        if err:
            failures.append(err)
        else:
            latencies.append(took)
        n += 1
        time.sleep(0.1)
    stop.set()
    attacker.join(WAVE + 10)
    latencies.sort()
    p99 = latencies[max(0, -(-len(latencies) * 99 // 100) - 1)] if latencies else CHECK_IN_LIMIT
    summary = ("%d check-ins seeded in %.0f s; %d waves of %d readers from %d addresses, "
               "answered %r; check-ins through the edge: %d sent, %d answered 201, p99 %.0f ms, "
               "slowest %.0f ms" % (ROWS, seeded, result.get("waves", 0), READERS, SOURCES,
                                    dict(sorted(statuses.items())), n, len(latencies),
                                    p99 * 1000, (latencies[-1] if latencies else 0) * 1000))
    if failures or p99 >= P99_LIMIT:
        print("FAIL edge: slow readers of a 17 MB listing: %s; failures %r"
              % (summary, failures[:3]), flush=True)
        print("0 passed, 1 failed")
        return 1
    print("PASS edge: slow readers of a 17 MB listing: %s" % summary, flush=True)
    print("1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
