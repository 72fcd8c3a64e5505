# shellcheck shell=bash
# A throwaway PostgreSQL cluster for a test script: Debian's initdb and pg_ctl, a temporary
# directory, a free loopback port, trust authentication for the superuser `tixgo` on 127.0.0.1
# only. As root (CI), the server runs as the `postgres` user, since PostgreSQL refuses root.
# Rust tests that need clusters of their own use testkit::pg instead.
#
#   source scripts/lib/pg.sh
#   pg_cluster_start          # sets PG_ADMIN_URL (the `postgres` database) and PG_DIR
#   ...
#   pg_cluster_stop           # safe to call twice; put it in an EXIT trap

PG_DIR=""
PG_ADMIN_URL=""

# The directory of Debian's server programs (outside PATH), the newest version.
pg_bin_dir() {
    local dir
    if command -v initdb >/dev/null 2>&1; then
        dirname "$(readlink -f "$(command -v initdb)")"
        return
    fi
    for dir in $(find /usr/lib/postgresql -maxdepth 2 -name bin -type d 2>/dev/null | sort -V -r); do
        if [[ -x "$dir/initdb" ]]; then
            echo "$dir"
            return
        fi
    done
    echo "PostgreSQL's server programs are not installed: apt-get install postgresql" >&2
    return 1
}

# Runs a server program, as `postgres` when this runs as root.
pg_as_owner() {
    if [[ "$(id -u)" == 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

pg_cluster_start() {
    local bin port
    bin="$(pg_bin_dir)"
    PG_DIR="$(mktemp -d /tmp/tixgo-pg.XXXXXX)"
    if [[ "$(id -u)" == 0 ]]; then
        chown postgres: "$PG_DIR"
    fi
    port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    pg_as_owner "$bin/initdb" -D "$PG_DIR/data" -U tixgo --auth=trust -E UTF8 --locale=C \
        --no-instructions >"$PG_DIR/initdb.log" 2>&1 || {
        cat "$PG_DIR/initdb.log" >&2
        return 1
    }
    pg_as_owner "$bin/pg_ctl" start -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
        -o "-p $port -c listen_addresses=127.0.0.1 -k $PG_DIR -c max_connections=300" >/dev/null || {
        cat "$PG_DIR/server.log" >&2
        return 1
    }
    PG_ADMIN_URL="postgres://tixgo@127.0.0.1:$port/postgres"
    export PG_ADMIN_URL
}

pg_cluster_stop() {
    if [[ -n "$PG_DIR" && -d "$PG_DIR/data" ]]; then
        pg_as_owner "$(pg_bin_dir)/pg_ctl" stop -D "$PG_DIR/data" -m immediate -w >/dev/null 2>&1 || true
        rm -rf "$PG_DIR"
    fi
    PG_DIR=""
}
