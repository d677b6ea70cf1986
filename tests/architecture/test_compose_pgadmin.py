"""compose.yaml runs pgAdmin as `make up` does (issue 15): the official image at the
version pgadmin/requirements.lock pins, sign-in only by the web server, the name
believed only from nginx's fixed address on a network of their own, no saved
passwords, the registered server the read-only role. (No Docker engine here: this
reads the file; the local stack's e2e test runs the same settings for real.)"""

from __future__ import annotations

import ast
import ipaddress
import json
import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return loaded


def pgadmin_config(service: dict[str, Any]) -> dict[str, Any]:
    """The PGADMIN_CONFIG_* settings as pgAdmin reads them (Python literals)."""
    prefix = "PGADMIN_CONFIG_"
    return {
        name[len(prefix) :]: ast.literal_eval(re.sub(r"\$\{[A-Z_]+\}", "x", str(value)))
        for name, value in service["environment"].items()
        if name.startswith(prefix)
    }


def test_the_image_is_the_locked_version() -> None:
    locked = re.search(r"^pgadmin4==(\S+)", (ROOT / "pgadmin/requirements.lock").read_text(), re.M)
    assert locked
    assert compose()["services"]["pgadmin"]["image"] == f"dpage/pgadmin4:{locked.group(1)}"


def test_pgadmin_believes_names_only_from_nginx_with_the_secret() -> None:
    services = compose()["services"]
    config = pgadmin_config(services["pgadmin"])
    assert config["SERVER_MODE"] is True
    assert config["AUTHENTICATION_SOURCES"] == ["webserver"]
    assert config["WEBSERVER_REMOTE_USER"] == "X-Ticktide-Pgadmin-User"
    assert config["WEBSERVER_REMOTE_USER_FROM_HEADER"] is True
    assert config["ALLOW_SAVE_PASSWORD"] is False
    assert (
        "${TICKTIDE_PGADMIN_SECRET}"
        in services["pgadmin"]["environment"]["PGADMIN_CONFIG_WEBSERVER_SHARED_SECRET"]
    )
    nginx_address = ipaddress.ip_address(services["nginx"]["networks"]["pgadmin"]["ipv4_address"])
    trusted = [ipaddress.ip_network(n) for n in config["WEBSERVER_TRUSTED_PROXIES"]]
    assert trusted == [ipaddress.ip_network(f"{nginx_address}/32")]
    network = compose()["networks"]["pgadmin"]
    assert network["internal"] is True
    assert nginx_address in ipaddress.ip_network(network["ipam"]["config"][0]["subnet"])
    assert set(services["pgadmin"]["networks"]) == {"default", "pgadmin"}
    assert "ports" not in services["pgadmin"]  # reachable through nginx only
    # compose's nginx fills both secrets in, and its config has pgAdmin's locations.
    assert "TICKTIDE_PGADMIN_SECRET" in services["nginx"]["environment"]
    assert re.fullmatch(
        services["nginx"]["environment"]["NGINX_ENVSUBST_FILTER"].replace("$$", "$"),
        "TICKTIDE_PGADMIN_SECRET",
    )
    conf = (ROOT / "nginx/compose.conf").read_text()
    assert "proxy_pass http://pgadmin:80;" in conf
    assert 'X-Pgadmin-Webserver-Secret "${TICKTIDE_PGADMIN_SECRET}"' in conf


def test_the_registered_server_is_the_read_only_role() -> None:
    document = compose()
    servers = json.loads(document["configs"]["pgadmin-servers"]["content"])["Servers"]
    assert [s["Username"] for s in servers.values()] == ["ticktide_readonly"]
    assert all(s["Shared"] and "Password" not in s for s in servers.values())
    assert document["services"]["gateway"]["environment"]["PGADMIN_URL"].startswith(
        "http://pgadmin:80/"
    )
