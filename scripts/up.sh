#!/usr/bin/env bash
# `make up`: installs what is missing, finds or starts PostgreSQL, Redis and RabbitMQ,
# applies migrations, starts every service and nginx under honcho in the background,
# and returns when every /health answers. Idempotent: a running stack is left as it is.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$TICKTIDE_ROOT"

bash scripts/ensure-toolchain.sh

if [ -z "${TICKTIDE_ENV_FILE:-}" ] && [ ! -f .env ]; then
    cp .env.example .env
    say "created .env from .env.example"
fi
load_config

RUN_DIR="$TICKTIDE_RUN_DIR"
LOG_DIR="$RUN_DIR/logs"
PID_FILE="$RUN_DIR/honcho.pid"
HONCHO_LOG="$LOG_DIR/honcho.log"
URL="https://localhost:$TICKTIDE_HTTPS_PORT/"
HEALTH_URLS=(
    "http://127.0.0.1:$GATEWAY_PORT/health"
    "http://127.0.0.1:$INGEST_CRYPTO_PORT/health"
    "http://127.0.0.1:$INGEST_STOCKS_PORT/health"
    "http://127.0.0.1:$INGEST_WEATHER_PORT/health"
    "http://127.0.0.1:$WRITER_PORT/health"
    "http://127.0.0.1:$AUTH_PORT/health"
    "http://127.0.0.1:$WEB_PORT/health"
    "https://localhost:$TICKTIDE_HTTPS_PORT/api/health"
)
[[ "$WORKERS" =~ ^[0-9]+$ ]] && [ "$WORKERS" -ge 1 ] && [ "$WORKERS" -le 64 ] \
    || die "WORKERS=$WORKERS: give a number of backtest workers from 1 to 64"
WORKER_PORTS=()
for ((i = 0; i < WORKERS; i++)); do
    WORKER_PORTS+=("$((BACKTEST_WORKER_PORT + i))")
    HEALTH_URLS+=("http://127.0.0.1:$((BACKTEST_WORKER_PORT + i))/health")
done

wait_healthy() {
    "$VENV_PYTHON" scripts/wait-healthy.py --timeout "$TICKTIDE_UP_TIMEOUT" \
        --watch-pid "$1" --log "$HONCHO_LOG" "${HEALTH_URLS[@]}"
}

# The operator token: a personal API token of the first admin in
# $RUN_DIR/operator-token (0600), which the CLI on this host uses when no other
# credential is given; kept while it is valid, replaced when it is not.
operator_token() {
    local status=0
    "$VENV_PYTHON" -m ticktide_cli.bootstrap operator-token || status=$?
    case "$status" in
        0) ;;
        3) echo "    no admin yet: .venv/bin/ticktide user create --admin NAME (writes the operator token)" ;;
        *) warn "could not write the operator token (the CLI then needs TICKTIDE_TOKEN or ticktide login)" ;;
    esac
}

announce() {
    operator_token
    say "Ticktide is up: $URL"
    echo "    health:  ${URL}api/health"
    echo "    logs:    $HONCHO_LOG"
    echo "    CLI:     .venv/bin/ticktide status"
    echo "    admin:   .venv/bin/ticktide user create --admin NAME   (first account)"
    echo "    stop:    make down"
}

if pid="$(honcho_pid)"; then
    say "already running (honcho pid $pid); checking health"
    wait_healthy "$pid" || die "the running stack is not healthy; see $HONCHO_LOG (make down; make up)"
    announce
    exit 0
fi

bash scripts/ensure-services.sh

ensure_nginx() {
    NGINX_BIN="$(command -v nginx || true)"
    [ -n "$NGINX_BIN" ] || { [ -x /usr/sbin/nginx ] && NGINX_BIN=/usr/sbin/nginx; } || true
    if [ -z "$NGINX_BIN" ]; then
        say "installing nginx from the distribution's packages"
        apt_install nginx
        NGINX_BIN=/usr/sbin/nginx
    fi
    export NGINX_BIN
}
ensure_nginx
# pgAdmin 4 for admins at /pgadmin/ (issue 15): its own environment under the run
# directory; PGADMIN=0 leaves it out (and /pgadmin/ is then the site's 404).
PROCESSES=(gateway auth ingest-crypto ingest-stocks ingest-weather writer web backtest-worker nginx)
if [ "$PGADMIN" != 0 ]; then
    PGADMIN_HOME="$(bash scripts/ensure-pgadmin.sh)"
    export PGADMIN_HOME
    PROCESSES+=(pgadmin)
    HEALTH_URLS+=("plain+http://127.0.0.1:$PGADMIN_PORT/pgadmin/misc/ping")
fi
command -v openssl >/dev/null 2>&1 || { say "installing openssl"; apt_install openssl; }

mkdir -p "$LOG_DIR" "$RUN_DIR/nginx/tmp" "$RUN_DIR/tls"
bash scripts/make-cert.sh "$RUN_DIR/tls"

# The proxy secret (TICKTIDE_PROXY_SECRET): nginx sends it to the gateway, the
# gateway to auth and web, web back to the gateway; only a request carrying it may
# name its client in X-Forwarded-For. Unless given, made once per run directory,
# readable by this user only; never printed. honcho's services inherit it.
if [ -z "${TICKTIDE_PROXY_SECRET:-}" ]; then
    secret_file="$RUN_DIR/proxy-secret"
    if [ ! -s "$secret_file" ]; then
        (umask 077 && python3 -c 'import secrets; print(secrets.token_hex(32))' > "$secret_file")
    fi
    TICKTIDE_PROXY_SECRET="$(< "$secret_file")"
fi
export TICKTIDE_PROXY_SECRET

listen() {  # listen PORT [ssl]: IPv4 and, where the kernel has it, IPv6
    local directive="listen $1${2:+ $2};"
    if [ -f /proc/net/if_inet6 ]; then
        directive="$directive listen [::]:$1${2:+ $2};"
    fi
    echo "$directive"
}
# Workers of an instance started as root run as root: the run directory may be a
# private one (a test's temporary directory) that an unprivileged worker cannot enter.
user_directive=""
[ "$(id -u)" -eq 0 ] && user_directive="user root;"
pgadmin_locations=""
if [ "$PGADMIN" != 0 ]; then
    pgadmin_locations="$(python3 scripts/render-nginx.py nginx/pgadmin.locations.template - \
        "PGADMIN_UPSTREAM=127.0.0.1:$PGADMIN_PORT" \
        "PGADMIN_SECRET=$(< "$RUN_DIR/pgadmin/webserver-secret")" \
        "PROXY_SECRET=$TICKTIDE_PROXY_SECRET")"
fi
python3 scripts/render-nginx.py nginx/ticktide.conf.template "$RUN_DIR/nginx/nginx.conf" \
    "USER_DIRECTIVE=$user_directive" \
    "PID_FILE=$RUN_DIR/nginx/nginx.pid" \
    "ERROR_LOG=stderr" \
    "ACCESS_LOG=$LOG_DIR/nginx-access.log" \
    "TEMP_DIR=$RUN_DIR/nginx/tmp" \
    "GATEWAY_UPSTREAM=127.0.0.1:$GATEWAY_PORT" \
    "LISTEN_HTTP=$(listen "$TICKTIDE_HTTP_PORT")" \
    "LISTEN_HTTPS=$(listen "$TICKTIDE_HTTPS_PORT" "ssl http2")" \
    "HTTPS_PORT=$TICKTIDE_HTTPS_PORT" \
    "TLS_CERT=$RUN_DIR/tls/cert.pem" \
    "TLS_KEY=$RUN_DIR/tls/key.pem" \
    "PROXY_SECRET=$TICKTIDE_PROXY_SECRET" \
    "PGADMIN_LOCATIONS=$pgadmin_locations"
"$NGINX_BIN" -q -t -p "$RUN_DIR/nginx" -c "$RUN_DIR/nginx/nginx.conf" -e stderr \
    || die "nginx rejects $RUN_DIR/nginx/nginx.conf"

bash scripts/migrate.sh

port_vars=(GATEWAY_PORT INGEST_CRYPTO_PORT INGEST_STOCKS_PORT INGEST_WEATHER_PORT WRITER_PORT AUTH_PORT WEB_PORT TICKTIDE_HTTPS_PORT TICKTIDE_HTTP_PORT)
[ "$PGADMIN" != 0 ] && port_vars+=(PGADMIN_PORT)
for var in "${port_vars[@]}"; do
    if port_open 127.0.0.1 "${!var}"; then
        die "port ${!var} ($var) is taken: by leftovers of an earlier make up (run make down) or by another program (stop it, or set $var in .env)"
    fi
done
for port in "${WORKER_PORTS[@]}"; do
    if port_open 127.0.0.1 "$port"; then
        die "port $port (a backtest worker's: BACKTEST_WORKER_PORT + i) is taken: run make down, or set BACKTEST_WORKER_PORT in .env"
    fi
done

say "starting the services under honcho ($WORKERS backtest workers)"
: > "$HONCHO_LOG"
# Own session: `make down` stops the whole tree, and closing this terminal does not.
PYTHONUNBUFFERED=1 setsid nohup .venv/bin/honcho start -f Procfile -e /dev/null -c "backtest-worker=$WORKERS" \
    "${PROCESSES[@]}" >> "$HONCHO_LOG" 2>&1 < /dev/null &
pid=$!
echo "$pid" > "$PID_FILE"

if ! wait_healthy "$pid"; then
    bash scripts/down.sh >/dev/null 2>&1 || true
    die "the stack did not become healthy; see $HONCHO_LOG"
fi
announce
