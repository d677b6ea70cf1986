"""Which fuzzed requests would hit the run's own account or token (pure)."""

from __future__ import annotations

from tests.api.guards import redirected

OWN = {"user_id": 7, "token_id": 3}


def test_the_own_account_is_redirected_however_its_id_is_written() -> None:
    for value in (7, "7", " 07", "+7", "7.0"):
        assert redirected("delete", "/api/admin/users/{user_id}", {"user_id": value}, OWN) == (
            "user_id"
        ), value
    assert redirected("DELETE", "/api/auth/tokens/{token_id}", {"token_id": "3"}, OWN) == (
        "token_id"
    )


def test_other_ids_and_operations_are_left_alone() -> None:
    for value in (8, "7.5", "x", "", None):
        assert redirected("DELETE", "/api/admin/users/{user_id}", {"user_id": value}, OWN) is None
    assert redirected("GET", "/api/admin/users/{user_id}", {"user_id": 7}, OWN) is None
    assert redirected("DELETE", "/api/auth/tokens/{token_id}", {"token_id": 3}, {}) is None
    assert redirected("PATCH", "/api/admin/users/{user_id}", None, OWN) is None
