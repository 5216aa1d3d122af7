"""Durations as blueprint authors write them: a number of seconds, or '500ms', '30s', '5m', '2h'."""

from __future__ import annotations

import re
from typing import Any

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "": 1.0}


def seconds(value: Any) -> float:
    """``value`` in seconds; ValueError naming the accepted forms if it is not a duration."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    m = re.fullmatch(r"([0-9]+(?:\.[0-9]*)?)(ms|s|m|h)?", str(value).strip())
    if m is None:
        raise ValueError(f"{value!r} is not a duration (write seconds, or e.g. 500ms, 30s, 5m, 2h)")
    return float(m[1]) * _UNITS[m[2] or ""]
