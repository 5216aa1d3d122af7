"""The blueprint pipeline: YAML -> schema -> parameters -> expansion -> graph checks.

Every stage collects problems instead of stopping at the first one, so that
``validate`` reports all it can find in one run. Semantic stages run only on a
schema-valid document, because they rely on its shape.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from ..dag import ancestors, find_cycle, requires_transitively
from ..durations import seconds
from ..errors import BlueprintError, Diagnostic, ExpressionError
from ..gcpause import paused_gc
from . import params as P
from .actions import ActionBuilder, action_templates, host_spec, host_templates
from .expressions import CONTEXT_NAMES, analyze, is_template, render
from .refs import instance_name, node_name, parse_ref
from .schema import check_schema, suggest
from .source import Path as YPath
from .source import SourceMap, load_yaml
from .spec import ActionSpec, Blueprint, Node, Parameter
from .waits import wait_spec, wait_templates

#: Largest member count of one entity.
MAX_COUNT = 100_000
#: Most requirements a blueprint may expand to in all: 'x[*]' required by every member of
#: a large count grows as the square of the count.
MAX_EDGES = 2_000_000

#: Names usable in expressions evaluated while expanding (count, requires, when).
_STATIC = CONTEXT_NAMES - {"outputs"}


def load_blueprint(
    path: str | Path, given: dict[str, Any] | None = None, *, strict: bool = False
) -> Blueprint:
    """Read, validate and expand the blueprint file at ``path``.

    Args:
        path: the YAML file.
        given: parameter values (strings from the command line are coerced).
        strict: require a value for every required parameter (deploy); otherwise
            placeholders stand in for missing ones (validate, plan, graph).

    Raises:
        BlueprintError: with every problem found, each located as file:line:column.
    """
    file = str(path)
    try:
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

    ``scripts`` maps script paths to their text, to rebuild a blueprint exactly as
    it was journaled, whatever the disk holds now.
    """
    with paused_gc():
        return _parse(text, file, given, strict, scripts)


def _parse(text: str, file: str, given: dict[str, Any] | None, strict: bool,
           scripts: dict[str, str] | None) -> Blueprint:
    data, smap, problems = load_yaml(text, file)
    if data is None and not problems:
        problems.append(Diagnostic(file, 1, 1, "the blueprint is empty (or just 'null')"))
    if data is not None and not isinstance(data, dict):
        problems.append(Diagnostic(file, 1, 1, "a blueprint is a mapping with keys "
                                               "'format', 'name' and 'entities'"))
    if data is None or problems:
        raise BlueprintError(problems)
    problems.extend(check_schema(data, smap))
    if problems:
        raise BlueprintError(problems)
    builder = _Builder(data, smap, Path(file).resolve().parent, scripts)
    return builder.run(text, given or {}, strict)


class _Builder:
    def __init__(self, data: dict[str, Any], smap: SourceMap, base_dir: Path,
                 scripts: dict[str, str] | None) -> None:
        self.data, self.smap = data, smap
        self.problems: list[Diagnostic] = []
        self.actions = ActionBuilder(base_dir, smap, self.problems, scripts)
        self.states = {g: list(e["states"]) for g, e in data["entities"].items()}
        self.counts: dict[str, int | None] = {}
        self.values: dict[str, Any] = {}
        #: Declared parameter names: one without a value is reported once, as missing.
        self.declared: frozenset[str] = frozenset()
        self.parameters: dict[str, Parameter] = {}
        #: Requirements expanded so far (bounded by MAX_EDGES).
        self.edges = 0

    def diag(self, path: YPath, message: str, *, key: bool = False) -> None:
        self.problems.append(self.smap.diag(path, message, key=key))

    def run(self, text: str, given: dict[str, Any], strict: bool) -> Blueprint:
        parameters = P.declare(self.data.get("parameters", {}))
        self.parameters = parameters
        self.declared = frozenset(parameters)
        self.problems.extend(P.check_declarations(parameters, self.smap))
        origin = f"{self.smap.file} (parameters given)"
        self.values, assumed, bad = P.bind(parameters, given, strict=strict, origin=origin)
        self.problems.extend(bad)
        self.counts = {g: self._count(g, e) for g, e in self.data["entities"].items()}
        nodes = self._expand()
        targets = self._targets(nodes)
        if not self.problems:
            nodes = self._check_graph(nodes, targets)
        if self.problems:
            raise BlueprintError(sorted(set(self.problems), key=lambda d: (d.line, d.column)))
        digest = hashlib.sha256(text.encode())
        for rel in sorted(self.actions.scripts):
            digest.update(rel.encode() + b"\0" + self.actions.scripts[rel].encode())
        return Blueprint(
            name=self.data["name"], path=self.smap.file,
            description=self.data.get("description", ""), parameters=parameters,
            values=self.values, nodes=nodes, targets=targets, counts=self.counts,
            digest=digest.hexdigest(), assumed=tuple(assumed), text=text,
            scripts=dict(self.actions.scripts), on_failure=self.data.get("on_failure", "stop"),
            deadline=seconds(self.data["deadline"]) if "deadline" in self.data else None,
        )

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
        return {"params": self.values, "index": index, "group": group,
                "entity": instance_name(group, index), "count": self.counts.get(group),
                "deployment": ""}

    def _count(self, group: str, entity: dict[str, Any]) -> int | None:
        if "count" not in entity:
            return None
        path = ("entities", group, "count")
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
        for group, entity in self.data["entities"].items():
            count = self.counts[group]
            indices: list[int | None] = [None] if count is None else list(range(count))
            for state, raw in entity["states"].items():
                base: YPath = ("entities", group, "states", state)
                shared = self._state_parts(raw or {}, entity, base)
                for index in indices:
                    node = self._node(group, index, state, raw or {}, base, shared)
                    nodes[node.name] = node
        return nodes

    def _state_parts(self, raw: dict[str, Any], entity: dict[str, Any], base: YPath
                     ) -> dict[str, Any]:
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
        wait = wait_spec(raw.get("wait"), (*base, "wait"), self.diag)
        templates += wait_templates(raw.get("wait"), (*base, "wait"))
        carries_data = wait is not None and wait.kind in ("signal", "message")
        if raw.get("outputs") and raw.get("action") is None and not carries_data:
            self.diag((*base, "outputs"), "a state without an action cannot publish outputs "
                                          "(unless it waits for a signal or a message, whose "
                                          "data become its outputs)")
        for k in ("check", "undo"):
            if raw.get(k) is not None and raw.get("action") is None:
                self.diag((*base, k), f"'{k}' needs an 'action' in the same state")
        return {"actions": actions, "host": host, "templates": templates, "wait": wait}

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
            if text is not None and str(text).strip() and self.edges <= MAX_EDGES:
                requires += self._resolve(str(text), group, index, path) or []
        self.edges += len(requires)
        if self.edges > MAX_EDGES >= self.edges - len(requires):  # said once, where it tips
            self.diag((*base, "requires"), f"the blueprint expands to more than {MAX_EDGES:,} "
                      "requirements: when every member of a large count requires all members "
                      "of another ('x[*]'), add one state that requires 'x[*]' and require it")
        actions: dict[str, ActionSpec | None] = shared["actions"]
        when = (raw.get("action") or {}).get("when", True) if isinstance(raw.get("action"), dict) \
            else True
        if not self._static(when, (*base, "action", "when"), ctx):
            actions = {k: None for k in actions}
        refs = self._output_refs(shared["templates"], group, index)
        name = node_name(group, index, state)
        return Node(
            name=name, instance=instance_name(group, index), group=group, index=index,
            state=state, requires=tuple(dict.fromkeys(requires)), action=actions["action"],
            check=actions["check"], undo=actions["undo"], host=shared["host"],
            outputs=tuple(raw.get("outputs", ())), reboot=bool(raw.get("reboot", False)),
            idempotent=bool(raw.get("idempotent", False)), on_failure=raw.get("on_failure"),
            output_refs=refs, wait=shared["wait"],
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
        if target not in self.counts:
            self.diag(path, f"unknown entity '{target}' in {text!r}{suggest(target, self.counts)}")
            return None
        count = self.counts[target]
        indices: list[int | None]
        if ref.entity is None:
            indices = [index]
        elif ref.index is None:
            if count is not None:
                self.diag(path, f"entity '{target}' has a count: write {target}[*].{ref.state} "
                                f"(all members) or {target}[N].{ref.state}")
                return None
            indices = [None]
        elif count is None:
            self.diag(path, f"entity '{target}' has no count: write {target}.{ref.state}")
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
            self.diag(path, f"entity '{target}' has no state '{ref.state}'"
                            f"{suggest(ref.state, self.states[target])}")
            return None
        return [node_name(target, i, ref.state) for i in indices]

    def _output_refs(self, templates: list[tuple[YPath, str]], group: str, index: int | None
                     ) -> tuple[tuple[str, tuple[str, ...], bool], ...]:
        refs: dict[str, tuple[str, ...]] = {}
        for path, src in templates:
            info = analyze(src)
            for msg in info.problems:
                self.diag(path, msg)
            for n in info.names - CONTEXT_NAMES:
                self.diag(path, self._unknown_name(n))
            for p in info.params - self.declared:
                self.diag(path, self._unknown_param(p))
            for ref_text, attr in info.outputs:
                names = self._resolve(ref_text, group, index, path)
                if names is None:
                    continue
                refs[ref_text] = tuple(names)
                self._check_attr(ref_text, attr, path, group)
        return tuple((t, n, "[*]" in t) for t, n in refs.items())

    def _check_attr(self, ref_text: str, attr: str | None, path: YPath, group: str) -> None:
        ref = parse_ref(ref_text)
        if attr is None or ref is None:
            return
        raw = self.data["entities"][ref.entity or group]["states"].get(ref.state) or {}
        declared = raw.get("outputs")
        if declared and attr not in declared and ref.index != "*":
            self.diag(path, f"{ref_text} publishes no output '{attr}'{suggest(attr, declared)}; "
                            f"it declares: {', '.join(declared)}")

    # -- targets and graph checks ---------------------------------------------

    def _targets(self, nodes: dict[str, Node]) -> tuple[str, ...]:
        if "targets" in self.data:
            out: list[str] = []
            for i, text in enumerate(self.data["targets"]):
                out += self._resolve(text, None, None, ("targets", i)) or []
            return tuple(dict.fromkeys(out))
        out = []
        for group, states in self.states.items():
            if "Deployed" not in states:
                self.diag(("entities", group), f"entity '{group}' has no 'Deployed' state; add "
                          "one, or list the states to reach under 'targets'", key=True)
                continue
            count = self.counts[group]
            out += [node_name(group, i, "Deployed")
                    for i in ([None] if count is None else range(count))]
        return tuple(out)

    def _check_graph(self, nodes: dict[str, Node], targets: tuple[str, ...]) -> dict[str, Node]:
        names = list(nodes)
        ids = {n: i for i, n in enumerate(names)}
        preds = [[ids[r] for r in nodes[n].requires] for n in names]
        cycle = find_cycle(preds)
        if cycle:
            first = nodes[names[cycle[0]]]
            path = " -> ".join(names[i] for i in cycle)
            self.diag(("entities", first.group, "states", first.state, "requires"),
                      f"dependency cycle: {path} (each requires the next); break one link")
            return nodes
        keep = ancestors((ids[t] for t in targets), preds)
        for name in names:
            node = nodes[name]
            for ref_text, sources, _ in node.output_refs:
                for src in sources:
                    if src == name and node.wait and node.wait.kind in ("signal", "message"):
                        continue  # its own event's data, in hand before its action runs
                    if not requires_transitively(ids[name], ids[src], preds):
                        self.diag(("entities", node.group, "states", node.state),
                                  f"{name} reads outputs['{ref_text}'] but does not require "
                                  f"{src}; add it to 'requires'", key=True)
        return {n: nodes[n] for n in names if ids[n] in keep}
