#!/usr/bin/env bash
# `make test`: installs what is missing (uv, .venv, PostgreSQL/Redis/RabbitMQ, nginx
# through the e2e test's own `make up`), then ruff, mypy and every test. The exit code
# is the verdict. Extra arguments go to pytest (`make test` takes none; call the script).
#
# pytest runs in two legs (issue 11). The plain-PostgreSQL leg: every test, on the
# machine's own PostgreSQL. The TimescaleDB leg, where TimescaleDB can be had
# (scripts/ensure-timescaledb.sh starts a private PostgreSQL 15 cluster with it
# preloaded; exit 3 = not here, the leg is skipped with a notice): the suites that touch
# the database's time-series paths again, with TICKTIDE_TEST_ADMIN_DSN on that cluster:
# the writer's, the gateway's and the ingesters' integration tests, and tests/e2e (its
# real services and its real `make up` get their DATABASE_URL from that DSN).
# The end prints each leg's pass counts.
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

TIMESCALEDB_SUITES=(
    services/writer/tests/integration
    services/gateway/tests/integration
    services/ingest-crypto/tests/integration
    services/ingest-stocks/tests/integration
    services/ingest-weather/tests/integration
    tests/e2e
)
reports="$(mktemp -d)"
timescaledb_pid=""
cleanup() {
    [ -z "$timescaledb_pid" ] || kill "$timescaledb_pid" 2>/dev/null || true
    rm -rf "$reports"
}
trap cleanup EXIT
# No cache directory: CI runs in a fresh clone and must not depend on earlier runs.
pytest_leg() {  # pytest_leg REPORT PYTEST-ARGS...
    local report="$1"
    shift
    $uv run --frozen pytest -p no:cacheprovider --timeout=600 -o faulthandler_timeout=660 \
        --junitxml="$report" "$@"
}

# The TimescaleDB leg runs at the same time as the plain one, into a log printed after
# it: both legs mostly wait on services and servers (measured: the plain leg ~15-18 min,
# this one ~12 min alone), so one after the other would pass 25 minutes on 2 cores.
# TICKTIDE_TEST_LEGS=sequential runs it after the plain leg instead.
timescaledb_summary="TimescaleDB: skipped"
timescaledb_dsn="$(bash scripts/ensure-timescaledb.sh preloaded)" && status=0 || status=$?
if [ "$status" -eq 0 ]; then
    timescaledb_summary="TimescaleDB=$reports/timescaledb.xml"
    timescaledb_leg() {
        # Each leg starts its test servers on ports of its own (testing/processes.py).
        TICKTIDE_TEST_PORTS=26000-31999 TICKTIDE_TEST_ADMIN_DSN="$timescaledb_dsn" \
            pytest_leg "$reports/timescaledb.xml" \
            "${TIMESCALEDB_SUITES[@]}" "$@"
    }
    say "pytest, TimescaleDB leg on $timescaledb_dsn: ${TIMESCALEDB_SUITES[*]}"
    if [ "${TICKTIDE_TEST_LEGS:-concurrent}" != sequential ]; then
        say "(running alongside the plain leg; its output follows the plain leg's)"
        timescaledb_leg "$@" > "$reports/timescaledb.log" 2>&1 &
        timescaledb_pid=$!
    fi
elif [ "$status" -eq 3 ]; then
    # ensure-timescaledb.sh said why on stderr (no ../shared/timescaledb, no PostgreSQL 15...).
    say "notice: the TimescaleDB leg is skipped: TimescaleDB cannot be had on this machine"
    timescaledb_summary="TimescaleDB: skipped (not available here)"
else
    failed+=("the TimescaleDB test cluster (ensure-timescaledb.sh exit $status)")
    timescaledb_summary="TimescaleDB: not run (its cluster did not start)"
fi

say "pytest, plain PostgreSQL leg (${TICKTIDE_TEST_ADMIN_DSN:-postgresql://postgres@127.0.0.1:5432})"
TICKTIDE_TEST_PORTS=20000-25999 pytest_leg "$reports/plain.xml" libs services tests "$@" ||
    failed+=("pytest (plain PostgreSQL)")

if [ -n "$timescaledb_pid" ]; then
    leg_status=0
    wait "$timescaledb_pid" || leg_status=$?
    timescaledb_pid=""
    say "pytest, TimescaleDB leg: its output"
    cat "$reports/timescaledb.log"
    [ "$leg_status" -eq 0 ] || failed+=("pytest (TimescaleDB)")
elif [ "$status" -eq 0 ]; then
    timescaledb_leg "$@" || failed+=("pytest (TimescaleDB)")
fi

say "$(python3 scripts/junit-summary.py "plain PostgreSQL=$reports/plain.xml" "$timescaledb_summary")"
if [ "${#failed[@]}" -gt 0 ]; then
    die "make test failed: ${failed[*]}"
fi
say "make test passed: ruff, mypy, pytest"
