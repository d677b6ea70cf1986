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


def test_a_path_parameter_left_out_or_left_as_its_placeholder_gets_the_seeded_value() -> None:
    from types import SimpleNamespace

    from tests.api.fuzz import _fill_missing_path_parameters

    seeded = {"path.batch_id": ["b-1"]}
    path = "/api/crypto/backtest/batch/{batch_id}/events"
    for given in (None, {}, {"batch_id": "{batch_id}"}):
        case = SimpleNamespace(path_parameters=given)
        _fill_missing_path_parameters(path, case, seeded)
        assert case.path_parameters == {"batch_id": "b-1"}, given
    generated = SimpleNamespace(path_parameters={"batch_id": "not-a-uuid"})
    _fill_missing_path_parameters(path, generated, seeded)
    assert generated.path_parameters == {"batch_id": "not-a-uuid"}
