#!/usr/bin/env bash
# `make test`: installs what is missing (uv, .venv, PostgreSQL/Redis/RabbitMQ, nginx
# through the e2e test's own `make up`), then ruff, mypy and every test. The exit code
# is the verdict. Extra arguments go to pytest (`make test` takes none; call the script).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$TICKTIDE_ROOT"

bash scripts/ensure-toolchain.sh
bash scripts/ensure-services.sh
bash scripts/ensure-browser.sh
source scripts/python-sources.sh
uv="$(uv_bin)"

# All three steps run even when one fails, so one run shows every problem; any failure
# fails the whole.
failed=()
say "ruff check"
$uv run --frozen ruff check . || failed+=("ruff")
say "mypy"
$uv run --frozen mypy "${MYPY_TARGETS[@]}" || failed+=("mypy")
say "pytest"
# No cache directory: CI runs in a fresh clone and must not depend on earlier runs.
$uv run --frozen pytest libs services tests -p no:cacheprovider --timeout=600 \
    -o faulthandler_timeout=660 "$@" || failed+=("pytest")
if [ "${#failed[@]}" -gt 0 ]; then
    die "make test failed: ${failed[*]}"
fi
say "make test passed: ruff, mypy, pytest"
