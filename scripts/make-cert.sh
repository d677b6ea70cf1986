#!/usr/bin/env bash
# make-cert.sh DIR: a self-signed TLS certificate for localhost in DIR/cert.pem and
# DIR/key.pem, unless both already exist. Used by `make up` and by compose's tls service.
set -euo pipefail
dir="${1:?usage: make-cert.sh DIR}"
if [ -s "$dir/cert.pem" ] && [ -s "$dir/key.pem" ]; then
    exit 0
fi
mkdir -p "$dir"
umask 077
openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 825 \
    -keyout "$dir/key.pem" -out "$dir/cert.pem" \
    -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
    -addext "keyUsage=digitalSignature,keyEncipherment" \
    -addext "extendedKeyUsage=serverAuth" 2>/dev/null
chmod 644 "$dir/cert.pem"
echo "created a self-signed certificate for localhost in $dir"
