#!/usr/bin/env bash
# Install Debian's chromium for the report's headless-browser test (tests/test_report.py); a no-op when
# `chromium` is already on PATH, so `make test` may call it every run. Installing needs root, or sudo.
# Only chromium's own dependencies come along (its one recommendation, chromium-sandbox, is not needed:
# the test runs --no-sandbox); fonts-dejavu-core, which covers Cyrillic, comes with fontconfig.
set -euo pipefail

if ! command -v chromium >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
            SUDO="sudo"
        else
            echo "install_browser.sh: chromium is missing and installing it needs root (no sudo here)" >&2
            exit 1
        fi
    fi
    echo "install_browser.sh: installing Debian's chromium ..." >&2
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi

# Debian's launcher script may print a harmless shell warning about /dev/shm on stderr; the version is on stdout.
chromium --version
