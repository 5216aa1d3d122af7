"""The validated, expanded blueprint: frozen dataclasses the engine runs from."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

#: Marker for "no default given".
NO_DEFAULT: Any = object()

#: Interpreter used when an action names none, by script suffix.
SHELL_BY_SUFFIX = {".ps1": "powershell", ".py": "python", ".bash": "bash"}

#: Default timeout of an action, seconds.
DEFAULT_TIMEOUT = 1800.0
#: Longest action timeout: what a plan may carry on the wire (protocol.MAX_TIMEOUT).
MAX_TIMEOUT = 7 * 24 * 3600.0


@dataclass(frozen=True, slots=True)
class Parameter:
    """A typed blueprint parameter."""

    name: str
    type: str
    default: Any = NO_DEFAULT
    required: bool = True
    secret: bool = False
    pattern: str | None = None
    min: int | None = None
    max: int | None = None
    allowed: tuple[Any, ...] | None = None
    description: str = ""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often, and after which failures, an action is tried again."""

    count: int = 0
    delay: float = 1.0
    backoff: float = 2.0
    max_delay: float = 60.0
    #: Failures worth another try: exit codes and the failure kinds failed, timeout,
    #: unreachable; empty means any failure.
    on: tuple[int | str, ...] = ()
    #: Randomise each delay between half and all of it, so retries do not stampede.
    jitter: bool = True

    def delay_for(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before attempt ``attempt + 1`` (attempts count from 1)."""
        full = min(self.max_delay, self.delay * self.backoff ** max(0, attempt - 1))
        return full / 2 + (rng or random).uniform(0, full / 2) if self.jitter else full

    def refusal(self, attempt: int, kind: str, exit_code: int | None) -> str:
        """Why a failure of attempt ``attempt`` is not retried; '' when it may be."""
        if not self.count:
            return "no retries"
        if attempt > self.count:
            return f"after {attempt} attempts"
        if not self.on or kind in self.on or (kind == "failed" and exit_code in self.on):
            return ""
        what = f"exit code {exit_code}" if kind == "failed" else kind
        return f"not retried: {what} is not in retries.on_failures"


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """A script to run; template strings are rendered when the node is dispatched."""

    shell: str
    body: str
    #: Where the body came from: a path relative to the blueprint, or '<inline>'.
    origin: str
    args: tuple[Any, ...] = ()
    env: tuple[tuple[str, Any], ...] = ()
    params: Any = None
    timeout: float = DEFAULT_TIMEOUT
    retries: RetryPolicy = RetryPolicy()


@dataclass(frozen=True, slots=True)
class HostSpec:
    """How to reach an entity; values may hold expressions rendered at dispatch."""

    transport: str = "local"
    fields: tuple[tuple[str, Any], ...] = ()

    def get(self, key: str, default: Any = None) -> Any:
        """One field of the host mapping."""
        return dict(self.fields).get(key, default)


#: What a state may wait for: a timer, a cron schedule, an operator's signal, a broker message.
WAIT_KINDS = ("after", "at", "signal", "message")


@dataclass(frozen=True, slots=True)
class WaitSpec:
    """An external event a state waits for once its requirements are reached."""

    kind: str
    #: after: seconds from when the state became ready.
    after: float | None = None
    #: at: a cron expression (5 fields, or 6 with seconds) in ``timezone``.
    cron: str = ""
    timezone: str = "UTC"
    #: message: where it arrives and which ones count; values of ``match`` may be templates.
    exchange: str = ""
    exchange_type: str = "topic"
    routing_key: str = "#"
    match: tuple[tuple[str, Any], ...] = ()
    #: message: the broker-validated user_id the publisher must have ('' accepts any user).
    from_user: str = ""
    #: Seconds after which waiting fails the state (None: wait for ever).
    timeout: float | None = None

    def describe(self) -> str:
        """What is awaited, in a few words."""
        if self.kind == "after":
            return f"a timer of {self.after:g}s"
        if self.kind == "at":
            return f"the schedule '{self.cron}' ({self.timezone})"
        if self.kind == "signal":
            return "a signal"
        return f"a message on exchange '{self.exchange}' with key '{self.routing_key}'"


@dataclass(frozen=True, slots=True)
class Node:
    """One ``instance.State`` of the expanded graph."""

    name: str
    instance: str
    group: str
    index: int | None
    state: str
    requires: tuple[str, ...]
    action: ActionSpec | None
    check: ActionSpec | None
    undo: ActionSpec | None
    host: HostSpec
    outputs: tuple[str, ...] = ()
    #: Reboot the host after its action succeeded ...
    reboot: bool = False
    #: ... or only when the action asks (``reboot: needed``: exit 3010 or the output
    #: ``reboot_required: true``).
    reboot_if_asked: bool = False
    #: Safe to run again if a host died mid-run without a record of how it ended.
    idempotent: bool = False
    #: This state's own failure policy (stop, continue or rollback); None follows the deployment's.
    on_failure: str | None = None
    #: Reference text -> node names, for each ``outputs['...']`` its templates read.
    output_refs: tuple[tuple[str, tuple[str, ...], bool], ...] = ()
    #: An external event awaited, besides ``requires``, before its action runs.
    wait: WaitSpec | None = None
    #: The part it belongs to ('' for the blueprint's own, else e.g. ``ad`` or ``sql[1]``):
    #: its parameters are that part's (see :attr:`Blueprint.scopes`).
    scope: str = ""
    #: Its entity type's vars (templates rendered with the node's context, as ``vars``).
    vars: tuple[tuple[str, Any], ...] = ()
    #: A condition read when its requirements are settled (it reads outputs): false
    #: passes the state over (skipped, never run).
    when: str | None = None
    #: Its entity's states follow each other by transitions, not ``requires`` (direct).
    direct: bool = False
    #: Direct flow: nodes started when it succeeds, fails (its failure then handled) or
    #: ends either way.
    on_success: tuple[str, ...] = ()
    on_error: tuple[str, ...] = ()
    on_complete: tuple[str, ...] = ()
    #: Direct flow: 'any' (runs on its first incoming transition) or 'all'.
    join: str = "any"
    #: Rollout in batches (``serial``): the last states of the batch before that this
    #: node, where its member starts, waits for (also in ``requires``) ...
    after_batch: tuple[str, ...] = ()
    #: ... and how many of its entity's members may fail without stopping the rollout
    #: (None: a failure applies its on_failure as anywhere).
    max_failures: int | None = None


@dataclass(frozen=True, slots=True)
class Scope:
    """The parameters one part of a blueprint sees as ``params``."""

    #: Values known when the blueprint is expanded.
    values: dict[str, Any]
    #: Parameters bound to outputs of the including blueprint's states, rendered when a
    #: node reads them: (name, template, output references as in :attr:`Node.output_refs`).
    bound: tuple[tuple[str, Any, tuple[tuple[str, tuple[str, ...], bool], ...]], ...] = ()
    #: The including scope ('' for the top blueprint) and this part's member index.
    parent: str = ""
    index: int | None = None
    #: The included blueprint file, relative to the top blueprint's folder.
    file: str = ""
    #: The string forms of its secret parameters' values (masked like the top's).
    secrets: tuple[str, ...] = ()


@dataclass(frozen=True)
class Blueprint:
    """A validated blueprint bound to parameter values and expanded into nodes."""

    name: str
    path: str
    description: str
    parameters: dict[str, Parameter]
    values: dict[str, Any]
    nodes: dict[str, Node]
    targets: tuple[str, ...]
    counts: dict[str, int | None]
    digest: str
    #: What a failure does (stop, continue or rollback), unless the deployment or a
    #: state says otherwise.
    on_failure: str = "stop"
    #: Seconds each run may take (None: no limit).
    deadline: float | None = None
    #: Parameter names given no value (validate/plan only); placeholders stand in.
    assumed: tuple[str, ...] = field(default=())
    #: The blueprint text and the script files it read, as journaled with a deployment.
    text: str = field(default="", repr=False)
    scripts: dict[str, str] = field(default_factory=dict, repr=False)
    #: Each part's parameters, by part path (``ad``, ``sql[1]``); the top blueprint's are
    #: :attr:`values`.
    scopes: dict[str, Scope] = field(default_factory=dict, repr=False)
    #: The expanded entities, as plain data (what ``plan --expand`` shows).
    expanded: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def secrets(self) -> list[str]:
        """The string forms of every secret parameter value, its parts' included."""
        own = [
            str(self.values[p.name])
            for p in self.parameters.values()
            if p.secret and self.values.get(p.name) not in (None, "")
        ]
        return own + [v for scope in self.scopes.values() for v in scope.secrets if v not in own]
