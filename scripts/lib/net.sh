# shellcheck shell=bash
# Shared by the CI scripts that start the services and nginx on loopback (sourced, not run).

# free_port: a TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_listening LOG PID: prints the port once LOG has "listening on <addr>", within 20 s.
wait_listening() {
    local log="$1" pid="$2" i addr
    for ((i = 0; i < 200; i++)); do
        addr="$(awk '/listening on/ { print $NF; exit }' "$log" 2>/dev/null)"
        if [[ -n "$addr" ]]; then
            printf '%s\n' "${addr##*:}"
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# ensure_nginx LOG: prints the path of Debian's nginx, installing it first when it is missing
# (apt-get, root only; apt's output in LOG). Fails when it is missing and cannot be installed.
ensure_nginx() {
    local log="$1"
    if ! command -v nginx >/dev/null 2>&1 && [[ ! -x /usr/sbin/nginx ]]; then
        if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
            echo "nginx is not installed, and installing it needs root and apt-get" >"$log"
            return 1
        fi
        echo "installing: nginx" >&2
        timeout 300 apt-get update -qq >"$log" 2>&1 || true
        DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq --no-install-recommends nginx \
            >>"$log" 2>&1 || return 1
    fi
    command -v nginx || echo /usr/sbin/nginx
}
