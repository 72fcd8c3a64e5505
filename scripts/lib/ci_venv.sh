# shellcheck shell=bash
# The CI scripts' Python packages (scripts/requirements-ci.txt: schemathesis, prometheus_client)
# in target/ci-venv, installed once and again only when the pins moved (sourced, not run).
#
#   source scripts/lib/ci_venv.sh
#   ensure_ci_venv "$root"      # sets CI_VENV

ensure_ci_venv() {
    local root="$1" pinned
    CI_VENV="$root/target/ci-venv"
    pinned="$(grep -E '^schemathesis==' "$root/scripts/requirements-ci.txt")"
    if ! "$CI_VENV/bin/st" --version 2>/dev/null | grep -qF "version ${pinned#schemathesis==}" ||
        ! "$CI_VENV/bin/python" -c 'import prometheus_client' 2>/dev/null; then
        echo "== installing ${pinned} and prometheus_client into target/ci-venv"
        rm -rf "$CI_VENV"
        python3 -m venv "$CI_VENV"
        "$CI_VENV/bin/pip" install --quiet --disable-pip-version-check -r "$root/scripts/requirements-ci.txt"
    fi
}
