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
