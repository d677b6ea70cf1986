#!/usr/bin/env bash
# The migrate step of `make up` (scripts/up.sh), runnable alone: applies the pending
# migrations to DATABASE_URL (creating the database if needed). Warnings (TimescaleDB
# installed but not preloaded: the postgresql.conf line to add) are printed once; a
# failing migration prints one line (file and the server's message) and exits non-zero.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$TICKTIDE_ROOT"
load_config

say "applying migrations"
"$VENV_PYTHON" -m ticktide_common.migrate_cli \
    || die "migrations failed (the line above names the file and the error); nothing was started"
