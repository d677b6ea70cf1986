#!/usr/bin/env bash
# The HTTP load generator of bench/prices_latency's throughput row: Debian's `wrk`
# package (HTTP/1.1, TLS, keep-alive connections, latency percentiles). Prints the
# binary's path on stdout; exit 3 when it cannot be had (no apt-get, no root) - the
# bench then prints why and skips that row.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
if ! command -v wrk >/dev/null 2>&1; then
    if ! command -v apt-get >/dev/null 2>&1; then
        printf 'wrk unavailable: not installed and no apt-get to install it\n' >&2
        exit 3
    fi
    if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then
        printf 'wrk unavailable: not installed and no root to install it\n' >&2
        exit 3
    fi
    say "installing wrk for the throughput bench (Debian package wrk)" >&2
    apt_install wrk >&2
fi
command -v wrk
