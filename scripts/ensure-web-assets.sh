#!/usr/bin/env bash
# The web service's front-end libraries and built static folder: Node.js and npm
# (Debian's packages where node is missing), `npm ci` from services/web/package-lock.json
# when node_modules does not match the lock, then `python -m ticktide_web.assets`
# (hashed file names, gzip copies, manifest). Idempotent; quiet when up to date.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
WEB_DIR="$TICKTIDE_ROOT/services/web"

if ! command -v npm >/dev/null 2>&1; then
    say "installing Node.js and npm from the distribution's packages"
    apt_install nodejs npm
fi

lock_sum="$(sha256sum "$WEB_DIR/package-lock.json" | awk '{print $1}')"
stamp="$WEB_DIR/node_modules/.ticktide-lock.sha256"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_sum" ]; then
    say "installing the web service's front-end libraries (npm ci)"
    (cd "$WEB_DIR" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) \
        || die "npm ci failed in $WEB_DIR"
    echo "$lock_sum" > "$stamp"
fi

# Rebuilt every time: it takes well under a second and follows any edit of static/.
"$VENV_PYTHON" -m ticktide_web.assets >/dev/null || die "building the web service's static files failed"
