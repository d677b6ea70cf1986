"""What a username, an email address and a password must look like: pure rules,
no I/O, shared by the HTTP API and the CLI so both refuse the same input.

A password must be long enough, not contain the username or the service's
name, not be one of the common passwords zxcvbn ships (its `passwords`
frequency list, 30,000 entries from leaked-password corpora) and reach a
zxcvbn score of `min_score` (default 3 of 4). zxcvbn's cost grows faster than
linearly with length, so it only ever sees the first `STRENGTH_PREFIX`
characters; a password is never cut short for storage."""

from __future__ import annotations

import re
import threading

import zxcvbn
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email
from pydantic import Field
from zxcvbn.matching import RANKED_DICTIONARIES

from ticktide_common.settings import ServiceSettings

__all__ = [
    "PasswordPolicySettings",
    "USERNAME_PATTERN",
    "USERNAME_MIN",
    "USERNAME_MAX",
    "EMAIL_MAX",
    "EMAIL_REFUSED_DOMAINS",
    "PolicyError",
    "check_username",
    "is_possible_username",
    "normalise_email",
    "check_password",
    "DEFAULT_MIN_SCORE",
    "STRENGTH_PREFIX",
    "password_strength",
    "printable",
]


class PasswordPolicySettings(ServiceSettings):
    """The password rules' settings, read by the auth service and by the CLI's
    bootstrap of the first admin (the same rules in both)."""

    password_min_length: int = 8
    password_max_length: int = 128
    # Passwords need this zxcvbn score (issue 10, H3: 0-4, 3 = "safely unguessable").
    password_min_score: int = Field(default=3, ge=0, le=4)


USERNAME_MIN, USERNAME_MAX = 3, 32
USERNAME_PATTERN = r"^[A-Za-z0-9_.-]+$"
_USERNAME = re.compile(USERNAME_PATTERN)
EMAIL_MAX = 254  # RFC 5321 path limit
# email_validator refuses addresses at these domains and their subdomains (RFC 6761
# special-use names: test, localhost, ...), even without a DNS lookup.
EMAIL_REFUSED_DOMAINS: tuple[str, ...] = tuple(SPECIAL_USE_DOMAIN_NAMES)
DEFAULT_MIN_SCORE = 3  # zxcvbn: "safely unguessable: moderate protection from offline attacks"
# zxcvbn refuses more than 72 characters and takes ~40 ms at 64; the strength of
# a longer password is judged by its start (which must be strong on its own).
STRENGTH_PREFIX = 64
# Words a Ticktide password must not contain (besides the user's own name).
SERVICE_WORDS = ("ticktide",)
# zxcvbn keeps the caller's `user_inputs` in a module-level dictionary: one
# estimate at a time, so two threads cannot see each other's username.
_ZXCVBN_LOCK = threading.Lock()
_COMMON = RANKED_DICTIONARIES["passwords"]
_ADVICE = "pick a longer passphrase of several unrelated words (a password manager can make one)"


class PolicyError(ValueError):
    """Input that breaks a rule; the message says which rule, for the user."""


def is_possible_username(username: str) -> bool:
    """Could a stored user have this name? (Lets login skip impossible lookups.)"""
    # fullmatch: `$` alone would also take a trailing newline ("bob\n"), which the
    # published pattern (a JSON Schema regex: `$` is the end) does not.
    return USERNAME_MIN <= len(username) <= USERNAME_MAX and bool(_USERNAME.fullmatch(username))


def check_username(username: str) -> str:
    if not is_possible_username(username):
        raise PolicyError(
            f"username must be {USERNAME_MIN}-{USERNAME_MAX} characters of letters, digits, "
            "'_', '.' or '-'"
        )
    return username


def normalise_email(email: str) -> str:
    """The address with its domain normalised; syntax only (no DNS lookup)."""
    if len(email) > EMAIL_MAX:
        raise PolicyError(f"email must be at most {EMAIL_MAX} characters")
    try:
        return validate_email(email, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise PolicyError(f"email is not a valid address: {exc}") from None


def check_password(
    password: str,
    *,
    min_length: int,
    max_length: int,
    username: str | None = None,
    min_score: int = DEFAULT_MIN_SCORE,
) -> str:
    """Length first (ASVS 2.1: characters, not bytes; never a silent truncation:
    a longer password is refused, not cut), then the username and service words,
    the common-password list and the zxcvbn score; no composition rules. Each
    refusal says why and how to pick a better one."""
    if len(password) < min_length:
        raise PolicyError(f"password must be at least {min_length} characters")
    if len(password) > max_length:
        raise PolicyError(f"password must be at most {max_length} characters")
    try:
        password.encode("utf-8")  # a lone surrogate (JSON "\ud800") is not text
    except UnicodeEncodeError:
        raise PolicyError(
            "password must be valid Unicode text (it holds a lone surrogate)"
        ) from None
    lowered = password.lower()
    if username and username.lower() in lowered:
        raise PolicyError(f"password must not contain your username; {_ADVICE}")
    for word in SERVICE_WORDS:
        if word in lowered:
            raise PolicyError(f"password must not contain the word '{word}'; {_ADVICE}")
    if lowered in _COMMON:
        raise PolicyError(
            "password is one of the most common passwords (attackers try those first); " + _ADVICE
        )
    if min_score > 0:
        score, feedback = password_strength(password, [username] if username else [])
        if score < min_score:
            raise PolicyError(
                f"password is too easy to guess (strength {score} of 4, needs {min_score}). "
                + " ".join([*feedback, _ADVICE[0].upper() + _ADVICE[1:] + "."])
            )
    return password


def password_strength(password: str, user_inputs: list[str]) -> tuple[int, list[str]]:
    """zxcvbn's score (0-4) of the password's first `STRENGTH_PREFIX` characters
    and its feedback (warning first, then suggestions), as sentences."""
    with _ZXCVBN_LOCK:
        result = zxcvbn.zxcvbn(password[:STRENGTH_PREFIX], user_inputs=user_inputs)
    feedback = result.get("feedback") or {}
    sentences = [feedback.get("warning") or "", *(feedback.get("suggestions") or [])]
    return int(result["score"]), [s.strip() for s in sentences if s and s.strip()]


def printable(text: str, limit: int = 64) -> str:
    """A bounded, log-safe rendering of untrusted text (no control characters,
    no NUL, which JSONB refuses)."""
    clipped = text[:limit]
    return "".join(c if c.isprintable() else "\N{REPLACEMENT CHARACTER}" for c in clipped)
