"""The request schemas say what the policy checks (issue 10: the document said
"any string" for a username, an address and a password, and no bound for a
token's lifetime): the published JSON Schema of a new username accepts exactly
the names the policy accepts, an address's schema refuses what the policy
refuses for reasons a pattern can say, and the bounds that come from settings
are this deployment's. Validated with a real JSON Schema validator (ECMA-262
patterns, formats on), the one schemathesis uses."""

from __future__ import annotations

import json
from typing import Any

import jsonschema_rs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ticktide_auth.app import create_app
from ticktide_auth.schemas import SETTING_BOUND, RegisterRequest, email_pattern
from ticktide_auth.service import TokenPolicy
from ticktide_auth.settings import AuthSettings
from ticktide_common.accounts.policy import (
    EMAIL_REFUSED_DOMAINS,
    PolicyError,
    check_password,
    is_possible_username,
    normalise_email,
)


def validator(schema: dict[str, Any]) -> Any:
    return jsonschema_rs.validator_for(schema, validate_formats=True)


FIELDS = RegisterRequest.model_json_schema()["properties"]
USERNAME = validator(FIELDS["username"])
EMAIL = validator(FIELDS["email"])

# Letters, digits and the allowed punctuation, with what sits next to them in
# mistakes and attacks: spaces, a newline (Python's `$` matches before one),
# quotes, a NUL, a letter outside ASCII, another script's digit.
NAME_CHARACTERS = st.sampled_from(list("aZ09_.-") + [" ", "\n", "'", "\x00", "ø", "٣", "@", "/"])


@settings(max_examples=400, deadline=None, database=None)
@given(st.text(NAME_CHARACTERS, max_size=40) | st.text(max_size=40))
def test_the_username_schema_accepts_exactly_what_the_policy_accepts(name: str) -> None:
    assert USERNAME.is_valid(name) == is_possible_username(name)


@pytest.mark.parametrize("name", ["bob\n", "bob\r\n", "\nbob"])
def test_a_username_with_a_newline_is_refused_by_both(name: str) -> None:
    """The policy matched `^[A-Za-z0-9_.-]+$` with `re.match`: "bob\\n" passed."""
    assert not is_possible_username(name)
    assert not USERNAME.is_valid(name)


def policy_takes_email(address: str) -> bool:
    try:
        normalise_email(address)
    except PolicyError:
        return False
    return True


@pytest.mark.parametrize(
    "address",
    [
        "jane@example.com",
        "user+tag@mail.example.org",
        "a@b.c",
        "bø@example.com",  # internationalised: why the format is idn-email
        "x@localhost.example.com",  # a refused name inside a domain is fine
        "a@b.рф",
    ],
)
def test_an_address_both_accept(address: str) -> None:
    assert EMAIL.is_valid(address) and policy_takes_email(address)


@pytest.mark.parametrize(
    "address",
    [
        *(f"someone@mail.{domain}" for domain in EMAIL_REFUSED_DOMAINS),
        "someone@Mail.TEST",
        "someone@test",
        "x@localhost",
        "not-an-address",
        "a@b",  # no dot in the domain
        '"quoted"@example.com',
        "a@[192.0.2.1]",
        "a b@example.com",
        "a\x00b@example.com",
        "a@b.c" + "c" * 250,  # 256 characters
    ],
)
def test_an_address_both_refuse(address: str) -> None:
    assert not EMAIL.is_valid(address)
    assert not policy_takes_email(address)


def test_the_email_pattern_refuses_only_domains_it_can_spell() -> None:
    with pytest.raises(ValueError, match="cannot write a pattern"):
        email_pattern(("exa mple",))


def request_schemas(settings: AuthSettings) -> dict[str, Any]:
    document = create_app(settings).openapi()
    assert SETTING_BOUND not in json.dumps(document)  # every mark replaced
    return dict(document["components"]["schemas"])


def string_branch(schema: dict[str, Any]) -> dict[str, Any]:
    """The non-null branch of an optional field's schema (or the schema itself)."""
    branches = [b for b in schema.get("anyOf", [schema]) if b.get("type") != "null"]
    assert len(branches) == 1, schema
    return dict(branches[0])


NEW_PASSWORDS = [
    ("RegisterRequest", "password"),
    ("AdminUserCreate", "password"),
    ("AdminUserPatch", "password"),
    ("PasswordChangeRequest", "new_password"),
]


@pytest.mark.parametrize(
    ("min_length", "max_length", "max_days"), [(8, 128, 365), (12, 64, 30), (1, 4096, 7)]
)
def test_the_document_declares_this_deployments_password_and_token_bounds(
    min_length: int, max_length: int, max_days: int
) -> None:
    settings = AuthSettings(
        password_min_length=min_length,
        password_max_length=max_length,
        api_token_max_days=max_days,
        password_min_score=0,
    )
    schemas = request_schemas(settings)
    for model, field in NEW_PASSWORDS:
        declared = string_branch(schemas[model]["properties"][field])
        assert (declared["minLength"], declared["maxLength"]) == (min_length, max_length)
        shortest, longest = "k" * declared["minLength"], "k" * declared["maxLength"]
        limits = {"min_length": min_length, "max_length": max_length, "min_score": 0}
        assert check_password(shortest, **limits) == shortest
        assert check_password(longest, **limits) == longest
        for outside in ("k" * (declared["minLength"] - 1), longest + "k"):
            with pytest.raises(PolicyError, match="password must be at"):
                check_password(outside, **limits)
    days = string_branch(schemas["TokenCreateRequest"]["properties"]["expires_in_days"])
    assert (days["minimum"], days["maximum"]) == (1, max_days)
    policy = TokenPolicy(max_days=max_days)
    assert policy.lifetime_days(days["maximum"]) == max_days
    for outside in (days["minimum"] - 1, days["maximum"] + 1):
        with pytest.raises(PolicyError, match="expires_in_days must be between"):
            policy.lifetime_days(outside)


def test_a_login_or_a_current_password_keeps_its_outer_bounds_only() -> None:
    """An account made under an older policy must still sign in: no policy there."""
    schemas = request_schemas(AuthSettings(password_min_length=12))
    for model, field in [
        ("LoginRequest", "username"),
        ("LoginRequest", "password"),
        ("PasswordChangeRequest", "current_password"),
        ("TokenCreateRequest", "password"),
    ]:
        declared = schemas[model]["properties"][field]
        assert declared["minLength"] == 1 and "pattern" not in declared, (model, field)
