"""Building :class:`ActionSpec` and :class:`HostSpec` from schema-valid blueprint data."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..durations import seconds
from .schema import suggest
from .source import Path as YPath
from .source import SourceMap
from .spec import DEFAULT_TIMEOUT, MAX_TIMEOUT, SHELL_BY_SUFFIX, ActionSpec, HostSpec, RetryPolicy

#: Largest script file a blueprint may reference.
MAX_SCRIPT_BYTES = 1 << 20

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
    """Turns ``action``/``check``/``undo`` values into ActionSpecs, reading script files once."""

    def __init__(self, base_dir: Path, smap: SourceMap, problems: list[Any],
                 preloaded: dict[str, str] | None = None) -> None:
        self.base_dir, self.smap, self.problems = base_dir, smap, problems
        self.preloaded = preloaded
        self.scripts: dict[str, str] = {}

    def build(self, raw: Any, path: YPath) -> ActionSpec | None:
        """The ActionSpec for ``raw`` at ``path``, or None (with a problem) if unusable."""
        if raw is None:
            return None
        if isinstance(raw, str):
            if _looks_like_path(raw):
                self.problems.append(self.smap.diag(
                    path, f"{raw!r} is run as an inline shell command; to run that file, "
                          f"write {{script: {raw.strip()}}}"))
                return None
            return ActionSpec(shell="sh", body=raw, origin="<inline>")  # noqa: S604 - a name
        if "script" in raw:
            body = self._read(raw["script"], (*path, "script"))
            if body is None:
                return None
            origin = raw["script"]
            shell = raw.get("shell") or SHELL_BY_SUFFIX.get(Path(origin).suffix, "sh")
        else:
            body, origin, shell = raw["inline"], "<inline>", raw.get("shell", "sh")
        timeout = seconds(raw.get("timeout", DEFAULT_TIMEOUT))
        if not 0 < timeout <= MAX_TIMEOUT:
            self.problems.append(self.smap.diag(
                (*path, "timeout"), f"timeout must be longer than zero and at most "
                                    f"{MAX_TIMEOUT / 86400:g} days, not {raw.get('timeout')!r}"))
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

    def _read(self, rel: str, path: YPath) -> str | None:
        if rel in self.scripts:
            return self.scripts[rel]
        if self.preloaded is not None:
            if rel in self.preloaded:
                self.scripts[rel] = self.preloaded[rel]
                return self.scripts[rel]
            self.problems.append(self.smap.diag(path, f"script '{rel}' is not in the journal"))
            return None
        file = self.base_dir / rel
        problem = None
        try:
            if not _inside(file, self.base_dir):
                problem = (f"script file '{rel}' is outside the blueprint's folder "
                           f"{self.base_dir} (or a link out of it): a blueprint ships only "
                           "its own scripts; copy the file into that folder")
            elif not file.is_file():
                siblings = [p.name for p in file.parent.iterdir()] if file.parent.is_dir() else []
                problem = f"script file '{rel}' not found (looked for {file})"
                problem += suggest(file.name, siblings)
            elif file.stat().st_size > MAX_SCRIPT_BYTES:
                problem = f"script file '{rel}' is larger than {MAX_SCRIPT_BYTES} bytes"
            else:
                self.scripts[rel] = file.read_text("utf-8")
                return self.scripts[rel]
        except (OSError, UnicodeDecodeError) as exc:
            problem = f"cannot read script file '{rel}': {exc}"
        self.problems.append(self.smap.diag(path, problem))
        return None


def _inside(file: Path, folder: Path) -> bool:
    """Whether ``file``, links and '..' resolved, lies within ``folder``."""
    return file.resolve().is_relative_to(folder.resolve())


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
