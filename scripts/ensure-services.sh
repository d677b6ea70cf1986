#!/usr/bin/env bash
# PostgreSQL, Redis and RabbitMQ: use what answers on the configured (standard local)
# ports; else start them with a running Docker engine; else install them from the
# distribution's packages and start them. Returns when all three answer.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
load_config

POSTGRES_IMAGE="${TICKTIDE_POSTGRES_IMAGE:-timescale/timescaledb:2.28.3-pg15}"
REDIS_IMAGE="${TICKTIDE_REDIS_IMAGE:-redis:7}"
RABBITMQ_IMAGE="${TICKTIDE_RABBITMQ_IMAGE:-rabbitmq:3-management}"

is_local() { [ "$1" = 127.0.0.1 ] || [ "$1" = ::1 ]; }

docker_engine() { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; }

# docker_service NAME IMAGE HOST_PORT CONTAINER_PORT [docker-run args...]: start our container.
docker_service() {
    local name="ticktide-$1" image="$2" port="$3" inner="$4"
    shift 4
    if docker container inspect "$name" >/dev/null 2>&1; then
        say "starting container $name"
        docker start "$name" >/dev/null
    else
        say "starting $image as container $name"
        docker run -d --name "$name" --restart unless-stopped -p "127.0.0.1:$port:$inner" \
            "$@" "$image" >/dev/null
    fi
}

postgres_version() { ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1; }

# Loopback connections as any role without a password, as DATABASE_URL's default
# expects; only done on a server this script installed itself.
postgres_trust_loopback() {
    local version="$1" hba="/etc/postgresql/$1/main/pg_hba.conf"
    grep -q '# ticktide: loopback trust' "$hba" 2>/dev/null && return 0
    say "PostgreSQL $version: trusting loopback connections (local development server)"
    local tmp
    tmp="$(mktemp)"
    {
        echo '# ticktide: loopback trust (added by scripts/ensure-services.sh)'
        echo 'local   all   postgres                 trust'
        echo 'host    all   all        127.0.0.1/32  trust'
        echo 'host    all   all        ::1/128       trust'
        cat "$hba"
    } > "$tmp"
    as_root cp "$tmp" "$hba"
    rm -f "$tmp"
}

start_postgres_package() {
    if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ -z "$(postgres_version)" ]; then
        say "installing PostgreSQL from the distribution's packages"
        apt_install postgresql
        postgres_trust_loopback "$(postgres_version)"
    fi
    local version
    version="$(postgres_version)"
    [ -n "$version" ] || die "PostgreSQL is installed but has no cluster in /etc/postgresql"
    if [ ! -d "/etc/postgresql/$version/main" ]; then
        as_root pg_createcluster "$version" main >/dev/null
        postgres_trust_loopback "$version"
    fi
    say "starting PostgreSQL $version"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
}

start_redis_package() {
    if ! command -v redis-server >/dev/null 2>&1; then
        say "installing Redis from the distribution's packages"
        apt_install redis-server
    fi
    say "starting Redis"
    local dir=/var/lib/redis log=/var/log/redis/ticktide.log
    as_root mkdir -p "$dir" /var/log/redis
    as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$1" --dir "$dir" \
        --logfile "$log"
}

start_rabbitmq_package() {
    if ! command -v rabbitmq-server >/dev/null 2>&1; then
        say "installing RabbitMQ from the distribution's packages"
        apt_install rabbitmq-server
    fi
    say "starting RabbitMQ"
    # Every quorum queue holds file handles; at the default of 1024 a few hundred queues
    # leave none for new connections, which then hang in the AMQP handshake (seen here
    # with ~330 queues of concurrent test runs). rabbitmq-server switches to the
    # rabbitmq user with su, whose PAM session takes its limits from limits.d.
    if [ ! -f /etc/security/limits.d/rabbitmq.conf ] && [ -d /etc/security/limits.d ]; then
        printf 'rabbitmq soft nofile 20000\nrabbitmq hard nofile 20000\n' \
            | as_root tee /etc/security/limits.d/rabbitmq.conf >/dev/null || true
    fi
    as_root rabbitmq-server -detached
}

# ensure NAME URL DEFAULT_PORT: nothing to do when it answers; else start it.
ensure() {
    local name="$1" host port
    read -r host port < <(url_host_port "$2" "$3")
    if port_open "$host" "$port"; then
        return 0
    fi
    if ! is_local "$host"; then
        say "waiting for $name on $host:$port (not a local server; not starting one)"
        wait_port "$name" "$host" "$port" 60
        return 0
    fi
    if docker_engine; then
        case "$name" in
            PostgreSQL) docker_service postgres "$POSTGRES_IMAGE" "$port" 5432 \
                -e POSTGRES_HOST_AUTH_METHOD=trust -v ticktide-pgdata:/var/lib/postgresql/data ;;
            Redis) docker_service redis "$REDIS_IMAGE" "$port" 6379 ;;
            RabbitMQ) docker_service rabbitmq "$RABBITMQ_IMAGE" "$port" 5672 ;;
        esac
    else
        case "$name" in
            PostgreSQL) start_postgres_package ;;
            Redis) start_redis_package "$port" ;;
            RabbitMQ) start_rabbitmq_package ;;
        esac
    fi
    wait_port "$name" "$host" "$port" 90
    say "$name answers on $host:$port"
}

# amqp_answers HOST PORT: the broker answers the AMQP 0-9-1 protocol header with a
# frame (a wedged broker accepts the TCP connection and then says nothing).
amqp_answers() {
    timeout 15 bash -c 'exec 3<>"/dev/tcp/$0/$1" && printf "AMQP\x00\x00\x09\x01" >&3 &&
        head -c 1 <&3 | od -An -tx1' "$1" "$2" 2>/dev/null | grep -q 01
}

ensure PostgreSQL "$DATABASE_URL" 5432
ensure Redis "$REDIS_URL" 6379
ensure RabbitMQ "$AMQP_URL" 5672
read -r amqp_host amqp_port < <(url_host_port "$AMQP_URL" 5672)
amqp_answers "$amqp_host" "$amqp_port" \
    || die "RabbitMQ on $amqp_host:$amqp_port accepts connections but does not answer the AMQP handshake within 15 s (a wedged broker; often out of file handles for sockets: 'rabbitmqctl list_queues name consumers' shows queues left by killed test runs, whose prefix starts with tt, to delete with 'rabbitmqctl delete_queue'): restart it, e.g. 'sudo /etc/init.d/rabbitmq-server restart' or 'docker restart ticktide-rabbitmq'"
