"""Run plans as local processes: the embedded default, for demos and the engine's own host.

Each host name gets a persistent working directory (its "file system"), each plan
a private run directory holding the script, the params file, the output file and
the full stdout/stderr logs. Inputs reach the script only as data: environment
variables and the JSON file named by ``MURANO_FLOW_PARAMS``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from ..protocol import Plan, Result
from .base import Transport

#: Characters of stdout/stderr kept in a Result (the full logs stay on disk).
TAIL_CHARS = 4000
#: Seconds between SIGTERM and SIGKILL when a plan must be stopped.
KILL_GRACE = 3.0
_SUFFIX = {"sh": ".sh", "bash": ".sh", "python": ".py", "powershell": ".ps1"}


def safe_name(name: str) -> str:
    """``name`` usable as one path component."""
    name = name.replace("[", "-").replace("]", "")
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.") or "host"


def _interpreter(script_type: str) -> list[str] | None:
    if script_type == "sh":
        return ["/bin/sh"]
    if script_type == "bash":
        found = shutil.which("bash")
        return [found] if found else None
    if script_type == "python":
        return [sys.executable]
    found = shutil.which("pwsh") or shutil.which("powershell")
    return [found, "-NonInteractive", "-NoProfile", "-ExecutionPolicy", "Bypass", "-File"] \
        if found else None


def tail(path: Path, chars: int = TAIL_CHARS) -> str:
    """The last ``chars`` characters of a text file ('' if missing)."""
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - chars * 4))
            return f.read().decode("utf-8", "replace")[-chars:]
    except OSError:
        return ""


class LocalTransport(Transport):
    """Runs plans as subprocesses under ``root`` for the host called ``host``."""

    def __init__(self, root: Path, host: str) -> None:
        root = Path(root).resolve()  # actions run in workdir: every path we hand out is absolute
        self.workdir = root / "hosts" / safe_name(host)
        self.runs = root / "runs"
        self.host = host
        self._procs: set[subprocess.Popen[bytes]] = set()
        self._lock = threading.Lock()
        self._closed = False

    def send(self, plan: Plan) -> Result:
        """Run ``plan``'s script to completion (or timeout) and collect its result."""
        started = time.time()
        argv = _interpreter(plan.script_type)
        if argv is None:
            return Result(plan.id, "error", started=started, finished=time.time(),
                          message=f"no interpreter for {plan.script_type} on this host "
                                  "(install PowerShell 7 'pwsh' to run .ps1 locally)")
        rundir = self._prepare(plan)
        out_file = rundir / "output.json"
        env = self._env(plan, rundir, out_file)
        with (rundir / "stdout.log").open("wb") as so, (rundir / "stderr.log").open("wb") as se:
            try:
                proc = self._spawn([*argv, str(rundir / f"script{_SUFFIX[plan.script_type]}"),
                                    *plan.args], env, so, se)
            except OSError as exc:
                return Result(plan.id, "error", started=started, finished=time.time(),
                              message=f"cannot start {argv[0]}: {exc}", log_dir=str(rundir))
            status, code = self._wait(proc, plan.timeout)
        return self._collect(plan, rundir, status, code, started)

    def close(self) -> None:
        """Stop every running plan (used on Ctrl-C and shutdown)."""
        with self._lock:
            self._closed = True
            procs = list(self._procs)
        for proc in procs:
            _stop(proc)

    # -- helpers ---------------------------------------------------------------

    def _prepare(self, plan: Plan) -> Path:
        rundir = self.runs / safe_name(plan.deployment) / safe_name(plan.node) \
            / f"{plan.kind}-{plan.attempt}"
        rundir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.workdir.mkdir(parents=True, exist_ok=True, mode=0o700)
        (rundir / "output.json").unlink(missing_ok=True)
        (rundir / f"script{_SUFFIX[plan.script_type]}").write_text(plan.body, "utf-8")
        params = rundir / "params.json"
        fd = os.open(params, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(plan.params, f, indent=1)
        return rundir

    def _env(self, plan: Plan, rundir: Path, out_file: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MURANO_FLOW_")}
        env.update(plan.env)
        env.update({
            "MURANO_FLOW_PARAMS": str(rundir / "params.json"),
            "MURANO_FLOW_OUTPUT": str(out_file),
            "MURANO_FLOW_DEPLOYMENT": plan.deployment,
            "MURANO_FLOW_NODE": plan.node,
            "MURANO_FLOW_ATTEMPT": str(plan.attempt),
            "MURANO_FLOW_HOST_DIR": str(self.workdir),
        })
        return env

    def _spawn(self, argv: list[str], env: dict[str, str], so: Any, se: Any
               ) -> subprocess.Popen[bytes]:
        with self._lock:
            if self._closed:
                raise OSError("the transport is shutting down")
            # A new session: its own process group, so a timeout or Ctrl-C can kill
            # the whole tree, and the terminal's Ctrl-C does not reach it directly.
            proc = subprocess.Popen(argv, cwd=self.workdir, env=env, stdin=subprocess.DEVNULL,
                                    stdout=so, stderr=se, start_new_session=True)
            self._procs.add(proc)
        return proc

    def _wait(self, proc: subprocess.Popen[bytes], timeout: float) -> tuple[str, int | None]:
        try:
            code = proc.wait(timeout=timeout)
            status = "ok" if code == 0 else "failed"
        except subprocess.TimeoutExpired:
            _stop(proc)
            status, code = "timeout", proc.returncode
        with self._lock:
            self._procs.discard(proc)
            if self._closed and status != "ok":
                status = "error"
        return status, code

    def _collect(self, plan: Plan, rundir: Path, status: str, code: int | None,
                 started: float) -> Result:
        message = ""
        if status == "timeout":
            message = f"timed out after {plan.timeout:g}s; the process group was killed"
        elif status == "error":
            message = "stopped: the engine is shutting down"
        elif code is not None and code < 0:
            message = f"killed by signal {signal.Signals(-code).name}"
        outputs, problem = _read_outputs(rundir / "output.json")
        if problem and status == "ok":
            status, message = "failed", problem
        result = Result(plan.id, status, code, tail(rundir / "stdout.log"),
                        tail(rundir / "stderr.log"), outputs, started, time.time(), message,
                        str(rundir))
        (rundir / "result.json").write_bytes(result.encode())  # "finished" marker for resume
        return result


def _read_outputs(path: Path) -> tuple[dict[str, Any], str]:
    if not path.exists() or path.stat().st_size == 0:
        return {}, ""
    try:
        data = json.loads(path.read_text("utf-8"))
    except (ValueError, OSError) as exc:
        return {}, f"the action wrote invalid JSON to MURANO_FLOW_OUTPUT: {exc}"
    if not isinstance(data, dict):
        return {}, "the action must write a JSON object to MURANO_FLOW_OUTPUT"
    return data, ""


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the plan's process group, then SIGKILL it after a grace period."""
    for sig, wait in ((signal.SIGTERM, KILL_GRACE), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue
