"""Safe YAML loading, with the line and column of every key and value on demand.

The fast path loads plain data with PyYAML's safe loader (libyaml when present),
reporting duplicate keys (which PyYAML silently lets the last one win), then walks
the data once: values that are not plain JSON-like data, recursive aliases and
alias bombs are refused there. Positions are needed only to report problems, so the
:class:`SourceMap` composes the document a second time, keeping marks, the first
time a problem asks where it is.
"""

from __future__ import annotations

import contextlib
from typing import Any

import yaml

from ..errors import Diagnostic

Path = tuple[str | int, ...]

#: Upper bound on the size of the data once aliases are expanded ("billion laughs").
MAX_NODES = 2_000_000
#: Deepest nesting of mappings and lists (deeper data would exhaust recursion later on).
MAX_DEPTH = 64

#: PyYAML's safe loader, backed by libyaml when PyYAML was built with it (3x faster).
_SAFE = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: Scalar types that are plain data (what JSON can carry).
_PLAIN = (str, int, float, bool, type(None))


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _dotted(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class SourceMap:
    """Line/column (1-based) of every path of a document, computed when first asked."""

    def __init__(self, file: str, text: str, chain: tuple[str, ...] = ()) -> None:
        self.file, self._text = file, text
        #: Where this file was included from (see :attr:`Diagnostic.chain`).
        self.chain = chain
        self._values: dict[Path, tuple[int, int]] | None = None
        self._keys: dict[Path, tuple[int, int]] = {}

    def at(self, path: Path, *, key: bool = False) -> tuple[int, int]:
        """Position of ``path`` (its key if ``key``), else of its nearest known parent."""
        values = self._positions()
        table = self._keys if key else values
        while path:
            if path in table:
                return table[path]
            if path in values:
                return values[path]
            path = path[:-1]
        return values.get((), (1, 1))

    def diag(self, path: Path, message: str, *, key: bool = False) -> Diagnostic:
        """A diagnostic located at ``path``; ``key`` points at the key rather than the value."""
        line, col = self.at(path, key=key)
        return Diagnostic(self.file, line, col, message, _dotted(path), self.chain)

    def _positions(self) -> dict[Path, tuple[int, int]]:
        if self._values is None:
            self._values = {}
            # A syntax error is reported with its own mark: then there is nothing to walk.
            with contextlib.suppress(yaml.YAMLError, RecursionError):
                root = yaml.compose(self._text, Loader=_SAFE)
                if root is not None:
                    _walk_marks(root, (), self._values, self._keys)
        return self._values


def _walk_marks(node: yaml.Node, path: Path, values: dict[Path, tuple[int, int]],
                keys: dict[Path, tuple[int, int]]) -> None:
    stack = [(node, path)]
    seen: set[int] = set()
    while stack:
        node, path = stack.pop()
        values.setdefault(path, _mark(node))
        if id(node) in seen:  # an alias: its contents were marked where they are defined
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode):
                    keys.setdefault((*path, key_node.value), _mark(key_node))
                    stack.append((value_node, (*path, key_node.value)))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, (*path, i)) for i, item in enumerate(node.value))


class _Loader(_SAFE):  # type: ignore[misc, valid-type]
    """The safe loader, reporting duplicate and non-scalar keys instead of hiding them."""

    def __init__(self, text: str, file: str) -> None:
        super().__init__(text)
        self.file = file
        self.problems: list[Diagnostic] = []

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[str, Any]:
        self.flatten_mapping(node)  # YAML merge keys (<<) are plain data, keep them
        out: dict[str, Any] = {}
        first: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=deep)
            line, col = _mark(key_node)
            if not isinstance(key, str | int | float | bool) or key is None:
                self.problems.append(Diagnostic(self.file, line, col,
                                                "mapping keys must be plain scalars"))
                continue
            key = key if isinstance(key, str) else str(key)
            if key in first:
                self.problems.append(Diagnostic(
                    self.file, line, col, f"duplicate key '{key}' (first defined on line "
                    f"{first[key]}); remove one of them"))
                continue
            first[key] = line
            out[key] = self.construct_object(value_node, deep=deep)
        return out


def _yaml_problem(exc: yaml.YAMLError, file: str, text: str) -> Diagnostic:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = exc.problem or exc.context or "invalid YAML"
        lines = text.splitlines()
        at = lines[line - 1][col - 1:col] if line <= len(lines) else ""
        if at == "\t" and "cannot start any token" in what:  # the C parser does not say
            what = "a tab character: YAML indents with spaces only (replace it with spaces)"
        if "constructor" in what:
            what += " (only plain YAML data is allowed: no tags such as !!python/...)"
        return Diagnostic(file, line, col, f"YAML syntax error: {what}")
    return Diagnostic(file, 1, 1, f"YAML error: {exc}")  # reader errors: bad bytes


def _scan(root: Any, smap: SourceMap) -> list[Diagnostic]:
    """Refuse non-plain values, recursive aliases and alias bombs, in one linear walk."""
    size: dict[int, int] = {}
    active: set[int] = set()
    problems: list[Diagnostic] = []
    stack: list[tuple[Any, Path, bool]] = [(root, (), False)]
    while stack:
        obj, path, leaving = stack.pop()
        if not isinstance(obj, dict | list):
            if not isinstance(obj, _PLAIN):
                problems.append(smap.diag(path, f"a {type(obj).__name__} value is not plain "
                                                "data; quote it to make it a string"))
            continue
        key = id(obj)
        children = list(obj.values()) if isinstance(obj, dict) else obj
        if leaving:
            active.discard(key)
            size[key] = 1 + sum(size.get(id(c), 1) for c in children)
            if size[key] > MAX_NODES:
                return [Diagnostic(smap.file, 1, 1, f"the blueprint expands to more than "
                                   f"{MAX_NODES} values once aliases are expanded (alias bomb?)",
                                   chain=smap.chain)]
            continue
        if key in active:
            return [smap.diag(path, "a YAML alias refers to its own parent (recursive data)",
                              key=True)]
        if key in size:
            continue
        if len(path) >= MAX_DEPTH:
            return [smap.diag(path, f"data nested more than {MAX_DEPTH} levels deep")]
        active.add(key)
        stack.append((obj, path, True))
        items = obj.items() if isinstance(obj, dict) else enumerate(obj)
        stack.extend((v, (*path, k), False) for k, v in items)
    return problems


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether ``value`` nests mappings and lists more than ``limit`` levels deep."""
    stack = [(value, 0)]
    while stack:
        obj, depth = stack.pop()
        if isinstance(obj, dict | list):
            if depth >= limit:
                return True
            stack.extend((v, depth + 1) for v in (obj.values() if isinstance(obj, dict) else obj))
    return False


def load_yaml(text: str, file: str, chain: tuple[str, ...] = ()
              ) -> tuple[Any, SourceMap, list[Diagnostic]]:
    """Parse ``text`` safely; return (data, source map, problems), each problem with
    the include ``chain`` of the file.

    On a syntax error the data is ``None`` and the problem says where.
    """
    smap = SourceMap(file, text, chain)
    loader = _Loader(text, file)
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as exc:
        return None, smap, [_chained(_yaml_problem(exc, file, text), chain)]
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:  # e.g. bad dates
        return None, smap, [Diagnostic(file, 1, 1, f"YAML value error: {exc}", chain=chain)]
    finally:
        loader.dispose()
    problems = [_chained(d, chain) for d in loader.problems]
    if data is None:
        return None, smap, problems
    return data, smap, problems + _scan(data, smap)


def _chained(diag: Diagnostic, chain: tuple[str, ...]) -> Diagnostic:
    return Diagnostic(diag.file, diag.line, diag.column, diag.message, diag.key, chain)


def load_document(text: str, file: str, chain: tuple[str, ...], what: str = "blueprint"
                  ) -> tuple[dict[str, Any] | None, SourceMap, list[Diagnostic]]:
    """A blueprint or library file parsed: its mapping (None if there are problems),
    source map and problems, each with the include ``chain`` of the file."""
    data, smap, problems = load_yaml(text, file, chain)
    if data is None and not problems:
        problems.append(Diagnostic(file, 1, 1, f"the {what} is empty (or just 'null')",
                                   chain=chain))
    if data is not None and not isinstance(data, dict):
        keys = "'format' and 'types'" if what == "library" else \
            "'format', 'name' and 'entities'"
        problems.append(Diagnostic(file, 1, 1, f"a {what} is a mapping with keys {keys}",
                                   chain=chain))
    return (data if not problems else None), smap, problems
