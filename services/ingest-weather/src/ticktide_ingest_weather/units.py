"""Unit conversion into Ticktide's weather units (pure): °C, %, hPa, m/s.

Each function takes a provider's value and the unit the provider says it used
(Open-Meteo's `*_units` block spellings, plus OpenWeather's Kelvin) and answers
the value in our unit, or None for None. Kelvin becomes Celsius exactly as
`k - 273.15` (one float subtraction; tests compare with the same formula).
An unknown unit is a `UnitError`: guessing would store wrong numbers.
"""

from __future__ import annotations

__all__ = [
    "UnitError",
    "kelvin_to_celsius",
    "to_celsius",
    "to_hpa",
    "to_meters_per_second",
    "to_percent",
]

KELVIN_OFFSET = 273.15
_KNOT = 1852.0 / 3600.0
_MPH = 0.44704


class UnitError(ValueError):
    """The provider used a unit this module does not know."""


def kelvin_to_celsius(kelvin: float) -> float:
    return kelvin - KELVIN_OFFSET


def to_celsius(value: float | None, unit: str) -> float | None:
    if value is None:
        return None
    if unit in ("°C", "C", "celsius"):
        return float(value)
    if unit in ("°F", "F", "fahrenheit"):
        return (value - 32.0) * 5.0 / 9.0
    if unit in ("K", "kelvin"):
        return kelvin_to_celsius(value)
    raise UnitError(f"unknown temperature unit {unit!r}")


def to_meters_per_second(value: float | None, unit: str) -> float | None:
    if value is None:
        return None
    if unit in ("m/s", "ms"):
        return float(value)
    if unit in ("km/h", "kmh"):
        return value / 3.6
    if unit in ("mp/h", "mph"):
        return value * _MPH
    if unit in ("kn", "kt", "knots"):
        return value * _KNOT
    raise UnitError(f"unknown wind speed unit {unit!r}")


def to_hpa(value: float | None, unit: str) -> float | None:
    if value is None:
        return None
    if unit in ("hPa", "mbar", "mb"):
        return float(value)
    if unit == "Pa":
        return value / 100.0
    if unit == "kPa":
        return value * 10.0
    if unit == "inHg":
        return value * 33.8639
    raise UnitError(f"unknown pressure unit {unit!r}")


def to_percent(value: float | None, unit: str) -> float | None:
    if value is None:
        return None
    if unit == "%":
        return float(value)
    if unit in ("fraction", ""):
        return value * 100.0
    raise UnitError(f"unknown humidity unit {unit!r}")
