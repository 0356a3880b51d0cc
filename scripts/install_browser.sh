#!/usr/bin/env bash
# Install Debian's chromium for the report's headless-browser test (tests/test_report.py); a no-op when
# `chromium` is already on PATH, so `make test` may call it every run. Installing needs root, or sudo.
# Only chromium's own dependencies come along (its one recommendation, chromium-sandbox, is not needed:
# the test runs --no-sandbox); fonts-dejavu-core, which covers Cyrillic, comes with fontconfig.
set -euo pipefail

bash "$(dirname "$0")/apt_install.sh" chromium chromium

# Debian's launcher script may print a harmless shell warning about /dev/shm on stderr; the version is on stdout.
chromium --version
