"""Who the CLI signs in as, and where it connects. The URL: --url, TICKTIDE_URL,
the saved login's, else https://localhost:8443. The token, first found wins:
--token / TICKTIDE_TOKEN; the saved login (`ticktide login`:
`$XDG_CONFIG_HOME/ticktide/credentials.json`, mode 0600 in a 0700 directory);
the host's operator token (`$TICKTIDE_RUN_DIR/operator-token`, written by
`make up` and the bootstrap `ticktide user create --admin`)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ticktide_cli.errors import CliError

__all__ = [
    "DEFAULT_URL",
    "Credential",
    "SavedLogin",
    "resolve_credential",
    "credentials_path",
    "run_dir",
    "operator_token_path",
    "load_login",
    "save_login",
    "delete_login",
    "write_secret_file",
]

DEFAULT_URL = "https://localhost:8443"
NOT_SIGNED_IN = "not signed in: set TICKTIDE_TOKEN or run `ticktide login`"
# scripts/lib.sh's repository root: this file is libs/cli/src/ticktide_cli/credentials.py.
_REPOSITORY_ROOT = Path(__file__).resolve().parents[4]

Origin = Literal["option", "environment", "login", "operator"]


@dataclass(frozen=True)
class Credential:
    url: str
    token: str
    origin: Origin

    def refused_hint(self) -> str:
        """What to do when the server refuses this token (401)."""
        if self.origin == "operator":
            return "the operator token is no longer valid: run `make up` to renew it"
        if self.origin == "login":
            return "the saved login is no longer valid: run `ticktide login` again"
        return "the token (TICKTIDE_TOKEN / --token) is revoked, expired or unknown"


@dataclass(frozen=True)
class SavedLogin:
    url: str
    token: str
    username: str


def credentials_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME") or Path.home()) / ".config")
    return Path(base) / "ticktide" / "credentials.json"


def run_dir(env: Mapping[str, str] | None = None, cwd: Path | None = None) -> Path:
    """As scripts/lib.sh: TICKTIDE_RUN_DIR, else `.run` of the current directory
    when it has one, else `.run` under the repository root."""
    env = os.environ if env is None else env
    if env.get("TICKTIDE_RUN_DIR"):
        return Path(env["TICKTIDE_RUN_DIR"])
    here = (cwd or Path.cwd()) / ".run"
    return here if here.is_dir() else _REPOSITORY_ROOT / ".run"


def operator_token_path(env: Mapping[str, str] | None = None, cwd: Path | None = None) -> Path:
    return run_dir(env, cwd) / "operator-token"


def write_secret_file(path: Path, text: str) -> None:
    """Write `text` readable by this user only (file 0600, its directory 0700 if we make it)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def load_login(env: Mapping[str, str] | None = None) -> SavedLogin | None:
    path = credentials_path(env)
    try:
        body = json.loads(path.read_text())
        return SavedLogin(str(body["url"]), str(body["token"]), str(body["username"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CliError(f"{path}: unreadable saved login ({exc}); run `ticktide login`") from None


def save_login(login: SavedLogin, env: Mapping[str, str] | None = None) -> Path:
    path = credentials_path(env)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    body = {"url": login.url, "token": login.token, "username": login.username}
    write_secret_file(path, json.dumps(body, indent=2) + "\n")
    return path


def delete_login(env: Mapping[str, str] | None = None) -> bool:
    try:
        credentials_path(env).unlink()
    except FileNotFoundError:
        return False
    return True


def _read_operator_token(path: Path) -> str | None:
    try:
        token = path.read_text().strip()
    except (FileNotFoundError, PermissionError, IsADirectoryError):
        return None
    return token or None


def resolve_url(url_option: str | None, env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    if url_option:
        return url_option.rstrip("/")
    if env.get("TICKTIDE_URL"):
        return env["TICKTIDE_URL"].rstrip("/")
    login = load_login(env)
    return login.url if login else DEFAULT_URL


def resolve_credential(
    token_option: str | None,
    url_option: str | None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Credential:
    """The credential to use, in the documented order; `CliError` when there is none."""
    env = os.environ if env is None else env
    url = resolve_url(url_option, env)
    if token_option:
        return Credential(url, token_option.strip(), "option")
    if env.get("TICKTIDE_TOKEN"):
        return Credential(url, env["TICKTIDE_TOKEN"].strip(), "environment")
    login = load_login(env)
    if login is not None:
        return Credential(url, login.token, "login")
    operator = _read_operator_token(operator_token_path(env, cwd))
    if operator is not None:
        return Credential(url, operator, "operator")
    raise CliError(NOT_SIGNED_IN)
