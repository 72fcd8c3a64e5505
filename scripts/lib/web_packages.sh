# shellcheck shell=bash
# Shared by the scripts that build the attendance binary or run the browser tests (sourced, not
# run, from the repository's root): the gate page's npm packages, which the attendance build
# embeds (the QR decoder, attendance/build.rs) and the browser tests drive Chromium with.

# web_packages_current: whether attendance/web/node_modules holds every package the page and its
# tests need, installed from the lockfile as it is now.
web_packages_current() {
    local web=attendance/web package
    [ -f "$web/node_modules/.package-lock.json" ] || return 1
    [ "$web/package-lock.json" -nt "$web/node_modules/.package-lock.json" ] && return 1
    for package in jsqr playwright-core axe-core; do
        [ -f "$web/node_modules/$package/package.json" ] || return 1
    done
}

# ensure_web_packages WHO: `npm ci` in attendance/web unless web_packages_current; without npm,
# says so (as WHO) and exits 2.
ensure_web_packages() {
    web_packages_current && return 0
    if ! command -v npm >/dev/null 2>&1; then
        echo "$1: the gate page needs npm (Node.js 20 or later), to install its QR decoder and test tools" >&2
        exit 2
    fi
    timeout 600 npm ci --prefix attendance/web --no-audit --no-fund
}
