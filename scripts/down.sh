#!/usr/bin/env bash
# `make down`: stops what `make up` started (honcho and its processes). PostgreSQL,
# Redis, RabbitMQ and every piece of data are left alone.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
load_config

PID_FILE="$TICKTIDE_RUN_DIR/honcho.pid"
HONCHO_LOG="$TICKTIDE_RUN_DIR/logs/honcho.log"

# honcho starts each process in its own session; their pids are in its log.
child_pids() {
    [ -f "$HONCHO_LOG" ] || return 0
    sed -n 's/.* started (pid=\([0-9][0-9]*\)).*/\1/p' "$HONCHO_LOG"
}

wait_gone() {  # wait_gone SECONDS PID...: true when all have exited
    local seconds="$1" waited=0 pid alive
    shift
    while :; do
        alive=""
        for pid in "$@"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [ -z "$alive" ] && return 0
        [ "$waited" -ge $((seconds * 5)) ] && return 1
        sleep 0.2
        waited=$((waited + 1))
    done
}

if pid="$(honcho_pid)"; then
    say "stopping Ticktide (honcho pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    # honcho gives its processes 5 s to drain, then kills them.
    if ! wait_gone 20 "$pid"; then
        warn "honcho did not stop in 20s; killing it"
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
else
    say "Ticktide is not running"
fi

# Whatever outlived honcho (it was killed, or a process ignored it): stop it by group.
leftovers=()
for child in $(child_pids); do
    # Only ours: a pid from an old log may belong to another program by now.
    if kill -0 "$child" 2>/dev/null \
        && grep -qaE 'ticktide_|nginx' "/proc/$child/cmdline" 2>/dev/null; then
        leftovers+=("$child")
    fi
done
if [ "${#leftovers[@]}" -gt 0 ]; then
    warn "stopping leftover processes ${leftovers[*]}"
    for child in "${leftovers[@]}"; do kill -TERM -- "-$child" 2>/dev/null || true; done
    if ! wait_gone 10 "${leftovers[@]}"; then
        for child in "${leftovers[@]}"; do kill -KILL -- "-$child" 2>/dev/null || true; done
    fi
fi
rm -f "$PID_FILE"
