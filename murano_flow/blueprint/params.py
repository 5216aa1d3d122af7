"""Typed blueprint parameters: declaration, coercion of given values, constraints."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import yaml

from ..errors import Diagnostic, UsageError
from .schema import suggest
from .source import MAX_DEPTH, SourceMap, too_deep
from .spec import NO_DEFAULT, Parameter

_PY_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str, "integer": int, "boolean": bool, "list": list, "map": dict,
}
_TRUE, _FALSE = {"true", "yes", "on", "1"}, {"false", "no", "off", "0"}


def declare(raw: dict[str, Any]) -> dict[str, Parameter]:
    """Parameters from the schema-valid ``parameters`` mapping."""
    out = {}
    for name, spec in (raw or {}).items():
        default = spec.get("default", NO_DEFAULT)
        allowed = spec.get("allowed")
        out[name] = Parameter(
            name=name,
            type=spec["type"],
            default=default,
            required=spec.get("required", default is NO_DEFAULT),
            secret=spec.get("secret", False),
            pattern=spec.get("pattern"),
            min=spec.get("min"),
            max=spec.get("max"),
            allowed=tuple(allowed) if allowed is not None else None,
            description=spec.get("description", ""),
        )
    return out


def coerce(param: Parameter, value: Any) -> Any:
    """``value`` (often a command-line string) as ``param``'s type, or raise ValueError."""
    if param.type == "integer" and isinstance(value, str):
        try:
            return int(value.strip(), 0)
        except ValueError:
            raise ValueError(f"expected an integer, got {shown(param, value)}") from None
    if param.type == "boolean" and isinstance(value, str):
        low = value.strip().lower()
        if low in _TRUE | _FALSE:
            return low in _TRUE
        raise ValueError(f"expected true or false, got {shown(param, value)}")
    if param.type in ("list", "map") and isinstance(value, str):
        try:
            value = yaml.safe_load(value)
        except yaml.YAMLError:
            raise ValueError(f"expected a {param.type} in JSON/YAML flow syntax") from None
    want = _PY_TYPES[param.type]
    if not isinstance(value, want) or (param.type == "integer" and isinstance(value, bool)):
        article = "an" if param.type == "integer" else "a"
        raise ValueError(f"expected {article} {param.type}, got {type(value).__name__} "
                         f"{shown(param, value)}")
    return value


def constraint_problems(param: Parameter, value: Any) -> list[str]:
    """Every constraint ``value`` breaks, as messages."""
    out = []
    if param.allowed is not None and value not in param.allowed:
        out.append(f"{shown(param, value)} is not one of the allowed values "
                   f"{list(param.allowed)}")
    sized = value if param.type == "integer" else None
    what = "value"
    if param.type in ("string", "list", "map"):
        sized, what = len(value), "length"
    if sized is not None and param.min is not None and sized < param.min:
        out.append(f"{what} {sized} is below the minimum {param.min}")
    if sized is not None and param.max is not None and sized > param.max:
        out.append(f"{what} {sized} is above the maximum {param.max}")
    if param.pattern and isinstance(value, str) and not re.fullmatch(param.pattern, value):
        out.append(f"{shown(param, value)} does not match the pattern {param.pattern!r}")
    return out


def shown(param: Parameter, value: Any) -> str:
    """``value`` as an error message may show it: masked when ``param`` is secret."""
    return "******" if param.secret else repr(value)


def placeholder(param: Parameter) -> Any:
    """A stand-in value used by validate/plan when a required parameter is not given."""
    return {
        "string": f"<{param.name}>", "integer": max(param.min or 1, 1),
        "boolean": False, "list": [], "map": {},
    }[param.type]


def check_declarations(params: dict[str, Parameter], smap: SourceMap) -> list[Diagnostic]:
    """Problems in the declarations themselves: bad patterns, defaults that break rules."""
    out = []
    for p in params.values():
        path = ("parameters", p.name)
        if p.pattern is not None:
            try:
                re.compile(p.pattern)
            except re.error as exc:
                out.append(smap.diag((*path, "pattern"), f"invalid regular expression: {exc}"))
                continue
        if p.default is NO_DEFAULT:
            continue
        try:
            coerce(p, p.default)
        except ValueError as exc:
            out.append(smap.diag((*path, "default"), f"default of '{p.name}': {exc}"))
            continue
        for msg in constraint_problems(p, p.default):
            out.append(smap.diag((*path, "default"), f"default of '{p.name}': {msg}"))
    return out


def bind(
    params: dict[str, Parameter], given: dict[str, Any], *, strict: bool, origin: str
) -> tuple[dict[str, Any], list[str], list[Diagnostic]]:
    """Values for every parameter: given, else default, else (not strict) a placeholder.

    Returns (values, names that got placeholders, problems).
    """
    values: dict[str, Any] = {}
    assumed: list[str] = []
    problems: list[Diagnostic] = []

    def problem(msg: str) -> None:
        problems.append(Diagnostic(origin, 0, 0, msg))

    for name in given:
        if name not in params:
            problem(f"unknown parameter '{name}'{suggest(name, params)}; "
                    f"this blueprint takes: {', '.join(sorted(params)) or 'none'}")
    for name, p in params.items():
        if name in given and too_deep(given[name]):
            problem(f"parameter '{name}': nested more than {MAX_DEPTH} levels deep")
        elif name in given:
            try:
                values[name] = coerce(p, given[name])
            except ValueError as exc:
                problem(f"parameter '{name}': {exc}")
                continue
            for msg in constraint_problems(p, values[name]):
                problem(f"parameter '{name}': {msg}")
        elif p.default is not NO_DEFAULT:
            values[name] = p.default
        elif p.required and strict:
            problem(f"parameter '{name}' is required: pass -p {name}=VALUE or --params-file")
        elif p.required:
            values[name] = placeholder(p)
            assumed.append(name)
        else:
            values[name] = None
    return values, assumed, problems


def bind_part(params: dict[str, Parameter], given: dict[str, Any], late: frozenset[str],
              report: Callable[..., None], part: str, smap: SourceMap) -> dict[str, Any]:
    """Values for the parameters of a part (declared in ``smap``'s file), from its entry in
    the including blueprint: given, else default; those in ``late`` (bound to outputs,
    rendered at run time) get placeholders. Problems go to ``report(path, message)``,
    with paths under the part's entry."""
    values: dict[str, Any] = {}
    for name in [*given, *late]:
        if name not in params:
            report(("parameters", name), f"part '{part}' has no parameter '{name}'"
                   f"{suggest(name, params)}; {smap.file} takes: "
                   f"{', '.join(sorted(params)) or 'none'}", key=True)
    for name, p in params.items():
        if name in given:
            try:
                values[name] = coerce(p, given[name])
            except ValueError as exc:
                report(("parameters", name), f"parameter '{name}' of part '{part}': {exc}")
                continue
            for msg in constraint_problems(p, values[name]):
                report(("parameters", name), f"parameter '{name}' of part '{part}': {msg}")
        elif name in late:
            values[name] = placeholder(p)
        elif p.default is not NO_DEFAULT:
            values[name] = p.default
        elif p.required:
            line, _ = smap.at(("parameters", name), key=True)
            report((), f"part '{part}' needs a value for parameter '{name}' (declared at "
                       f"{smap.file}:{line}); give it under 'parameters'", key=True)
        else:
            values[name] = None
    return values


def parse_cli_params(pairs: tuple[str, ...] | list[str]) -> dict[str, str]:
    """``name=value`` strings from ``-p`` options as a dict; raise UsageError on bad ones."""
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"bad parameter {pair!r}", hint="write -p name=value")
        out[name.strip()] = value
    return out
