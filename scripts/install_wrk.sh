#!/usr/bin/env bash
# Install Debian's wrk (4.1, C) for the scoring service's load points (bench/serve_bench.py); a no-op when
# `wrk` is already on PATH, so `make bench` may call it every run. Installing needs root, or sudo.
# wrk recommends nothing; it depends only on libc, OpenSSL and LuaJIT (which runs the bench's Lua script).
set -euo pipefail

bash "$(dirname "$0")/apt_install.sh" wrk wrk

# wrk has no --version; its usage banner (on stdout, exit status 1) names the version.
wrk -v 2>&1 | head -n 1 || true
