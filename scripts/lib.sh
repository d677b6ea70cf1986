# shellcheck shell=bash
# Shared helpers of the Ticktide launcher scripts: repository root, configuration
# (environment first, then .env, then defaults), port probes and messages.
# Sourced, never run. Probes use bash's /dev/tcp so that nothing beyond bash is needed.

TICKTIDE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export TICKTIDE_ROOT

UV_VERSION="0.9.30"

say() { printf '==> %s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# as_root CMD...: run as root (directly, or through sudo when we are not root).
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo "$@"
    else die "need root to run: $*"
    fi
}

_apt_updated=""
# apt_install PKG...: install Debian packages, without starting their system services.
apt_install() {
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install $* yourself"
    if [ -z "$_apt_updated" ]; then
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        _apt_updated=1
    fi
    # RUNLEVEL=1: invoke-rc.d does not start the packages' system services;
    # the launcher starts what it needs itself.
    as_root env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 \
        apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# port_open HOST PORT: true when something accepts TCP connections there.
port_open() {
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

# wait_port NAME HOST PORT SECONDS
wait_port() {
    local name="$1" host="$2" port="$3" seconds="$4" waited=0
    until port_open "$host" "$port"; do
        if [ "$waited" -ge "$seconds" ]; then
            die "$name does not answer on $host:$port after ${seconds}s"
        fi
        sleep 1
        waited=$((waited + 1))
    done
}

# load_config: export the configuration; a variable already in the environment
# wins over .env, .env wins over the defaults below.
load_config() {
    local env_file="${TICKTIDE_ENV_FILE:-$TICKTIDE_ROOT/.env}" line key value
    if [ -f "$env_file" ]; then
        while IFS= read -r line || [ -n "$line" ]; do
            line="${line%$'\r'}"
            [[ "$line" =~ ^[[:space:]]*(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] || continue
            key="${BASH_REMATCH[2]}"
            value="${BASH_REMATCH[3]}"
            if [[ "$value" =~ ^\"(.*)\"$ ]] || [[ "$value" =~ ^\'(.*)\'$ ]]; then
                value="${BASH_REMATCH[1]}"
            fi
            if [ -z "${!key+set}" ]; then
                export "$key=$value"
            fi
        done < "$env_file"
    fi
    : "${DATABASE_URL:=postgresql://postgres@127.0.0.1:5432/ticktide}"
    : "${REDIS_URL:=redis://127.0.0.1:6379/0}"
    : "${AMQP_URL:=amqp://guest:guest@127.0.0.1:5672/}"
    : "${TICKTIDE_HTTPS_PORT:=8443}"
    : "${TICKTIDE_HTTP_PORT:=8080}"
    : "${GATEWAY_PORT:=8100}"
    : "${INGEST_CRYPTO_PORT:=8101}"
    : "${WRITER_PORT:=8102}"
    : "${AUTH_PORT:=8103}"
    : "${INGEST_STOCKS_PORT:=8104}"
    : "${INGEST_WEATHER_PORT:=8105}"
    : "${WEB_PORT:=8106}"
    : "${BACKTEST_WORKER_PORT:=8110}"  # worker i (of WORKERS) listens on this + i
    : "${WORKERS:=2}"
    : "${PGADMIN:=1}"  # 0: make up leaves pgAdmin out (and /pgadmin/ is a 404)
    : "${PGADMIN_PORT:=8107}"  # pgAdmin's own port, on 127.0.0.1 only (nginx's /pgadmin/)
    : "${INGEST_CRYPTO_URL:=http://127.0.0.1:$INGEST_CRYPTO_PORT}"
    : "${WRITER_URL:=http://127.0.0.1:$WRITER_PORT}"
    : "${AUTH_URL:=http://127.0.0.1:$AUTH_PORT}"
    : "${INGEST_STOCKS_URL:=http://127.0.0.1:$INGEST_STOCKS_PORT}"
    : "${INGEST_WEATHER_URL:=http://127.0.0.1:$INGEST_WEATHER_PORT}"
    : "${WEB_URL:=http://127.0.0.1:$WEB_PORT}"
    : "${GATEWAY_URL:=http://127.0.0.1:$GATEWAY_PORT}"
    # Where the gateway probes pgAdmin for the services page ("" with PGADMIN=0: no row).
    if [ "$PGADMIN" != 0 ]; then
        : "${PGADMIN_URL:=http://127.0.0.1:$PGADMIN_PORT/pgadmin}"
    else
        PGADMIN_URL=""
    fi
    : "${TICKTIDE_RUN_DIR:=$TICKTIDE_ROOT/.run}"
    : "${TICKTIDE_UP_TIMEOUT:=120}"
    mkdir -p "$TICKTIDE_RUN_DIR"
    TICKTIDE_RUN_DIR="$(cd "$TICKTIDE_RUN_DIR" && pwd)"
    export DATABASE_URL REDIS_URL AMQP_URL TICKTIDE_HTTPS_PORT TICKTIDE_HTTP_PORT GATEWAY_PORT \
        INGEST_CRYPTO_PORT WRITER_PORT AUTH_PORT INGEST_CRYPTO_URL WRITER_URL AUTH_URL \
        INGEST_STOCKS_PORT INGEST_WEATHER_PORT INGEST_STOCKS_URL INGEST_WEATHER_URL \
        BACKTEST_WORKER_PORT WORKERS TICKTIDE_RUN_DIR WEB_PORT WEB_URL GATEWAY_URL \
        TICKTIDE_UP_TIMEOUT PGADMIN PGADMIN_PORT PGADMIN_URL
}

# url_host_port URL DEFAULT_PORT: prints "HOST PORT" of a service URL.
url_host_port() {
    local rest="${1#*://}"
    rest="${rest##*@}"
    rest="${rest%%/*}"
    rest="${rest%%\?*}"
    local host="${rest%:*}" port="${rest##*:}"
    if [ "$host" = "$rest" ] || [ -z "$port" ] || [[ ! "$port" =~ ^[0-9]+$ ]]; then
        host="$rest"
        port="$2"
    fi
    [ -n "$host" ] || host=127.0.0.1
    [ "$host" = localhost ] && host=127.0.0.1
    printf '%s %s\n' "$host" "$port"
}

# uv_bin: the uv to use (on PATH, or as a module of the Python that pip installed it into).
uv_bin() {
    if command -v uv >/dev/null 2>&1; then
        echo uv
    elif python3 -m uv --version >/dev/null 2>&1; then
        echo "python3 -m uv"
    else
        return 1
    fi
}

VENV_PYTHON="$TICKTIDE_ROOT/.venv/bin/python"

# honcho_pid: the pid of our running process manager, or nothing.
honcho_pid() {
    local pid_file="$TICKTIDE_RUN_DIR/honcho.pid" pid
    [ -f "$pid_file" ] || return 1
    pid="$(cat "$pid_file")"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    # A stale pid file may name a pid that another program reuses now.
    grep -q honcho "/proc/$pid/cmdline" 2>/dev/null || return 1
    echo "$pid"
}
