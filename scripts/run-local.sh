#!/usr/bin/env bash
# Starts both TixGo services locally, without Docker, for development:
# builds release binaries, generates a development JWT secret once (kept in .dev/jwt-secret),
# keeps data in .dev/data/<service>, and listens on 127.0.0.1:18081 and 127.0.0.1:18082.
# Ctrl-C stops both gracefully (SIGTERM). Override with BIND_ADDR, IDENTITY_PORT, ATTENDANCE_PORT,
# DEMO_USERS (default true here: panitia1/secret and admin1/secret).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

cargo build --release --locked -p identity -p attendance

mkdir -p .dev/data/identity .dev/data/attendance
if [ ! -s .dev/jwt-secret ]; then
    (umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > .dev/jwt-secret)
    echo "generated a development JWT secret in .dev/jwt-secret"
fi
JWT_SECRET="$(cat .dev/jwt-secret)"
export JWT_SECRET
export BIND_ADDR="${BIND_ADDR:-127.0.0.1}"
export DEMO_USERS="${DEMO_USERS:-true}"
export BCRYPT_COST="${BCRYPT_COST:-12}"

PORT="${IDENTITY_PORT:-18081}" DATA_DIR=.dev/data/identity target/release/identity &
identity_pid=$!
PORT="${ATTENDANCE_PORT:-18082}" DATA_DIR=.dev/data/attendance target/release/attendance &
attendance_pid=$!

stop() {
    kill -TERM "$identity_pid" "$attendance_pid" 2>/dev/null || true
    wait "$identity_pid" "$attendance_pid" 2>/dev/null || true
}
trap stop INT TERM EXIT

echo "identity:   http://${BIND_ADDR}:${IDENTITY_PORT:-18081}/health"
echo "attendance: http://${BIND_ADDR}:${ATTENDANCE_PORT:-18082}/health"
echo "Ctrl-C stops both."
# Exit as soon as either service stops (for example on a bad setting), stopping the other.
wait -n "$identity_pid" "$attendance_pid"
