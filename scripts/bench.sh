#!/usr/bin/env bash
# `make bench`: the benchmarks in bench/ against the real services; prints a results table.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$TICKTIDE_ROOT"
bash scripts/ensure-toolchain.sh
bash scripts/ensure-services.sh
bash scripts/ensure-browser.sh  # bench/web drives Debian's Chromium
$(uv_bin) run --frozen python bench/run.py "$@"
