"""JSON-Schema validation of a loaded blueprint, with messages located in the YAML."""

from __future__ import annotations

import difflib
import json
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import Diagnostic
from .source import SourceMap
from .spec import WAIT_KINDS

if TYPE_CHECKING:  # jsonschema is imported only to explain an invalid document (slow import)
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

_TYPE_NAMES = {
    dict: "a mapping", list: "a list", str: "a string", bool: "a boolean",
    int: "an integer", float: "a number", type(None): "nothing (null)",
}


@cache
def schema() -> dict[str, Any]:
    """The blueprint JSON Schema shipped in the package (``blueprint/schema.json``)."""
    # beside this file (importlib.resources would cost a start-up 4 ms of imports)
    text = Path(__file__).with_name("schema.json").read_text("utf-8")
    return dict(json.loads(text))


@cache
def _validator() -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(schema())


def suggest(word: str, choices: Any) -> str:
    """A " (did you mean 'x'?)" suffix, or '' when nothing is close."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _describe(value: Any) -> str:
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def _message(err: ValidationError) -> str:
    v, inst = err.validator, err.instance
    if v == "required":
        missing = [k for k in err.validator_value if k not in inst]
        return f"missing required key '{missing[0]}'" if missing else err.message
    if v == "type":
        expected = err.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        return f"expected {expected}, got {_describe(inst)}"
    if v == "enum":
        allowed = ", ".join(repr(x) for x in err.validator_value)
        hint = suggest(inst, err.validator_value)
        return f"{inst!r} is not allowed here; use one of: {allowed}{hint}"
    if v == "const":
        return f"must be {err.validator_value!r}, not {inst!r}"
    if v == "pattern" and "(ms|s|m|h|d)" in err.validator_value:
        return (f"{inst!r} is not a duration: use seconds or numbers followed by ms, s, m, "
                "h or d (30s, 5m, 1h30m)")
    if v == "pattern":
        return f"{inst!r} is not valid here (must match {err.validator_value})"
    if v in ("minimum", "exclusiveMinimum"):
        return f"{inst!r} is too small (minimum {err.validator_value})"
    if v in ("minItems", "minProperties", "minLength"):
        return "must not be empty"
    return str(err.message)


def _one_of(err: ValidationError) -> ValidationError | str:
    keys = {frozenset(s.get("required", [])) for s in err.validator_value if isinstance(s, dict)}
    if keys == {frozenset({"script"}), frozenset({"inline"})}:
        return "an action needs exactly one of 'script' or 'inline'"
    if keys == {frozenset({k}) for k in WAIT_KINDS}:
        given = [k for k in WAIT_KINDS if isinstance(err.instance, dict) and k in err.instance]
        return (f"a wait needs exactly one of {', '.join(WAIT_KINDS)}"
                + (f" (it has {', '.join(given)})" if given else ""))
    if not err.context:
        return err
    # Prefer the branch that matched the instance's type (mapping vs. string shorthand):
    # its errors lie deeper, or at least are not type/enum mismatches.
    from jsonschema.exceptions import best_match

    deeper = [e for e in err.context if len(e.absolute_path) > len(err.absolute_path)]
    typed = [e for e in err.context if e.validator not in ("type", "enum", "const")]
    return best_match(deeper or typed or err.context)


def _diagnostics(err: ValidationError, smap: SourceMap, hint: str = "") -> list[Diagnostic]:
    path = tuple(err.absolute_path)
    if err.validator in ("oneOf", "anyOf"):
        picked = _one_of(err)
        if isinstance(picked, str):
            return [smap.diag(path, picked)]
        if picked is not err:
            same_place = len(picked.absolute_path) == len(err.absolute_path)
            return _diagnostics(picked, smap, str(err.schema.get("description", "")) * same_place)
    if "propertyNames" in err.relative_schema_path:
        name = err.instance
        msg = f"invalid name {name!r}: use letters, digits and '_' (entities may use '-'), "
        msg += "starting with a letter"
        return [smap.diag((*path, str(name)), msg, key=True)]
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        allowed = list(err.schema.get("properties", {}))
        extra = [k for k in err.instance if k not in allowed]
        return [smap.diag((*path, k), _unknown_key(k, allowed), key=True) for k in extra]
    message = _message(err)
    return [smap.diag(path, f"{message}; {hint}" if hint and path else message)]


def _unknown_key(key: Any, allowed: list[str]) -> str:
    if str(key) in ("True", "False"):  # YAML 1.1 reads a bare on/off/yes/no as a boolean
        near = [a for a in allowed if a.startswith("on_" if str(key) == "True" else "off_")]
        return (f"unknown key {key}: YAML reads a bare on, off, yes or no as a boolean"
                + (f" (did you mean '{near[-1]}'?)" if near else ""))
    return f"unknown key '{key}'{suggest(str(key), allowed)}"


def fast_schema() -> dict[str, Any]:
    """The schema as fastjsonschema compiles it (it uses nothing beyond draft 7) into
    ``schema_check.py`` (scripts/schema_check.py)."""
    return {**schema(), "$schema": "http://json-schema.org/draft-07/schema#"}


def check_schema(data: Any, smap: SourceMap) -> list[Diagnostic]:
    """Every schema violation in ``data`` as located diagnostics.

    A compiled validator answers "valid" quickly; only an invalid document pays for
    jsonschema's full walk, which finds every error with its path.
    """
    import fastjsonschema

    from . import schema_check

    try:
        schema_check.validate(data)  # type: ignore[no-untyped-call]
        return []
    except fastjsonschema.JsonSchemaException:
        pass
    out: list[Diagnostic] = []
    for err in _validator().iter_errors(data):
        out.extend(_diagnostics(err, smap))
    return out


@cache
def _library_validator() -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    library = schema()["$defs"]["library"]  # the blueprint schema, rooted at a library
    return Draft202012Validator({**schema(), **library, "title": "murano-flow library"})


def check_library(data: Any, smap: SourceMap) -> list[Diagnostic]:
    """Every schema violation in a library of entity types, as located diagnostics."""
    out: list[Diagnostic] = []
    for err in _library_validator().iter_errors(data):
        out.extend(_diagnostics(err, smap))
    return out
