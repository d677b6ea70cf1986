"""Which credential the CLI uses: --token, TICKTIDE_TOKEN, the saved login, the
host's operator token, in that order; none is a clear error. The saved login is
mode 0600 in a 0700 directory."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from ticktide_cli.credentials import (
    DEFAULT_URL,
    SavedLogin,
    credentials_path,
    load_login,
    resolve_credential,
    save_login,
)
from ticktide_cli.errors import CliError


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    run = tmp_path / "run"
    run.mkdir()
    return {"HOME": str(tmp_path / "home"), "TICKTIDE_RUN_DIR": str(run)}


def _operator(env: dict[str, str], token: str = "ttk_operator") -> None:
    (Path(env["TICKTIDE_RUN_DIR"]) / "operator-token").write_text(token + "\n")


def test_order_option_environment_login_operator(env: dict[str, str], tmp_path: Path) -> None:
    _operator(env)
    save_login(SavedLogin("https://saved.example:8443", "ttk_login", "ann"), env)
    env["TICKTIDE_TOKEN"] = "ttk_env"

    chosen = resolve_credential("ttk_option", None, env, tmp_path)
    assert (chosen.token, chosen.origin) == ("ttk_option", "option")
    chosen = resolve_credential(None, None, env, tmp_path)
    assert (chosen.token, chosen.origin) == ("ttk_env", "environment")
    del env["TICKTIDE_TOKEN"]
    chosen = resolve_credential(None, None, env, tmp_path)
    assert (chosen.token, chosen.origin, chosen.url) == (
        "ttk_login",
        "login",
        "https://saved.example:8443",
    )
    credentials_path(env).unlink()
    chosen = resolve_credential(None, None, env, tmp_path)
    assert (chosen.token, chosen.origin, chosen.url) == ("ttk_operator", "operator", DEFAULT_URL)


def test_url_option_and_environment_win_over_the_saved_one(
    env: dict[str, str], tmp_path: Path
) -> None:
    save_login(SavedLogin("https://saved.example", "ttk_login", "ann"), env)
    assert resolve_credential(None, None, env, tmp_path).url == "https://saved.example"
    env["TICKTIDE_URL"] = "https://env.example/"
    assert resolve_credential(None, None, env, tmp_path).url == "https://env.example"
    assert resolve_credential(None, "https://opt.example", env, tmp_path).url == (
        "https://opt.example"
    )


def test_no_credential_is_a_clear_error(env: dict[str, str], tmp_path: Path) -> None:
    with pytest.raises(CliError, match="not signed in: set TICKTIDE_TOKEN or run `ticktide login`"):
        resolve_credential(None, None, env, tmp_path)


def test_saved_login_is_private(env: dict[str, str]) -> None:
    path = save_login(SavedLogin("https://h", "ttk_t", "ann"), env)
    assert path == Path(env["HOME"]) / ".config" / "ticktide" / "credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load_login(env) == SavedLogin("https://h", "ttk_t", "ann")


def test_xdg_config_home_is_honoured(env: dict[str, str], tmp_path: Path) -> None:
    env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")
    assert credentials_path(env) == tmp_path / "xdg" / "ticktide" / "credentials.json"


def test_operator_token_refused_hint(env: dict[str, str], tmp_path: Path) -> None:
    _operator(env)
    chosen = resolve_credential(None, None, env, tmp_path)
    assert "make up" in chosen.refused_hint()
