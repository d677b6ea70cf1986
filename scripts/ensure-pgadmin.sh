#!/usr/bin/env bash
# Installs pgAdmin 4 for `make up` (issue 15): the versions pinned with hashes in
# pgadmin/requirements.lock, in an environment of its own under the run directory
# ($TICKTIDE_RUN_DIR/pgadmin/venv: its dependencies never meet the services'
# uv.lock), and writes what it runs with there:
# - config_local.py: server mode, data under $TICKTIDE_RUN_DIR/pgadmin/data, sign-in
#   only by the web server (nginx passes the admin's name in X-Ticktide-Pgadmin-User,
#   from the gateway's /api/auth/pgadmin-check, with a shared secret that only nginx
#   and pgAdmin know), no saved passwords, no upgrade check (no internet);
# - the pre-registered server: Ticktide's database as the read-only role
#   ticktide_readonly (migration 0019), shared with every pgAdmin user.
# Prints the directory of pgAdmin's package (where gunicorn runs pgAdmin4:app).
# Idempotent: the environment is rebuilt only when the lock changed.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$TICKTIDE_ROOT"
load_config

home="$TICKTIDE_RUN_DIR/pgadmin"
venv="$home/venv"
data="$home/data"
lock="pgadmin/requirements.lock"
stamp="$venv/.ticktide-lock-sha256"
want="$(sha256sum "$lock" | cut -d' ' -f1)"
UV="$(uv_bin)" || die "uv is missing: run scripts/ensure-toolchain.sh first"

if [ ! -x "$venv/bin/gunicorn" ] || [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
    say "installing pgAdmin 4 into $venv (pinned in $lock)" >&2
    rm -rf "$venv"
    mkdir -p "$home"
    $UV venv -q --python "$VENV_PYTHON" "$venv" >&2
    VIRTUAL_ENV="$venv" $UV pip install -q --require-hashes -r "$lock" >&2
    echo "$want" > "$stamp"
fi
package="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/pgadmin4"
[ -f "$package/pgAdmin4.py" ] || die "pgAdmin's package is not at $package"

mkdir -p "$data"
chmod 700 "$home" "$data"
secret_file="$home/webserver-secret"
if [ ! -s "$secret_file" ]; then
    (umask 077 && python3 -c 'import secrets; print(secrets.token_hex(32))' > "$secret_file")
fi

(umask 077 && "$VENV_PYTHON" - "$package/config_local.py" "$data" "$secret_file" <<'PY'
import sys
from pathlib import Path

target, data, secret_file = sys.argv[1], sys.argv[2], sys.argv[3]
secret = Path(secret_file).read_text().strip()
Path(target).write_text(f'''"""Written by Ticktide's scripts/ensure-pgadmin.sh: do not edit (it is rewritten)."""
import os

DATA_DIR = {data!r}
LOG_FILE = os.path.join(DATA_DIR, "pgadmin4.log")
SQLITE_PATH = os.path.join(DATA_DIR, "pgadmin4.db")
SESSION_DB_PATH = os.path.join(DATA_DIR, "sessions")
STORAGE_DIR = os.path.join(DATA_DIR, "storage")
AZURE_CREDENTIAL_CACHE_DIR = os.path.join(DATA_DIR, "azurecredentialcache")
KERBEROS_CCACHE_DIR = os.path.join(DATA_DIR, "krbccache")
SERVER_MODE = True
# Signed in by the web server only: nginx asks Ticktide's gateway whether the caller
# is a signed-in admin on every request and passes the name; the header counts only
# from 127.0.0.1 and with the secret only nginx and pgAdmin hold.
AUTHENTICATION_SOURCES = ["webserver"]
WEBSERVER_REMOTE_USER = "X-Ticktide-Pgadmin-User"
WEBSERVER_REMOTE_USER_FROM_HEADER = True
WEBSERVER_TRUSTED_PROXIES = ["127.0.0.1"]
WEBSERVER_SHARED_SECRET = {secret!r}
WEBSERVER_AUTO_CREATE_USER = True
MFA_ENABLED = False
MASTER_PASSWORD_REQUIRED = False
ALLOW_SAVE_PASSWORD = False  # no password is ever stored in pgAdmin's files
UPGRADE_CHECK_ENABLED = False  # no internet here; upgrades come through the lock
''')
PY
)

setup_user="pgadmin-setup@ticktide.invalid"  # owns the shared server; never signs in
if [ ! -s "$data/pgadmin4.db" ]; then
    say "creating pgAdmin's configuration database" >&2
    PGADMIN_SETUP_EMAIL="$setup_user" \
    PGADMIN_SETUP_PASSWORD="$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')" \
        "$venv/bin/python" "$package/setup.py" setup-db >"$home/setup.log" 2>&1 \
        || die "pgAdmin's setup-db failed; see $home/setup.log"
fi

read -r db_host db_port < <(url_host_port "$DATABASE_URL" 5432)
db_name="${DATABASE_URL##*/}"
db_name="${db_name%%\?*}"
servers="$home/servers.json"
"$VENV_PYTHON" - "$servers" "$db_host" "$db_port" "$db_name" <<'PY'
import json
import sys

target, host, port, database = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
server = {
    "Name": f"Ticktide ({database}, read-only)",
    "Group": "Ticktide",
    "Host": host,
    "Port": port,
    "MaintenanceDB": database,
    "Username": "ticktide_readonly",
    "SSLMode": "prefer",
    "Shared": True,
    "SharedUsername": "ticktide_readonly",
}
with open(target, "w") as out:
    json.dump({"Servers": {"1": server}}, out, indent=1)
PY
"$venv/bin/python" "$package/setup.py" load-servers "$servers" --user "$setup_user" --replace \
    >>"$home/setup.log" 2>&1 || die "pgAdmin's load-servers failed; see $home/setup.log"
echo "$package"
