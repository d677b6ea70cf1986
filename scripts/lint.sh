#!/usr/bin/env bash
# `make lint`: ruff check, ruff format --check, mypy. Runs all three, fails if any failed.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$TICKTIDE_ROOT"
bash scripts/ensure-toolchain.sh || exit 1
source scripts/python-sources.sh
uv="$(uv_bin)"
status=0
say "ruff check";           $uv run --frozen ruff check . || status=1
say "ruff format --check";  $uv run --frozen ruff format --check . || status=1
say "mypy";                 $uv run --frozen mypy "${MYPY_TARGETS[@]}" || status=1
exit "$status"
