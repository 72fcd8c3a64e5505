#!/usr/bin/env bash
# The whole test suite, as the README gives it: the Rust workspace (unit, contract and black-box
# tests), the tests of the `postgres` feature against PostgreSQL clusters they start themselves
# (Debian's postgresql must be installed), and the gate page in headless Chromium through the
# real edge (scripts/ci-browser.sh).
# Installs the gate page's npm packages first when they are missing or older than the lockfile:
# the attendance binary embeds its QR decoder (attendance/build.rs). CI (.ci/run) runs this
# between its lints and its other suites.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/lib/web_packages.sh
source scripts/lib/web_packages.sh
ensure_web_packages test.sh

echo "== cargo test --workspace --locked"
cargo test --workspace --locked

echo "== the postgres feature: identity and attendance on throwaway PostgreSQL clusters (testkit::pg)"
cargo test --locked -p identity --features postgres --test pg_users
cargo test --locked -p attendance --features postgres --test pg_ledger

echo "== the in-process contract suites again, on PostgreSQL (a cluster of this script's)"
# shellcheck source=scripts/lib/pg.sh
source scripts/lib/pg.sh
trap pg_cluster_stop EXIT
pg_cluster_start
TIXGO_TEST_DATABASE_URL="$PG_ADMIN_URL" cargo test --locked -p identity --features postgres \
    --test api --test users --test auth_errors
TIXGO_TEST_DATABASE_URL="$PG_ADMIN_URL" cargo test --locked -p attendance --features postgres \
    --test api --test events --test idempotency --test undo --test listing --test auth_errors \
    --test gate_page
pg_cluster_stop
trap - EXIT

echo "== docker-compose.postgres.yml without Docker: two attendance instances behind the edge"
bash scripts/ci-postgres-edge.sh

echo "== the gate page in headless Chromium, through the HTTPS edge"
bash scripts/ci-browser.sh
