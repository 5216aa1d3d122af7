"""Start local supervisors through one long-lived ``supervise.py --serve`` process.

Spawning ``python supervise.py`` for every plan costs an interpreter start and the
supervisor's imports (about 30 ms of CPU a plan); a server process, started once per
engine or agent process, forks an already-loaded supervisor instead (about 1 ms). What
makes a run crash-safe does not change: each run still has a supervisor process of its
own, in its own session, holding its run's lock and recording its end - whether the
server, the engine or both die meanwhile. Only the wait for the end differs: while the
server lives it reports the supervisor's exit; once it is gone, the run directory is
watched as a re-attach would. (Windows has no fork: there each run spawns its supervisor.)
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from . import supervise


class Launched:
    """One supervisor started by the server: its pid once forked, and its end."""

    def __init__(self) -> None:
        self.pid = 0
        self.forked = threading.Event()
        self.ended = threading.Event()
        #: Set if the server went away before it saw this supervisor exit.
        self.orphaned = False

    def stop(self) -> None:
        """Ask the supervisor to stop its script (it records the end), then make sure."""
        if not self.forked.wait(supervise.STARTUP_GRACE) or not self.pid:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)
        if not self.ended.wait(supervise.KILL_GRACE + 10) and sys.platform != "win32":
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)


class Launcher:
    """This process's supervisor server, started on first use (and again after a fork,
    or if it died)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._owner = 0  # the pid that started the server: a forked child needs its own
        self._waiting: dict[int, Launched] = {}
        self._ids = itertools.count(1)

    def start(self, rundir: Path, timeout: float, argv: list[str], cwd: Path,
              env: dict[str, str]) -> Launched:
        """Have a supervisor run ``argv`` for ``rundir``.

        Raises:
            OSError: the server could not be started or written to: no supervisor started.
        """
        launched = Launched()
        if sys.platform == "win32":  # pragma: no cover - no fork: a supervisor per run
            return self._spawned(launched, [str(rundir), f"{timeout:g}", *argv], cwd, env)
        with self._lock:
            proc = self._server()
            number = next(self._ids)
            self._waiting[number] = launched
            request = {"id": number, "rundir": str(rundir), "timeout": timeout, "argv": argv,
                       "cwd": str(cwd), "env": env}
            try:
                assert proc.stdin is not None
                proc.stdin.write(json.dumps(request).encode() + b"\n")
                proc.stdin.flush()
            except (OSError, ValueError) as exc:
                del self._waiting[number]
                self._proc = None
                raise OSError(f"the supervisor server is gone: {exc}") from exc
        return launched

    @staticmethod
    def _spawned(launched: Launched, args: list[str], cwd: Path,
                 env: dict[str, str]) -> Launched:  # pragma: no cover - Windows guests only
        proc = subprocess.Popen([sys.executable, "-I", "-S", supervise.__file__, *args],
                                cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        launched.pid = proc.pid
        launched.forked.set()

        def wait() -> None:
            proc.wait()
            launched.ended.set()

        threading.Thread(target=wait, daemon=True).start()
        return launched

    def _server(self) -> subprocess.Popen[bytes]:
        if self._proc is not None and self._owner == os.getpid() and self._proc.poll() is None:
            return self._proc
        self._waiting = {}
        # A session of its own: the terminal's Ctrl-C does not reach it nor its children.
        proc = subprocess.Popen([sys.executable, "-I", "-S", supervise.__file__, "--serve"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, cwd="/", start_new_session=True)
        self._proc, self._owner = proc, os.getpid()
        threading.Thread(target=self._read, args=(proc, self._waiting),
                         name="supervisor-server", daemon=True).start()
        return proc

    def _read(self, proc: subprocess.Popen[bytes], waiting: dict[int, Launched]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            try:
                message = json.loads(line)
            except ValueError:  # cut off as the server died: as good as gone
                break
            with self._lock:
                launched = waiting.get(message["id"])
                if launched is not None and "end" in message:
                    del waiting[message["id"]]
            if launched is None:
                continue
            if "pid" in message:
                launched.pid = int(message["pid"])
                launched.forked.set()
            else:
                launched.ended.set()
        with self._lock:  # the server is gone: what it did not see end is watched on disk
            orphans = list(waiting.values())
            waiting.clear()
        for launched in orphans:
            launched.orphaned = True
            launched.forked.set()
            launched.ended.set()
        proc.wait()


#: This process's launcher.
LAUNCHER = Launcher()
