#!/usr/bin/env bash
# apt_install.sh COMMAND PACKAGE: install Debian's PACKAGE (without its recommendations) unless COMMAND is
# already on PATH; a no-op then, so make may call it every run. Installing needs root, or sudo. Shared by
# install_browser.sh and install_wrk.sh.
set -euo pipefail

command_name=$1 package=$2
if command -v "$command_name" >/dev/null 2>&1; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "apt_install.sh: $command_name is missing and installing $package needs root (no sudo here)" >&2
        exit 1
    fi
fi
echo "apt_install.sh: installing Debian's $package ..." >&2
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$package" >/dev/null
