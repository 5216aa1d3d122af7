"""The blueprint pipeline: YAML -> schema -> parameters -> types -> parts -> expansion
-> graph checks.

Every stage collects problems instead of stopping at the first one, so that
``validate`` reports all it can find in one run. Semantic stages run only on a
schema-valid document, because they rely on its shape.

A part is another blueprint built by its own :class:`_Builder` (its file, parameters
and scripts its own), its entities named under the part (``ad.dc``); the including
blueprint sees only what the part exports, and the part's ``Deployed`` (a state that
requires every target of the part). All parts expand into one graph: one deployment.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..dag import ancestors, find_cycle, requires_transitively
from ..durations import seconds
from ..errors import BlueprintError, Diagnostic, ExpressionError
from ..gcpause import paused_gc
from . import params as P
from .actions import ActionBuilder, action_templates, host_spec, host_templates, walk_templates
from .expressions import CONTEXT_NAMES, analyze, is_template, render
from .files import MAX_INCLUDE_BYTES, Sources, shown_name
from .refs import instance_name, node_name, parse_ref
from .schema import check_schema, suggest
from .source import Path as YPath
from .source import SourceMap, load_document
from .spec import ActionSpec, Blueprint, HostSpec, Node, Parameter, Scope
from .types import EntityType, Origin, load_types, locate, typed_entity
from .waits import wait_spec, wait_templates

log = logging.getLogger(__name__)

#: What a blueprint read from standard input is called in messages; its scripts, parts
#: and libraries are found from the current directory.
STDIN_NAME = "<stdin>"

#: Largest member count of one entity.
MAX_COUNT = 100_000
#: Most requirements a blueprint may expand to in all: 'x[*]' required by every member of
#: a large count grows as the square of the count.
MAX_EDGES = 2_000_000
#: Deepest nesting of parts (a part of a part of ...).
MAX_PART_DEPTH = 8

#: Names usable in expressions evaluated while expanding (count, requires, when).
_STATIC = CONTEXT_NAMES - {"outputs"}
#: The keys of a state that make a direct flow.
_TRANSITIONS = ("on_success", "on_error", "on_complete")

OutputRefs = tuple[tuple[str, tuple[str, ...], bool], ...]


def load_blueprint(
    path: str | Path, given: dict[str, Any] | None = None, *, strict: bool = False
) -> Blueprint:
    """Read, validate and expand the blueprint file at ``path``.

    Args:
        path: the YAML file, or ``-`` for standard input.
        given: parameter values (strings from the command line are coerced).
        strict: require a value for every required parameter (deploy); otherwise
            placeholders stand in for missing ones (validate, plan, graph).

    Raises:
        BlueprintError: with every problem found, each located as file:line:column
            (in an included file: with the chain of includes that led there).
    """
    file = str(path)
    try:
        if file == "-":
            file, text = STDIN_NAME, sys.stdin.read()
        else:
            text = Path(path).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        problem = Diagnostic(file, 1, 1, f"cannot read the blueprint: {reason}")
        raise BlueprintError([problem]) from None
    return parse_blueprint(text, file, given, strict=strict)


def parse_blueprint(
    text: str, file: str, given: dict[str, Any] | None = None, *, strict: bool = False,
    scripts: dict[str, str] | None = None,
) -> Blueprint:
    """Like :func:`load_blueprint`, from text; script paths are relative to ``file``.

    ``scripts`` maps the files a blueprint read (scripts, parts, libraries; by path
    from its folder) to their text, to rebuild it exactly as it was journaled,
    whatever the disk holds now.
    """
    with paused_gc():
        return _parse(text, file, given, strict, scripts)


def _parse(text: str, file: str, given: dict[str, Any] | None, strict: bool,
           scripts: dict[str, str] | None) -> Blueprint:
    data, smap, problems = load_document(text, file, ())
    if data is None:
        raise BlueprintError(problems)
    problems.extend(check_schema(data, smap))
    root = Path(file).resolve().parent
    shared = _Shared(Sources(root, scripts))
    shared.stack.append((Path(file).name, file))
    if problems:
        raise BlueprintError(problems + _more_problems(data, smap, root, shared, given, strict,
                                                       problems))
    top = _Builder(data, smap, root, shared, ())
    nodes, targets = top.build(_Given(given or {}, strict=strict))
    if not shared.problems:
        nodes = _check_graph(shared, nodes, targets)
    if shared.problems:
        raise BlueprintError(shared.problems)
    log.debug("%s: %d states, %d targets; %d files read beside it", file, len(nodes),
              len(targets), len(shared.sources.files))
    digest = hashlib.sha256(text.encode())
    for key in sorted(shared.sources.files):
        digest.update(key.encode() + b"\0" + shared.sources.files[key].encode())
    return Blueprint(
        name=data["name"], path=file, description=data.get("description", ""),
        parameters=top.parameters, values=top.values, nodes=nodes, targets=targets,
        counts=shared.counts, digest=digest.hexdigest(), assumed=tuple(top.assumed), text=text,
        scripts=dict(shared.sources.files), on_failure=data.get("on_failure", "stop"),
        deadline=seconds(data["deadline"]) if "deadline" in data else None,
        scopes=shared.scopes, expanded=shared.expanded,
    )


def _more_problems(data: Any, smap: SourceMap, root: Path, shared: _Shared,
                   given: dict[str, Any] | None, strict: bool, found: list[Diagnostic]
                   ) -> list[Diagnostic]:
    """What building a blueprint that breaks the schema also finds (unknown names,
    missing states), so one run reports every mistake; none on a line already
    reported, and none at all if the broken structure stops the builder."""
    try:
        _Builder(data, smap, root, shared, ()).build(_Given(given or {}, strict=strict))
    except Exception:  # noqa: BLE001 - ill-typed data the schema already reported
        return []
    lines = {(d.file, d.line) for d in found}
    return [d for d in shared.problems if (d.file, d.line) not in lines]


@dataclass
class _Shared:
    """What every builder of one blueprint (its own and its parts') adds to."""

    sources: Sources
    problems: list[Diagnostic] = field(default_factory=list)
    #: Requirements expanded so far (bounded by MAX_EDGES).
    edges: int = 0
    #: Member counts of every entity, by full name (``ad.dc``).
    counts: dict[str, int | None] = field(default_factory=dict)
    scopes: dict[str, Scope] = field(default_factory=dict)
    expanded: dict[str, Any] = field(default_factory=dict)
    #: Node name -> the builder and path its state was written at (to report on it).
    where: dict[str, tuple[_Builder, YPath]] = field(default_factory=dict)
    #: (key, name) of the files being built, outermost first (a cycle comes back to one).
    stack: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class _Given:
    """Parameter values for a builder: from the operator (the top), or from the part
    entry of the including blueprint (``report`` says a problem there)."""

    values: dict[str, Any]
    strict: bool = False
    #: Parameters bound to outputs: name -> (template, output references).
    bound: dict[str, tuple[Any, OutputRefs]] = field(default_factory=dict)
    report: Any = None
    part: str = ""
    #: Parameters bound to a placeholder of the includer's (validate and plan without the
    #: secrets): placeholders here too, not checked against this part's constraints.
    assumed: set[str] = field(default_factory=set)


class _Builder:
    def __init__(self, data: dict[str, Any], smap: SourceMap, folder: Path, shared: _Shared,
                 chain: tuple[str, ...], prefix: str = "", index: int | None = None) -> None:
        self.data, self.smap, self.folder, self.shared = data, smap, folder, shared
        self.chain = chain
        #: The part's path with a trailing dot ('' for the top blueprint): names its nodes.
        self.prefix = prefix
        self.scope = prefix[:-1]
        self.index = index
        self.actions = ActionBuilder(shared.sources, self.diag, self.folder_of)
        #: Where pieces of entities written in an entity type come from.
        self.origins: dict[YPath, Origin] = {}
        self.entities: dict[str, dict[str, Any]] = {}
        #: What this blueprint can name, by local name: entities, parts (their Deployed)
        #: and what parts export (``ad.dc``): member counts, states, declared outputs.
        self.counts: dict[str, int | None] = {}
        self.states: dict[str, list[str]] = {}
        self.declared_outputs: dict[tuple[str, str], list[str] | None] = {}
        #: Local name -> the part it is in.
        self.part_of: dict[str, str] = {}
        self.part_exports: dict[str, list[str]] = {}
        self.values: dict[str, Any] = {}
        self.assumed: list[str] = []
        #: Declared parameter names: one without a value is reported once, as missing.
        self.declared: frozenset[str] = frozenset()
        #: Parameters known only at run time (bound to outputs of the including blueprint).
        self.late: frozenset[str] = frozenset()
        self.parameters: dict[str, Parameter] = {}
        #: Per entity of a type: the values of its vars (defaults, then those given).
        self.vars: dict[str, dict[str, Any]] = {}
        self.exports: list[tuple[str, str]] = []
        #: Parts that could not be loaded: references into them are not reported again.
        self.broken: set[str] = set()

    # -- reporting -------------------------------------------------------------

    def diag(self, path: YPath, message: str, *, key: bool = False) -> None:
        """Report ``message`` at ``path``, in the file that holds it."""
        origin, there = locate(self.origins, path)
        smap = origin.smap if origin else self.smap
        self.shared.problems.append(smap.diag(there, message, key=key))

    def folder_of(self, path: YPath) -> Path:
        """The folder the script paths written at ``path`` are relative to."""
        origin, _ = locate(self.origins, path)
        return origin.folder if origin else self.folder

    # -- the whole build ---------------------------------------------------------

    def build(self, given: _Given) -> tuple[dict[str, Node], tuple[str, ...]]:
        """Expand this blueprint (and its parts): its nodes and targets, full names."""
        self._parameters(given)
        types = self._types()
        for group, raw in self.data.get("entities", {}).items():
            self.entities[group] = self._entity(group, raw, types)
        if not self.data.get("entities") and not self.data.get("parts"):
            self.diag((), "a blueprint needs 'entities' or 'parts' (or both)")
        for group, entity in self.entities.items():
            self.counts[group] = self._count(group, entity)
            self.states[group] = list(entity.get("states") or {})
            for state, raw in (entity.get("states") or {}).items():
                self.declared_outputs[(group, state)] = list((raw or {}).get("outputs") or [])
            self.shared.counts[self.prefix + group] = self.counts[group]
            self.shared.expanded[self.prefix + group] = entity
        nodes = self._parts()
        nodes.update(self._expand())
        self.exports = self._exports()
        return nodes, self._targets()

    def _parameters(self, given: _Given) -> None:
        parameters = P.declare(self.data.get("parameters", {}))
        self.parameters = parameters
        self.declared = frozenset(parameters)
        self.shared.problems.extend(P.check_declarations(parameters, self.smap))
        if not given.report:  # the operator's values
            origin = f"{self.smap.file} (parameters given)"
            self.values, self.assumed, bad = P.bind(parameters, given.values,
                                                    strict=given.strict, origin=origin)
            self.shared.problems.extend(bad)
            return
        self.late = frozenset(given.bound)
        self.values = P.bind_part(parameters, given.values, self.late | given.assumed,
                                  given.report, given.part, self.smap)
        self.assumed = sorted(given.assumed)
        if self.scope:
            secrets = tuple(str(self.values[n]) for n, p in parameters.items()
                            if p.secret and n not in self.late
                            and self.values.get(n) not in (None, ""))
            self.shared.scopes[self.scope] = Scope(
                values=self.values, bound=tuple((n, t, r) for n, (t, r) in given.bound.items()),
                parent=self.scope.rpartition(".")[0],
                index=self.index, file=self.shared.sources.key(Path(self.smap.file).resolve()),
                secrets=secrets)

    # -- entity types ------------------------------------------------------------

    def _types(self) -> dict[str, EntityType]:
        return load_types(self.data, self.smap, self.folder, self.shared.sources,
                          self.shared.problems, self.diag, self._link)

    def _link(self, path: YPath, what: str) -> str:
        line, col = self.smap.at(path)
        return f"{self.smap.file}:{line}:{col} ({what})"

    def _entity(self, group: str, raw: dict[str, Any], types: dict[str, EntityType]
                ) -> dict[str, Any]:
        entity, origins, given = typed_entity(group, raw, types, self.diag)
        self.origins.update(origins)
        if given is not None:
            self.vars[group] = given
        return entity

    # -- parts -------------------------------------------------------------------

    def _parts(self) -> dict[str, Node]:
        nodes: dict[str, Node] = {}
        for name, part in self.data.get("parts", {}).items():
            base: YPath = ("parts", name)
            if name in self.entities:
                self.diag(base, f"'{name}' names both an entity and a part; rename one",
                          key=True)
                continue
            loaded = self._include(name, part, base)
            if loaded is None:
                self.broken.add(name)  # its problems are reported; what names it is not
                continue
            data, smap, folder, key = loaded
            count = self._count(name, part, base)
            self.counts[name] = count
            self.shared.counts[self.prefix + name] = count
            self.states[name] = ["Deployed"]
            self.declared_outputs[(name, "Deployed")] = []
            self.part_of[name] = name
            extra = self._part_requires(part, base)
            self.shared.stack.append((key, smap.file))
            for index in [None] if count is None else range(count):
                member = instance_name(name, index)
                child = _Builder(data, smap, folder, self.shared, smap.chain,
                                 prefix=f"{self.prefix}{member}.", index=index)
                given = self._part_values(name, part, base, index)
                inner, targets = child.build(given)
                late = [s for _, refs in given.bound.values() for _, srcs, _ in refs
                        for s in srcs]
                more = tuple(dict.fromkeys([*extra, *late]))
                for n, node in inner.items():
                    nodes[n] = dataclasses.replace(node, requires=(*node.requires, *more)) \
                        if more else node
                self.shared.edges += len(more) * len(inner)
                nodes.update(self._part_node(name, index, child, targets))
                self.part_exports[name] = [f"{g}.{s}" for g, s in child.exports]
                for group, state in child.exports:
                    local = f"{member}.{group}"
                    self.counts[local] = child.counts[group]
                    self.states.setdefault(local, []).append(state)
                    self.declared_outputs[(local, state)] = child.declared_outputs.get(
                        (group, state))
                    self.part_of[local] = name
            self.shared.stack.pop()
        return nodes

    def _include(self, name: str, part: dict[str, Any], base: YPath
                 ) -> tuple[dict[str, Any], SourceMap, Path, str] | None:
        rel = part["blueprint"]
        text, key = self.shared.sources.read(self.folder, rel, "blueprint", confined=False,
                                             limit=MAX_INCLUDE_BYTES)
        if text is None:
            self.diag((*base, "blueprint"), key)
            return None
        shown = shown_name(self.smap.file, rel)
        if key in [k for k, _ in self.shared.stack]:
            loop = " -> ".join([*(f for _, f in self.shared.stack), shown])
            self.diag((*base, "blueprint"), f"include cycle: {loop}; a blueprint cannot "
                                            "include itself, even through other parts")
            return None
        if len(self.chain) >= MAX_PART_DEPTH:
            self.diag((*base, "blueprint"), f"parts nested more than {MAX_PART_DEPTH} deep")
            return None
        chain = (self._link((*base, "blueprint"), f"part '{name}'"), *self.chain)
        data, smap, problems = load_document(text, shown, chain)
        if data is not None:
            problems.extend(check_schema(data, smap))
        self.shared.problems.extend(problems)
        if problems or data is None:
            return None
        return data, smap, self.shared.sources.folder(key), key

    def _part_requires(self, part: dict[str, Any], base: YPath) -> list[str]:
        raw = part.get("requires", [])
        out: list[str] = []
        for i, item in enumerate([raw] if isinstance(raw, str) else raw):
            path = (*base, "requires") if isinstance(raw, str) else (*base, "requires", i)
            text = self._static(item, path, self._context("", None))
            if text is not None and str(text).strip():
                out += self._resolve(str(text), None, None, path) or []
        return out

    def _part_values(self, name: str, part: dict[str, Any], base: YPath, index: int | None
                     ) -> _Given:
        """The values the part's parameters get: static ones rendered now, those that
        read outputs bound to be rendered at run time."""
        given = _Given({}, report=lambda p, m, key=False: self.diag((*base, *p), m, key=key),
                       part=name)
        ctx = {**self._context("", None), "index": index}
        for pname, raw in (part.get("parameters") or {}).items():
            path = (*base, "parameters", pname)
            if is_template(raw) and analyze(raw).outputs:
                given.bound[pname] = (raw, self._output_refs([(path, raw)], None, None, set()))
                continue
            # a placeholder here, or a value missing here (already reported): the part's
            # parameter gets a placeholder, not a second report
            unknown = set(self.assumed) | (self.declared - set(self.values))
            if is_template(raw) and analyze(raw).params & unknown:
                given.assumed.add(pname)
                continue
            value = self._static(raw, path, ctx)
            if value is not None or not is_template(raw):
                given.values[pname] = value
        return given

    def _part_node(self, name: str, index: int | None, child: _Builder,
                   targets: tuple[str, ...]) -> dict[str, Node]:
        """The part's own ``Deployed``: reached when every target of the part is."""
        group = self.prefix + name
        node = Node(name=node_name(group, index, "Deployed"), instance=instance_name(group, index),
                    group=group, index=index, state="Deployed", requires=targets, action=None,
                    check=None, undo=None, host=HostSpec(), scope=child.scope)
        self.shared.where[node.name] = (self, ("parts", name))
        return {node.name: node}

    def _exports(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for i, text in enumerate(self.data.get("exports", [])):
            path: YPath = ("exports", i)
            ref = parse_ref(text)
            if ref is None or ref.entity is None:
                self.diag(path, f"{text!r}: an export names entity.State (every member of a "
                                "counted entity is exported)")
                continue
            if self._resolve(f"{ref.entity}[*].{ref.state}" if self.counts.get(ref.entity)
                             is not None else f"{ref.entity}.{ref.state}", None, None, path,
                             ) is not None:
                out.append((ref.entity, ref.state))
        return out

    # -- expressions evaluated while expanding ---------------------------------

    def _static(self, raw: Any, path: YPath, ctx: dict[str, Any]) -> Any:
        if not is_template(raw):
            return raw
        info = analyze(raw)
        msgs = list(info.problems)
        msgs += [self._unknown_name(n) for n in info.names - _STATIC if n != "outputs"]
        if "outputs" in info.names:
            msgs.append("outputs of states are not known yet here; only parameters and index")
        msgs += [self._unknown_param(p) for p in info.params - self.declared]
        msgs += [f"parameter '{p}' is bound to outputs of the including blueprint, known "
                 "only at run time: it cannot decide a count, requires or when"
                 for p in sorted(info.params & self.late)]
        if msgs:
            for m in msgs:
                self.diag(path, m)
            return None
        if info.params - set(self.values):  # declared, not given: reported as missing
            return None
        try:
            return render(raw, ctx)
        except ExpressionError as exc:
            self.diag(path, exc.message)
            return None

    def _unknown_name(self, name: str) -> str:
        return (f"unknown name '{name}' in expression{suggest(name, CONTEXT_NAMES)}; "
                f"available: {', '.join(sorted(CONTEXT_NAMES))}")

    def _unknown_param(self, name: str) -> str:
        return f"unknown parameter '{name}'{suggest(name, self.declared)}"

    def _context(self, group: str, index: int | None) -> dict[str, Any]:
        ctx = {"params": self.values, "index": index, "group": self.prefix + group,
               "entity": self.prefix + instance_name(group, index),
               "count": self.counts.get(group), "deployment": ""}
        given = self.vars.get(group)
        if given:
            values = {}
            for k, v in given.items():
                if is_template(v) and analyze(v).outputs:
                    continue  # known at run time only
                try:
                    values[k] = render(v, ctx) if is_template(v) else v
                except ExpressionError:
                    continue  # reported where the var is read at run time
            ctx["vars"] = values
        return ctx

    def _count(self, group: str, entity: dict[str, Any], base: YPath | None = None
               ) -> int | None:
        if "count" not in entity:
            return None
        path = (*(base or ("entities", group)), "count")
        value = self._static(entity["count"], path, self._context(group, None))
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if value is None:
            return 0
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            self.diag(path, f"count must be a whole number of 0 or more, got {value!r}")
            return 0
        if value > MAX_COUNT:
            self.diag(path, f"count {value} is above the limit of {MAX_COUNT}")
            return 0
        return value

    # -- expansion -------------------------------------------------------------

    def _expand(self) -> dict[str, Node]:
        nodes: dict[str, Node] = {}
        for group, entity in self.entities.items():
            count = self.counts[group]
            indices: list[int | None] = [None] if count is None else list(range(count))
            direct = entity.get("flow") == "direct"
            for state, raw in (entity.get("states") or {}).items():
                base: YPath = ("entities", group, "states", state)
                shared = self._state_parts(raw or {}, entity, base, group, direct)
                for index in indices:
                    node = self._node(group, index, state, raw or {}, base, shared)
                    nodes[node.name] = node
                    self.shared.where[node.name] = (self, base)
            if "serial" in entity:
                self._serial(group, entity, count, nodes)
            elif "max_failures" in entity:
                self.diag(("entities", group, "max_failures"),
                          "max_failures is how many members a rollout may lose: it goes with "
                          "serial", key=True)
        return nodes

    def _serial(self, group: str, entity: dict[str, Any], count: int | None,
                nodes: dict[str, Node]) -> None:
        """Batches of ``serial`` members: the first states of each member of a batch
        also require the last states of every member of the batch before it."""
        path: YPath = ("entities", group, "serial")
        size = self._static(entity["serial"], path, self._context(group, None))
        if count is None:
            self.diag(path, "serial rolls out the members of a counted entity: add a count")
            return
        if entity.get("flow") == "direct":
            self.diag(path, "serial needs a dependency-driven entity (not flow: direct)")
            return
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            if size is not None:
                self.diag(path, f"serial must be a whole number of 1 or more, got {size!r}")
            return
        full = self.prefix + group
        states = list(entity.get("states") or {})
        budget = self._max_failures(group, entity)

        def member(index: int) -> list[Node]:
            return [nodes[node_name(full, index, s)] for s in states]

        if budget is not None:
            for index in range(count):
                for node in member(index):
                    nodes[node.name] = dataclasses.replace(node, max_failures=budget)

        for index in range(size, count):
            mine = member(index)
            own = {n.name for n in mine}
            before = range((index // size - 1) * size, index // size * size)
            last = [n.name for i in before for n in member(i)
                    if not any(n.name in m.requires for m in member(i))]
            for node in member(index):
                if not own.intersection(node.requires):  # where this member starts
                    nodes[node.name] = dataclasses.replace(
                        node, requires=tuple(dict.fromkeys((*node.requires, *last))),
                        after_batch=tuple(last))
        self.shared.edges += (count - size) * size

    def _max_failures(self, group: str, entity: dict[str, Any]) -> int | None:
        if "max_failures" not in entity:
            return None
        path: YPath = ("entities", group, "max_failures")
        value = self._static(entity["max_failures"], path, self._context(group, None))
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            if value is not None:
                self.diag(path, f"max_failures must be a whole number of 0 or more, got "
                                f"{value!r}")
            return None
        return value

    def _state_parts(self, raw: dict[str, Any], entity: dict[str, Any], base: YPath,
                     group: str, direct: bool) -> dict[str, Any]:
        actions = {k: self.actions.build(raw.get(k), (*base, k))
                   for k in ("action", "check", "undo")}
        host_path = (*base, "host") if "host" in raw else (*base[:2], "host")
        host = host_spec(raw.get("host", entity.get("host")))
        templates = host_templates(host, host_path)
        if host.transport == "winrm":
            self._winrm_login(dict(host.fields), host_path)
        for k, spec in actions.items():
            templates += action_templates(spec, (*base, k))
            self._no_secret_in_args(spec, (*base, k, "args"))
        when = raw["action"].get("when") if isinstance(raw.get("action"), dict) else None
        late_when = is_template(when) and bool(analyze(when).outputs)
        if late_when:
            templates.append(((*base, "action", "when"), str(when)))
        # a state takes only the vars it reads: a var bound to an output binds those alone
        read = {v for _, src in templates for v in analyze(src).vars}
        given = {k: v for k, v in (self.vars.get(group) or {}).items() if k in read}
        walk_templates(given, ("entities", group, "vars"), templates)
        wait = wait_spec(raw.get("wait"), (*base, "wait"), self.diag)
        templates += wait_templates(raw.get("wait"), (*base, "wait"))
        carries_data = wait is not None and wait.kind in ("signal", "message")
        if raw.get("outputs") and raw.get("action") is None and not carries_data:
            self.diag((*base, "outputs"), "a state without an action cannot publish outputs "
                                          "(unless it waits for a signal or a message, whose "
                                          "data become its outputs)")
        if "reboot_required" in (raw.get("outputs") or ()) and raw.get("check") is not None:
            self.diag((*base, "outputs"), "'reboot_required' is the action's request for a "
                      "reboot, not an output to declare: a check that passes publishes "
                      "nothing, so the state would fail; remove it from 'outputs'")
        for k in ("check", "undo"):
            if raw.get(k) is not None and raw.get("action") is None:
                self.diag((*base, k), f"'{k}' needs an 'action' in the same state")
        transitions = self._transitions(raw, base, group, direct)
        return {"actions": actions, "host": host, "templates": templates, "wait": wait,
                "late_when": when if late_when else None, "transitions": transitions,
                "vars": tuple(given.items())}

    def _transitions(self, raw: dict[str, Any], base: YPath, group: str, direct: bool
                     ) -> dict[str, tuple[str, ...]]:
        out: dict[str, tuple[str, ...]] = {}
        for key in (*_TRANSITIONS, "join"):
            if key in raw and not direct:
                self.diag((*base, key), f"'{key}' belongs to a direct flow: add 'flow: direct' "
                                        f"to entity '{group}' (or use 'requires')", key=True)
        if not direct:
            return out
        states = self.states[group]
        for key in _TRANSITIONS:
            value = raw.get(key, [])
            names = [value] if isinstance(value, str) else list(value)
            for i, name in enumerate(names):
                if name not in states:
                    path = (*base, key) if isinstance(value, str) else (*base, key, i)
                    self.diag(path, f"entity '{group}' has no state '{name}'"
                                    f"{suggest(name, states)}; transitions name states of "
                                    "the same entity")
            out[key] = tuple(n for n in names if n in states)
        return out

    def _winrm_login(self, fields: dict[str, Any], path: YPath) -> None:
        """A WinRM host logs in with user and password, or a client certificate: one of
        them must be there (their values may be expressions)."""
        raw = fields.get("options")
        options: dict[str, Any] = raw if isinstance(raw, dict) else {}
        auth = options.get("auth", "ntlm")
        if is_template(auth):
            return
        if auth == "certificate":
            missing = [f"options.{k}" for k in ("cert_pem", "cert_key_pem") if k not in options]
            how = ""
        else:
            missing = [k for k in ("user", "password") if k not in fields]
            how = " (the password from a secret parameter)"
        if missing:
            self.diag(path, f"a winrm host with {auth} auth needs {' and '.join(missing)}{how}",
                      key=True)

    def _no_secret_in_args(self, spec: ActionSpec | None, path: YPath) -> None:
        """Arguments are on every local user's process list: secrets go by env or params."""
        if spec is None:
            return
        secrets = {n for n, p in self.parameters.items() if p.secret}
        for i, arg in enumerate(spec.args):
            for name in sorted(analyze(arg).params & secrets) if is_template(arg) else ():
                self.diag((*path, i), f"secret parameter '{name}' in args: arguments are "
                                      "visible to every user of the host (ps); pass it in "
                                      "env or params instead")

    def _node(self, group: str, index: int | None, state: str, raw: dict[str, Any],
              base: YPath, shared: dict[str, Any]) -> Node:
        ctx = self._context(group, index)
        requires: list[str] = []
        req_raw = raw.get("requires", [])
        for i, item in enumerate([req_raw] if isinstance(req_raw, str) else req_raw):
            path = (*base, "requires") if isinstance(req_raw, str) else (*base, "requires", i)
            text = self._static(item, path, ctx)
            if text is not None and str(text).strip() and self.shared.edges <= MAX_EDGES:
                requires += self._resolve(str(text), group, index, path) or []
        self.shared.edges += len(requires)
        if self.shared.edges > MAX_EDGES >= self.shared.edges - len(requires):  # said once
            self.diag((*base, "requires"), f"the blueprint expands to more than {MAX_EDGES:,} "
                      "requirements: when every member of a large count requires all members "
                      "of another ('x[*]'), add one state that requires 'x[*]' and require it")
        actions: dict[str, ActionSpec | None] = shared["actions"]
        when = shared["late_when"]
        if when is None:
            static = (raw.get("action") or {}).get("when", True) \
                if isinstance(raw.get("action"), dict) else True
            if not self._static(static, (*base, "action", "when"), ctx):
                actions = {k: None for k in actions}
        refs = self._output_refs(shared["templates"], group, index, set(self.vars.get(group, {})))
        full = self.prefix + group
        moves = {k: tuple(node_name(full, index, s) for s in v)
                 for k, v in shared["transitions"].items()}
        return Node(
            name=node_name(full, index, state), instance=instance_name(full, index), group=full,
            index=index, state=state, requires=tuple(dict.fromkeys(requires)),
            action=actions["action"], check=actions["check"], undo=actions["undo"],
            host=shared["host"], outputs=tuple(raw.get("outputs", ())),
            reboot=raw.get("reboot") is True, reboot_if_asked=raw.get("reboot") == "needed",
            idempotent=bool(raw.get("idempotent", False)),
            on_failure=raw.get("on_failure"), output_refs=refs, wait=shared["wait"],
            scope=self.scope, vars=shared["vars"],
            when=when if actions["action"] is not None else None,
            direct=bool(shared["transitions"]), on_success=moves.get("on_success", ()),
            on_error=moves.get("on_error", ()), on_complete=moves.get("on_complete", ()),
            join=raw.get("join", "any"),
        )

    def _resolve(self, text: str, group: str | None, index: int | None,
                 path: YPath) -> list[str] | None:
        ref = parse_ref(text)
        if ref is None:
            self.diag(path, f"{text!r} is not a state reference; write State, entity.State, "
                            "entity[N].State or entity[*].State")
            return None
        if ref.entity is None and group is None:
            self.diag(path, f"{text!r} must name its entity here: write entity.{ref.state}")
            return None
        target = ref.entity or group
        assert target is not None
        if target.split(".")[0].split("[")[0] in self.broken:
            return None
        if target not in self.counts:
            self.diag(path, self._unknown_target(target, text))
            return None
        count = self.counts[target]
        indices: list[int | None]
        if ref.entity is None:
            indices = [index]
        elif ref.index is None:
            if count is not None:
                self.diag(path, f"'{target}' has a count: write {target}[*].{ref.state} "
                                f"(all members) or {target}[N].{ref.state}")
                return None
            indices = [None]
        elif count is None:
            self.diag(path, f"'{target}' has no count: write {target}.{ref.state}")
            return None
        elif ref.index == "*":
            indices = list(range(count))
        else:
            member = int(ref.index)
            indices = [member]
            if member >= count:
                span = f"indices 0-{count - 1}" if count else "no members"
                self.diag(path, f"{target}[{ref.index}] does not exist: count is {count} ({span})")
                return None
        if ref.state not in self.states[target]:
            part = self.part_of.get(target)
            if part is not None:
                self.diag(path, f"part '{part}' does not export {text!r}; it exports: "
                                f"{', '.join(self.part_exports.get(part, [])) or 'nothing'}, "
                                "and its Deployed (add the state to the part's 'exports')")
            else:
                self.diag(path, f"entity '{target}' has no state '{ref.state}'"
                                f"{suggest(ref.state, self.states[target])}")
            return None
        return [node_name(self.prefix + target, i, ref.state) for i in indices]

    def _unknown_target(self, target: str, text: str) -> str:
        head = target.split(".")[0].split("[")[0]
        if "." in target and head in self.part_of:
            exported = ", ".join(self.part_exports.get(head, [])) or "nothing"
            return (f"part '{head}' exports no state of {target!r} (in {text!r}); it exports: "
                    f"{exported}, and its Deployed")
        return f"unknown entity '{target}' in {text!r}{suggest(target, self.counts)}"

    def _output_refs(self, templates: list[tuple[YPath, str]], group: str | None,
                     index: int | None, var_names: set[str]) -> OutputRefs:
        refs: dict[str, tuple[str, ...]] = {}
        for path, src in templates:
            info = analyze(src)
            for msg in info.problems:
                self.diag(path, msg)
            for n in info.names - CONTEXT_NAMES:
                self.diag(path, self._unknown_name(n))
            for p in info.params - self.declared:
                self.diag(path, self._unknown_param(p))
            for v in sorted(info.vars - var_names):
                self.diag(path, f"unknown var '{v}'{suggest(v, var_names)}; "
                          + (f"its type declares: {', '.join(sorted(var_names))}" if var_names
                             else "vars are those of an entity type"))
            for ref_text, attr in info.outputs:
                names = self._resolve(ref_text, group, index, path)
                if names is None:
                    continue
                refs[ref_text] = tuple(names)
                self._check_attr(ref_text, attr, path, group)
        return tuple((t, n, "[*]" in t) for t, n in refs.items())

    def _check_attr(self, ref_text: str, attr: str | None, path: YPath, group: str | None
                    ) -> None:
        ref = parse_ref(ref_text)
        if attr is None or ref is None:
            return
        target = ref.entity or group
        declared = self.declared_outputs.get((str(target), ref.state))
        if declared is not None and attr not in declared and ref.index != "*":
            if declared:
                self.diag(path, f"{ref_text} publishes no output '{attr}'"
                                f"{suggest(attr, declared)}; it declares: {', '.join(declared)}")
            elif target in self.part_of:
                self.diag(path, f"{ref_text} publishes no outputs (it declares none)")

    # -- targets ---------------------------------------------------------------

    def _targets(self) -> tuple[str, ...]:
        if "targets" in self.data:
            out: list[str] = []
            for i, text in enumerate(self.data["targets"]):
                out += self._resolve(text, None, None, ("targets", i)) or []
            return tuple(dict.fromkeys(out))
        out = []
        for group, entity in self.entities.items():
            if "Deployed" not in (entity.get("states") or {}):
                self.diag(("entities", group), f"entity '{group}' has no 'Deployed' state; add "
                          "one, or list the states to reach under 'targets'", key=True)
                continue
            count = self.counts[group]
            out += [node_name(self.prefix + group, i, "Deployed")
                    for i in ([None] if count is None else range(count))]
        for name in self.data.get("parts", {}):
            count = self.counts.get(name, -1)
            if count != -1:
                out += [node_name(self.prefix + name, i, "Deployed")
                        for i in ([None] if count is None else range(count))]
        return tuple(out)


def _check_graph(shared: _Shared, nodes: dict[str, Node], targets: tuple[str, ...]
                 ) -> dict[str, Node]:
    """Cycles, outputs read without requiring their state; the nodes the targets need."""
    names = list(nodes)
    ids = {n: i for i, n in enumerate(names)}
    preds = [[ids[r] for r in nodes[n].requires] for n in names]
    for i, n in enumerate(names):
        node = nodes[n]
        for m in (*node.on_success, *node.on_error, *node.on_complete):
            preds[ids[m]].append(i)

    def report(name: str, message: str, *, key: bool = True) -> None:
        builder, path = shared.where[name]
        builder.diag(path, message, key=key)

    cycle = find_cycle(preds)
    if cycle:
        first = names[cycle[0]]
        loop = " -> ".join(names[i] for i in cycle)
        builder, path = shared.where[first]
        builder.diag((*path, "requires") if path[0] == "entities" else path,
                     f"dependency cycle: {loop} (each requires the next, or is started by "
                     "it); break one link")
        return nodes
    keep = ancestors((ids[t] for t in targets), preds)
    kept_instances = {nodes[names[i]].instance for i in keep}
    for name in names:
        node = nodes[name]
        if node.direct and node.instance in kept_instances:
            keep.add(ids[name])
        for ref_text, sources, _ in node.output_refs:
            for src in sources:
                if src == name and node.wait and node.wait.kind in ("signal", "message"):
                    continue  # its own event's data, in hand before its action runs
                if not requires_transitively(ids[name], ids[src], preds):
                    report(name, f"{name} reads outputs['{ref_text}'] but does not require "
                                 f"{src}; add it to 'requires'")
    return {n: nodes[n] for n in names if ids[n] in keep}
