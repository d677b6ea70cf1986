"""What a username, an email address and a password must look like: pure rules,
no I/O, shared by the HTTP API and the CLI so both refuse the same input."""

from __future__ import annotations

import re

from email_validator import EmailNotValidError, validate_email

__all__ = [
    "USERNAME_PATTERN",
    "USERNAME_MIN",
    "USERNAME_MAX",
    "EMAIL_MAX",
    "PolicyError",
    "check_username",
    "is_possible_username",
    "normalise_email",
    "check_password",
    "printable",
]

USERNAME_MIN, USERNAME_MAX = 3, 32
USERNAME_PATTERN = r"^[A-Za-z0-9_.-]+$"
_USERNAME = re.compile(USERNAME_PATTERN)
EMAIL_MAX = 254  # RFC 5321 path limit


class PolicyError(ValueError):
    """Input that breaks a rule; the message says which rule, for the user."""


def is_possible_username(username: str) -> bool:
    """Could a stored user have this name? (Lets login skip impossible lookups.)"""
    return USERNAME_MIN <= len(username) <= USERNAME_MAX and bool(_USERNAME.match(username))


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


def check_password(password: str, *, min_length: int, max_length: int) -> str:
    """Length only (ASVS 2.1): no composition rules, and never a silent truncation:
    a longer password is refused, not cut. Length counts characters, not bytes."""
    if len(password) < min_length:
        raise PolicyError(f"password must be at least {min_length} characters")
    if len(password) > max_length:
        raise PolicyError(f"password must be at most {max_length} characters")
    return password


def printable(text: str, limit: int = 64) -> str:
    """A bounded, log-safe rendering of untrusted text (no control characters,
    no NUL, which JSONB refuses)."""
    clipped = text[:limit]
    return "".join(c if c.isprintable() else "\N{REPLACEMENT CHARACTER}" for c in clipped)
