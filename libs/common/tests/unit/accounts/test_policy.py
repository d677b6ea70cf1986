"""The input rules: usernames, email addresses, password length (never
truncated, characters not bytes) and strength (common list, username and
service name, zxcvbn score with its feedback), log-safe rendering."""

from __future__ import annotations

import pytest

from ticktide_common.accounts.policy import (
    STRENGTH_PREFIX,
    PolicyError,
    check_password,
    check_username,
    is_possible_username,
    normalise_email,
    password_strength,
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
    limits = {"min_length": 8, "max_length": 128, "min_score": 0}
    assert check_password("aaaaaaaa", **limits) == "aaaaaaaa"  # no composition rules
    assert check_password("p" * 128, **limits) == "p" * 128
    with pytest.raises(PolicyError, match="at least 8"):
        check_password("p" * 7, **limits)
    with pytest.raises(PolicyError, match="at most 128"):
        check_password("p" * 129, **limits)  # refused, never cut to 128


def test_password_length_counts_characters_not_bytes() -> None:
    assert check_password("🔑" * 8, min_length=8, max_length=128, min_score=0)
    with pytest.raises(PolicyError):
        check_password("é" * 7, min_length=8, max_length=128)  # 14 bytes, 7 characters


LIMITS = {"min_length": 8, "max_length": 128}


@pytest.mark.parametrize(
    "password", ["password", "12345678", "qwertyuiop", "Password1", "iloveyou", "letmein123"]
)
def test_common_passwords_are_refused_with_advice(password: str) -> None:
    with pytest.raises(PolicyError) as refused:
        check_password(password, **LIMITS)
    message = str(refused.value)
    assert "common" in message or "too easy to guess" in message
    assert "passphrase" in message  # how to pick a better one


def test_the_common_list_is_zxcvbns_and_matched_in_any_case() -> None:
    with pytest.raises(PolicyError, match="one of the most common passwords"):
        check_password("PASSWORD", **LIMITS, min_score=0)  # the list alone, no score


@pytest.mark.parametrize("password", ["ticktide123", "MyTickTide!2024x", "abc-ticktide-xyz"])
def test_the_service_name_is_refused(password: str) -> None:
    with pytest.raises(PolicyError, match="must not contain the word 'ticktide'"):
        check_password(password, **LIMITS)


def test_the_username_is_refused_in_any_case() -> None:
    with pytest.raises(PolicyError, match="must not contain your username"):
        check_password("xx-Alice_Liddell-yy 42 zebra", **LIMITS, username="alice_liddell")
    # Someone else's name is just characters.
    assert check_password("xx-Alice_Liddell-yy 42 zebra", **LIMITS, username="bob")


def test_weak_passwords_get_zxcvbn_feedback() -> None:
    with pytest.raises(PolicyError) as refused:
        check_password("aaaaaaaaaaaa", **LIMITS)
    message = str(refused.value)
    assert "strength 0 of 4, needs 3" in message and 'Repeats like "aaa"' in message


@pytest.mark.parametrize(
    "password",
    [
        "correct horse battery staple",
        "a brand new passphrase",
        "long enough pw",
        "Tr0ub4dor&3",
        "🔑 unlocks the 3 doors",
    ],
)
def test_strong_passwords_pass(password: str) -> None:
    assert check_password(password, **LIMITS, username="someone") == password


def test_the_threshold_is_configurable() -> None:
    assert check_password("purple7dog", **LIMITS, min_score=2)  # zxcvbn: 2
    with pytest.raises(PolicyError, match="needs 3"):
        check_password("purple7dog", **LIMITS)


def test_strength_sees_a_bounded_prefix_of_a_long_password() -> None:
    # zxcvbn refuses more than 72 characters and slows down with length: a
    # 128-character password is judged by its first STRENGTH_PREFIX characters.
    strong = "correct horse battery staple " * 5
    assert check_password(strong[:128], **LIMITS) == strong[:128]
    assert password_strength(strong[:128], [])[0] == 4
    with pytest.raises(PolicyError, match="too easy to guess"):
        check_password("1" * STRENGTH_PREFIX + "correct horse battery staple", **LIMITS)


def test_printable_is_bounded_and_free_of_control_characters() -> None:
    rendered = printable("evil\x00\n\x1b[31m" + "x" * 100)
    assert len(rendered) == 64 and "\x00" not in rendered and "\n" not in rendered


def test_a_password_with_a_lone_surrogate_is_refused_not_hashed() -> None:
    """JSON can carry "\\ud800"; it is no UTF-8 text, so hashing it would fail (a 500)."""
    with pytest.raises(PolicyError, match="valid Unicode"):
        check_password("Zq9!\ud800kLm#42xYv", min_length=8, max_length=128, username="someone")
