#!/usr/bin/env bash
# The browser tests' Chromium: Debian's `chromium` package (Playwright drives it with
# executable_path=/usr/bin/chromium; Playwright's own browser download needs the internet).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
if [ ! -x /usr/bin/chromium ]; then
    say "installing Chromium for the browser tests (Debian package chromium)"
    apt_install chromium fonts-liberation
fi
