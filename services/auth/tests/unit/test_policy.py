"""The input rules: usernames, email addresses, password length (never
truncated, characters not bytes), log-safe rendering."""

from __future__ import annotations

import pytest

from ticktide_auth.policy import (
    PolicyError,
    check_password,
    check_username,
    is_possible_username,
    normalise_email,
    printable,
)


@pytest.mark.parametrize("name", ["bob", "Alice_1", "a.b-c", "x" * 32, "___"])
def test_good_usernames(name: str) -> None:
    assert check_username(name) == name and is_possible_username(name)


@pytest.mark.parametrize(
    "name", ["ab", "x" * 33, "bob smith", "bøb", "admin'--", "' OR 1=1 --", "a\x00b", "", "a/b"]
)
def test_bad_usernames(name: str) -> None:
    assert not is_possible_username(name)
    with pytest.raises(PolicyError, match="username must be 3-32 characters"):
        check_username(name)


def test_email_is_normalised_in_its_domain_only() -> None:
    assert normalise_email("Jane.Doe@Example.COM") == "Jane.Doe@example.com"


@pytest.mark.parametrize(
    "email",
    [
        "not-an-email",
        "a@b",
        '"; DROP TABLE users;--',
        "a\x00b@example.com",
        "x@" + "a" * 250 + ".com",
    ],
)
def test_bad_emails(email: str) -> None:
    with pytest.raises(PolicyError, match="email"):
        normalise_email(email)


def test_password_length_bounds_without_composition_rules() -> None:
    limits = {"min_length": 8, "max_length": 128}
    assert check_password("aaaaaaaa", **limits) == "aaaaaaaa"  # no composition rules
    assert check_password("p" * 128, **limits) == "p" * 128
    with pytest.raises(PolicyError, match="at least 8"):
        check_password("p" * 7, **limits)
    with pytest.raises(PolicyError, match="at most 128"):
        check_password("p" * 129, **limits)  # refused, never cut to 128


def test_password_length_counts_characters_not_bytes() -> None:
    assert check_password("🔑" * 8, min_length=8, max_length=128)
    with pytest.raises(PolicyError):
        check_password("é" * 7, min_length=8, max_length=128)  # 14 bytes, 7 characters


def test_printable_is_bounded_and_free_of_control_characters() -> None:
    rendered = printable("evil\x00\n\x1b[31m" + "x" * 100)
    assert len(rendered) == 64 and "\x00" not in rendered and "\n" not in rendered
