"""The validated, expanded blueprint: frozen dataclasses the engine runs from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Marker for "no default given".
NO_DEFAULT: Any = object()

#: Interpreter used when an action names none, by script suffix.
SHELL_BY_SUFFIX = {".ps1": "powershell", ".py": "python", ".bash": "bash"}

#: Default timeout of an action, seconds.
DEFAULT_TIMEOUT = 1800.0


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
    #: Exit codes that may be retried; empty means any non-zero exit.
    on_exit_codes: tuple[int, ...] = ()

    def delay_for(self, attempt: int) -> float:
        """Seconds to wait before attempt ``attempt + 1`` (attempts count from 1)."""
        return min(self.max_delay, self.delay * self.backoff ** max(0, attempt - 1))

    def allows(self, attempt: int, exit_code: int | None) -> bool:
        """Whether a failure of attempt ``attempt`` with ``exit_code`` may be retried."""
        if attempt > self.count:
            return False
        return not self.on_exit_codes or exit_code in self.on_exit_codes


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
    reboot: bool = False
    #: Safe to run again if a host died mid-run without a record of how it ended.
    idempotent: bool = False
    #: Reference text -> node names, for each ``outputs['...']`` its templates read.
    output_refs: tuple[tuple[str, tuple[str, ...], bool], ...] = ()


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
    #: Parameter names given no value (validate/plan only); placeholders stand in.
    assumed: tuple[str, ...] = field(default=())
    #: The blueprint text and the script files it read, as journaled with a deployment.
    text: str = field(default="", repr=False)
    scripts: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def secrets(self) -> list[str]:
        """The string forms of every secret parameter value."""
        return [
            str(self.values[p.name])
            for p in self.parameters.values()
            if p.secret and self.values.get(p.name) not in (None, "")
        ]
