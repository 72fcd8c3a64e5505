#!/usr/bin/env bash
# docker-compose.postgres.yml without Docker (SPEC §11): identity and two attendance instances,
# built with the `postgres` feature, on one throwaway PostgreSQL cluster (scripts/lib/pg.sh),
# behind Debian's nginx with the overlay's edge config (deploy/nginx with
# deploy/postgres/upstreams.conf, its names rewritten to loopback ports). Run by
# scripts/test.sh, or by hand from anywhere in the repo: bash scripts/ci-postgres-edge.sh
#
# scripts/lib/postgres_edge.py then checks, through the edge only: the check-ins are spread
# over both instances (each one's /metrics, read directly, counts some), each instance sees
# the other's, one instance killed with SIGKILL mid-run costs the gates nothing acknowledged
# (retries with the same Idempotency-Key, as the gate page sends them), and the listing has
# every acknowledged ticket exactly once.
#
# Then both services' /metrics are parsed by prometheus_client (scripts/lib/check_metrics.py).
#
# Needs postgresql and nginx (installed by .ci/run and scripts/ci-deploy-checks.sh; installed
# here when missing and run as root). Talks only to 127.0.0.1; every wait is bounded.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 2

SECRET="ci-postgres-edge-secret-0123456789abcdef0123456789abcdef"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/tixgo-pg-edge.XXXXXX")" || exit 2
chmod 755 "$WORK"
PIDS=()

# shellcheck source=scripts/lib/net.sh
source scripts/lib/net.sh
# shellcheck source=scripts/lib/pg.sh
source scripts/lib/pg.sh

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
    pg_cluster_stop
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

NGINX="$(ensure_nginx "$WORK/apt.log")" || fatal "nginx is missing and could not be installed" "$(cat "$WORK/apt.log")"

# The overlay's binaries: both services with the feature (after scripts/test.sh's PostgreSQL
# tests, target/debug holds them already and this only checks they are up to date).
cargo build --locked -p identity -p attendance --features identity/postgres,attendance/postgres \
    >"$WORK/build.log" 2>&1 || fatal "cargo build --features postgres" "$(cat "$WORK/build.log")"
BIN_DIR="$ROOT/target/debug"

pg_cluster_start >"$WORK/pg.log" 2>&1 || fatal "a PostgreSQL cluster starts" "$(cat "$WORK/pg.log")"
DATABASE_URL="${PG_ADMIN_URL%/*}/tixgo"
psql_bin="$(pg_bin_dir)/psql"
"$psql_bin" -X -q -d "$PG_ADMIN_URL" -c "CREATE DATABASE tixgo" >"$WORK/psql.log" 2>&1 ||
    fatal "CREATE DATABASE tixgo" "$(cat "$WORK/psql.log")"

# Started as the overlay starts them: one database for both services, identity believing the
# edge's X-Forwarded-For (here the edge connects from 127.0.0.1).
declare -A PORT_OF PID_OF
start() {
    local name="$1" bin="$2"
    shift 2
    local log="$WORK/$name.log"
    env -i JWT_SECRET="$SECRET" PORT=0 BIND_ADDR=127.0.0.1 DATA_DIR="$WORK/data-$name" \
        DATABASE_URL="$DATABASE_URL" "$@" "$BIN_DIR/$bin" </dev/null >"$log" 2>&1 &
    PIDS+=("$!")
    PID_OF[$name]="$!"
    # Not a job of this shell: one of them is killed with SIGKILL on purpose, unannounced.
    disown "$!"
    PORT_OF[$name]="$(wait_listening "$log" "$!")" || fatal "$name starts on PostgreSQL" "$(cat "$log")"
}
start identity identity BCRYPT_COST=10 TRUSTED_PROXIES=127.0.0.1 \
    ADMIN_USERNAME=edge-admin ADMIN_PASSWORD=edge-admin-password
start attendance attendance
start attendance-2 attendance

PREFIX="$WORK/nginx"
mkdir -p "$PREFIX/conf"
cp deploy/nginx/*.conf "$PREFIX/conf/"
sed -e "s#server identity:18081 #server 127.0.0.1:${PORT_OF[identity]} #" \
    -e "s#server attendance:18082 #server 127.0.0.1:${PORT_OF[attendance]} #" \
    -e "s#server attendance-2:18082 #server 127.0.0.1:${PORT_OF[attendance-2]} #" \
    deploy/postgres/upstreams.conf >"$PREFIX/conf/upstreams.conf"
[[ "$(grep -c '^[[:space:]]*server 127\.0\.0\.1:' "$PREFIX/conf/upstreams.conf")" == 3 ]] ||
    fatal "deploy/postgres/upstreams.conf rewritten to loopback" "$(cat "$PREFIX/conf/upstreams.conf")"
EDGE_ID_PORT="$(free_port)"
EDGE_ATT_PORT="$(free_port)"
sed -i -e "s#^\([[:space:]]*\)listen 18081\([ ;]\)#\1listen 127.0.0.1:$EDGE_ID_PORT\2#" \
    -e "s#^\([[:space:]]*\)listen 18082\([ ;]\)#\1listen 127.0.0.1:$EDGE_ATT_PORT\2#" \
    -e "s#/tmp/nginx#$PREFIX/nginx#g" "$PREFIX/conf/nginx.conf"
"$NGINX" -t -p "$PREFIX" -c "$PREFIX/conf/nginx.conf" -e "$PREFIX/error.log" >"$WORK/nginx-t.log" 2>&1 ||
    fatal "nginx -t with deploy/postgres/upstreams.conf" "$(cat "$WORK/nginx-t.log")"
"$NGINX" -p "$PREFIX" -c "$PREFIX/conf/nginx.conf" -e "$PREFIX/error.log" -g 'daemon off;' \
    </dev/null >"$PREFIX/access.log" 2>&1 &
PIDS+=("$!")
up=0
for ((i = 0; i < 100; i++)); do
    if [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$EDGE_ATT_PORT/health")" == 200 ]]; then
        up=1
        break
    fi
    sleep 0.1
done
[[ "$up" == 1 ]] || fatal "the edge starts" "$(cat "$PREFIX/error.log")"

echo "edge on 127.0.0.1:$EDGE_ATT_PORT before attendance on ${PORT_OF[attendance]} and ${PORT_OF[attendance-2]}"
# shellcheck source=scripts/lib/ci_venv.sh
source scripts/lib/ci_venv.sh
ensure_ci_venv "$ROOT" >"$WORK/venv.log" 2>&1 || fatal "target/ci-venv" "$(cat "$WORK/venv.log")"
timeout 300 python3 scripts/lib/postgres_edge.py \
    --edge "http://127.0.0.1:$EDGE_ATT_PORT" \
    --instance "http://127.0.0.1:${PORT_OF[attendance]}" \
    --instance "http://127.0.0.1:${PORT_OF[attendance-2]}" \
    --kill-pid "${PID_OF[attendance]}" \
    --admin edge-admin --password edge-admin-password
status=$?
# /metrics of the PostgreSQL build, parsed by the Prometheus project's parser, after that
# traffic (the survivor: the other was killed), as scripts/ci-schemathesis.sh does for the
# default build.
if ! "$CI_VENV/bin/python" scripts/lib/check_metrics.py identity="${PORT_OF[identity]}" \
    attendance="${PORT_OF[attendance-2]}"; then
    echo "FAIL /metrics of the PostgreSQL build, parsed by prometheus_client"
    status=1
fi
exit "$status"
