"""Durations as operators and blueprint authors write them: a number of seconds, or a
number with a unit ('500ms', '30s', '5m', '2h', '7d'), or several ('1h30m', '2d12h')."""

from __future__ import annotations

import re
from typing import Any

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = r"[0-9]+(?:\.[0-9]+)?(?:ms|s|m|h|d)"


def seconds(value: Any) -> float:
    """``value`` in seconds; ValueError naming the accepted forms if it is not a duration."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    if re.fullmatch(r"[0-9]+(?:\.[0-9]+)?", text):
        return float(text)
    if not re.fullmatch(f"({_PART})+", text):
        raise ValueError(f"{value!r} is not a duration (write seconds, or e.g. 500ms, 30s, "
                         "5m, 2h, 7d, 1h30m)")
    return sum(float(n) * _UNITS[u] for n, u in re.findall(r"([0-9.]+)(ms|s|m|h|d)", text))
