#!/usr/bin/env bash
# Create the project's virtual environment (.venv) and install vecvault with everything the tests,
# notebooks and demo need. Idempotent: reinstalls only when pyproject.toml changed.
#   VECVAULT_VENV   where the venv lives (default: .venv in the checkout)
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${VECVAULT_VENV:-.venv}"
stamp="$venv/.vecvault-installed"
log="$(mktemp "${TMPDIR:-/tmp}/vecvault-setup.XXXXXX")"
trap 'rm -f "$log"' EXIT

run() {  # run quietly; show the log only when it fails
    if ! "$@" >>"$log" 2>&1; then
        cat "$log" >&2
        echo "setup: failed: $*" >&2
        exit 1
    fi
}

if [[ ! -x "$venv/bin/python" ]]; then
    echo "setup: creating $venv"
    run python3 -m venv "$venv"
fi
if [[ ! -f "$stamp" || pyproject.toml -nt "$stamp" ]]; then
    echo "setup: installing vecvault and its test/example dependencies into $venv (a few minutes the first time)"
    run "$venv/bin/python" -m pip install --disable-pip-version-check --upgrade "pip>=25.1"
    run "$venv/bin/python" -m pip install --disable-pip-version-check -e ".[all,ann,progress,examples]" --group dev
    touch "$stamp"
fi
