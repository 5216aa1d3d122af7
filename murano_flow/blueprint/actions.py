"""Building :class:`ActionSpec` and :class:`HostSpec` from schema-valid blueprint data."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..durations import seconds
from .files import MAX_SCRIPT_BYTES, Sources
from .source import Path as YPath
from .spec import DEFAULT_TIMEOUT, MAX_TIMEOUT, SHELL_BY_SUFFIX, ActionSpec, HostSpec, RetryPolicy


def retry_policy(raw: Any) -> RetryPolicy:
    """A RetryPolicy from an integer or a ``retries`` mapping."""
    if raw is None:
        return RetryPolicy()
    if isinstance(raw, int):
        return RetryPolicy(count=raw)
    return RetryPolicy(
        count=raw.get("count", 1),
        delay=seconds(raw.get("delay", 1)),
        backoff=float(raw.get("backoff", 2.0)),
        max_delay=seconds(raw.get("max_delay", 60)),
        on=tuple(raw.get("on_failures", ())) + tuple(raw.get("on_exit_codes", ())),
        jitter=bool(raw.get("jitter", True)),
    )


class ActionBuilder:
    """Turns ``action``/``check``/``undo`` values into ActionSpecs, reading script files once.

    ``diag`` reports a problem at a path; ``folder_of`` says which folder the scripts
    of a path are relative to (an entity type's, in its library's folder).
    """

    def __init__(self, sources: Sources, diag: Callable[[YPath, str], None],
                 folder_of: Callable[[YPath], Path]) -> None:
        self.sources, self.diag, self.folder_of = sources, diag, folder_of

    def build(self, raw: Any, path: YPath) -> ActionSpec | None:
        """The ActionSpec for ``raw`` at ``path``, or None (with a problem) if unusable."""
        if raw is None:
            return None
        if isinstance(raw, str):
            if _looks_like_path(raw):
                self.diag(path, f"{raw!r} is run as an inline shell command; to run that "
                                f"file, write {{script: {raw.strip()}}}")
                return None
            return ActionSpec(shell="sh", body=raw, origin="<inline>")  # noqa: S604 - a name
        if "script" in raw:
            body, key = self.sources.read(self.folder_of(path), raw["script"], "script file",
                                          confined=True, limit=MAX_SCRIPT_BYTES)
            if body is None:
                self.diag((*path, "script"), key)
                return None
            origin = raw["script"]
            shell = raw.get("shell") or SHELL_BY_SUFFIX.get(Path(origin).suffix, "sh")
        else:
            body, origin, shell = raw["inline"], "<inline>", raw.get("shell", "sh")
        timeout = seconds(raw.get("timeout", DEFAULT_TIMEOUT))
        if not 0 < timeout <= MAX_TIMEOUT:
            self.diag((*path, "timeout"), f"timeout must be longer than zero and at most "
                                          f"{MAX_TIMEOUT / 86400:g} days, not "
                                          f"{raw.get('timeout')!r}")
            return None
        return ActionSpec(
            shell=shell,
            body=body,
            origin=origin,
            args=tuple(raw.get("args", ())),
            env=tuple(raw.get("env", {}).items()),
            params=raw.get("params"),
            timeout=timeout,
            retries=retry_policy(raw.get("retries")),
        )


def _looks_like_path(text: str) -> bool:
    text = text.strip()
    suffix = os.path.splitext(text)[1]
    return "\n" not in text and " " not in text and suffix in (*SHELL_BY_SUFFIX, ".sh")


def host_spec(raw: Any) -> HostSpec:
    """A HostSpec from ``'local'`` or a host mapping (values kept as templates)."""
    if raw is None or raw == "local":
        return HostSpec("local")
    fields = tuple((k, v) for k, v in raw.items() if k != "transport")
    return HostSpec(raw.get("transport", "local"), fields)


def action_templates(spec: ActionSpec | None, path: YPath) -> list[tuple[YPath, str]]:
    """Every (path, template) of an action that is rendered at dispatch time."""
    if spec is None:
        return []
    out: list[tuple[YPath, str]] = []
    walk_templates(spec.args, (*path, "args"), out)
    walk_templates(dict(spec.env), (*path, "env"), out)
    walk_templates(spec.params, (*path, "params"), out)
    return out


def host_templates(host: HostSpec, path: YPath) -> list[tuple[YPath, str]]:
    """Every (path, template) of a host mapping."""
    out: list[tuple[YPath, str]] = []
    walk_templates({"transport": host.transport, **dict(host.fields)}, path, out)
    return out


def walk_templates(value: Any, path: YPath, out: list[tuple[YPath, str]]) -> None:
    """Collect every (path, template string) found in ``value``."""
    if isinstance(value, str) and ("{{" in value or "{%" in value):
        out.append((path, value))
    elif isinstance(value, dict):
        for k, v in value.items():
            walk_templates(v, (*path, k), out)
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            walk_templates(v, (*path, i), out)
