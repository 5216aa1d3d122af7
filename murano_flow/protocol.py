"""What the engine sends to a transport (a plan) and what comes back (a result).

Frozen dataclasses with ``encode()``/``decode()``, standard library only, so that a
guest agent can carry this module alone. Decoding validates every field and
raises :class:`~murano_flow.errors.DecodeError` naming what is wrong.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import DecodeError

#: Interpreters a plan may ask for.
SCRIPT_TYPES = ("sh", "bash", "python", "powershell")
#: Result statuses: ok (exit 0), failed (non-zero exit), timeout, error (could not run).
RESULT_STATUSES = ("ok", "failed", "timeout", "error")
#: What a plan is for: the state's action, its check probe, or its undo.
PLAN_KINDS = ("action", "check", "undo")
#: How an error result says its host lost the run mid-action (it may have partly run).
LOST_PREFIXES = ("lost:", "interrupted:")


@dataclass(frozen=True, slots=True)
class Plan:
    """One script run on one host; ``id`` is stable across re-sends so hosts can deduplicate."""

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
    reboot: bool = False
    stamp: float = 0.0
    idempotent: bool = False

    def encode(self) -> bytes:
        """The plan as UTF-8 JSON."""
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @classmethod
    def decode(cls, data: bytes | str) -> Plan:
        """Parse and validate a plan; raise DecodeError."""
        raw = _load(data, "plan")
        _need(raw, "plan", id=str, deployment=str, node=str, kind=str, attempt=int,
              script_type=str, body=str, timeout=(int, float))
        if raw["kind"] not in PLAN_KINDS:
            raise DecodeError("plan", f"kind {raw['kind']!r} is not one of {PLAN_KINDS}")
        if raw["script_type"] not in SCRIPT_TYPES:
            raise DecodeError("plan", f"script_type {raw['script_type']!r} is unknown")
        try:
            return cls(**{**raw, "args": tuple(str(a) for a in raw.get("args", ()))})
        except TypeError as exc:
            raise DecodeError("plan", str(exc)) from exc


@dataclass(frozen=True, slots=True)
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
        retry policy must not run it again; only the operator may (``resume``)."""
        return self.status == "error" and self.message.startswith(LOST_PREFIXES)

    def encode(self) -> bytes:
        """The result as UTF-8 JSON."""
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @classmethod
    def decode(cls, data: bytes | str) -> Result:
        """Parse and validate a result; raise DecodeError."""
        raw = _load(data, "result")
        _need(raw, "result", plan_id=str, status=str)
        if raw["status"] not in RESULT_STATUSES:
            raise DecodeError("result", f"status {raw['status']!r} is not one of {RESULT_STATUSES}")
        if not isinstance(raw.get("outputs", {}), dict):
            raise DecodeError("result", "outputs must be a JSON object")
        try:
            return cls(**raw)
        except TypeError as exc:
            raise DecodeError("result", str(exc)) from exc


#: What an agent tells the engine: it took a plan, it is still running it, or how it ended.
NOTICE_KINDS = ("accepted", "heartbeat", "result")


@dataclass(frozen=True, slots=True)
class Notice:
    """A message from an agent (its queue name) about one plan; ``result`` iff kind is result."""

    kind: str
    agent: str
    plan_id: str
    result: Result | None = None

    def encode(self) -> bytes:
        """The notice as UTF-8 JSON."""
        raw = {"kind": self.kind, "agent": self.agent, "plan_id": self.plan_id,
               "result": asdict(self.result) if self.result else None}
        return json.dumps(raw, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, data: bytes | str) -> Notice:
        """Parse and validate a notice; raise DecodeError."""
        raw = _load(data, "notice")
        _need(raw, "notice", kind=str, agent=str, plan_id=str)
        if raw["kind"] not in NOTICE_KINDS:
            raise DecodeError("notice", f"kind {raw['kind']!r} is not one of {NOTICE_KINDS}")
        result = None
        if raw["kind"] == "result":
            if not isinstance(raw.get("result"), dict):
                raise DecodeError("notice", "a result notice carries no result")
            result = Result.decode(json.dumps(raw["result"]))
            if result.plan_id != raw["plan_id"]:
                raise DecodeError("notice", "the result is for another plan")
        return cls(raw["kind"], raw["agent"], raw["plan_id"], result)


def _load(data: bytes | str, what: str) -> dict[str, Any]:
    try:
        raw = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DecodeError(what, f"not JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise DecodeError(what, "not a JSON object")
    return raw


def _need(raw: dict[str, Any], what: str, **types: type | tuple[type, ...]) -> None:
    for key, typ in types.items():
        if key not in raw:
            raise DecodeError(what, f"missing field '{key}'")
        if not isinstance(raw[key], typ) or isinstance(raw[key], bool):
            raise DecodeError(what, f"field '{key}' has the wrong type")
