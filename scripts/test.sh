#!/usr/bin/env bash
# The whole test suite, as the README gives it: the Rust workspace (unit, contract and black-box
# tests) and the gate page in headless Chromium through the real edge (scripts/ci-browser.sh).
# Installs the gate page's npm packages first when they are missing or older than the lockfile:
# the attendance binary embeds its QR decoder (attendance/build.rs). CI (.ci/run) runs this
# between its lints and its other suites.
set -euo pipefail
cd "$(dirname "$0")/.."

web=attendance/web
if [ ! -f "$web/node_modules/.package-lock.json" ] \
    || [ "$web/package-lock.json" -nt "$web/node_modules/.package-lock.json" ]; then
    if ! command -v npm >/dev/null 2>&1; then
        echo "test.sh: npm (Node.js 20 or later) is needed for the gate page's packages" >&2
        exit 2
    fi
    npm ci --prefix "$web" --no-audit --no-fund
fi

echo "== cargo test --workspace --locked"
cargo test --workspace --locked

echo "== the gate page in headless Chromium, through the HTTPS edge"
bash scripts/ci-browser.sh
