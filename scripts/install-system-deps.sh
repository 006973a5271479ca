#!/usr/bin/env bash
# Debian packages the real-keychain tests use (GNOME Keyring's Secret Service and a D-Bus session bus).
# Installs them only when missing and when running as root with apt-get; otherwise says what to install.
set -euo pipefail
packages=(gnome-keyring dbus dbus-user-session)
if command -v gnome-keyring-daemon >/dev/null && command -v dbus-run-session >/dev/null; then
    exit 0
fi
if [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "setup: installing ${packages[*]} (Debian) for the real-keychain tests"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
else
    echo "note: to run the real-keychain tests, install: ${packages[*]}" >&2
fi
