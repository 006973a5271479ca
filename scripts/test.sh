#!/usr/bin/env bash
# Run the whole test suite: lint, the docs build, the dependency-bounds runs (scripts/test-bounds.sh), then
# unit, property, integration, remote (a real sqld), the real OS keychain (GNOME Keyring's Secret Service on
# a private D-Bus session) and the notebooks. Sets everything up first.
# Extra arguments go to pytest, e.g.  ./scripts/test.sh -k filters -x
#   ./scripts/test.sh --fast    the fast lane (under a minute once set up): lint, mypy and the unit tests
#                               (tests/core, tests/adapters, tests/upstream; no tests/system: server,
#                               keychain, subprocess, notebook, docs build or bounds runs)
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${VECVAULT_VENV:-.venv}"
if [[ "${1:-}" == "--fast" ]]; then
    shift
    bash scripts/setup.sh
    "$venv/bin/ruff" check --quiet core integrations tests benchmarks scripts examples
    "$venv/bin/mypy" --no-error-summary
    exec "$venv/bin/python" -m pytest -q tests/core tests/adapters tests/upstream \
        -m "not slow and not multiprocess and not remote and not keychain" "$@"
fi

bash scripts/setup.sh
bash scripts/install-system-deps.sh
bash scripts/install-sqld.sh

pytest_cmd=("$venv/bin/python" -m pytest --nbmake tests notebooks "$@")

echo "lint: ruff and mypy"
"$venv/bin/ruff" check --quiet core integrations tests benchmarks scripts examples
"$venv/bin/mypy" --no-error-summary  # strict, on the core and both adapters, for the lowest supported Python

echo "docs: mkdocs build --strict (the API reference from the docstrings; warnings are errors)"
site="$(mktemp -d "${TMPDIR:-/tmp}/vecvault-site.XXXXXX")"
NO_MKDOCS_2_WARNING=1 "$venv/bin/mkdocs" build --strict --quiet --site-dir "$site"
rm -rf "$site"

echo "bounds: the fast unit tests at the lowest and the latest allowed dependency versions"
VECVAULT_VENV="$venv" bash scripts/test-bounds.sh

if command -v dbus-run-session >/dev/null && command -v gnome-keyring-daemon >/dev/null; then
    exec bash scripts/with-secret-service.sh "${pytest_cmd[@]}"
fi
echo "note: gnome-keyring or dbus is missing, so the real-keychain tests will be skipped" \
     "(install them with: apt-get install gnome-keyring dbus dbus-user-session)"
exec "${pytest_cmd[@]}"
