#!/usr/bin/env bash
# Starts both TixGo services locally, without Docker, for development:
# installs the gate page's QR decoder from npm (attendance/web/package-lock.json) when it is not
# there yet, builds release binaries, generates a development JWT secret once (kept in
# .dev/jwt-secret), keeps data in .dev/data/<service>, and listens on 127.0.0.1:18081 and
# 127.0.0.1:18082. The gate page at http://127.0.0.1:18082/ logs in at identity directly
# (GATE_IDENTITY_URL, with identity's CORS_ORIGINS set to the page's origin: there is no edge here).
# Prints the URLs and "ready" once both services answer /health; if either exits first, or does
# not answer within READY_TIMEOUT seconds (default 30), says which, stops the other and exits
# non-zero. Ctrl-C stops both gracefully (SIGTERM). Override with BIND_ADDR, IDENTITY_PORT,
# ATTENDANCE_PORT, READY_TIMEOUT, DEV_DIR (instead of .dev: the browser tests start this script
# on a directory of their own), DEMO_USERS (default true here: panitia1/secret and
# admin1/secret; true or false).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

identity_port="${IDENTITY_PORT:-18081}"
attendance_port="${ATTENDANCE_PORT:-18082}"
ready_timeout="${READY_TIMEOUT:-30}"
# whole NAME VALUE MIN MAX: refuses (exit 2) unless VALUE is a whole number in MIN..=MAX.
whole() {
    if ! [[ "$2" =~ ^[0-9]{1,5}$ ]] || ((10#$2 < $3 || 10#$2 > $4)); then
        echo "run-local.sh: $1 must be a whole number in $3..=$4" >&2
        exit 2
    fi
}
whole IDENTITY_PORT "$identity_port" 1 65535
whole ATTENDANCE_PORT "$attendance_port" 1 65535
whole READY_TIMEOUT "$ready_timeout" 1 3600
ready_timeout=$((10#$ready_timeout))

# The page's decoder is built into the attendance binary (attendance/build.rs), from npm.
# shellcheck source=scripts/lib/web_packages.sh
source scripts/lib/web_packages.sh
ensure_web_packages run-local.sh
cargo build --release --locked -p identity -p attendance

dev="${DEV_DIR:-.dev}"
mkdir -p "$dev/data/identity" "$dev/data/attendance"
if [ ! -s "$dev/jwt-secret" ]; then
    (umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > "$dev/jwt-secret")
    echo "generated a development JWT secret in $dev/jwt-secret"
fi
JWT_SECRET="$(cat "$dev/jwt-secret")"
export JWT_SECRET
export BIND_ADDR="${BIND_ADDR:-127.0.0.1}"
export DEMO_USERS="${DEMO_USERS:-true}"
export BCRYPT_COST="${BCRYPT_COST:-12}"

# Where to reach the services: the bound address, or loopback for a wildcard.
case "$BIND_ADDR" in
    0.0.0.0) host=127.0.0.1 ;;
    ::) host=::1 ;;
    *) host="$BIND_ADDR" ;;
esac
url_host="$host"
if [[ "$host" == *:* ]]; then
    url_host="[$host]"
fi

identity_pid=""
attendance_pid=""
# shellcheck disable=SC2317  # run by the traps
stop() {
    local pid
    for pid in "$identity_pid" "$attendance_pid"; do
        if [ -n "$pid" ]; then
            kill -TERM "$pid" 2>/dev/null || true
        fi
    done
    for pid in "$identity_pid" "$attendance_pid"; do
        if [ -n "$pid" ]; then
            wait "$pid" 2>/dev/null || true
        fi
    done
}
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM
trap stop EXIT

# Without the edge, the page (attendance's origin) logs in at identity's own address.
identity_url="http://${url_host}:${identity_port}"
page_url="http://${url_host}:${attendance_port}/"
PORT="$identity_port" DATA_DIR="$dev/data/identity" CORS_ORIGINS="http://${url_host}:${attendance_port}" \
    target/release/identity &
identity_pid=$!
PORT="$attendance_port" DATA_DIR="$dev/data/attendance" GATE_IDENTITY_URL="$identity_url" \
    target/release/attendance &
attendance_pid=$!

# healthy PORT: whether GET /health on the service's address answers 200 (within 2 s).
healthy() {
    local port="$1"
    if command -v curl >/dev/null 2>&1; then
        curl -fs -o /dev/null --max-time 2 "http://${url_host}:${port}/health"
    else
        # bash's /dev/tcp, in a subshell so that a refused connection only ends the subshell.
        (
            exec 3<>"/dev/tcp/${host}/${port}" || exit 1
            printf 'GET /health HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n' "$url_host" >&3
            IFS= read -r -t 2 status_line <&3 || exit 1
            [[ "$status_line" == HTTP/1.?" 200 "* ]]
        ) 2>/dev/null
    fi
}

# exited NAME PID: says so, with the exit code, when the service has stopped; false while it runs.
exited() {
    local name="$1" pid="$2" code=0
    if kill -0 "$pid" 2>/dev/null; then
        return 1
    fi
    wait "$pid" 2>/dev/null || code=$?
    echo "run-local.sh: $name exited (code $code) before answering /health; see its output above" >&2
    if [ "$name" = identity ]; then identity_pid=""; else attendance_pid=""; fi
}

identity_ready=0
attendance_ready=0
deadline=$((SECONDS + ready_timeout))
while ((identity_ready == 0 || attendance_ready == 0)); do
    if exited identity "$identity_pid" || exited attendance "$attendance_pid"; then
        exit 1
    fi
    if ((identity_ready == 0)) && healthy "$identity_port"; then
        identity_ready=1
    fi
    if ((attendance_ready == 0)) && healthy "$attendance_port"; then
        attendance_ready=1
    fi
    if ((identity_ready == 0 || attendance_ready == 0)) && ((SECONDS >= deadline)); then
        silent=()
        ((identity_ready == 1)) || silent+=("identity on port $identity_port")
        ((attendance_ready == 1)) || silent+=("attendance on port $attendance_port")
        echo "run-local.sh: no answer to /health within ${ready_timeout} s from: ${silent[*]}" >&2
        exit 1
    fi
    ((identity_ready == 1 && attendance_ready == 1)) || sleep 0.2
done
# A service that lost its port to another program may have exited just after that program answered.
if exited identity "$identity_pid" || exited attendance "$attendance_pid"; then
    exit 1
fi

echo "identity:   ${identity_url}/health"
echo "attendance: http://${url_host}:${attendance_port}/health"
echo "gate page:  ${page_url}"
if [ "$DEMO_USERS" = true ]; then
    echo "            (log in as admin1 / secret, or panitia1 / secret)"
fi
echo "ready. Ctrl-C stops both."
# Exit as soon as either service stops (for example after a crash), stopping the other.
code=0
wait -n "$identity_pid" "$attendance_pid" || code=$?
for service in "identity $identity_pid" "attendance $attendance_pid"; do
    if ! kill -0 "${service#* }" 2>/dev/null; then
        echo "run-local.sh: ${service% *} stopped (code $code); stopping the other" >&2
    fi
done
exit "$code"
