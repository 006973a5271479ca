#!/usr/bin/env bash
# Create the project's virtual environment (.venv) and install vecvault with everything the tests,
# notebooks, docs and demo need. Idempotent: reinstalls only when pyproject.toml changed.
#   VECVAULT_VENV    where the venv lives (default: .venv in the checkout)
#   VECVAULT_TORCH   the torch requirement installed first (default: torch==2.13.0, see below)
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
    # torch first, and pinned: the examples extra accepts any torch 2.x, and left to itself pip takes the
    # newest build on the index, for Linux a multi-GB CUDA one. torch==2.13.0 is the CPU build that this
    # project's machines keep as a wheel in pip's find-links, so it installs from disk in seconds; the
    # project install below then keeps it. Elsewhere, name a CPU build, e.g.
    #   VECVAULT_TORCH="torch==2.13.0 --index-url <a CPU-only torch index>" bash scripts/setup.sh
    read -r -a torch_args <<<"${VECVAULT_TORCH:-torch==2.13.0}"
    run "$venv/bin/python" -m pip install --disable-pip-version-check "${torch_args[@]}"
    run "$venv/bin/python" -m pip install --disable-pip-version-check -e ".[all,ann,progress,examples]" --group dev
    touch "$stamp"
fi
