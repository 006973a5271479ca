#!/usr/bin/env bash
# Run a command against a real, throw-away Secret Service (GNOME Keyring on a private D-Bus session bus).
#
#   bash scripts/with-secret-service.sh .venv/bin/python -m pytest tests/system/test_keychain_secret_service.py -q
#
# Installs nothing. Needs (Debian/Ubuntu): gnome-keyring (gnome-keyring-daemon), dbus-daemon
# (dbus-run-session) and dbus-bin (dbus-send); all come with `apt-get install gnome-keyring dbus`.
# Isolation: HOME and every XDG directory point into a fresh temporary directory that is removed on
# exit, DISPLAY/WAYLAND_DISPLAY are unset (so an unlock prompt fails instead of popping up), and the
# bus lives only as long as the command. The "login" collection (the default alias) is created and
# unlocked with a random password, exported to the command as VECVAULT_SECRET_SERVICE_PASSWORD so tests
# can unlock it again after locking it. The command also gets VECVAULT_SECRET_SERVICE=1.
set -euo pipefail

if [[ $# -eq 0 ]]; then
    echo "usage: $0 COMMAND [ARGS...]" >&2
    exit 2
fi
for tool in dbus-run-session dbus-send gnome-keyring-daemon; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "$0: $tool not found; install it with: apt-get install -y gnome-keyring dbus" >&2
        exit 127
    fi
done

scratch="$(mktemp -d "${TMPDIR:-/tmp}/vecvault-secret-service.XXXXXXXX")"
trap 'rm -rf -- "$scratch"' EXIT
mkdir -m 700 -p "$scratch/home" "$scratch/runtime"

export HOME="$scratch/home"
export XDG_RUNTIME_DIR="$scratch/runtime"
export XDG_DATA_HOME="$HOME/.local/share" XDG_CONFIG_HOME="$HOME/.config" XDG_CACHE_HOME="$HOME/.cache"
unset DISPLAY WAYLAND_DISPLAY GNOME_KEYRING_CONTROL SSH_AUTH_SOCK DBUS_SESSION_BUS_ADDRESS
unset PYTHON_KEYRING_BACKEND
VECVAULT_SECRET_SERVICE_PASSWORD="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
export VECVAULT_SECRET_SERVICE_PASSWORD
export VECVAULT_SECRET_SERVICE=1

# shellcheck disable=SC2016  # expanded by the inner shell
dbus-run-session -- bash -euo pipefail -c '
    # --unlock reads the password from stdin; with a fresh HOME it creates the "login" collection
    # (the "default" alias) with that password. The foreground process prints variables to export.
    eval "$(printf %s "$VECVAULT_SECRET_SERVICE_PASSWORD" \
        | gnome-keyring-daemon --unlock --components=secrets | sed "s/^/export /")"
    for _ in $(seq 50); do
        if dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
            org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null \
            | grep -q "boolean true"; then
            break
        fi
        sleep 0.1
    done
    "$@"
' with-secret-service "$@"
