#!/usr/bin/env python3
"""The edge's body limits, against stub services (scripts/ci-deploy-checks.sh runs this).

usage: edge_body_limits.py NGINX CONF_DIR WORK_DIR

Copies the edge config in CONF_DIR (deploy/nginx) to WORK_DIR, rewritten as the CI scripts do
(listen ports and upstreams to loopback, /tmp paths to WORK_DIR), with a stub service behind each
upstream that reads every body to its end and answers {"bytes", "target"}, or, for a request
without an Authorization header, answers 401 right after the headers, before reading the body
(which it then reads to its end, as tiny_http does), as attendance does for a large upload. Then checks that only POST /events/<id>/tickets may send
up to 16 MiB, streamed to the service without a temp file or a 16 MiB buffer in nginx, and that
everything else keeps 64 KiB, every refusal a JSON 413 naming its limit.

Talks only to 127.0.0.1; every wait is bounded (10 s a socket operation, 60 s in all for nginx to
start and stop). Prints PASS/FAIL per case and "N passed, M failed"; exits non-zero on a failure.
"""
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

NGINX, CONF_DIR, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
HOST = "127.0.0.1"
MIB = 1 << 20
KIB = 1 << 10
TIMEOUT = 10.0
results = {"passed": 0, "failed": 0}


def check(name, ok, detail=""):
    results["passed" if ok else "failed"] += 1
    print(f"{'PASS' if ok else 'FAIL'} edge body limits: {name}")
    if not ok and detail:
        print(f"     | {detail}"[:600])


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Stub(http.server.BaseHTTPRequestHandler):
    """A service that reads each body whole (Content-Length or chunked) and says what it got."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, value, close=False):
        body = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            total = 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return total
                total += len(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length", "0"))
        total = 0
        while total < length:
            chunk = self.rfile.read(min(MIB, length - total))
            if not chunk:
                break
            total += len(chunk)
        return total

    def handle_any(self):
        if "Authorization" not in self.headers:
            self.answer(401, {"detail": "Missing Authorization header"}, close=True)
            self.wfile.flush()
            # tiny_http reads the rest of a refused body before it closes (it never resets a
            # connection with bytes unread); closing at once would make the edge's write fail
            # (a 502) whenever the reset came before the edge read the answer.
            try:
                self.read_body()
            except (OSError, ValueError):
                pass
            return
        self.answer(200, {"bytes": self.read_body(), "target": self.path})

    do_GET = do_POST = do_PUT = handle_any


class StubServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # an upload the edge cut off (too large) ends the stub's read; nothing to report


def start_stub():
    server = StubServer((HOST, 0), Stub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def request(port, method, target, body_len=0, chunked=False, auth=True, send=None):
    """Sends a request with a body of `body_len` bytes (of which only `send` when given) and
    returns (status, parsed JSON or None, raw head)."""
    s = socket.create_connection((HOST, port), timeout=TIMEOUT)
    head = f"{method} {target} HTTP/1.1\r\nHost: edge\r\nConnection: close\r\n"
    if auth:
        head += "Authorization: Bearer stub\r\n"
    head += "Transfer-Encoding: chunked\r\n" if chunked else f"Content-Length: {body_len}\r\n"
    out = b""
    try:
        s.sendall((head + "\r\n").encode())
        left = body_len if send is None else send
        block = b"t" * MIB
        while left > 0:
            part = block[:min(MIB, left)]
            s.sendall(b"%x\r\n%s\r\n" % (len(part), part) if chunked else part)
            left -= len(part)
        if chunked and send is None:
            s.sendall(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass  # refused mid-body: the answer is read below
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
            head_end = out.find(b"\r\n\r\n")
            if head_end >= 0:
                length = [l for l in out[:head_end].split(b"\r\n") if l.lower().startswith(b"content-length:")]
                if length and len(out) - head_end - 4 >= int(length[0].split(b":")[1]):
                    break
    except (socket.timeout, ConnectionResetError):
        pass
    finally:
        s.close()
    head_end = out.find(b"\r\n\r\n")
    if head_end < 0:
        return 0, None, out[:200]
    status = int(out.split(b" ", 2)[1])
    try:
        value = json.loads(out[head_end + 4:])
    except ValueError:
        value = None
    return status, value, out[:head_end]


def worker_peak_kb(master):
    """The largest VmHWM of nginx's worker processes, in kB."""
    peak = 0
    try:
        with open(f"/proc/{master}/task/{master}/children") as f:
            children = f.read().split()
        for child in children:
            with open(f"/proc/{child}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
    except OSError:
        pass
    return peak


def main():
    identity, attendance = start_stub(), start_stub()
    prefix = os.path.join(WORK, "edge-body-limits")
    conf = os.path.join(prefix, "conf")
    os.makedirs(conf, exist_ok=True)
    for name in os.listdir(CONF_DIR):
        if name.endswith(".conf"):
            shutil.copy(os.path.join(CONF_DIR, name), conf)
    with open(os.path.join(CONF_DIR, "upstreams.conf")) as f:
        upstreams = f.read()
    upstreams = upstreams.replace("server identity:18081", f"server {HOST}:{identity.server_port}")
    upstreams = upstreams.replace("server attendance:18082", f"server {HOST}:{attendance.server_port}")
    with open(os.path.join(conf, "upstreams.conf"), "w") as f:
        f.write(upstreams)
    id_port, att_port = free_port(), free_port()
    with open(os.path.join(conf, "nginx.conf")) as f:
        text = f.read()
    text = text.replace("listen 18081 reuseport;", f"listen {HOST}:{id_port} reuseport;")
    text = text.replace("listen 18082 reuseport;", f"listen {HOST}:{att_port} reuseport;")
    text = text.replace("/tmp/nginx", os.path.join(prefix, "nginx"))
    with open(os.path.join(conf, "nginx.conf"), "w") as f:
        f.write(text)
    log = open(os.path.join(prefix, "error.log"), "w+")
    nginx = subprocess.Popen([NGINX, "-p", prefix, "-c", os.path.join(conf, "nginx.conf"), "-e", "stderr",
                              "-g", "daemon off;"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=log)
    try:
        deadline = time.time() + 30
        while time.time() < deadline and nginx.poll() is None:
            try:
                socket.create_connection((HOST, att_port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        if nginx.poll() is not None:
            log.seek(0)
            check("nginx starts with the repo's config", False, log.read())
            return
        run_cases(id_port, att_port, nginx.pid, prefix, log)
    finally:
        nginx.send_signal(signal.SIGQUIT)
        try:
            nginx.wait(timeout=30)
        except subprocess.TimeoutExpired:
            nginx.kill()
            nginx.wait(timeout=30)
        identity.shutdown()
        attendance.shutdown()


def run_cases(id_port, att_port, master, prefix, log):
    import_64 = "Request body too large (the limit is 64 KiB)"
    import_16 = "Request body too large (the limit is 16 MiB)"
    peak_before = worker_peak_kb(master)

    status, value, head = request(att_port, "POST", "/events/e/tickets", 16 * MIB)
    check("16 MiB to POST /events/e/tickets passes the edge whole",
          status == 200 and value == {"bytes": 16 * MIB, "target": "/events/e/tickets"}, f"{status} {value} {head}")
    status, value, head = request(att_port, "POST", "/events/evt%201/tickets/?dry=1", 16 * MIB, chunked=True)
    check("16 MiB chunked passes too, the target sent byte for byte",
          status == 200 and value == {"bytes": 16 * MIB, "target": "/events/evt%201/tickets/?dry=1"},
          f"{status} {value} {head}")
    growth = worker_peak_kb(master) - peak_before
    check(f"nginx streamed them: no worker's peak memory grew by 16 MiB (grew {growth} kB)",
          peak_before > 0 and growth < 8 * KIB, f"before {peak_before} kB")
    spooled = os.listdir(os.path.join(prefix, "nginx-client-body")) if os.path.isdir(
        os.path.join(prefix, "nginx-client-body")) else []
    log.seek(0)
    check("nothing of them was written to a temp file", not spooled and "temporary file" not in log.read(),
          f"files {spooled}")

    status, value, head = request(att_port, "POST", "/events/e/tickets", 16 * MIB + 1, send=0)
    check("16 MiB + 1 is the edge's JSON 413 naming 16 MiB, on its Content-Length alone",
          status == 413 and value == {"detail": import_16} and b"x-request-id" in head.lower(), f"{status} {value}")
    status, value, head = request(att_port, "POST", "/events/e/tickets", 16 * MIB + 1, chunked=True)
    check("16 MiB + 1 chunked is the JSON 413 naming 16 MiB", status == 413 and value == {"detail": import_16},
          f"{status} {value} {head}")
    status, value, head = request(att_port, "POST", "/events/e/tickets\x7f", 16 * MIB, send=0)
    check("a raw byte in the import's target is still the JSON 400",
          status == 400 and value == {"detail": "Bad request"}, f"{status} {value} {head}")
    status, value, head = request(att_port, "POST", "/events/e/tickets", 16 * MIB, auth=False, send=MIB)
    check("the service's 401 to a large upload without a token comes back before the body is sent",
          status == 401 and value == {"detail": "Missing Authorization header"}, f"{status} {value} {head}")

    for port, method, target in [(att_port, "POST", "/checkins"),
                                 (att_port, "POST", "/events/e/tickets/generate"),
                                 (att_port, "GET", "/events/e/tickets"),
                                 (att_port, "PUT", "/events/e/tickets"),
                                 (att_port, "POST", "/events/e/f/tickets"),
                                 (att_port, "POST", "/events/tickets"),
                                 (att_port, "POST", "/xevents/e/tickets"),
                                 (id_port, "POST", "/events/e/tickets")]:
        status, value, head = request(port, method, target, 65 * KIB)
        service = "identity" if port == id_port else "attendance"
        check(f"65 KiB to {method} {target} ({service}) is the JSON 413 naming 64 KiB",
              status == 413 and value == {"detail": import_64}, f"{status} {value} {head}")
    status, value, head = request(att_port, "POST", "/checkins", 64 * KIB)
    check("64 KiB to POST /checkins still passes", status == 200 and value["bytes"] == 64 * KIB,
          f"{status} {value}")
    status, value, head = request(att_port, "POST", "/.tixgo-edge/ticket-import", 10)
    check("the import's internal location cannot be asked for directly (JSON 404)",
          status == 404 and value == {"detail": "Not Found"}, f"{status} {value}")


if __name__ == "__main__":
    main()
    print(f"{results['passed']} passed, {results['failed']} failed")
    sys.exit(1 if results["failed"] else 0)
