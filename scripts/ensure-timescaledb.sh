#!/usr/bin/env bash
# ensure-timescaledb.sh [preloaded|not-preloaded]: a private PostgreSQL 15 cluster
# with the prebuilt TimescaleDB of ../shared/timescaledb, started if it is not running,
# for the TimescaleDB leg of `make test` (preloaded) and for the half-installed case
# (the extension's files present, the library not preloaded).
#
# The machine's own PostgreSQL is left untouched: its binaries and shared files are
# copied under one prefix (they find their libraries relative to themselves), the
# extension is installed into that copy only, and each cluster has its own data
# directory and port under TIMESCALEDB_HOME. Idempotent and safe to run from two test
# runs at once (a lock); the clusters are shared by the runs of this machine like the
# machine's own PostgreSQL (each run makes its own database).
#
# Prints the admin DSN on stdout. Exit 3: TimescaleDB cannot be had here (no build
# folder, no PostgreSQL 15, not amd64) - the caller skips the leg with a notice.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mode="${1:-preloaded}"
case "$mode" in
    preloaded) port="${TIMESCALEDB_TEST_PORT:-55432}" ;;
    not-preloaded) port="${TIMESCALEDB_HALF_PORT:-55433}" ;;
    *) die "usage: ensure-timescaledb.sh [preloaded|not-preloaded]" ;;
esac
home="${TIMESCALEDB_HOME:-/var/tmp/ticktide-timescaledb}"
dsn="postgresql://postgres@127.0.0.1:${port}/postgres"

unavailable() { printf 'timescaledb unavailable: %s\n' "$*" >&2; exit 3; }

build=""
# TIMESCALEDB_BUILD_DIR, when set, is the only place looked at (so a run can also ask
# for the leg to be skipped: TIMESCALEDB_BUILD_DIR=none).
candidates=("$TICKTIDE_ROOT/../shared/timescaledb" /work/shared/timescaledb)
[ -z "${TIMESCALEDB_BUILD_DIR:-}" ] || candidates=("$TIMESCALEDB_BUILD_DIR")
for candidate in "${candidates[@]}"; do
    if [ -n "$candidate" ] && [ -f "$candidate/install.sh" ]; then
        build="$(cd "$candidate" && pwd)"
        break
    fi
done
[ -n "$build" ] || unavailable "no TimescaleDB build folder (../shared/timescaledb)"
[ -x /usr/lib/postgresql/15/bin/pg_ctl ] || unavailable "PostgreSQL 15 server binaries not found"
[ "$(uname -m)" = "x86_64" ] || unavailable "the prebuilt TimescaleDB is for amd64"

# Already answering: nothing to do.
if port_open 127.0.0.1 "$port"; then
    echo "$dsn"
    exit 0
fi

# The server refuses to run as root: the clusters belong to `postgres` when we are root.
run_pg() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

mkdir -p "$home"
exec 9>"$home/.lock"
flock 9

prefix="$home/prefix"
stamp="$(/usr/lib/postgresql/15/bin/pg_config --version) $(sha256sum "$build"/lib/*.so | sha256sum | cut -c1-16)"
if [ "$(cat "$prefix/.stamp" 2>/dev/null || true)" != "$stamp" ]; then
    say "timescaledb: copying PostgreSQL 15 under $prefix and installing TimescaleDB there" >&2
    rm -rf "$prefix"
    mkdir -p "$prefix/usr/lib/postgresql" "$prefix/usr/share/postgresql"
    cp -a /usr/lib/postgresql/15 "$prefix/usr/lib/postgresql/"
    cp -a /usr/share/postgresql/15 "$prefix/usr/share/postgresql/"
    PG_CONFIG="$prefix/usr/lib/postgresql/15/bin/pg_config" sh "$build/install.sh" >&2
    echo "$stamp" > "$prefix/.stamp"
fi
bin="$prefix/usr/lib/postgresql/15/bin"

data="$home/$mode"
if [ ! -f "$data/PG_VERSION" ]; then
    say "timescaledb: initdb $data (port $port, $mode)" >&2
    rm -rf "$data"
    mkdir -p "$data"
    [ "$(id -u)" -ne 0 ] || chown postgres "$home" "$data"
    (cd / && run_pg "$bin/initdb" -D "$data" -A trust -U postgres --no-sync >/dev/null)
    {
        echo "port = $port"
        echo "listen_addresses = '127.0.0.1'"
        echo "unix_socket_directories = '$data'"
        echo "max_connections = 300"
        echo "max_worker_processes = 16"
        echo "timescaledb.telemetry_level = off"
        # A test cluster: nothing here must survive a power cut.
        echo "fsync = off"
        echo "synchronous_commit = off"
        echo "full_page_writes = off"
        if [ "$mode" = "preloaded" ]; then
            echo "shared_preload_libraries = 'timescaledb'"
        fi
    } >> "$data/postgresql.conf"
    [ "$(id -u)" -ne 0 ] || chown postgres "$data/postgresql.conf"
fi
# The server must not inherit the lock (fd 9) nor our stdout/stderr: it outlives us.
(cd / && run_pg "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 start \
    </dev/null >/dev/null 2>&1 9>&-) \
    || { tail -20 "$data/server.log" >&2; die "the $mode TimescaleDB cluster did not start"; }
echo "$dsn"
