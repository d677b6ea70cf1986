"""The JSON text of one stored candle (`crypto_prices.candle_json`): its one
definition as a SQL expression (the writer's fresh-COPY path renders the same
text in Python, in its service module's `copy_text`).

`{"t":"YYYY-MM-DDTHH:MM:SSZ","o":…,"h":…,"l":…,"c":…,"v":…}` where each number
is exactly `numeric::text` of the stored value (the provider's digits). The
writer stores it with the row so that the gateway only concatenates ready text;
rows without it (written by anything else) are rendered by the same SQL.
"""

from __future__ import annotations

__all__ = ["candle_json_sql"]


def candle_json_sql(alias: str = "") -> str:
    """The SQL expression of a row's candle JSON from its columns
    (`datetime`, `open_price` … `volume`, all numeric), optionally qualified."""
    p = f"{alias}." if alias else ""
    return (
        f"""concat('{{"t":"', to_char({p}datetime AT TIME ZONE 'UTC', """
        f"""'YYYY-MM-DD"T"HH24:MI:SS"Z"'), '","o":', {p}open_price, ',"h":', {p}high_price, """
        f"""',"l":', {p}low_price, ',"c":', {p}close_price, ',"v":', {p}volume, '}}')"""
    )
