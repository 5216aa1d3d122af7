"""Building :class:`WaitSpec` from a state's schema-valid ``wait`` mapping, with its checks."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from typing import Any

from ..durations import seconds
from .actions import walk_templates
from .source import Path as YPath
from .spec import WaitSpec

Complain = Callable[[YPath, str], None]


def wait_spec(raw: dict[str, Any] | None, path: YPath, complain: Complain) -> WaitSpec | None:
    """The WaitSpec of a ``wait`` mapping at ``path``; problems go to ``complain``."""
    if raw is None:
        return None
    timeout = seconds(raw["timeout"]) if "timeout" in raw else None
    if "after" in raw:
        _only_with(raw, path, complain, "after", ())
        return WaitSpec("after", after=seconds(raw["after"]))
    if "at" in raw:
        _only_with(raw, path, complain, "at", ("timezone",))
        zone = raw.get("timezone", "UTC")
        from croniter import croniter  # here: 12 ms of start-up for blueprints without one

        if not croniter.is_valid(raw["at"]):
            complain((*path, "at"), f"{raw['at']!r} is not a cron expression: write 5 fields "
                                    "(minute hour day month weekday, e.g. '30 2 * * *'), or 6 "
                                    "with seconds last")
        try:
            zoneinfo.ZoneInfo(zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            complain((*path, "timezone"), f"unknown time zone {zone!r}; write an IANA name "
                                          "such as UTC or Europe/Paris")
        return WaitSpec("at", cron=raw["at"], timezone=zone)
    _only_with(raw, path, complain, "signal" if "signal" in raw else "message", ("timeout",))
    if "signal" in raw:
        return WaitSpec("signal", timeout=timeout)
    msg = raw["message"]
    return WaitSpec("message", exchange=msg["exchange"],
                    exchange_type=msg.get("exchange_type", "topic"),
                    routing_key=msg.get("routing_key", "#"),
                    match=tuple(msg.get("match", {}).items()),
                    from_user=msg.get("from_user", ""), timeout=timeout)


def _only_with(raw: dict[str, Any], path: YPath, complain: Complain, kind: str,
               allowed: tuple[str, ...]) -> None:
    for key in raw:
        if key != kind and key not in allowed:
            why = ("a timer fires at its time: 'timeout' has no meaning for it"
                   if key == "timeout" else f"'{key}' does not go with '{kind}'")
            complain((*path, key), why)


def wait_templates(raw: dict[str, Any] | None, path: YPath) -> list[tuple[YPath, str]]:
    """Every (path, template) of a ``wait`` mapping: message filters may read outputs."""
    out: list[tuple[YPath, str]] = []
    if raw and "message" in raw:
        walk_templates(raw["message"], (*path, "message"), out)
    return out
