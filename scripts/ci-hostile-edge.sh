#!/usr/bin/env bash
# Hostile clients through the nginx edge (deploy/nginx), run by CI after the deployment checks
# (and by hand, from anywhere in the repo): bash scripts/ci-hostile-edge.sh
#
# Starts both services (the debug binaries `cargo test --workspace` built; built here if
# missing) and Debian's nginx with the repo's edge config, rewritten as in
# scripts/ci-deploy-checks.sh to free loopback ports and a temp prefix, then runs
# scripts/lib/hostile_edge.py: every attack of RELIABILITY.md against the edge while a normal
# client must be answered within a second. Installs nginx if missing (apt-get, root). Talks only
# to 127.0.0.1 (from source addresses 127.0.0.2 to .5: the normal client, the half-open flood
# and the sign-ups each have their own, so each per-address limit is theirs alone). Every wait
# is bounded. Prints one line per case and ends with "N passed, M failed"; exits non-zero on a
# failure.
#
#   EDGE_CONF=DIR          another edge config (e.g. main's, for before/after figures)
#   HOSTILE_EDGE_CASES=w,w only the cases whose name contains one of the words
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 2
EDGE_CONF="${EDGE_CONF:-deploy/nginx}"

# The half-open flood case holds 2,100 sockets at once, nginx (started from here) as many: raise
# the descriptor limit (root may raise the hard limit too), else take what the hard limit allows.
ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)"

SECRET="ci-hostile-edge-secret-0123456789abcdef0123456789abcdef"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/tixgo-hostile.XXXXXX")" || exit 2
chmod 755 "$WORK"
PIDS=()

# shellcheck disable=SC2317
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null
    done
    sleep 0.5
    for pid in "${PIDS[@]}"; do
        kill -KILL "$pid" 2>/dev/null
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fatal() {
    printf 'FAIL %s\n' "$1"
    [[ -n "${2:-}" ]] && printf '%s\n' "$2" | tail -n 20 | sed 's/^/     | /'
    echo "0 passed, 1 failed"
    exit 1
}

# shellcheck source=scripts/lib/net.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/net.sh"
NGINX="$(ensure_nginx "$WORK/apt.log")" || fatal "nginx is missing and could not be installed" "$(cat "$WORK/apt.log")"

BIN_DIR="$ROOT/target/debug"
if [[ ! -x "$BIN_DIR/identity" || ! -x "$BIN_DIR/attendance" ]]; then
    cargo build --locked -p identity -p attendance >"$WORK/build.log" 2>&1 ||
        fatal "cargo build" "$(cat "$WORK/build.log")"
fi

declare -A PORT_OF
for bin in identity attendance; do
    log="$WORK/$bin.log"
    env -i JWT_SECRET="$SECRET" PORT=0 BIND_ADDR=127.0.0.1 DATA_DIR="$WORK/data-$bin" BCRYPT_COST=10 \
        "$BIN_DIR/$bin" </dev/null >"$log" 2>&1 &
    PIDS+=("$!")
    PORT_OF[$bin]="$(wait_listening "$log" "$!")" || fatal "$bin starts" "$(cat "$log")"
done

# The edge as in scripts/ci-deploy-checks.sh: the repo's config, listen ports and upstreams
# rewritten to loopback, writable paths under a temp prefix.
PREFIX="$WORK/nginx"
mkdir -p "$PREFIX/conf"
cp "$EDGE_CONF"/*.conf "$PREFIX/conf/"
sed -e "s#server identity:18081#server 127.0.0.1:${PORT_OF[identity]}#" \
    -e "s#server attendance:18082#server 127.0.0.1:${PORT_OF[attendance]}#" \
    "$EDGE_CONF/upstreams.conf" >"$PREFIX/conf/upstreams.conf"
# Test-only locations, in both servers next to the error pages: the errors this configuration
# never produces by itself (so their JSON pages are checked too), a service that refuses
# connections (nothing listens on DEAD_PORT) and one that never answers (hostile_edge.py
# listens on SILENT_PORT and stays silent).
DEAD_PORT="$(free_port)"
SILENT_PORT="$(free_port)"
cat >>"$PREFIX/conf/tixgo-errors.conf" <<EOF

location = /.tixgo-test/500 { return 500; }
location = /.tixgo-test/503 { return 503; }
location = /.tixgo-test/411 { return 411; }
location = /.tixgo-test/403 { return 403; }
location = /.tixgo-test/408 { return 408; }
location = /.tixgo-test/502 { proxy_pass http://127.0.0.1:$DEAD_PORT; }
location = /.tixgo-test/504 { proxy_read_timeout 1s; proxy_pass http://127.0.0.1:$SILENT_PORT; }
EOF
EDGE_ID_PORT="$(free_port)"
EDGE_ATT_PORT="$(free_port)"
sed -i -e "s#^\([[:space:]]*\)listen 18081\([ ;]\)#\1listen 127.0.0.1:$EDGE_ID_PORT\2#" \
    -e "s#^\([[:space:]]*\)listen 18082\([ ;]\)#\1listen 127.0.0.1:$EDGE_ATT_PORT\2#" \
    -e "s#/tmp/nginx#$PREFIX/nginx#g" "$PREFIX/conf/nginx.conf"
"$NGINX" -t -p "$PREFIX" -c "$PREFIX/conf/nginx.conf" -e "$PREFIX/error.log" >"$WORK/nginx-t.log" 2>&1 ||
    fatal "nginx -t" "$(cat "$WORK/nginx-t.log")"
"$NGINX" -p "$PREFIX" -c "$PREFIX/conf/nginx.conf" -e "$PREFIX/error.log" -g 'daemon off;' \
    </dev/null >"$PREFIX/access.log" 2>&1 &
NGINX_PID=$!
PIDS+=("$NGINX_PID")
up=0
for ((i = 0; i < 100; i++)); do
    if [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$EDGE_ATT_PORT/health")" == 200 ]]; then
        up=1
        break
    fi
    sleep 0.1
done
[[ "$up" == 1 ]] || fatal "edge starts" "$(cat "$PREFIX/error.log")"

# A real user and token, straight from identity (the edge's login limit is for the attacks).
ID="http://127.0.0.1:${PORT_OF[identity]}"
curl -s --max-time 10 -o /dev/null -H 'Content-Type: application/json' \
    -d '{"username":"edge-gate","password":"pass1234"}' "$ID/auth/register"
curl -s --max-time 10 -o /dev/null -H 'Content-Type: application/json' \
    -d '{"username":"edge-victim","password":"right-password"}' "$ID/auth/register"
TOKEN="$(curl -s --max-time 10 -H 'Content-Type: application/json' \
    -d '{"username":"edge-gate","password":"pass1234"}' "$ID/auth/login" |
    sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')"
[[ -n "$TOKEN" ]] || fatal "log in the normal client's user"

echo "edge on 127.0.0.1:$EDGE_ID_PORT (identity) and 127.0.0.1:$EDGE_ATT_PORT (attendance)"
# nginx's error log is its stderr, which lands in access.log here: hostile_edge.py counts what
# nginx complained about (the flood's "worker_connections are not enough" among it).
EDGE_NGINX_PID="$NGINX_PID" EDGE_SILENT_PORT="$SILENT_PORT" EDGE_LOG="$PREFIX/access.log" \
    timeout 600 python3 scripts/lib/hostile_edge.py "$EDGE_ID_PORT" "$EDGE_ATT_PORT" "$TOKEN"
rc=$?
timeout 300 python3 scripts/lib/slow_readers_edge.py "$EDGE_ATT_PORT" "${PORT_OF[attendance]}" "$SECRET" || rc=1
for i in 0 1; do
    if ! kill -0 "${PIDS[$i]}" 2>/dev/null; then
        echo "FAIL a service died during the edge attacks"
        rc=1
    fi
done
exit "$rc"
