"""Blueprint expressions: Jinja2 templates run in its sandbox, and their static analysis.

A string containing ``{{`` or ``{%`` is a template. A string that is exactly one
``{{ expression }}`` evaluates to the expression's native value (an integer stays
an integer); any other template renders to a string.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateError, Undefined, nodes
from jinja2.sandbox import SandboxedEnvironment

from ..errors import MuranoFlowError

#: Names a blueprint expression may use.
CONTEXT_NAMES = frozenset({"params", "index", "entity", "group", "count", "outputs", "deployment"})

_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
_SINGLE = re.compile(r"^\s*\{\{(?P<expr>(?:(?!\{\{|\}\}).)*)\}\}\s*$", re.DOTALL)


class ExpressionError(MuranoFlowError):
    """An expression failed to compile or to evaluate."""

    exit_code = 2


def is_template(value: Any) -> bool:
    """Whether ``value`` is a string holding an expression."""
    return isinstance(value, str) and ("{{" in value or "{%" in value)


@lru_cache(maxsize=4096)
def _compile(src: str) -> Any:
    m = _SINGLE.match(src)
    if m:
        return _ENV.compile_expression(m["expr"], undefined_to_none=False)
    return _ENV.from_string(src)


def render(value: Any, context: dict[str, Any]) -> Any:
    """Evaluate ``value`` (recursively through lists and dicts) in ``context``."""
    if isinstance(value, dict):
        return {k: render(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, context) for v in value]
    if not is_template(value):
        return value
    try:
        compiled = _compile(value)
        if hasattr(compiled, "render"):
            return compiled.render(context)
        result = compiled(**context)
    except TemplateError as exc:
        raise ExpressionError(f"expression {value!r}: {exc}") from exc
    except (TypeError, ValueError, ArithmeticError, LookupError, AttributeError) as exc:
        raise ExpressionError(f"expression {value!r}: {type(exc).__name__}: {exc}") from exc
    if result is None or _has_undefined(result):
        raise ExpressionError(f"expression {value!r} has no value (a missing output or "
                              "attribute, or an unsafe operation the sandbox refused)")
    return result


def _has_undefined(value: Any) -> bool:
    if isinstance(value, Undefined):
        return True
    if isinstance(value, list | tuple):
        return any(_has_undefined(v) for v in value)
    if isinstance(value, dict):
        return any(_has_undefined(v) for v in value.values())
    return False


@dataclass
class Analysis:
    """What a template reads: context names, parameters and node outputs."""

    names: set[str] = field(default_factory=set)
    params: set[str] = field(default_factory=set)
    #: (reference text, output name or None) for every ``outputs['ref'].name``.
    outputs: list[tuple[str, str | None]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@lru_cache(maxsize=4096)
def analyze(src: str) -> Analysis:
    """Statically inspect the template ``src`` (the result is cached; do not mutate it)."""
    out = Analysis()
    m = _SINGLE.match(src)
    text = "{{" + m["expr"] + "}}" if m else src
    try:
        tree = _ENV.parse(text)
    except TemplateError as exc:
        out.problems.append(f"expression syntax error: {getattr(exc, 'message', exc)}")
        return out
    _collect_names(tree, out)
    _collect_outputs(tree, out)
    _collect_params(tree, out)
    return out


def _collect_names(tree: nodes.Template, out: Analysis) -> None:
    assigned = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    for n in tree.find_all(nodes.Name):
        if n.ctx == "load" and n.name not in assigned and n.name not in _ENV.globals:
            out.names.add(n.name)


def _const_key(node: nodes.Node) -> str | None:
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        return str(node.arg.value)
    if isinstance(node, nodes.Getattr):
        return node.attr
    return None


def _collect_outputs(tree: nodes.Template, out: Analysis) -> None:
    literal: set[int] = set()
    for item in tree.find_all(nodes.Getitem):
        is_outputs = isinstance(item.node, nodes.Name) and item.node.name == "outputs"
        if is_outputs and isinstance(item.arg, nodes.Const) and isinstance(item.arg.value, str):
            literal.add(id(item.node))
            out.outputs.append((item.arg.value, None))
    for outer in list(tree.find_all(nodes.Getitem)) + list(tree.find_all(nodes.Getattr)):
        inner = outer.node
        if isinstance(inner, nodes.Getitem) and id(inner.node) in literal:
            ref = str(inner.arg.value)  # type: ignore[attr-defined]
            attr = _const_key(outer)
            if attr is not None:
                if (ref, None) in out.outputs:
                    out.outputs.remove((ref, None))
                out.outputs.append((ref, attr))
    for n in tree.find_all(nodes.Name):
        if n.name == "outputs" and id(n) not in literal:
            out.problems.append(
                "'outputs' must be indexed by a literal reference, e.g. outputs['vm[0].Allocated']"
            )
            break


def _collect_params(tree: nodes.Template, out: Analysis) -> None:
    for node in list(tree.find_all(nodes.Getattr)) + list(tree.find_all(nodes.Getitem)):
        if isinstance(node.node, nodes.Name) and node.node.name == "params":
            key = _const_key(node)
            if key is not None:
                out.params.add(key)
