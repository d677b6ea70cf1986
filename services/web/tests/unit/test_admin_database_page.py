"""The /admin/database template with the gateway's answers as they come (no
servers): hypertables' chunk and compression figures, a figure that could not
be read shown with its error, the background jobs with their last run, and a
plain table said to be "not a hypertable"; without TimescaleDB no jobs at all."""

from __future__ import annotations

from typing import Any

from ticktide_web.rendering import build_environment


class _Assets:
    def url(self, name: str) -> str:
        return f"/static/{name}"


JOB: dict[str, Any] = {
    "job_id": 1000,
    "proc_name": "policy_compression",
    "hypertable": "crypto_prices",
    "schedule_interval_seconds": 43200,
    "scheduled": True,
    "job_status": "Scheduled",
    "last_run_status": "Success",
    "last_run_started_at": "2026-12-01T00:00:00Z",
    "last_successful_finish": "2026-12-01T00:00:01Z",
    "next_start": "2026-12-01T12:00:00Z",
    "total_runs": 3,
    "total_successes": 3,
    "total_failures": 0,
}
HYPERTABLE: dict[str, Any] = {
    "chunks": 7,
    "compressed_chunks": 5,
    "before_compression_bytes": 4_194_304,
    "after_compression_bytes": 262_144,
    "jobs": [JOB],
    "error": None,
}


def _table(name: str, hypertable: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "name": name,
        "size_bytes": 1,
        "size": "8192 bytes",
        "row_estimate": 5,
        "hypertable": hypertable,
    }


def _info_row(name: str, hypertable: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "table": name,
        "rows": 5,
        "size_bytes": 1,
        "size": "8192 bytes",
        "first": None,
        "last": None,
        "hypertable": hypertable,
    }


def render(
    timescaledb: bool,
    tables: list[dict[str, Any]],
    info: dict[str, Any] | None,
    jobs: list[dict[str, Any]] | None,
    jobs_error: str | None = None,
) -> str:
    overview = {
        "timescaledb": timescaledb,
        "tables": tables,
        "continuous_aggregates": [],
        "jobs": jobs,
        "jobs_error": jobs_error,
    }
    env = build_environment(_Assets())  # type: ignore[arg-type]
    return env.get_template("admin_database.html").render(
        title="Database",
        me=None,
        csrf_token="token",
        nav=[],
        path="/admin/database",
        error=None,
        notice=None,
        scripts=(),
        overview=overview,
        tables=tables,
        aggregates=[],
        timescaledb=timescaledb,
        info=info,
        exact=info is not None,
    )


def test_hypertable_figures_jobs_and_errors_are_shown() -> None:
    failing = {**HYPERTABLE, "jobs": None, "error": 'jobs: column "x" does not exist'}
    page = render(
        True,
        [
            _table("crypto_prices", HYPERTABLE),
            _table("stock_prices", failing),
            _table("users", None),
        ],
        {"tables": [_info_row("crypto_prices", HYPERTABLE), _info_row("weather_current", None)]},
        [
            JOB,
            {
                **JOB,
                "job_id": 1,
                "proc_name": "policy_telemetry",
                "hypertable": None,
                "last_run_status": None,
                "total_runs": None,
                "total_failures": None,
            },
        ],
    )
    assert '<td class="tt-num">7</td>' in page and '<td class="tt-num">5</td>' in page
    assert "4.0 MiB" in page and "256.0 KiB" in page  # before and after compression
    assert "Some figures could not be read: jobs: column &#34;x&#34; does not exist" in page
    jobs = page[page.index('aria-label="Background jobs"') :]
    assert '<span class="badge text-bg-success">Success</span>' in jobs
    assert "never run" in jobs and "policy_telemetry" in jobs
    assert "7 chunks, 5 compressed" in page
    assert '<span class="text-body-secondary">not a hypertable</span>' in page


def test_a_failing_jobs_view_is_an_alert() -> None:
    page = render(
        True, [_table("crypto_prices", HYPERTABLE)], None, None, "jobs: permission denied"
    )
    assert "The background jobs could not be read: jobs: permission denied" in page
    assert 'aria-label="Background jobs"' not in page


def test_without_timescaledb_there_are_no_jobs_and_no_hypertables() -> None:
    page = render(
        False, [_table("crypto_prices", None)], {"tables": [_info_row("crypto_prices", None)]}, None
    )
    assert "Background jobs" not in page
    assert "TimescaleDB is not installed in this database" in page
    assert '<span class="text-body-secondary">not a hypertable</span>' in page
