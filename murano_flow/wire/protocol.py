"""What the engine sends to a transport (a plan) and what comes back (a result).

Frozen dataclasses with ``encode()``/``decode()``, standard library only, so that a
guest agent can carry this module alone. A signature says who sent a message, not
that its content makes sense: decoding checks every field against the table of its
class (type, range, finite numbers, no unknown fields) and raises
:class:`~murano_flow.errors.DecodeError` naming the field, so that nothing odd is
ever half-run.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from typing import Any

from ..errors import DecodeError

#: Interpreters a plan may ask for.
SCRIPT_TYPES = ("sh", "bash", "python", "powershell")
#: Result statuses: ok (exit 0), failed (non-zero exit), timeout, error (could not run).
RESULT_STATUSES = ("ok", "failed", "timeout", "error")
#: What a plan is for: the state's action, its check probe, or its undo.
PLAN_KINDS = ("action", "check", "undo")
#: How an error result says its host lost the run mid-action (it may have partly run).
LOST_PREFIXES = ("lost:", "interrupted:")
#: How an error result says the plan was certainly never started (safe to send again).
NEVER_STARTED = "never started:"
#: What a host answers for a run it collected earlier whose outputs carried a secret: it
#: keeps no clear copy of them, so a second asking cannot get them.
OUTPUTS_NOT_KEPT = ("lost: it ran (see its logs) but its outputs carried a secret and are not "
                    "kept on the host; run it again to have them")
#: Longest timeout a plan may carry (a week), and the longest text field.
MAX_TIMEOUT = 7 * 24 * 3600.0
MAX_TEXT = 16 * 1024 * 1024


@dataclass(frozen=True)
class Plan:
    """One script run on one host; ``id`` is stable across re-sends so hosts can deduplicate.

    ``expires`` (epoch seconds, 0 for never) is when a host must refuse to start it: the
    engine has stopped waiting for it to be taken by then. ``reply_to`` names the queue
    for its notices; both travel in the signed body, so neither can be changed in transit.
    ``secrets`` are the values the host masks in everything it writes of the run (logs,
    results); they are in ``params`` anyway.
    """

    id: str
    deployment: str
    node: str
    kind: str
    attempt: int
    script_type: str
    body: str
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    timeout: float = 1800.0
    #: Reboot the host after the action succeeded (``reboot: true``) ...
    reboot: bool = False
    #: ... or only when it asks to (``reboot: needed``): see :func:`reboot_due`.
    reboot_if_asked: bool = False
    stamp: float = 0.0
    idempotent: bool = False
    expires: float = 0.0
    reply_to: str = ""
    secrets: tuple[str, ...] = ()

    def encode(self) -> bytes:
        """The plan as UTF-8 JSON."""
        return _dump(asdict(self))

    @classmethod
    def decode(cls, data: bytes | str) -> Plan:
        """Parse and validate a plan; raise DecodeError."""
        raw = _checked(_load(data, "plan"), "plan", _PLAN_FIELDS, cls)
        return cls(**{**raw, "args": tuple(raw.get("args", ())),
                      "secrets": tuple(raw.get("secrets", ()))})


@dataclass(frozen=True)
class Result:
    """The outcome of one plan."""

    plan_id: str
    status: str
    exit_code: int | None = None
    stdout_tail: str = ""
    stderr_tail: str = ""
    outputs: dict[str, Any] = field(default_factory=dict)
    started: float = 0.0
    finished: float = 0.0
    message: str = ""
    log_dir: str = ""

    @property
    def ok(self) -> bool:
        """Whether the script exited 0."""
        return self.status == "ok"

    @property
    def lost(self) -> bool:
        """Whether the host lost the run mid-action, so that it may have partly run: a
        retry policy must not run it again; only the operator may (``resume --rerun``)."""
        return self.status == "error" and self.message.startswith(LOST_PREFIXES)

    def encode(self) -> bytes:
        """The result as UTF-8 JSON."""
        return _dump(asdict(self))

    @classmethod
    def decode(cls, data: bytes | str) -> Result:
        """Parse and validate a result; raise DecodeError."""
        return cls.from_dict(_load(data, "result"))

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Result:
        """Validate an already parsed result; raise DecodeError."""
        return cls(**_checked(raw, "result", _RESULT_FIELDS, cls))


#: The exchange agents publish their notices to, routed by the engine's results queue: a
#: named exchange, unlike the default one, can be granted to an agent's broker login alone.
RESULTS_EXCHANGE = "murano-flow.results"

#: What an agent tells the engine: it took a plan, it is still running it (or holds it
#: queued behind another one), or how it ended.
NOTICE_KINDS = ("accepted", "heartbeat", "result")


@dataclass(frozen=True)
class Notice:
    """A message from an agent (its queue name) about one plan; ``result`` iff kind is
    result; ``note`` says what a heartbeat is about (e.g. "queued behind P")."""

    kind: str
    agent: str
    plan_id: str
    result: Result | None = None
    note: str = ""

    def encode(self) -> bytes:
        """The notice as UTF-8 JSON."""
        return _dump({"kind": self.kind, "agent": self.agent, "plan_id": self.plan_id,
                      "result": asdict(self.result) if self.result else None,
                      "note": self.note})

    @classmethod
    def decode(cls, data: bytes | str) -> Notice:
        """Parse and validate a notice; raise DecodeError."""
        raw = _checked(_load(data, "notice"), "notice", _NOTICE_FIELDS, cls)
        result = None
        if raw["kind"] == "result":
            if not isinstance(raw.get("result"), dict):
                raise DecodeError("notice", "a result notice carries no result")
            result = Result.from_dict(raw["result"])
            if result.plan_id != raw["plan_id"]:
                raise DecodeError("notice", "the result is for another plan")
        return cls(raw["kind"], raw["agent"], raw["plan_id"], result, raw.get("note", ""))


# -- field checks ----------------------------------------------------------------

Check = tuple[Callable[[Any], bool], str]


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= MAX_TEXT


def _is_name(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 1000


def _is_int(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _is_number(value: Any, low: float, high: float) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value) and low <= value <= high)


def _one_of(choices: tuple[str, ...]) -> Check:
    return (lambda v: v in choices), f"one of {', '.join(choices)}"


_NAME: Check = (_is_name, "a non-empty string")
_TEXT: Check = (_is_text, "a string")
_FLAG: Check = (lambda v: isinstance(v, bool), "true or false")
_TIME: Check = (lambda v: _is_number(v, 0, 1e11), "a finite time in epoch seconds")
_OBJECT: Check = (lambda v: isinstance(v, dict), "a JSON object")

_PLAN_FIELDS: dict[str, Check] = {
    "id": _NAME, "deployment": _NAME, "node": _NAME, "kind": _one_of(PLAN_KINDS),
    "attempt": ((lambda v: _is_int(v, 0, 2**31)), "a whole number from 0"),
    "script_type": _one_of(SCRIPT_TYPES), "body": _TEXT,
    "args": ((lambda v: isinstance(v, list) and all(_is_text(a) for a in v)),
             "a list of strings"),
    "env": ((lambda v: isinstance(v, dict) and all(_is_text(x) for x in v.values())),
            "a JSON object of strings"),
    "params": _OBJECT,
    "timeout": ((lambda v: _is_number(v, 0.001, MAX_TIMEOUT)),
                f"a finite number of seconds above 0, at most {MAX_TIMEOUT:g}"),
    "reboot": _FLAG, "reboot_if_asked": _FLAG, "stamp": _TIME, "idempotent": _FLAG,
    "expires": _TIME,
    "reply_to": _TEXT,
    "secrets": ((lambda v: isinstance(v, list) and all(_is_text(a) and a for a in v)),
                "a list of non-empty strings"),
}
_RESULT_FIELDS: dict[str, Check] = {
    "plan_id": _NAME, "status": _one_of(RESULT_STATUSES),
    "exit_code": ((lambda v: v is None or _is_int(v, -2**31, 2**32)),
                  "a whole number or null"),
    "stdout_tail": _TEXT, "stderr_tail": _TEXT, "outputs": _OBJECT, "started": _TIME,
    "finished": _TIME, "message": _TEXT, "log_dir": _TEXT,
}
_NOTICE_FIELDS: dict[str, Check] = {
    "kind": _one_of(NOTICE_KINDS), "agent": _NAME, "plan_id": _NAME,
    "result": ((lambda v: v is None or isinstance(v, dict)), "a JSON object or null"),
    "note": _TEXT,
}


def _checked(raw: dict[str, Any], what: str, table: dict[str, Check], cls: type
             ) -> dict[str, Any]:
    """``raw`` if every field is known and passes its check, and none required is missing."""
    for key in raw:
        if key not in table:
            raise DecodeError(what, f"unknown field '{key}' (engine and agent versions differ?)")
    for f in fields(cls):
        if f.name not in raw and f.name in table and _required(f):
            raise DecodeError(what, f"missing field '{f.name}'")
    for key, value in raw.items():
        check, wanted = table[key]
        if not check(value):
            raise DecodeError(what, f"field '{key}' must be {wanted}, not {_show(value)}")
    return raw


def _required(f: Any) -> bool:
    return bool(f.default is MISSING and f.default_factory is MISSING)


def _show(value: Any) -> str:
    text = json.dumps(value, allow_nan=True) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _load(data: bytes | str, what: str) -> dict[str, Any]:
    try:
        raw = json.loads(data, parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise DecodeError(what, f"not JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise DecodeError(what, "not a JSON object")
    return raw


def _dump(data: dict[str, Any]) -> bytes:
    """Strict JSON (a NaN in an action's outputs is refused here, not sent)."""
    try:
        return json.dumps(data, separators=(",", ":"), allow_nan=False).encode()
    except ValueError as exc:
        raise DecodeError("message", f"cannot be sent as JSON: {exc}") from exc


#: Exit code of a Windows installer that succeeded and needs a reboot to finish
#: (ERROR_SUCCESS_REBOOT_REQUIRED).
REBOOT_REQUIRED = 3010
#: The output by which an action asks for a reboot (e.g. from Install-WindowsFeature's
#: RestartNeeded).
REBOOT_OUTPUT = "reboot_required"


def reboot_due(plan: Plan, result: Result) -> tuple[Result, bool]:
    """Whether the host must reboot after ``plan`` ended with ``result``, and the result
    as the engine should see it: a ``reboot: true`` step reboots when it succeeded; a
    ``reboot: needed`` step when it exits 3010 (a success, then) or publishes
    ``reboot_required: true``."""
    if plan.reboot:
        return result, result.ok
    if not plan.reboot_if_asked:
        return result, False
    if result.status == "failed" and result.exit_code == REBOOT_REQUIRED:
        return replace(result, status="ok"), True
    return result, result.ok and result.outputs.get(REBOOT_OUTPUT) is True

