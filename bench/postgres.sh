# shellcheck shell=bash
# SPEC §11 in the benchmark: sourced by bench/run.sh after its own cases (it uses run.sh's
# `start`, `stop`, `bench`, `log`, `die` and variables), never run alone.
#
# One throwaway PostgreSQL cluster (scripts/lib/pg.sh: Debian's server, fsync and synchronous
# commit on, as a venue runs it) on this machine, and the services built with the `postgres`
# feature. Each case runs the journal build and 1, 2 and 3 instances on PostgreSQL back to back,
# with the same 64 connections in all: with several instances, one wrk per instance, the
# connections split between them, started together; req/s is their sum and p99 the worst of
# theirs. Sets PG_ROWS (the table's rows) and PG_NOTE.

PG_ROWS=()
PG_FIRST_PORT=18193 # instances on 18193..18195 (attendance) and 18196..18197 (identity)
PG_REL="$ROOT/target/postgres/release"

# shellcheck source=scripts/lib/pg.sh
source "$ROOT/scripts/lib/pg.sh"

# bench_instances <seconds> <path> <port>... -- [env...]: wrk on each port at once, $CONNS
# connections split between them; sets RPS (sum), P50 and P99 (the worst), REQS, NON2XX, SOCKERR.
bench_instances() {
    local seconds=$1 path=$2 ports=() port n per_instance i line round r p50 p99 reqs non2xx sockerr
    shift 2
    while [ "$1" != -- ]; do
        ports+=("$1")
        shift
    done
    shift
    n=${#ports[@]}
    per_instance=$((CONNS / n))
    for round in warm measure; do
        i=0
        for port in "${ports[@]}"; do
            env "$@" RUN_TAG="$round-$i-$RANDOM" wrk -t2 -c"$per_instance" \
                -d"$([ "$round" = warm ] && echo 1 || echo "$seconds")s" --timeout 5s -s "$LUA" \
                "http://127.0.0.1:$port$path" >"$WORK/wrk-$i.out" &
            i=$((i + 1))
        done
        wait_all_wrk "$n"
    done
    RPS=0 P50=0 P99=0 REQS=0 NON2XX=0 SOCKERR=0
    for ((i = 0; i < n; i++)); do
        line=$(grep '^RESULT ' "$WORK/wrk-$i.out") || die "wrk failed on port ${ports[$i]}"
        read -r _ r p50 p99 reqs non2xx sockerr <<<"$line"
        RPS=$(awk -v a="$RPS" -v b="$r" 'BEGIN { printf "%.1f", a + b }')
        P50=$(awk -v a="$P50" -v b="$p50" 'BEGIN { print (b > a) ? b : a }')
        P99=$(awk -v a="$P99" -v b="$p99" 'BEGIN { print (b > a) ? b : a }')
        REQS=$((REQS + reqs)) NON2XX=$((NON2XX + non2xx)) SOCKERR=$((SOCKERR + sockerr))
    done
    log "$path on ${ports[*]}: $RPS req/s, p50 $P50 ms, p99 $P99 ms, $REQS requests, $NON2XX non-2xx, $SOCKERR socket errors"
}

# wait_all_wrk <n>: waits for the n wrk processes just started (bounded: wrk's own -d).
wait_all_wrk() {
    local i
    for ((i = 0; i < $1; i++)); do
        wait -n || die "wrk failed"
    done
}

# pg_row <case> <instances> <target> <verdict> [ratio]
pg_row() {
    PG_ROWS+=("| $1 | $2 | $RPS | $P50 | $P99 | ${5:-–} | $3 | $4 |")
    [ "$NON2XX" = 0 ] && [ "$SOCKERR" = 0 ] ||
        PG_ROWS+=("| ↳ errors in the case above | | $NON2XX non-2xx | $SOCKERR socket errors | | | | |")
}

# fresh_database <name>: an empty database on the cluster; prints its URL.
fresh_database() {
    "$(pg_bin_dir)/psql" -X -q -d "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS $1" \
        -c "CREATE DATABASE $1" >&2 || die "CREATE DATABASE $1"
    echo "${PG_ADMIN_URL%/*}/$1"
}

# start_instances <binary> <how many> <name> [env...]: that many instances on ports from
# PG_FIRST_PORT (identity from PG_FIRST_PORT + 3); sets INSTANCE_PIDS and INSTANCE_PORTS.
start_instances() {
    local binary=$1 count=$2 name=$3 base=$PG_FIRST_PORT i
    shift 3
    [ "$name" != identity ] || base=$((PG_FIRST_PORT + 3))
    INSTANCE_PIDS=() INSTANCE_PORTS=()
    for ((i = 0; i < count; i++)); do
        start "pg-$name-$count-$i" $((base + i)) 20000 "$binary" "$@" \
            DATA_DIR="$WORK/pg-$name-$count-$i"
        INSTANCE_PIDS+=("$PID")
        INSTANCE_PORTS+=($((base + i)))
    done
}

stop_instances() {
    local pid
    for pid in "${INSTANCE_PIDS[@]}"; do
        stop "$pid"
    done
}

postgres_cases() {
    log "building release binaries with the postgres feature (target/postgres)"
    cargo build --release --locked --target-dir "$ROOT/target/postgres" -p identity -p attendance \
        --features identity/postgres,attendance/postgres >&2
    pg_cluster_start >&2 || die "a PostgreSQL cluster did not start"
    PG_VERSION=$("$(pg_bin_dir)/postgres" --version)
    local att_env=(JWT_SECRET="$SECRET" WRITE_LIMIT_PER_USER=0)
    local admin url n r
    admin=$("$REL/bench-tool" --admin-token "$SECRET")

    # Check-ins, durable: each answer only after its fdatasync (journal) or its commit.
    log "check-ins: the journal build, then PostgreSQL with 1, 2, 3 instances"
    start_instances "$REL/attendance" 1 journal "${att_env[@]}"
    bench_instances "$DURATION" /checkins "${INSTANCE_PORTS[@]}" -- BENCH_MODE=checkin TOKEN="$admin" EVENT=pg
    stop_instances
    local journal_rps=$RPS
    pg_row "\`POST /checkins\`, unique tickets, durable: the journal build" 1 "(the reference)" "–"
    for n in 1 2 3; do
        url=$(fresh_database "checkins_$n")
        start_instances "$PG_REL/attendance" "$n" attendance "${att_env[@]}" DATABASE_URL="$url"
        bench_instances "$DURATION" /checkins "${INSTANCE_PORTS[@]}" -- BENCH_MODE=checkin TOKEN="$admin" EVENT=pg
        stop_instances
        r=$(ratio "$RPS" "$journal_rps")
        if [ "$n" = 3 ]; then
            pg_row "… on PostgreSQL, $n instances" "$n" "≥ 0.5 × the journal build" "$(ge "$r" 0.5)" "$r"
        else
            pg_row "… on PostgreSQL, $n instance$([ "$n" = 1 ] || echo s)" "$n" "(information)" "–" "$r"
        fi
    done

    # Listings of 10,000 records: the journal's, then the same journal copied into PostgreSQL
    # with `attendance migrate-journal`.
    log "listings: 10,000 records, the journal build, then PostgreSQL with 1 and 3 instances"
    mkdir -p "$WORK/pg-list-journal"
    "$REL/bench-tool" --seed-journal "$WORK/pg-list-journal/checkins.jsonl" 10000 1
    url=$(fresh_database listing)
    env -i DATABASE_URL="$url" "$PG_REL/attendance" migrate-journal "$WORK/pg-list-journal" >&2 ||
        die "attendance migrate-journal"
    INSTANCE_PIDS=()
    start "pg-list-journal" "$PG_FIRST_PORT" 20000 "$REL/attendance" "${att_env[@]}" \
        DATA_DIR="$WORK/pg-list-journal"
    INSTANCE_PIDS=("$PID") INSTANCE_PORTS=("$PG_FIRST_PORT")
    grep -q '"total_checkins":10000,' < <(curl -fsS -H "Authorization: Bearer $admin" \
        "http://127.0.0.1:$PG_FIRST_PORT/attendance/event-0?limit=1") || die "the journal's listing"
    bench_instances "$DURATION" /attendance/event-0 "$PG_FIRST_PORT" -- BENCH_MODE=get TOKEN="$admin"
    stop_instances
    local journal_list=$RPS
    pg_row "\`GET /attendance/{id}\`, 10,000 records: the journal build" 1 "(the reference)" "–"
    for n in 1 3; do
        start_instances "$PG_REL/attendance" "$n" attendance "${att_env[@]}" DATABASE_URL="$url"
        grep -q '"total_checkins":10000,' < <(curl -fsS -H "Authorization: Bearer $admin" \
            "http://127.0.0.1:$PG_FIRST_PORT/attendance/event-0?limit=1") ||
            die "the migrated listing on PostgreSQL"
        bench_instances "$DURATION" /attendance/event-0 "${INSTANCE_PORTS[@]}" -- BENCH_MODE=get TOKEN="$admin"
        stop_instances
        pg_row "… on PostgreSQL, $n instance$([ "$n" = 1 ] || echo s)" "$n" "(information)" "–" \
            "$(ratio "$RPS" "$journal_list")"
    done

    # /auth/me: a token checked and its user read (disabled or not) on every request.
    log "/auth/me: the journal build, then PostgreSQL with 1 and 2 identity instances"
    local id_env=(JWT_SECRET="$SECRET" BCRYPT_COST=10 SIGNUP_LIMIT_PER_ADDRESS=0)
    local me_token journal_me
    start_instances "$REL/identity" 1 identity "${id_env[@]}"
    me_token=$(me_token "${INSTANCE_PORTS[0]}")
    bench_instances "$DURATION" /auth/me "${INSTANCE_PORTS[@]}" -- BENCH_MODE=get TOKEN="$me_token"
    stop_instances
    journal_me=$RPS
    pg_row "identity \`GET /auth/me\`: the journal build" 1 "(the reference)" "–"
    url=$(fresh_database identity)
    for n in 1 2; do
        start_instances "$PG_REL/identity" "$n" identity "${id_env[@]}" DATABASE_URL="$url"
        me_token=$(me_token "${INSTANCE_PORTS[0]}")
        bench_instances "$DURATION" /auth/me "${INSTANCE_PORTS[@]}" -- BENCH_MODE=get TOKEN="$me_token"
        stop_instances
        pg_row "… on PostgreSQL, $n instance$([ "$n" = 1 ] || echo s)" "$n" "(information)" "–" \
            "$(ratio "$RPS" "$journal_me")"
    done
    pg_cluster_stop
    # shellcheck disable=SC2034 # bench/run.sh writes it into the report
    PG_NOTE="$PG_VERSION, a cluster of scripts/lib/pg.sh under /tmp (fsync and synchronous_commit on), each instance with its pool of 8 connections"
}

# me_token <identity port>: registers bench-me (once per database) and prints its token.
me_token() {
    curl -s -o /dev/null -H 'Content-Type: application/json' \
        -d '{"username":"bench-me","password":"bench-me-password"}' "http://127.0.0.1:$1/auth/register"
    curl -fsS -H 'Content-Type: application/json' \
        -d '{"username":"bench-me","password":"bench-me-password"}' "http://127.0.0.1:$1/auth/login" |
        sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p'
}
