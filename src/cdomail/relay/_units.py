"""Units in relay.toml: durations ("90s", "5m", "5d"), sizes ("35MB"), rates ("30/min")."""

from __future__ import annotations

import re

__all__ = ["parse_duration", "parse_rate", "parse_size"]

_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
# Decimal units as printed by mail providers ("35 MB" at Microsoft 365); binary ones on request.
_SIZE_UNITS = {
    "": 1, "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3,
    "kib": 1024, "mib": 1024**2, "gib": 1024**3,
}
_NUMBER_UNIT = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*")


def parse_duration(value: object) -> float:
    """Seconds from a number (seconds) or a string such as ``"90s"``, ``"5m"``, ``"1h"``, ``"5d"``.

    Raises ValueError with the accepted forms.
    """
    if isinstance(value, bool):
        raise ValueError("a duration, not true/false")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _NUMBER_UNIT.fullmatch(str(value))
        unit = match.group(2).lower() if match else ""
        if match is None or unit not in _DURATION_UNITS:
            raise ValueError(f"{value!r} is not a duration: use e.g. \"30s\", \"5m\", \"5d\"")
        seconds = float(match.group(1)) * _DURATION_UNITS[unit]
    if seconds < 0:
        raise ValueError(f"{value!r}: a duration cannot be negative")
    return seconds


def parse_size(value: object) -> int:
    """Bytes from an integer or a string such as ``"35MB"`` (decimal) or ``"10MiB"`` (binary)."""
    if isinstance(value, int) and not isinstance(value, bool):
        size = value
    else:
        match = _NUMBER_UNIT.fullmatch(str(value))
        unit = match.group(2).lower() if match else "?"
        if match is None or unit not in _SIZE_UNITS:
            raise ValueError(f"{value!r} is not a size: use e.g. \"35MB\", \"10MiB\" or bytes")
        size = int(float(match.group(1)) * _SIZE_UNITS[unit])
    if size <= 0:
        raise ValueError(f"{value!r}: a size must be positive")
    return size


def parse_rate(value: object) -> tuple[int, float]:
    """``(count, seconds)`` from ``"30/min"``, ``"100/h"``, ``"5/s"`` or ``"30/90s"``."""
    text = str(value)
    count_text, slash, period = text.partition("/")
    named = {"s": 1.0, "sec": 1.0, "min": 60.0, "h": 3600.0, "hour": 3600.0, "d": 86400.0,
             "day": 86400.0}
    try:
        count = int(count_text.strip())
        seconds = named.get(period.strip().lower()) or parse_duration(period.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not a rate: use e.g. \"30/min\", \"100/h\"") from None
    if not slash or count <= 0 or seconds <= 0:
        raise ValueError(f"{text!r} is not a rate: use e.g. \"30/min\", \"100/h\"")
    return count, seconds
