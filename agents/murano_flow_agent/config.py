"""The agent's configuration file: JSON, written by ``murano-flow agent config``.

JSON rather than YAML so the agent needs nothing beyond pika and the standard library.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from murano_flow.errors import UsageError
from murano_flow.wire.signing import MAX_AGE

#: How the host is rebooted unless the config says otherwise (argv, no shell).
DEFAULT_REBOOT = (["shutdown.exe", "/r", "/t", "5"] if os.name == "nt"
                  else ["/sbin/shutdown", "-r", "now"])


@dataclass(frozen=True)
class AgentConfig:
    """Everything one agent needs: where its plans come from and how it proves who it is."""

    broker: str
    queue: str
    key: str
    spool: Path
    heartbeat: float = 5.0
    reboot_command: tuple[str, ...] = field(default_factory=lambda: tuple(DEFAULT_REBOOT))
    reboot_wait: float = 900.0
    log_file: Path | None = None
    max_age: float = MAX_AGE

    def to_json(self) -> str:
        """The config as the JSON file ``load`` reads."""
        raw: dict[str, Any] = {
            "broker": self.broker, "queue": self.queue, "key": self.key,
            "spool": str(self.spool), "heartbeat": self.heartbeat,
            "reboot_command": list(self.reboot_command), "reboot_wait": self.reboot_wait,
            "log_file": str(self.log_file) if self.log_file else None, "max_age": self.max_age,
        }
        return json.dumps(raw, indent=2) + "\n"


_NUMBERS = ("heartbeat", "reboot_wait", "max_age")


def load(path: str | Path) -> AgentConfig:
    """Read and check an agent config file; raise UsageError saying what to fix."""
    where = f"agent config {path}"
    fix = "regenerate it with `murano-flow agent config`"
    try:
        raw = json.loads(Path(path).read_text("utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read {where}: {exc.strerror}", hint=fix) from exc
    except ValueError as exc:
        raise UsageError(f"{where} is not valid JSON: {exc}", hint=fix) from exc
    if not isinstance(raw, dict):
        raise UsageError(f"{where} must hold a JSON object", hint=fix)
    unknown = sorted(set(raw) - {f for f in AgentConfig.__dataclass_fields__})
    if unknown:
        raise UsageError(f"{where}: unknown field(s) {', '.join(unknown)}", hint=fix)
    for name in ("broker", "queue", "key", "spool"):
        if not isinstance(raw.get(name), str) or not raw[name]:
            raise UsageError(f"{where}: field '{name}' must be a non-empty string", hint=fix)
    try:
        bytes.fromhex(raw["key"])
    except ValueError:
        raise UsageError(f"{where}: field 'key' must be hex", hint=fix) from None
    for name in _NUMBERS:
        value = raw.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)
                                  or value <= 0):
            raise UsageError(f"{where}: field '{name}' must be a positive number", hint=fix)
    reboot = raw.get("reboot_command", DEFAULT_REBOOT)
    if not (isinstance(reboot, list) and reboot and all(isinstance(a, str) for a in reboot)):
        raise UsageError(f"{where}: field 'reboot_command' must be a list of strings "
                         "(the program and its arguments; no shell is involved)", hint=fix)
    numbers = {n: float(raw[n]) for n in _NUMBERS if raw.get(n) is not None}
    return AgentConfig(broker=raw["broker"], queue=raw["queue"], key=raw["key"],
                       spool=Path(raw["spool"]), reboot_command=tuple(reboot),
                       log_file=Path(raw["log_file"]) if raw.get("log_file") else None,
                       **numbers)
