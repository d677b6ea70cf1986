"""Render nginx/ticktide.conf.template: `render-nginx.py TEMPLATE OUT NAME=VALUE...`.

Fills every `{{NAME}}` field and refuses a field without a value (or a value for no
field), so the template and its callers cannot drift apart silently. Standard library
only: it runs before and without the project's virtual environment.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

FIELD = re.compile(r"\{\{([A-Z_]+)\}\}")


def render(template: str, values: dict[str, str]) -> str:
    fields = set(FIELD.findall(template))
    missing = sorted(fields - values.keys())
    unknown = sorted(values.keys() - fields)
    if missing or unknown:
        raise SystemExit(f"render-nginx: missing values {missing}, unknown names {unknown}")
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
        Path(out_path).write_text(rendered, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
