#!/usr/bin/env bash
# Installs what the Python side needs: uv (pinned) and the locked dependencies in .venv.
# Idempotent and quiet when everything is already there.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_uv() {
    local uv
    if uv="$(uv_bin)"; then
        local version
        version="$($uv --version | awk '{print $2}')"
        if [ "$version" != "$UV_VERSION" ]; then
            warn "using uv $version (the project pins $UV_VERSION)"
        fi
        return 0
    fi
    command -v python3 >/dev/null 2>&1 || die "python3 not found; install Python 3.11 first"
    say "installing uv $UV_VERSION with pip"
    # Debian's Python is "externally managed" (PEP 668); uv is a single static
    # binary with no dependencies, so installing it beside the system packages is safe.
    if ! python3 -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION" 2>/dev/null; then
        python3 -m pip install --quiet --disable-pip-version-check --break-system-packages \
            "uv==$UV_VERSION" || die "could not install uv with pip"
    fi
    uv_bin >/dev/null || die "uv installed but not found on PATH nor as 'python3 -m uv'"
}

ensure_uv
uv="$(uv_bin)"
cd "$TICKTIDE_ROOT"
# --frozen: exactly uv.lock, never re-resolve. Quiet: says nothing when in sync.
$uv sync --frozen --quiet
# Byte-code once per lock, not at every service start: with PYTHONDONTWRITEBYTECODE set
# (as in some shells and CI), each process would compile numpy, numba and pydantic anew
# and, on a busy 2-core machine, miss its start-up deadline.
stamp=.venv/.ticktide-compiled
if [ ! -f "$stamp" ] || [ uv.lock -nt "$stamp" ]; then
    .venv/bin/python -m compileall -q -j 0 .venv/lib/python3*/site-packages libs services \
        >/dev/null 2>&1 || warn "compiling the environment's byte-code failed (starts are slower)"
    touch "$stamp"
fi
bash scripts/ensure-web-assets.sh
