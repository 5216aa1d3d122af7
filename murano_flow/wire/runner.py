"""Run plans as supervised local processes: the local transport and the guest agent both
run their plans this way.

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
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import DecodeError, InDoubt
from . import supervise
from .launcher import LAUNCHER, Launched
from .masking import Masker
from .protocol import NEVER_STARTED, OUTPUTS_NOT_KEPT, Plan, Result

#: Characters of stdout/stderr kept in a Result (the full logs stay on disk).
TAIL_CHARS = 4000
#: Written just before a supervisor is spawned: from then on the plan may have run.
SPAWNED = supervise.SPAWNED
#: The script file's suffix per script type (pwsh insists on .ps1).
SUFFIX = {"sh": ".sh", "bash": ".sh", "python": ".py", "powershell": ".ps1"}
#: The byte-order mark of UTF-8: Windows PowerShell 5.1 reads a script without one as ANSI.
BOM = "\ufeff"


def script_text(plan: Plan) -> str:
    """The text of ``plan``'s script file as the host should read it: a PowerShell script
    starts with a BOM (Windows PowerShell 5.1 would mangle its non-ASCII text without)."""
    if plan.script_type == "powershell" and not plan.body.startswith(BOM):
        return BOM + plan.body
    return plan.body


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


def run_name(plan: Plan) -> str:
    """A plan's run directory relative to a runs directory (here or on an SSH host)."""
    return f"{safe_name(plan.deployment)}/{safe_name(plan.node)}/{plan.kind}-{plan.attempt}"


def run_path(runs: Path, plan: Plan, *, make: bool = False) -> Path:
    """The engine-side run directory of ``plan`` under ``runs`` (created, private, if
    ``make``): logs, and for local plans everything else of the run."""
    path = runs / run_name(plan)
    if make:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def lost_message(idempotent: bool) -> str:
    """Why a run whose supervisor died without recording its end is an error."""
    return ("lost: the run left no record of how it ended (was the host restarted?)"
            + ("" if idempotent else "; not run again because the state is not marked "
                                     "idempotent - check the host, then resume with --rerun "
                                     "to run it again"))


def parse_outputs(text: str) -> tuple[dict[str, Any], str]:
    """The outputs an action wrote to MURANO_FLOW_OUTPUT ('' for none), and what is wrong
    with them ('' if nothing)."""
    text = text.removeprefix(BOM)  # Windows PowerShell 5.1's Set-Content -Encoding utf8
    if not text.strip():
        return {}, ""
    try:
        data = json.loads(text)
    except ValueError as exc:
        return {}, f"the action wrote invalid JSON to MURANO_FLOW_OUTPUT: {exc}"
    if not isinstance(data, dict):
        return {}, "the action must write a JSON object to MURANO_FLOW_OUTPUT"
    return data, ""


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


class ProcessRunner:
    """Runs plans as subprocesses under ``root`` for the host called ``host``."""

    def __init__(self, root: Path, host: str) -> None:
        root = Path(root).resolve()  # actions run in workdir: every path we hand out is absolute
        self.workdir = root / "hosts" / safe_name(host)
        self.runs = root / "runs"
        self.host = host
        self._running: set[Launched] = set()
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
        try:
            rundir = self._prepare(plan)
        except OSError as exc:  # the home is a file, the disk is full, a name too long...
            return Result(plan.id, "error", started=started, finished=time.time(),
                          message=f"{NEVER_STARTED} cannot prepare its run directory under "
                                  f"{self.runs}: {exc.strerror or exc} (check --home / "
                                  "MURANO_FLOW_HOME and the free space)")
        script = str(rundir / f"script{SUFFIX[plan.script_type]}")
        (rundir / SPAWNED).touch()  # from here on, a re-attach must not assume it never ran
        try:
            launched = self._launch(rundir, plan, [*argv, script, *plan.args])
        except OSError as exc:
            return Result(plan.id, "error", started=started, finished=time.time(),
                          message=f"cannot start the supervisor: {exc}", log_dir=str(rundir))
        launched.ended.wait()  # the supervisor enforces the plan's timeout itself
        with self._lock:
            self._running.discard(launched)
        if launched.orphaned:  # the server died first: the supervisor may still run
            self._await_end(plan, rundir)
        return self._collect(plan, rundir, started)

    def reattach(self, plan: Plan) -> Result | None:
        """The result of a run of ``plan`` started by an earlier process, waiting for it
        if it is still running; None if it never started.

        A run whose supervisor died without recording its end (the host restarted) is
        run again only if the plan is idempotent, or if its script never started;
        otherwise it ends as an error.

        Raises:
            InDoubt: the transport was closed while waiting (the run goes on).
        """
        rundir = self._rundir(plan)
        collected = _recorded(rundir)
        if collected is not None:
            return collected
        if not (rundir / SPAWNED).exists() and not (rundir / supervise.LOCK).exists():
            return None
        if not self._await_end(plan, rundir):
            if plan.idempotent or not (rundir / supervise.STARTED).exists():
                return None
            return Result(plan.id, "error", started=time.time(), finished=time.time(),
                          log_dir=str(rundir), message=lost_message(idempotent=False))
        return self._collect(plan, rundir, time.time())

    def close(self) -> None:
        """Stop every running plan (used on Ctrl-C and shutdown)."""
        with self._lock:
            self._closed = True
            running = list(self._running)
        for launched in running:
            launched.stop()

    # -- helpers ---------------------------------------------------------------

    def _rundir(self, plan: Plan) -> Path:
        return run_path(self.runs, plan)

    def _prepare(self, plan: Plan) -> Path:
        rundir = self._rundir(plan)
        rundir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.workdir.mkdir(parents=True, exist_ok=True, mode=0o700)
        for stale in ("output.json", "result.json", supervise.EXIT, "stdout.log", "stderr.log",
                      SPAWNED, supervise.STARTED, _MASKED_OUTPUTS):
            (rundir / stale).unlink(missing_ok=True)
        (rundir / f"script{SUFFIX[plan.script_type]}").write_text(script_text(plan), "utf-8")
        _private(rundir / supervise.PARAMS, json.dumps(plan.params, indent=1))
        if plan.secrets:
            _private(rundir / supervise.SECRETS, json.dumps(list(plan.secrets)))
        return rundir

    def _env(self, plan: Plan, rundir: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MURANO_FLOW_")}
        env.update(plan.env)
        env.update({
            "MURANO_FLOW_PARAMS": str(rundir / "params.json"),
            "MURANO_FLOW_OUTPUT": str(rundir / "output.json"),
            "MURANO_FLOW_DEPLOYMENT": plan.deployment,
            "MURANO_FLOW_NODE": plan.node,
            "MURANO_FLOW_ATTEMPT": str(plan.attempt),
            "MURANO_FLOW_HOST_DIR": str(self.workdir),
        })
        return env

    def _launch(self, rundir: Path, plan: Plan, argv: list[str]) -> Launched:
        with self._lock:
            if self._closed:
                raise OSError("the transport is shutting down")
            # Its supervisor gets a session of its own: a timeout or Ctrl-C can kill the
            # whole tree, the terminal's Ctrl-C does not reach it directly, and the run
            # outlives us if we are killed (a restarted engine or agent re-attaches).
            launched = LAUNCHER.start(rundir, plan.timeout, argv, self.workdir,
                                      self._env(plan, rundir))
            self._running.add(launched)
        return launched

    def _await_end(self, plan: Plan, rundir: Path) -> bool:
        """Wait until the run in ``rundir`` records its end, or is known never to (no
        supervisor holds its lock past the start-up grace); whether it recorded one.

        Raises:
            InDoubt: the transport was closed while waiting (the run goes on).
        """
        deadline = time.monotonic() + supervise.STARTUP_GRACE
        while supervise.read_exit(rundir) is None:
            if self._closed:
                raise InDoubt(f"stopped waiting for {plan.node}: it goes on running",
                                host=self.host)
            if not supervise.running(rundir) and time.monotonic() > deadline:
                break  # spawned long ago, holds no lock, recorded no end: it died
            time.sleep(0.1 if supervise.running(rundir) else 0.05)
        return supervise.read_exit(rundir) is not None

    def _collect(self, plan: Plan, rundir: Path, started: float) -> Result:
        end = supervise.read_exit(rundir) or {
            "status": "error", "code": None,
            "message": "lost: the run ended without a record of how (its supervisor was "
                       "killed, or could not write it: a full disk?)"}
        status, code, message = str(end["status"]), end.get("code"), str(end.get("message", ""))
        if self._closed and status != "ok":
            status, message = "error", "stopped: the engine is shutting down"
        outputs, problem = _read_outputs(rundir / "output.json")
        # Another collector may have been first (the thread of an engine that detached,
        # and a re-attach): it records the result before it removes output.json, so a
        # record seen now is the whole truth, and outputs read before it are not stale.
        first = _recorded(rundir)
        if first is not None:
            return first
        if problem and status == "ok":
            status, message = "failed", problem
        supervise.scrub(rundir, list(plan.secrets))  # again: its supervisor may have died
        result = Result(plan.id, status, code if isinstance(code, int) else None,
                        tail(rundir / "stdout.log"), tail(rundir / "stderr.log"), outputs,
                        started, time.time(), message, str(rundir))
        # The "collected" marker for a resumed engine, without secrets: outputs that carry
        # one are kept masked, and a resumed engine is told they are gone (see _unmasked).
        masker = Masker(plan.secrets)
        kept = replace(result, outputs=masker.data(outputs))
        if kept.outputs != outputs:
            (rundir / _MASKED_OUTPUTS).touch()
        (rundir / "result.json").write_bytes(kept.encode())
        (rundir / "output.json").unlink(missing_ok=True)
        prune_runs(rundir)
        return result


#: Run directories kept per state and kind (action, check, undo): the newest, collected.
KEEP_RUNS = 5


def prune_runs(rundir: Path, keep: int = KEEP_RUNS) -> list[Path]:
    """Remove the oldest collected run directories of ``rundir``'s state and kind beyond
    the newest ``keep`` (``rundir`` itself stays); what was removed. A directory without
    a collected result (running, or in doubt) is never removed: a resumed engine asks
    it again. Drift probes and retries would otherwise add one per run, forever."""
    kind = rundir.name.rsplit("-", 1)[0]
    siblings = []
    for path in rundir.parent.glob(f"{kind}-*"):
        number = path.name.rsplit("-", 1)[1]
        if path != rundir and number.isdigit() and (path / "result.json").exists():
            siblings.append((int(number), path))
    siblings.sort()
    doomed = [path for _, path in siblings[:max(0, len(siblings) - (keep - 1))]]
    for path in doomed:
        shutil.rmtree(path, ignore_errors=True)
    return doomed


#: Marks a collected result whose outputs carried a secret and were kept masked.
_MASKED_OUTPUTS = "outputs.masked"


def _recorded(rundir: Path) -> Result | None:
    """The result a collector recorded in ``rundir`` (as a resumed engine may use it), or
    None if none was (or the record is unreadable: the run is collected again)."""
    try:
        collected = Result.decode((rundir / "result.json").read_bytes())
    except (OSError, DecodeError):
        return None
    return _unmasked(collected, rundir)


def _unmasked(result: Result, rundir: Path) -> Result:
    """A collected result as a resumed engine may use it: one whose outputs were kept
    masked cannot pass them on, so it is an error the operator decides on."""
    if not (rundir / _MASKED_OUTPUTS).exists():
        return result
    return replace(result, status="error", outputs={}, message=OUTPUTS_NOT_KEPT)


def _private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


def _read_outputs(path: Path) -> tuple[dict[str, Any], str]:
    try:
        return parse_outputs(path.read_text("utf-8") if path.exists() else "")
    except (OSError, UnicodeDecodeError) as exc:
        return {}, f"the action wrote invalid JSON to MURANO_FLOW_OUTPUT: {exc}"


