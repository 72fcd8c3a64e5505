#!/usr/bin/env bash
# The gate page's browser tests (attendance/web/tests/*.test.mjs), run by CI and by hand:
#
#   bash scripts/ci-browser.sh
#
# Headless Debian chromium driven by playwright-core, against the real debug binaries and the
# real edge config (deploy/nginx, HTTPS with a certificate made by deploy/tls/make-certs.sh);
# tests/harness.mjs starts and stops everything on free loopback ports. Installs what it lacks:
# chromium and nginx (apt-get, as root), node_modules (npm ci). Exits non-zero on any failure.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

need=()
command -v chromium >/dev/null 2>&1 || [[ -x /usr/bin/chromium ]] || need+=(chromium)
command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || need+=(nginx)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v node >/dev/null 2>&1 || need+=(nodejs npm)
if ((${#need[@]})); then
    if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
        echo "missing: ${need[*]} (install them, or run as root with apt-get)" >&2
        exit 2
    fi
    echo "installing: ${need[*]}"
    timeout 300 apt-get update -qq || true
    DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

# shellcheck source=scripts/lib/web_packages.sh
source scripts/lib/web_packages.sh
ensure_web_packages ci-browser.sh

timeout 1500 cargo build --locked -p identity -p attendance
# tests/local-start.test.mjs runs the README's start command, scripts/run-local.sh, which builds
# release binaries: built here, where a slow first build has the time it needs.
timeout 1500 cargo build --release --locked -p identity -p attendance

cd attendance/web
timeout 600 node --test --test-concurrency=1 tests/
