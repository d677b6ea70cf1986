#!/usr/bin/env bash
# Renders nginx/compose.conf (nginx of compose.yaml: 443/80, upstream gateway:8100)
# from the same templates as the local instance (pgAdmin's locations included: compose
# always runs it). The secrets stay ${TICKTIDE_PROXY_SECRET} and ${TICKTIDE_PGADMIN_SECRET}
# placeholders: compose's nginx mounts the file as a template
# that its entrypoint fills from the environment (envsubst) at start. `make nginx-compose`; prints to stdout
# with --stdout (the e2e tests compare that with the committed file).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$TICKTIDE_ROOT"
render() {
    local pgadmin
    pgadmin="$(python3 scripts/render-nginx.py nginx/pgadmin.locations.template - \
        "PGADMIN_UPSTREAM=pgadmin:80" \
        "PGADMIN_SECRET=\${TICKTIDE_PGADMIN_SECRET}" \
        "PROXY_SECRET=\${TICKTIDE_PROXY_SECRET}")"
    echo '# GENERATED from nginx/ticktide.conf.template for compose.yaml by `make nginx-compose`; do not edit.'
    python3 scripts/render-nginx.py nginx/ticktide.conf.template - \
        "USER_DIRECTIVE=user nginx;" \
        "PID_FILE=/var/run/nginx.pid" \
        "ERROR_LOG=stderr" \
        "ACCESS_LOG=/dev/stdout" \
        "TEMP_DIR=/var/cache/nginx" \
        "GATEWAY_UPSTREAM=gateway:8100" \
        "LISTEN_HTTP=listen 80; listen [::]:80;" \
        "LISTEN_HTTPS=listen 443 ssl http2; listen [::]:443 ssl http2;" \
        "HTTPS_PORT=443" \
        "TLS_CERT=/etc/nginx/tls/cert.pem" \
        "TLS_KEY=/etc/nginx/tls/key.pem" \
        "PROXY_SECRET=\${TICKTIDE_PROXY_SECRET}" \
        "PGADMIN_LOCATIONS=$pgadmin"
}
if [ "${1:-}" = --stdout ]; then
    render
else
    render > nginx/compose.conf
    say "wrote nginx/compose.conf"
fi
