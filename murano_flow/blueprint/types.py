"""Entity types: reusable entity definitions, and entities that instantiate them.

A type lives in a library file (``format: 1`` and ``types:``) or in a blueprint's own
``types``. An entity of a type is the type's definition with the entity's own keys laid
over it (a state given in both is merged key by key, the entity's winning). Every piece
keeps where it was written (an :class:`Origin`), so that a problem is reported in the file
that holds it and a script is read from beside that file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import Diagnostic
from .files import MAX_INCLUDE_BYTES, Sources, shown_name
from .schema import check_library, suggest
from .source import Path as YPath
from .source import SourceMap, load_document

#: Reports a problem at a path of the blueprint being built.
Report = Callable[..., None]


@dataclass(frozen=True)
class Origin:
    """Where a piece of an expanded entity was written: its file, path there, folder."""

    smap: SourceMap
    path: YPath
    folder: Path


@dataclass(frozen=True)
class EntityType:
    """An entity definition from ``types`` (of a blueprint or a library)."""

    name: str
    raw: dict[str, Any]
    where: Origin

    def vars(self) -> dict[str, Any]:
        """Declared vars: name -> default (:data:`REQUIRED` when it has none)."""
        out = {}
        for name, decl in (self.raw.get("vars") or {}).items():
            out[name] = (decl or {}).get("default", REQUIRED)
        return out


#: Marker for a var without a default.
REQUIRED: Any = object()


def load_types(data: dict[str, Any], smap: SourceMap, folder: Path, sources: Sources,
               problems: list[Diagnostic], diag: Report, link: Callable[[YPath, str], str]
               ) -> dict[str, EntityType]:
    """The entity types a blueprint may use: its libraries' and its own, each defined
    once. ``link`` names where the blueprint includes a library (for its problems)."""
    types: dict[str, EntityType] = {}
    missing = False  # a library that could not be read: its types are not "unknown"
    for i, rel in enumerate(data.get("libraries", [])):
        path: YPath = ("libraries", i)
        text, key = sources.read(folder, rel, "library", confined=False,
                                 limit=MAX_INCLUDE_BYTES)
        if text is None:
            diag(path, key)
            missing = True
            continue
        chain = (link(path, f"library '{rel}'"), *smap.chain)
        library, lmap, found = load_document(text, shown_name(smap.file, rel), chain, "library")
        if library is not None:
            found.extend(check_library(library, lmap))
        problems.extend(found)
        if found or library is None:
            missing = True
            continue
        for name, raw in library["types"].items():
            if name in types:
                diag(path, f"entity type '{name}' is defined twice (also in "
                           f"{types[name].where.smap.file})")
            types[name] = EntityType(name, raw, Origin(lmap, ("types", name),
                                                       sources.folder(key)))
    for name, raw in data.get("types", {}).items():
        if name in types:
            diag(("types", name), f"entity type '{name}' is also defined in "
                                  f"{types[name].where.smap.file}", key=True)
        types[name] = EntityType(name, raw, Origin(smap, ("types", name), folder))
    return types if not missing else _Unread(types)


class _Unread(dict[str, EntityType]):
    """The types found when a library could not be read: one not here may be in it."""


def typed_entity(group: str, raw: dict[str, Any], types: dict[str, EntityType], diag: Report
                 ) -> tuple[dict[str, Any], dict[YPath, Origin], dict[str, Any] | None]:
    """Entity ``group`` as it will be expanded: laid over its type if it has one. Returns
    it, where the pieces from the type were written, and its vars' values (None: no type).
    Problems (an unknown type or var, a required var missing) go to ``diag``."""
    base: YPath = ("entities", group)
    given = raw.get("vars") or {}
    if "type" not in raw:
        if "states" not in raw:
            diag(base, f"entity '{group}' needs 'states' (or a 'type' to take them from)",
                 key=True)
            return {**raw, "states": {}}, {}, None
        if given:
            diag((*base, "vars"), f"vars are given to an entity type; entity '{group}' has no "
                                  "'type'", key=True)
        return raw, {}, None
    kind = types.get(raw["type"])
    if kind is None:
        if not isinstance(types, _Unread):  # else its library's problems are the story
            known = ", ".join(sorted(types)) or "none (add 'libraries' or 'types')"
            diag((*base, "type"), f"unknown entity type '{raw['type']}'"
                                  f"{suggest(raw['type'], types)}; known: {known}")
        # a stand-in Deployed: what the type would have had is not reported as missing
        return {**raw, "states": raw.get("states") or {"Deployed": None}}, {}, None
    merged, origins = instantiate(raw, kind, base)
    declared = kind.vars()
    for name in given:
        if name not in declared:
            diag((*base, "vars", name), f"type '{kind.name}' has no var '{name}'"
                 f"{suggest(name, declared)}; it declares: {', '.join(declared) or 'none'}",
                 key=True)
    missing = [n for n, d in declared.items() if d is REQUIRED and n not in given]
    if missing:
        diag((*base, "type"), f"type '{kind.name}' needs vars: {', '.join(missing)} (give "
                              "them under 'vars')")
    values = {n: d for n, d in declared.items() if d is not REQUIRED}
    values.update({k: v for k, v in given.items() if k in declared})
    merged.pop("vars", None)
    return {**merged, **({"vars": values} if values else {})}, origins, values


def instantiate(entity: dict[str, Any], kind: EntityType, path: YPath
                ) -> tuple[dict[str, Any], dict[YPath, Origin]]:
    """The entity at ``path`` laid over its type, and where each piece from the type
    was written (by path prefix in the blueprint)."""
    base = kind.where.path
    origins: dict[YPath, Origin] = {}
    merged = {k: v for k, v in kind.raw.items() if k not in ("vars", "description")}
    for key in merged:
        if key != "states":
            origins[(*path, key)] = Origin(kind.where.smap, (*base, key), kind.where.folder)
    for key, value in entity.items():
        if key not in ("type", "states"):
            merged[key] = value
            origins.pop((*path, key), None)
    states: dict[str, Any] = {}
    own = entity.get("states") or {}
    for state, raw in kind.raw["states"].items():
        where = (*path, "states", state)
        from_type = Origin(kind.where.smap, (*base, "states", state), kind.where.folder)
        if state not in own:
            states[state] = raw
            origins[where] = from_type
            continue
        mine = own[state] or {}
        states[state] = {**(raw or {}), **mine}
        for key in raw or {}:
            if key not in mine:
                origins[(*where, key)] = Origin(from_type.smap, (*from_type.path, key),
                                                from_type.folder)
    for state, raw in own.items():
        states.setdefault(state, raw)
    merged["states"] = states
    return merged, origins


def locate(origins: dict[YPath, Origin], path: YPath) -> tuple[Origin | None, YPath]:
    """The origin of ``path`` (the longest prefix written elsewhere) and its path there;
    (None, path) when it was written where it stands."""
    for cut in range(len(path), 0, -1):
        origin = origins.get(path[:cut])
        if origin is not None:
            return origin, (*origin.path, *path[cut:])
    return None, path
