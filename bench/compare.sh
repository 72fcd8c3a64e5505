#!/usr/bin/env bash
# Before and after, back to back: runs ./bench/run.sh for an older revision (checked out in a
# scratch worktree under target/bench/) and then for this work tree, on the same machine, one
# right after the other, and prints each case side by side with after ÷ before.
#
#   ./bench/compare.sh 3812b05                       # full runs, about 10 minutes with builds
#   BENCH_DURATION=3 ./bench/compare.sh HEAD~1       # shorter cases
#
# The reports go to target/bench/before.md and target/bench/after.md; BENCHMARKS.md is left as
# it is (paste the table into it). Stops only the processes that run.sh starts.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
[ "$#" -eq 1 ] || { echo "usage: bench/compare.sh <revision>" >&2; exit 2; }
REV=$(git rev-parse --short "$1")
BEFORE_TREE=$ROOT/target/bench/before-tree
BEFORE=$ROOT/target/bench/before.md
AFTER=$ROOT/target/bench/after.md
mkdir -p "$ROOT/target/bench"

if [ -d "$BEFORE_TREE" ]; then
    git worktree remove --force "$BEFORE_TREE"
fi
git worktree add --detach "$BEFORE_TREE" "$REV" >/dev/null
trap 'git -C "$ROOT" worktree remove --force "$BEFORE_TREE" 2>/dev/null || true' EXIT
# A revision with the gate page builds its QR decoder into attendance: install it from that
# revision's own lockfile (node_modules is never committed, so a fresh worktree has none).
if [ -f "$BEFORE_TREE/attendance/web/package-lock.json" ]; then
    npm ci --prefix "$BEFORE_TREE/attendance/web" --no-audit --no-fund --loglevel=error >&2
fi

echo "==> before: $REV" >&2
BENCH_OUT=$BEFORE "$BEFORE_TREE/bench/run.sh" >/dev/null
echo "==> after: work tree ($(git rev-parse --short HEAD)$(git diff --quiet || echo ', with changes'))" >&2
BENCH_OUT=$AFTER "$ROOT/bench/run.sh" >/dev/null

# The first three cells of every table row (case, then two values), keyed by the case.
rows() { awk -F' [|] ' '/^\| / && NF >= 4 { sub(/^\| /, "", $1); print $1 "\t" $2 "\t" $3 "\t" $4 }' "$1"; }
echo "| case | before ($REV) | after | after ÷ before (req/s or value) |"
echo "|---|---|---|---|"
join -t $'\t' <(rows "$BEFORE" | sort -t $'\t' -k1,1) <(rows "$AFTER" | sort -t $'\t' -k1,1) |
    awk -F'\t' '{
        # Throughput rows: cells are conns, req/s, p50; other rows: value, target, verdict.
        before = ($2 ~ /^[0-9]+$/) ? $3 : $2; after = ($5 ~ /^[0-9]+$/) ? $6 : $5
        b = before + 0; a = after + 0
        r = (b > 0) ? sprintf("%.2f", a / b) : "–"
        printf "| %s | %s | %s | %s |\n", $1, before, after, r
    }'
