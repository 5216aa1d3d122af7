"""Safe YAML loading that remembers where every key and value came from.

``yaml.SafeLoader`` composes the node tree (so only plain data can come out),
then we build dicts and lists ourselves, recording the line and column of each
path. Duplicate keys, which PyYAML silently lets the last one win, are reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from ..errors import Diagnostic

Path = tuple[str | int, ...]

#: Upper bound on built YAML nodes: stops "billion laughs" alias bombs.
MAX_NODES = 2_000_000

#: Upper bound on re-expansions of aliased collections (legit anchors repeat a few times).
MAX_ALIAS_REUSE = 10_000

#: libyaml's safe composer when PyYAML was built with it (3x faster), else the pure one.
_COMPOSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


#: Tags of collections built as plain dicts and lists.
_PLAIN_TAGS = frozenset({"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"})


class _TooLarge(Exception):
    pass


@dataclass
class SourceMap:
    """Line/column (1-based) of every path of a loaded document."""

    file: str
    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def at(self, path: Path, *, key: bool = False) -> tuple[int, int]:
        """Position of ``path`` (its key if ``key``), else of its nearest known parent."""
        table = self.keys if key else self.values
        while path:
            if path in table:
                return table[path]
            if path in self.values:
                return self.values[path]
            path = path[:-1]
        return self.values.get((), (1, 1))

    def diag(self, path: Path, message: str, *, key: bool = False) -> Diagnostic:
        """A diagnostic located at ``path``; ``key`` points at the key rather than the value."""
        line, col = self.at(path, key=key)
        return Diagnostic(self.file, line, col, message, _dotted(path))


def _dotted(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _Builder:
    def __init__(self, smap: SourceMap) -> None:
        self.smap = smap
        self.problems: list[Diagnostic] = []
        self.loader = yaml.SafeLoader("")
        self.count = 0
        self.seen: set[int] = set()
        self.reused = 0

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.count += 1
        if isinstance(node, yaml.CollectionNode):
            if id(node) in self.seen:
                self.reused += 1
            self.seen.add(id(node))
        if self.count > MAX_NODES or self.reused > MAX_ALIAS_REUSE:
            raise _TooLarge
        self.smap.values[path] = _mark(node)
        if isinstance(node, yaml.CollectionNode) and node.tag not in _PLAIN_TAGS:
            line, col = _mark(node)
            self.problems.append(Diagnostic(
                self.smap.file, line, col, f"YAML tag {node.tag!r} is not allowed "
                "(only plain YAML data is allowed: no tags such as !!python/...)"))
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self.loader.construct_object(node, deep=True)

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[Any, Any]:
        self.loader.flatten_mapping(node)  # YAML merge keys (<<) are plain data, keep them
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = self.loader.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool) or key is None:
                line, col = _mark(key_node)
                self.problems.append(
                    Diagnostic(self.smap.file, line, col, "mapping keys must be plain scalars")
                )
                continue
            key = str(key) if not isinstance(key, str) else key
            if key in out:
                line, col = _mark(key_node)
                first = self.smap.keys[(*path, key)][0]
                self.problems.append(
                    Diagnostic(
                        self.smap.file,
                        line,
                        col,
                        f"duplicate key '{key}' (first defined on line {first}); "
                        "remove one of them",
                        _dotted((*path, key)),
                    )
                )
                continue
            self.smap.keys[(*path, key)] = _mark(key_node)
            out[key] = self.build(value_node, (*path, key))
        return out


def _yaml_problem(exc: yaml.YAMLError, file: str) -> Diagnostic:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = exc.problem or exc.context or "invalid YAML"
        if "constructor" in what:
            what += " (only plain YAML data is allowed: no tags such as !!python/...)"
        return Diagnostic(file, line, col, f"YAML syntax error: {what}")
    return Diagnostic(file, 1, 1, f"YAML error: {exc}")  # reader errors: bad bytes


def load_yaml(text: str, file: str) -> tuple[Any, SourceMap, list[Diagnostic]]:
    """Parse ``text`` safely; return (data, source map, problems).

    On a syntax error the data is ``None`` and the problem says where.
    """
    smap = SourceMap(file)
    try:
        root = yaml.compose(text, Loader=_COMPOSER)
    except yaml.YAMLError as exc:
        return None, smap, [_yaml_problem(exc, file)]
    if root is None:
        return None, smap, [Diagnostic(file, 1, 1, "the blueprint is empty")]
    builder = _Builder(smap)
    try:
        data = builder.build(root, ())
    except _TooLarge:
        msg = (f"the blueprint expands to more than {MAX_NODES} YAML nodes or re-expands "
               f"aliases more than {MAX_ALIAS_REUSE} times (alias bomb?)")
        return None, smap, [Diagnostic(file, 1, 1, msg)]
    except yaml.YAMLError as exc:  # e.g. an unsafe or unknown tag
        return None, smap, [_yaml_problem(exc, file)]
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:  # e.g. bad timestamps
        return None, smap, [Diagnostic(file, 1, 1, f"YAML value error: {exc}")]
    return data, smap, builder.problems
