"""Run one plan's process and record how it ended, even if whoever started it dies.

``python supervise.py RUNDIR TIMEOUT ARGV...`` holds an exclusive lock on
``RUNDIR/lock`` while the script runs, enforces the timeout (killing the script's
whole process group), and writes ``RUNDIR/exit.json`` atomically at the end. The
engine or agent that started it only waits; if that parent is killed, the run
goes on, and a restarted parent re-attaches: lock held means "still running",
``exit.json`` means "finished, here is how", neither means "died with the host" - if
``started`` exists (written under the lock just before the script starts); without it the
script never started, whatever killed whom, so running it now cannot run it twice.
The script's environment is ours plus ``RUNDIR/env.json`` if there is one.

Secrets do not stay on disk: ``env.json`` and ``secrets.json`` (the values to mask) are
read and removed before the script starts; when it ends, and before its end is recorded,
every secret in its logs is overwritten with as many ``*`` (offsets stay valid for
``--follow``) and ``params.json`` is removed. While the script runs, its logs are
as it wrote them, in the private (0700) run directory.

Over SSH the same file runs on the remote host: ``--detach`` starts the supervisor
as a daemon (the run must outlive the connection), and ``--follow RUNDIR [OUT ERR]``
copies the run's logs to its own stdout/stderr from those byte offsets until the end
is recorded (exit 0), or until it is clear the run died without a record (exit 3).

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
#: Seconds a run marked as spawned may take before its supervisor holds the lock.
STARTUP_GRACE = 10.0
#: Exit codes of ``--follow`` when no end is recorded: the script started and its run died
#: without a record (lost), or the script never started (so it may be started now).
LOST, NEVER_STARTED = 3, 4
LOCK, EXIT, ENV, SPAWNED, STARTED = "lock", "exit.json", "env.json", "spawned", "started"
#: The run's inputs that hold secrets, and the list of secret values to mask in its logs.
PARAMS, SECRETS = "params.json", "secrets.json"
LOGS = ("stdout.log", "stderr.log")


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
    env = None
    if (rundir / ENV).exists():
        env = {**os.environ, **json.loads((rundir / ENV).read_text("utf-8"))}
    secrets = _taken(rundir / SECRETS)
    (rundir / ENV).unlink(missing_ok=True)
    (rundir / STARTED).touch()
    with (rundir / "stdout.log").open("ab") as so, (rundir / "stderr.log").open("ab") as se:
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=so, stderr=se,
                                    env=env, start_new_session=True)
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
    scrub(rundir, secrets)
    _write_exit(rundir, {"status": status, "code": code, "message": message,
                         "finished": time.time()})
    return 0


def _taken(path: Path) -> list[str]:
    """The secret values listed in ``path``, which is removed."""
    try:
        values = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return []
    path.unlink(missing_ok=True)
    return [v for v in values if isinstance(v, str) and v] if isinstance(values, list) else []


def scrub(rundir: Path, secrets: list[str]) -> None:
    """Remove the run's parameters and overwrite every secret in its logs in place."""
    (rundir / PARAMS).unlink(missing_ok=True)
    for name in LOGS:
        mask_file(rundir / name, secrets)


def mask_file(path: Path, secrets: list[str]) -> None:
    """Overwrite each of ``secrets`` in the file with as many ``*`` (same length, so that
    byte offsets into it stay valid)."""
    needles = sorted({s.encode() for s in secrets if s}, key=len, reverse=True)
    if not needles:
        return
    try:
        with path.open("r+b") as f:
            data = f.read()
            masked = data
            for needle in needles:
                masked = masked.replace(needle, b"*" * len(needle))
            if masked != data:
                f.seek(0)
                f.write(masked)
    except FileNotFoundError:
        return


def detach(rundir: Path, timeout: float, argv: list[str]) -> int:
    """Start ``supervise`` as a daemon in a new session and return at once."""
    child = os.fork()
    if child:
        os.waitpid(child, 0)  # the intermediate child exits as soon as it forked again
        return 0
    os.setsid()
    if os.fork():
        os._exit(0)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os._exit(supervise(rundir, timeout, argv))


def follow(rundir: Path, offsets: list[int]) -> int:
    """Copy the run's logs to our stdout/stderr as they grow; 0 once its end is recorded,
    ``LOST`` or ``NEVER_STARTED`` if no supervisor runs it and none will."""
    sinks = [(rundir / "stdout.log", sys.stdout.buffer), (rundir / "stderr.log", sys.stderr.buffer)]
    try:
        grace_end = (rundir / SPAWNED).stat().st_mtime + STARTUP_GRACE
    except OSError:
        grace_end = 0.0
    while True:
        ended = (rundir / EXIT).exists()  # checked first: once it exists the logs are complete
        moved = False
        for i, (path, sink) in enumerate(sinks):
            try:
                with path.open("rb") as f:
                    f.seek(offsets[i])
                    chunk = f.read(1 << 20)
            except FileNotFoundError:
                chunk = b""
            if chunk:
                sink.write(chunk)
                sink.flush()
                offsets[i] += len(chunk)
                moved = True
        if moved:
            continue
        if ended:
            return 0
        if time.time() > grace_end and not running(rundir) and not (rundir / EXIT).exists():
            return LOST if (rundir / STARTED).exists() else NEVER_STARTED
        time.sleep(0.05)


def main(args: list[str]) -> int:
    """``RUNDIR TIMEOUT ARGV...``, ``--detach RUNDIR TIMEOUT ARGV...`` or
    ``--follow RUNDIR [OUT_OFFSET ERR_OFFSET]``."""
    if args[0] == "--follow":
        return follow(Path(args[1]), [int(a) for a in args[2:4]] or [0, 0])
    if args[0] == "--detach":
        return detach(Path(args[1]), float(args[2]), args[3:])
    return supervise(Path(args[0]), float(args[1]), args[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
