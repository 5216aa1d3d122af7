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

Over SSH the same file runs on the remote host: ``--run`` reads the run's inputs from
its stdin (:func:`prepare`: no file transfer round trips, no secret on a command line),
starts the supervisor as a daemon (the run must outlive the connection) and follows it;
``--follow RUNDIR [OUT ERR]`` copies the run's logs to its own stdout/stderr from those
byte offsets until the end is recorded (exit 0), or until it is clear the run died
without a record (exit 3).
Locally (engine or agent), ``--serve`` forks supervisors on request (``launcher.py``).

Standard library only: it runs with ``python -I`` next to the guest agent too.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
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
    if (rundir / STARTED).exists():  # its starter prepares a run afresh: this is a repeat
        # (a command sent again after a dropped connection, the first having run): never twice
        print(f"{rundir} was started already", file=sys.stderr)
        return 2
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
            scrub(rundir, secrets)  # its end is recorded: its inputs go, as after a run
            _write_exit(rundir, {"status": "error", "code": None,
                                 "message": f"cannot start {argv[0]}: {exc}"})
            return 0
        deadline = time.monotonic() + timeout
        status, message = "", ""
        exited = _exit_watch(proc)
        while not status:
            if exited(0.2):
                status = "ok" if proc.returncode == 0 else "failed"
            else:
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


def _exit_watch(proc: subprocess.Popen[bytes]) -> Callable[[float], bool]:
    """A function ``exited(within)``: whether ``proc`` has exited, waiting up to ``within``
    seconds - woken the moment it exits where Linux gives a pidfd (``Popen.wait`` with a
    timeout polls, sleeping up to 50 ms between looks: most of a short action's time)."""
    try:
        pidfd = os.pidfd_open(proc.pid)  # type: ignore[attr-defined,unused-ignore]
    except (AttributeError, OSError):  # not Linux, or a kernel before 5.3
        pidfd = -1

    def exited(within: float) -> bool:
        if pidfd < 0:
            try:
                proc.wait(timeout=within)
            except subprocess.TimeoutExpired:
                return False
            return True
        select.select([pidfd], [], [], within)
        if proc.poll() is None:
            return False
        os.close(pidfd)
        return True

    return exited


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


def detach(rundir: Path, timeout: float, argv: list[str], drop: tuple[int, ...] = ()) -> int:
    """Start ``supervise`` as a daemon in a new session and return at once; the daemon
    closes the file descriptors ``drop`` (any other stays open until it exits)."""
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
    for fd in drop:
        os.close(fd)
    os._exit(supervise(rundir, timeout, argv))


#: Exit code of ``--run`` when its stdin holds no readable inputs (nothing was written).
BAD_INPUTS = 5


def prepare(rundir: Path, inputs: dict[str, Any]) -> list[Path]:
    """Write a run's input files into ``rundir`` (private, made with its parents) and mark
    it spawned, ``inputs`` being ``{"token": T, "files": {NAME: TEXT}, "forget": [DIR]}``;
    the run directories to remove once the run is started (other states' runs, collected
    and journaled), which must lie in the same runs tree. A run sent again (a new token)
    starts afresh: what an earlier run left is removed (the supervisor refuses a run
    directory marked started). The same start command arriving twice (the same token:
    the connection dropped before the sender heard it arrive) changes nothing: the
    supervisor it starts finds the run started and leaves it."""
    token, files = str(inputs["token"]), dict(inputs["files"])
    for name in files:
        if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
            raise ValueError(f"not a plain file name: {name!r}")
    runs = rundir.parents[2]  # RUNS/DEPLOYMENT/STATE/KIND-ATTEMPT
    forget = [Path(d) for d in inputs.get("forget", [])]
    for d in forget:
        if ".." in d.parts or not d.is_relative_to(runs) or d == runs or d in (
                rundir, *rundir.parents):
            raise ValueError(f"not another run's directory: {str(d)!r}")
    with contextlib.suppress(OSError):
        if (rundir / SPAWNED).read_text("utf-8") == token:
            return forget
    missing = [d for d in (rundir, *rundir.parents) if not d.exists()]
    for d in reversed(missing):
        try:
            d.mkdir(mode=0o700)
        except FileExistsError:  # made meanwhile by a run of another host on this machine
            if not d.is_dir():
                raise
            continue
        d.chmod(0o700)  # whatever the umask
    for stale in (STARTED, EXIT, *LOGS, "output.json", SPAWNED):
        (rundir / stale).unlink(missing_ok=True)
    for name, text in files.items():
        fd = os.open(rundir / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with open(fd, "w", encoding="utf-8") as f:
            os.fchmod(fd, 0o600)
            f.write(str(text))
    # From here on the plan may have run: a re-attach must not assume it never did.
    tmp = rundir / f".{SPAWNED}.tmp"
    tmp.write_text(token, "utf-8")
    os.replace(tmp, rundir / SPAWNED)
    return forget


def remove_tree(path: Path) -> None:
    """Remove directory ``path`` and what it holds, never following a link (gone is fine)."""
    if path.is_symlink():  # a run's script may have put one there: only the link goes
        path.unlink()
        return
    try:
        entries = list(os.scandir(path))
    except (FileNotFoundError, NotADirectoryError):
        return
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            remove_tree(Path(entry.path))
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
    with contextlib.suppress(FileNotFoundError):
        os.rmdir(path)


def run_and_follow(rundir: Path, timeout: float, argv: list[str]) -> int:
    """``--run``: :func:`prepare` from stdin, then :func:`detach` and :func:`follow` in one
    process (over SSH, one interpreter start and no file transfer per action). The daemon
    holds a pipe's write end: its exit, once the end is recorded, wakes the follower at
    once instead of at its next look."""
    try:
        forget = prepare(rundir, json.loads(sys.stdin.buffer.read()))
    except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        print(f"no usable run inputs on stdin ({exc}): nothing was started", file=sys.stderr)
        return BAD_INPUTS
    except OSError as exc:
        print(f"cannot write the run's inputs into {rundir}: {exc}", file=sys.stderr)
        return BAD_INPUTS
    gone, held = os.pipe()
    detach(rundir, timeout, argv, drop=(gone,))
    os.close(held)
    for d in forget:  # while the run starts
        with contextlib.suppress(OSError):
            remove_tree(d)
    return follow(rundir, [0, 0], gone)


def follow(rundir: Path, offsets: list[int], gone: int = -1) -> int:
    """Copy the run's logs to our stdout/stderr as they grow; 0 once its end is recorded,
    ``LOST`` or ``NEVER_STARTED`` if no supervisor runs it and none will. ``gone``, if
    given, is a pipe that reaches its end when the supervisor exits."""
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
        if gone < 0:
            time.sleep(0.05)
        elif select.select([gone], [], [], 0.05)[0] and not os.read(gone, 1):
            os.close(gone)  # the supervisor exited: its end is recorded, or never will be
            gone, grace_end = -1, 0.0


def serve() -> int:
    """``--serve``: start supervisors on request without an interpreter start (and this
    file's imports) each time: one JSON request per line on stdin, ``{"id", "rundir",
    "timeout", "argv", "cwd", "env"}``, each forked into a supervisor of its own session
    that runs as :func:`supervise` would. On stdout, one JSON line ``{"id", "pid"}`` when
    it is forked and ``{"id", "end"}`` (its exit status) when it exits. Returns at the end
    of stdin; supervisors still running go on (each holds its own run's lock and records
    its own end: this process dying loses nothing of theirs)."""
    wake_r, wake_w = os.pipe()
    for fd in (wake_r, wake_w):
        os.set_blocking(fd, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)  # wakes the select
    children: dict[int, Any] = {}
    pending = b""

    def say(message: dict[str, Any]) -> None:
        os.write(1, json.dumps(message).encode() + b"\n")

    while True:
        ready = select.select([0, wake_r], [], [])[0]
        if wake_r in ready:
            with contextlib.suppress(BlockingIOError):
                while len(os.read(wake_r, 4096)) == 4096:
                    pass
        while children:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if not pid:
                break
            say({"id": children.pop(pid), "end": os.waitstatus_to_exitcode(status)})
        if 0 not in ready:
            continue
        data = os.read(0, 1 << 16)
        if not data:
            return 0
        *lines, pending = (pending + data).split(b"\n")
        for line in lines:
            request = json.loads(line)
            pid = os.fork()
            if not pid:
                os._exit(_forked(request, (wake_r, wake_w)))
            children[pid] = request["id"]
            say({"id": request["id"], "pid": pid})


def _forked(request: dict[str, Any], inherited: tuple[int, ...]) -> int:
    """In a child of :func:`serve`: become the supervisor ``request`` asks for."""
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for fd in inherited:
            os.close(fd)
        os.setsid()  # as a spawned supervisor: a session of its own, outliving its parent
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):  # never the server's pipes: its reader sees it end by EOF
            os.dup2(null, fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        return supervise(Path(request["rundir"]), float(request["timeout"]), request["argv"])
    except BaseException:  # noqa: BLE001 - a child must never return into the server loop
        return 70


def main(args: list[str]) -> int:
    """``RUNDIR TIMEOUT ARGV...``, ``--run RUNDIR TIMEOUT ARGV...``, ``--follow RUNDIR
    [OUT_OFFSET ERR_OFFSET]`` or ``--serve``."""
    if args[0] == "--serve":
        return serve()
    if args[0] == "--run":
        return run_and_follow(Path(args[1]), float(args[2]), args[3:])
    if args[0] == "--follow":
        return follow(Path(args[1]), [int(a) for a in args[2:4]] or [0, 0])
    return supervise(Path(args[0]), float(args[1]), args[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
