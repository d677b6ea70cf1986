"""Render nginx/ticktide.conf.template: `render-nginx.py TEMPLATE OUT NAME=VALUE...`.

Fills every `{{NAME}}` field and refuses a field without a value (or a value for no
field), so the template and its callers cannot drift apart silently. Standard library
only: it runs before and without the project's virtual environment.

PROXY_SECRET and PGADMIN_SECRET go into quoted header values: it must be 16 to 256 letters, digits,
`-` or `_` (or `${NAME}`, a placeholder the compose nginx fills from its environment).
The output holds it, so the file is written readable by its owner only; no value is
ever printed.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

FIELD = re.compile(r"\{\{([A-Z_]+)\}\}")
SECRET_VALUE = re.compile(r"[A-Za-z0-9_-]{16,256}|\$\{[A-Z_]+\}")


def render(template: str, values: dict[str, str]) -> str:
    fields = set(FIELD.findall(template))
    missing = sorted(fields - values.keys())
    unknown = sorted(values.keys() - fields)
    if missing or unknown:
        raise SystemExit(f"render-nginx: missing values {missing}, unknown names {unknown}")
    for name in ("PROXY_SECRET", "PGADMIN_SECRET"):
        secret = values.get(name)
        if secret is not None and SECRET_VALUE.fullmatch(secret) is None:
            raise SystemExit(
                f"render-nginx: {name} must be 16-256 letters, digits, '-' or '_' "
                "(the value is not shown)"
            )
    return FIELD.sub(lambda match: values[match.group(1)], template)


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        raise SystemExit(__doc__)
    template_path, out_path, *assignments = argv
    values = dict(item.split("=", 1) for item in assignments)
    rendered = render(Path(template_path).read_text(encoding="utf-8"), values)
    if out_path == "-":
        sys.stdout.write(rendered)
    else:
        # Created (or narrowed) to 0600 before the secret is written into it.
        descriptor = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            out.write(rendered)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
