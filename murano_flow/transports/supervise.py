"""Run one plan's process and record how it ended, even if whoever started it dies.

``python supervise.py RUNDIR TIMEOUT ARGV...`` holds an exclusive lock on
``RUNDIR/lock`` while the script runs, enforces the timeout (killing the script's
whole process group), and writes ``RUNDIR/exit.json`` atomically at the end. The
engine or agent that started it only waits; if that parent is killed, the run
goes on, and a restarted parent re-attaches: lock held means "still running",
``exit.json`` means "finished, here is how", neither means "died with the host".

Standard library only: it runs with ``python -I`` next to the guest agent too.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

#: Seconds between SIGTERM and SIGKILL when the script must be stopped.
KILL_GRACE = 3.0
#: Seconds a starting supervisor keeps trying to take a run's lock.
LOCK_PATIENCE = 2.0
LOCK, EXIT = "lock", "exit.json"


def lock(fd: int, *, wait: bool) -> bool:
    """Take the exclusive run lock on ``fd``; False if ``wait`` is off and it is held."""
    if sys.platform == "win32":  # pragma: no cover - Windows guests only
        import msvcrt
        try:
            msvcrt.locking(fd, msvcrt.LK_LOCK if wait else msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        return False
    return True


def running(rundir: Path) -> bool:
    """Whether a supervisor still holds ``rundir``'s lock."""
    try:
        fd = os.open(rundir / LOCK, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        return not lock(fd, wait=False)
    finally:
        os.close(fd)  # closing releases a lock we may just have taken


def read_exit(rundir: Path) -> dict[str, Any] | None:
    """The recorded end of the run, or None if it has not ended (or never will)."""
    try:
        data = json.loads((rundir / EXIT).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def stop_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM ``proc``'s process group, then SIGKILL it after a grace period."""
    if sys.platform == "win32":  # pragma: no cover - Windows guests only
        subprocess.run(["taskkill", "/T", "/F", "/PID", str(proc.pid)], check=False,
                       capture_output=True)
        proc.wait()
        return
    for sig, grace in ((signal.SIGTERM, KILL_GRACE), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        try:
            proc.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def _write_exit(rundir: Path, record: dict[str, Any]) -> None:
    tmp = rundir / f".{EXIT}.tmp"
    with tmp.open("w", encoding="utf-8") as f:
        json.dump(record, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, rundir / EXIT)


def supervise(rundir: Path, timeout: float, argv: list[str]) -> int:
    """Run ``argv`` under the lock, record its end; return 0 once recorded."""
    fd = os.open(rundir / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    # A restarted engine probing the lock holds it for an instant: try for a while
    # before concluding that another supervisor runs this plan.
    deadline = time.monotonic() + LOCK_PATIENCE
    while not lock(fd, wait=False):
        if time.monotonic() > deadline:
            print(f"another supervisor is running {rundir}", file=sys.stderr)
            return 2
        time.sleep(0.01)
    stopped: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, frame: stopped.append(signum))
    with (rundir / "stdout.log").open("ab") as so, (rundir / "stderr.log").open("ab") as se:
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=so, stderr=se,
                                    start_new_session=True)
        except OSError as exc:
            _write_exit(rundir, {"status": "error", "code": None,
                                 "message": f"cannot start {argv[0]}: {exc}"})
            return 0
        deadline = time.monotonic() + timeout
        status, message = "", ""
        while not status:
            try:
                proc.wait(timeout=0.2)
                status = "ok" if proc.returncode == 0 else "failed"
            except subprocess.TimeoutExpired:
                if stopped:
                    stop_group(proc)
                    status, message = "error", "stopped before it finished"
                elif time.monotonic() > deadline:
                    stop_group(proc)
                    status = "timeout"
                    message = f"timed out after {timeout:g}s; the process group was killed"
    code = proc.returncode
    if status == "failed" and code is not None and code < 0:
        message = f"killed by signal {signal.Signals(-code).name}"
    _write_exit(rundir, {"status": status, "code": code, "message": message,
                         "finished": time.time()})
    return 0


if __name__ == "__main__":
    sys.exit(supervise(Path(sys.argv[1]), float(sys.argv[2]), sys.argv[3:]))
