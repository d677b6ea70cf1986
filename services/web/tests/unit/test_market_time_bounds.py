"""The market pages read times with the API's own parser: a time whose UTC value
leaves the years 1-9999 is a form error on its field, not an OverflowError (500)."""

from __future__ import annotations

import pytest

from ticktide_web.pages.market import BadInput, parse_time


@pytest.mark.parametrize("text", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:00:00-05:00"])
def test_unrepresentable_utc_times_are_a_form_error(text: str) -> None:
    with pytest.raises(BadInput) as raised:
        parse_time(text, "start")
    assert raised.value.field == "start"
    assert "outside the years 1 to 9999" in str(raised.value.args)
