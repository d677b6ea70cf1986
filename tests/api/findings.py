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
        r"POST /api/admin/ingest/crypto/archive(/bundle)?",
        r'"detail"',
        "whether a body is a Binance kline archive (a zip holding one CSV of the "
        "provider's columns, named for its symbol and interval), or a bundle of them, "
        "is the file's content",
    ),
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
    Excuse(
        "ST202",
        r"POST /api/strategies(/validate)?",
        r'"errors":\[\{"code":"',
        "a strategy document's expressions are a language (a grammar, types, names it "
        "declares); the schema says the document's keys, types and lengths, the rule "
        "checker's 422 (codes and spans) the rest",
    ),
    Excuse(
        "ST202",
        r"POST /api/crypto/backtest/(batch|stream|run)",
        r"no strategy \d+ with a version \d+ that you may run",
        'a saved strategy\'s {"id", "version"} names stored data: whether that version '
        "exists and is the caller's own or a system one",
    ),
    Excuse("ST202", ANY, r"request body (too large|larger than)", "the body's size in bytes"),
    Excuse(
        "ST202",
        r"POST /api/auth/(register|password)|POST /api/admin/users|PATCH /api/admin/users/.*",
        r"password (is too easy to guess|is one of the most common|must not contain)",
        "a new password's strength: zxcvbn's estimate, its list of common passwords, the "
        "username or the service's name inside it (the schema says its length)",
    ),
    # Not the API's: schemathesis (4.32.5) now and then sends the path template's own
    # placeholder as the value ("/batch/%7Bbatch_id%7D/events", a before_call hook does not
    # see it), which the API rightly refuses; only that exact refusal is excused.
    Excuse(
        "ST202",
        r"GET /api/crypto/backtest/batch/\{batch_id\}(/events)?",
        r"path parameter 'batch_id': Input should be a valid UUID, invalid character: "
        r"found `t` at 3",
        "schemathesis sent the literal placeholder '{batch_id}' as the batch id",
    ),
    # Not a schema rule but the contract: DELETE of a batch cancels what has not run
    # (CONTRACT §2); the batch and its results stay readable, as its owner expects.
    Excuse(
        "ST301",
        r"GET /api/crypto/backtest/batch/\{batch_id\}(/events)?",
        r"batch_id",
        "DELETE cancels; the batch, its results and its events stay",
    ),
)

KNOWN_FINDINGS: tuple[Excuse, ...] = ()


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


def stale_known(
    runs: Iterable[RunFigures], known_findings: Sequence[Excuse] = KNOWN_FINDINGS
) -> list[Excuse]:
    """The known findings no run matched: fixed, probably; time to remove them."""
    used = set().union(*(run.excuses_used for run in runs))
    return [known for known in known_findings if known not in used]


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
