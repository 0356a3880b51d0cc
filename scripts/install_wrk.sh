#!/usr/bin/env bash
# Install Debian's wrk (4.1, C) for the scoring service's load points (bench/serve_bench.py); a no-op when
# `wrk` is already on PATH, so `make bench` may call it every run. Installing needs root, or sudo.
# wrk recommends nothing; it depends only on libc, OpenSSL and LuaJIT (which runs the bench's Lua script).
set -euo pipefail

if ! command -v wrk >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
            SUDO="sudo"
        else
            echo "install_wrk.sh: wrk is missing and installing it needs root (no sudo here)" >&2
            exit 1
        fi
    fi
    echo "install_wrk.sh: installing Debian's wrk ..." >&2
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null
fi

# wrk has no --version; its usage banner (on stdout, exit status 1) names the version.
wrk -v 2>&1 | head -n 1 || true
