"""Blueprint expressions: Jinja2 templates run in its sandbox, and their static analysis.

A string containing ``{{`` or ``{%`` is a template. A string that is exactly one
``{{ expression }}`` evaluates to the expression's native value (an integer stays
an integer); any other template renders to a string.

Blueprints come from their authors (and soon over an API), so one evaluation is bounded:
at most MAX_STEPS template lines executed and MAX_SECONDS spent (loops), results of
``*``, ``**`` and ``%`` no larger than MAX_SIZE characters or items or MAX_INT_BITS bits
(checked before they are computed), and ``range`` as the sandbox bounds it. A template
that goes past a bound fails with an ExpressionError saying which, in validate as at
dispatch, instead of freezing the engine or exhausting memory.
"""

from __future__ import annotations

import difflib
import math
import re
import sys
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateError, Undefined, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ..errors import ExpressionError

#: Names a blueprint expression may use.
CONTEXT_NAMES = frozenset({"params", "index", "entity", "group", "count", "outputs", "deployment",
                           "vars"})

#: Bounds of one evaluation (see the module docstring).
MAX_STEPS = 200_000
MAX_SECONDS = 2.0
MAX_SIZE = 1_000_000
MAX_INT_BITS = 1 << 16
#: A width or precision in a %-format or filter larger than this is refused.
_WIDE = re.compile(r"%[-+ #0]*(\*|\d{7,})|\.(\*|\d{7,})")


class _TooCostly(Exception):  # noqa: N818 - raised into template code, never escapes render()
    """An evaluation went past one of the bounds."""


def _sized(value: Any) -> int:
    return len(value) if isinstance(value, str | list | tuple | dict) else 0


class _BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox that lets no value be changed in place (no ``list.append``), with the
    size of what ``*``, ``**``, ``%`` and ``+`` make checked first; without ``namespace``,
    the one way a value could otherwise grow from one loop turn to the next."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            _check_power(left, right)
        elif operator == "*":
            if _whole(left) and _whole(right) and _bits(left) + _bits(right) > MAX_INT_BITS:
                raise _TooCostly(f"'*' would make a number of more than {MAX_INT_BITS:,} bits")
            for seq, times in ((left, right), (right, left)):
                if _sized(seq) and _whole(times) and _sized(seq) * times > MAX_SIZE:
                    raise _TooCostly(f"'*' would make {_sized(seq) * times:,} items "
                                     f"(at most {MAX_SIZE:,})")
        elif operator == "+" and _sized(left) + _sized(right) > MAX_SIZE:
            raise _TooCostly(f"'+' would make {_sized(left) + _sized(right):,} items "
                             f"(at most {MAX_SIZE:,})")
        elif operator == "%" and isinstance(left, str) and _WIDE.search(left):
            raise _TooCostly("a %-format with a width or precision above 999,999")
        return super().call_binop(context, operator, left, right)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _bits(value: int) -> int:
    return abs(value).bit_length()


def _check_power(base: Any, exponent: Any) -> None:
    if _whole(base) and _whole(exponent) and abs(base) > 1 and exponent > 0:
        bits = exponent * math.log2(abs(base))
        if bits > MAX_INT_BITS:
            raise _TooCostly(f"'**' would make a number of about {bits:,.0f} bits "
                             f"(at most {MAX_INT_BITS:,})")


class _Budget:
    """Counts the template lines one evaluation executes (a trace function of its thread)."""

    def __init__(self) -> None:
        self.steps, self.deadline = 0, time.monotonic() + MAX_SECONDS

    def call(self, frame: Any, event: str, arg: Any) -> Any:
        return self.line if frame.f_code.co_filename == "<template>" else None

    def line(self, frame: Any, event: str, arg: Any) -> Any:
        if event == "line":
            self.steps += 1
            if self.steps > MAX_STEPS:
                raise _TooCostly(f"more than {MAX_STEPS:,} steps (a loop too long?)")
            if self.steps % 1024 == 0 and time.monotonic() > self.deadline:
                raise _TooCostly(f"more than {MAX_SECONDS:g} s of work")
        return self.line


def _wide_filter(name: str, width_arg: int) -> Any:
    """A filter whose numeric argument number ``width_arg`` makes its output that wide."""
    original = _ENV.filters[name]

    def bounded(*args: Any, **kwargs: Any) -> Any:
        width = args[width_arg] if len(args) > width_arg else kwargs.get("width", 0)
        if isinstance(width, int) and width > MAX_SIZE:
            raise _TooCostly(f"'{name}' to a width of {width:,} (at most {MAX_SIZE:,})")
        return original(*args, **kwargs)

    return bounded


_ENV = _BoundedEnvironment(undefined=StrictUndefined, autoescape=False,
                           keep_trailing_newline=True)
for _name, _arg in (("center", 1), ("indent", 1), ("wordwrap", 1), ("truncate", 1)):
    _ENV.filters[_name] = _wide_filter(_name, _arg)
del _ENV.globals["namespace"]
_SINGLE = re.compile(r"^\s*\{\{(?P<expr>(?:(?!\{\{|\}\}).)*)\}\}\s*$", re.DOTALL)


def is_template(value: Any) -> bool:
    """Whether ``value`` is a string holding an expression."""
    return isinstance(value, str) and ("{{" in value or "{%" in value)


@lru_cache(maxsize=4096)
def _compile(src: str) -> tuple[Any, bool]:
    """The compiled template, and whether it can repeat work (loops, macros): only those
    are traced step by step, the others run a bounded number of lines."""
    m = _SINGLE.match(src)
    if m:
        return _ENV.compile_expression(m["expr"], undefined_to_none=False), False
    tree = _ENV.parse(src)
    repeats = any(True for _ in tree.find_all((nodes.For, nodes.Macro, nodes.CallBlock)))
    return _ENV.from_string(tree), repeats


def render(value: Any, context: dict[str, Any]) -> Any:
    """Evaluate ``value`` (recursively through lists and dicts) in ``context``."""
    if isinstance(value, dict):
        return {k: render(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, context) for v in value]
    if not is_template(value):
        return value
    try:
        compiled, repeats = _compile(value)
        tracing = sys.gettrace()
        if repeats:
            sys.settrace(_Budget().call)
        try:
            if hasattr(compiled, "render"):
                result = compiled.render(context)
                _check_size(result)
                return result
            result = compiled(**context)
        finally:
            if repeats:
                sys.settrace(tracing)
    except _TooCostly as exc:
        raise ExpressionError(f"expression {_short(value)} is too costly: {exc}") from None
    except MemoryError:
        raise ExpressionError(f"expression {_short(value)} ran out of memory") from None
    except RecursionError:
        raise ExpressionError(f"expression {_short(value)} recurses too deeply (a macro "
                              "calling itself?)") from None
    except TemplateError as exc:
        raise ExpressionError(f"expression {value!r}: {exc}") from exc
    except (TypeError, ValueError, ArithmeticError, LookupError, AttributeError) as exc:
        raise ExpressionError(f"expression {value!r}: {type(exc).__name__}: {exc}") from exc
    if result is None or _has_undefined(result):
        raise ExpressionError(f"expression {value!r} has no value (a missing output or "
                              "attribute, or an unsafe operation the sandbox refused)")
    return result


def _check_size(result: Any) -> None:
    if _sized(result) > MAX_SIZE:
        raise _TooCostly(f"its result has {_sized(result):,} characters (at most {MAX_SIZE:,})")


def _short(src: str) -> str:
    return repr(src if len(src) <= 80 else src[:77] + "...")


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
    #: The entity type's vars it reads (``vars.name``).
    vars: set[str] = field(default_factory=set)
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
    _check_filters(tree, out)
    return out


def _check_filters(tree: nodes.Template, out: Analysis) -> None:
    """Filters and tests the sandbox does not know fail at deploy time: say so now."""
    for kind, node_type, known in (("filter", nodes.Filter, _ENV.filters),
                                   ("test", nodes.Test, _ENV.tests)):
        for name in sorted({n.name for n in tree.find_all(node_type)} - set(known)):
            close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
            out.problems.append(f"unknown {kind} '{name}'"
                                + (f" (did you mean '{close[0]}'?)" if close else ""))


def _collect_names(tree: nodes.Template, out: Analysis) -> None:
    assigned = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    assigned |= {m.name for m in tree.find_all(nodes.Macro)}
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
        if isinstance(node.node, nodes.Name) and node.node.name in ("params", "vars"):
            key = _const_key(node)
            if key is not None:
                (out.params if node.node.name == "params" else out.vars).add(key)
