"""What a schemathesis run found, and which of it is not news (pure: no I/O).

A `Finding` is one failed check on one answer. Two lists excuse some:

- `SCHEMA_CANNOT_SAY`: a schema-valid request refused (ST202, "positive data
  acceptance") by a rule JSON Schema cannot express: one field against another
  (`start` before `end`), against stored data (a cursor of this list, a batch's
  range against candles), or against the clock; and a cancelled batch still
  readable after its DELETE (ST301), which is what CONTRACT §2 says DELETE does.
  These stay.
- `KNOWN_FINDINGS`: real findings in code another helper of issue 10 owns, each
  recorded with what was sent and answered, to be removed once fixed. An entry no
  run matches is reported too, so that a fixed one is noticed.

Anything else fails the test: a server error, an undocumented status, a body
that is not its documented schema, a wrong content type, a missing Allow header...
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = [
    "Finding",
    "Excuse",
    "RunFigures",
    "SCHEMA_CANNOT_SAY",
    "KNOWN_FINDINGS",
    "excuse_for",
    "unexcused",
    "describe",
    "stale_known",
]


@dataclass(frozen=True)
class Finding:
    """One failed check: its code (ST101...), title, the operation ("GET /api/x"),
    the answer's status and body (shortened), and a curl line that reproduces it."""

    role: str
    code: str
    title: str
    operation: str
    status: int | None
    body: str
    message: str = ""
    request: str = ""

    def key(self) -> tuple[str, str, str, int | None, str]:
        """Findings equal in this are one finding (the first example is kept)."""
        return (self.role, self.code, self.operation, self.status, _shape(self.body))


def _shape(body: str) -> str:
    # Digits and quoted input vary from example to example; the sentence does not.
    return re.sub(r"'[^']*'|\d+", "_", body)[:160]


@dataclass(frozen=True)
class Excuse:
    """Failures of `code` on operations matching `operation` (a regex over
    "METHOD /path") whose answer's body matches `body` (a regex, searched)."""

    code: str
    operation: str
    body: str
    reason: str
    owner: str = ""  # a KNOWN_FINDINGS entry: whose slice fixes it

    def matches(self, finding: Finding) -> bool:
        return (
            finding.code == self.code
            and re.fullmatch(self.operation, finding.operation) is not None
            and re.search(self.body, finding.body) is not None
        )


ANY = r".*"

SCHEMA_CANNOT_SAY: tuple[Excuse, ...] = (
    Excuse(
        "ST202",
        ANY,
        r"must be (after|before)|must not be before|go together",
        "one field against another",
    ),
    Excuse(
        "ST202",
        ANY,
        r"range too large|spans \d+ .* more than|more than the limit of|runs at most \d+ backtests",
        "a count computed from the request (candles of a range, backtests of a grid) "
        "against its maximum",
    ),
    Excuse("ST202", ANY, r"not a cursor of this list", "an opaque cursor from a previous page"),
    Excuse(
        "ST202",
        ANY,
        r"no (candles|bars|observations|data)|leaves no test window|"
        r"is not a table of the public schema",
        "a value against stored data (a range with no rows, a table that does not exist)",
    ),
    Excuse(
        "ST202",
        ANY,
        r"before .*history|history starts|in the future|after now|now plus|ahead|"
        r"outside the years 1 to 9999",
        "a date against the source's history, the clock, or what UTC can represent",
    ),
    Excuse(
        "ST202",
        ANY,
        r"unknown strategy|\"detail\":\"parameter '|no valid parameter combination|"
        r"unknown (strategy )?parameter|not a parameter|has no parameter",
        "a strategy's own parameters (its schema depends on `strategy`), a grid range's arithmetic",
    ),
    Excuse("ST202", ANY, r"request body (too large|larger than)", "the body's size in bytes"),
    # Not a schema rule but the contract: DELETE of a batch cancels what has not run
    # (CONTRACT §2); the batch and its results stay readable, as its owner expects.
    Excuse(
        "ST301",
        r"GET /api/crypto/backtest/batch/\{batch_id\}(/events)?",
        r"batch_id",
        "DELETE cancels; the batch, its results and its events stay",
    ),
)

H2 = "H2 (gateway backtest/planning.py)"
H3 = "H3 (services/auth)"
H4 = "H4 (gateway validation.py, data_validation.py, data_bodies.py)"

KNOWN_FINDINGS: tuple[Excuse, ...] = (
    Excuse(
        "ST202",
        r"POST /api/crypto/backtest/(batch|stream)",
        r"rank_by .* is not one of",
        "BacktestBatchRequest.rank_by is a str checked in a validator, not an enum of "
        'RANKABLE_METRICS: {"symbols": ["BTCUSDT"], "intervals": ["1d"], "strategy": '
        '"sma_cross", "start": "2024-01-01T00:00:00+00:00", "end": '
        '"2024-01-04T00:00:00+00:00", "rank_by": "310028"} -> 422 "rank_by \'310028\' is '
        'not one of [...]"',
        H2,
    ),
    Excuse(
        "ST202",
        r"\w+ /api/(crypto|stocks|weather|admin/ingest)/.*",
        r"String should match pattern",
        "the symbol and location types validate a `pattern` after a BeforeValidator (strip, "
        "upper), and pydantic then leaves the pattern out of the input schema: the document "
        'says any string. POST /api/crypto/backtest/batch {..., "symbols": [""]} -> 422 '
        "\"body parameter 'symbols.0': String should match pattern '^[A-Z0-9]{2,20}$'\"; "
        "GET /api/weather/current?location=%0Fw -> 422 (location pattern)",
        H4,
    ),
    Excuse(
        "ST202",
        r"GET /api/crypto/prices",
        r"limit must be between",
        "PricesQuery.limit is checked in code (1..max_candles_per_request), not declared: "
        'GET /api/crypto/prices?symbol=BTCUSDT&limit=-34723325 -> 422 "limit must be between '
        '1 and 20000"',
        H4,
    ),
    Excuse(
        "ST202",
        r"GET /api/stocks/multi",
        r"give at least one stock symbol|is not a stock symbol",
        "`symbols` (comma-separated) is parsed in code; its schema is any string: "
        'GET /api/stocks/multi?symbols= -> 422 "give at least one stock symbol"',
        H4,
    ),
    Excuse(
        "ST201",
        r"POST /api/admin/ingest/\w+/backfill",
        r"job_id",
        "a body date given as a number (Unix seconds) is accepted where the schema says a "
        'string: POST /api/admin/ingest/stocks/backfill {"symbol": "AAPL", "start": 0, '
        '"end": "2000-01-01"} -> 202',
        H4,
    ),
    Excuse(
        "ST202",
        r"POST /api/auth/(password|register)|POST /api/admin/users|PATCH /api/admin/users/.*",
        r"password must be at (least|most)|username must be|email is not a valid address",
        "auth's request schemas do not declare what its policy checks (password 8..128 "
        'characters, username pattern, e-mail format): POST /api/auth/register {"username": '
        '"0", ...} -> 422 "username must be 3-32 characters"; {"email": "0"} -> 422',
        H3,
    ),
    Excuse(
        "ST202",
        r"POST /api/auth/tokens",
        r"expires_in_days must be between",
        'TokenCreate.expires_in_days is checked in code, not declared: {"name": "x", '
        '"password": ..., "expires_in_days": 9983} -> 422',
        H3,
    ),
    Excuse(
        "ST205",
        r"\w+ /api/(admin/users|auth/tokens).*",
        ANY,
        "auth's 405 names only the first route's methods (Starlette; FastAPI makes one route "
        "per method): OPTIONS /api/admin/users/1 -> 405 `Allow: GET` (PATCH, DELETE missing); "
        "the gateway's error_handlers._http_error shows the fix",
        H3,
    ),
    Excuse(
        "ST201",
        r"GET /api/admin/(security-events|activity)",
        ANY,
        "auth's date-time query parameters also take Unix seconds (pydantic's lax mode), "
        "which the schema does not say: GET /api/admin/security-events?until=0.5 -> 200 []",
        H3,
    ),
)


def excuse_for(finding: Finding, excuses: Iterable[Excuse]) -> Excuse | None:
    return next((excuse for excuse in excuses if excuse.matches(finding)), None)


def unexcused(
    findings: Iterable[Finding], excuses: Sequence[Excuse]
) -> tuple[list[Finding], set[Excuse]]:
    """The findings no excuse covers (one per `Finding.key`), and the excuses used."""
    new: dict[tuple[str, str, str, int | None, str], Finding] = {}
    used: set[Excuse] = set()
    for finding in findings:
        excuse = excuse_for(finding, excuses)
        if excuse is not None:
            used.add(excuse)
        else:
            new.setdefault(finding.key(), finding)
    return list(new.values()), used


def describe(finding: Finding) -> str:
    status = finding.status if finding.status is not None else "no answer"
    lines = [
        f"[{finding.role}] {finding.code} {finding.title}: {finding.operation} -> {status}",
        f"    answer: {finding.body[:300]}",
    ]
    if finding.message:
        lines.append(f"    check: {finding.message.strip().splitlines()[0][:300]}")
    if finding.request:
        lines.append(f"    request: {finding.request[:600]}")
    return "\n".join(lines)


def stale_known(runs: Iterable[RunFigures]) -> list[Excuse]:
    """The known findings no run matched: fixed, probably; time to remove them."""
    used = set().union(*(run.excuses_used for run in runs))
    return [known for known in KNOWN_FINDINGS if known not in used]


@dataclass
class RunFigures:
    """What one run did: operations tested, examples sent, seconds taken, findings."""

    role: str
    operations: set[str] = field(default_factory=set)
    succeeded: set[str] = field(default_factory=set)  # answered 2xx at least once
    examples: int = 0
    seconds: float = 0.0
    findings: int = 0
    excused: int = 0
    new: int = 0
    excuses_used: set[Excuse] = field(default_factory=set)

    def summary(self) -> str:
        never = sorted(self.operations - self.succeeded)
        return (
            f"{self.role}: {len(self.operations)} operations ({len(self.succeeded)} answered "
            f"2xx at least once), {self.examples} examples in {self.seconds:.1f} s; "
            f"{self.findings} failed checks, {self.excused} excused (known or not expressible "
            f"in the schema), {self.new} new"
            + (f"\n    never 2xx: {', '.join(never)}" if never else "")
        )
