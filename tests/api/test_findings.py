"""Which schemathesis findings are excused, and how repeats are counted (pure)."""

from __future__ import annotations

from tests.api.findings import (
    ANY,
    KNOWN_FINDINGS,
    SCHEMA_CANNOT_SAY,
    Excuse,
    Finding,
    RunFigures,
    describe,
    excuse_for,
    stale_known,
    unexcused,
)


def finding(code: str, operation: str, body: str, status: int | None = 422) -> Finding:
    return Finding("user", code, "title", operation, status, body, "check says\nmore", "curl x")


def test_an_excuse_needs_its_code_operation_and_body() -> None:
    excuse = Excuse("ST202", r"GET /api/crypto/\w+", r"limit must be", "why")
    assert excuse.matches(finding("ST202", "GET /api/crypto/prices", '{"detail":"limit must be"}'))
    assert not excuse.matches(finding("ST101", "GET /api/crypto/prices", "limit must be"))
    assert not excuse.matches(finding("ST202", "GET /api/crypto/prices/x", "limit must be"))
    assert not excuse.matches(finding("ST202", "GET /api/crypto/prices", "other"))


def test_a_server_error_is_never_excused() -> None:
    error = finding("ST101", "POST /api/crypto/backtest/batch", "must be after start", 500)
    assert excuse_for(error, (*SCHEMA_CANNOT_SAY, *KNOWN_FINDINGS)) is None


def test_a_rule_the_schema_cannot_say_is_excused() -> None:
    refused = finding(
        "ST202",
        "POST /api/crypto/backtest/batch",
        '{"detail":"request body: Value error, end must be after start"}',
    )
    assert excuse_for(refused, SCHEMA_CANNOT_SAY) is not None


def test_repeats_count_once_and_used_excuses_are_returned() -> None:
    excuse = Excuse("ST202", r".*", r"go together", "cross-field")
    findings = [
        finding("ST103", "GET /api/x", "answer 'a' 1"),
        finding("ST103", "GET /api/x", "answer 'b' 22"),  # same sentence, other input
        finding("ST103", "GET /api/y", "answer 'a' 1"),
        finding("ST202", "GET /api/x", "before and before_id go together"),
    ]
    new, used = unexcused(findings, [excuse])
    assert [f.operation for f in new] == ["GET /api/x", "GET /api/y"]
    assert used == {excuse}


def test_described_with_its_request() -> None:
    text = describe(finding("ST101", "GET /api/x", "boom", 500))
    assert text.splitlines() == [
        "[user] ST101 title: GET /api/x -> 500",
        "    answer: boom",
        "    check: check says",
        "    request: curl x",
    ]


def test_known_findings_no_run_matched_are_stale() -> None:
    # Made up: the real list is empty once every slice's findings are fixed.
    first, *rest = known = [
        Excuse("ST202", r"GET /api/a", ANY, "one", "H1"),
        Excuse("ST201", r"GET /api/b", ANY, "two", "H2"),
        Excuse("ST205", r"GET /api/c", ANY, "three", "H3"),
    ]
    runs = [RunFigures("user", excuses_used={first}), RunFigures("admin", excuses_used=set(rest))]
    assert stale_known(runs, known) == []
    assert stale_known([RunFigures("user", excuses_used={first})], known) == rest
    assert stale_known(runs, ()) == []
