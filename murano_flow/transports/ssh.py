"""Run plans on hosts without an agent, over SSH (paramiko).

A plan's script, params file and environment file go on the stdin of its one command
(``supervise.py --run``: one interpreter start, no file transfer round trips, no secret
on a command line), which writes them into a private run directory on the host (mode
0700) and runs them there under the same supervisor the local transport uses
(``supervise.py``, uploaded once per connection; the host needs Python 3, as for
Ansible). That command starts the supervisor as a daemon, so
the run outlives the connection - it enforces the timeout on the host (killing the
script's process group) and records how the run ended - and streams the run's logs
back while it runs (into the engine's local run directory, so output of any size
cannot stall the channel), returning as soon as the supervisor exits. If the
connection drops, the transport reconnects and resumes streaming from where it was
(``--follow``); a restarted engine re-attaches the same way. The connection, with
TCP_NODELAY set, and its SFTP session serve every action of the host.

The secret-bearing files (script, params, environment) are gone as soon as the result is
collected (the supervisor removes params and environment itself), the rest of the run
directory with the next command for another state, or when the transport closes (by then
the engine has journaled the result, so a crash in between still finds it).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import posixpath
import secrets
import select
import shlex
import stat
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import paramiko

from ..errors import ConnectError, HostKeyRefused, InDoubt
from ..wire import supervise
from ..wire.protocol import NEVER_STARTED, Plan, Result
from ..wire.runner import (
    SUFFIX,
    TAIL_CHARS,
    lost_message,
    parse_outputs,
    run_name,
    run_path,
    safe_name,
    script_text,
    tail,
)
from . import reboots, sshlogin
from .base import Transport

log = logging.getLogger(__name__)

#: Remote interpreter argv per script type (the script path is appended).
_INTERPRETERS = {"sh": ["/bin/sh"], "bash": ["bash"], "python": ["python3"],
                 "powershell": ["pwsh", "-NonInteractive", "-NoProfile", "-File"]}
#: Files holding the plan's inputs (besides the script), removed once its result is collected.
_INPUT_FILES = (supervise.PARAMS, supervise.ENV, supervise.SECRETS)
#: The supervisor run on the host, and its name there: named by its content, so connections
#: installing it at once (hosts sharing a machine) and engines of other versions never
#: replace a file another one runs.
_HELPER = Path(supervise.__file__).read_bytes()
_HELPER_NAME = f"supervise-{hashlib.sha256(_HELPER).hexdigest()[:12]}.py"
#: Seconds the engine waits beyond a plan's own timeout before it suspects the connection.
_SILENCE_MARGIN = 60.0
class SSHTransport(Transport):
    """Runs plans on one SSH host; local logs go under ``root/runs``."""

    def __init__(self, root: Path, fields: dict[str, Any]) -> None:
        self.host = sshlogin.SSHHost.from_fields(fields)
        self.runs = Path(root).resolve() / "runs"
        self._client: paramiko.SSHClient | None = None
        self._base = ""  # absolute remote workdir, known once connected
        self._python = self.host.python or "python3"  # the host's, once connected
        self._lock = threading.Lock()
        self._sftp: tuple[paramiko.SSHClient, paramiko.SFTPClient] | None = None
        self._sftp_lock = threading.Lock()
        self._collected: list[str] = []
        self._closed = False

    # -- the Transport interface ---------------------------------------------------

    def send(self, plan: Plan) -> Result:
        """Send and start ``plan`` (one command), stream its logs until it ends, collect its
        result."""
        started = time.time()
        self._connect()  # first: the paths depend on the remote home
        rundir = self._rundir(plan)
        argv = [*_INTERPRETERS[plan.script_type], posixpath.join(rundir, _script(plan)),
                *plan.args]
        run = shlex.join([self._python, "-I", "-S", self._helper(), "--run", rundir,
                          f"{plan.timeout:g}", *argv])
        forget, removed = self._forgettable(plan), False
        try:
            result = self._follow(plan, rundir, started,
                                  first=(f"cd {shlex.quote(self._work())} && {run}",
                                         self._inputs(plan, rundir, forget)))
            removed = not result.message.startswith(NEVER_STARTED)
        finally:
            if not removed:  # the helper may not have got to them: at close, then
                with self._lock:
                    self._collected.extend(forget)
        return reboots.after_step(plan, result, self._reboot)

    def reattach(self, plan: Plan) -> Result | None:
        """Collect (waiting if needed) a run an earlier engine process started on the host."""
        with self._files() as sftp:
            rundir = self._rundir(plan)
            if not any(_exists(sftp, posixpath.join(rundir, f))
                       for f in (supervise.EXIT, supervise.SPAWNED, supervise.LOCK)):
                return None
        result = self._follow(plan, rundir, time.time(), first=None)
        if result.message.startswith(NEVER_STARTED) or (result.lost and plan.idempotent):
            return None
        return result

    def close(self) -> None:
        """Remove collected run directories and disconnect (running plans go on)."""
        with self._lock:
            self._closed = True
            client, self._client = self._client, None
            done, self._collected = self._collected, []
        if client is None:
            return
        try:
            if done:  # over the open SFTP session: a command would start a login shell
                with self._sftp_lock:
                    sftp = (self._sftp[1] if self._sftp and self._sftp[0] is client
                            else client.open_sftp())
                    for rundir in done:
                        _remove_tree(sftp, rundir)
        except (OSError, paramiko.SSHException) as exc:
            log.warning("could not remove run directories on %s: %s", self.host.where, exc)
        client.close()

    def detach(self) -> None:
        """Disconnect; running plans go on under their supervisor. Run directories stay,
        even collected ones: this engine may not have journaled their results, and the
        engine that re-attaches reads them there."""
        with self._lock:
            self._closed = True
            client, self._client = self._client, None
            self._collected = []
        if client is not None:
            client.close()

    # -- connecting ----------------------------------------------------------------

    @contextlib.contextmanager
    def _files(self) -> Iterator[paramiko.SFTPClient]:
        """The connection's one SFTP session (opening a channel costs a round trip to the
        host's sshd), for one thread at a time."""
        client = self._connect()
        with self._sftp_lock:
            if self._sftp is None or self._sftp[0] is not client:
                self._sftp = (client, client.open_sftp())
            yield self._sftp[1]

    def _connect(self) -> paramiko.SSHClient:
        with self._lock:
            if self._closed:
                raise InDoubt("the transport is shutting down", host=self.host.address)
            live = self._client and self._client.get_transport()
            if self._client is not None and live and live.is_active():
                return self._client
            if self._client is not None:
                self._client.close()
            self._client = self._open()
            return self._client

    def _open(self) -> paramiko.SSHClient:
        """A verified, authenticated connection with the workdir and helper in place."""
        h = self.host
        client = sshlogin.login(self.host)
        try:
            sftp = client.open_sftp()  # kept: the connection's one SFTP session (_files)
            self._base = sftp.normalize(".") if not h.workdir.startswith("/") else ""
            self._base = posixpath.join(self._base, h.workdir)
            for d in (self._base, *(posixpath.join(self._base, sub)
                                    for sub in ("runs", "hosts")), self._work()):
                _mkdir(sftp, d)
            self._python = h.python or _platform_python(sftp)
            if not _exists(sftp, self._helper()):  # written aside, then renamed: atomic
                part = f"{self._helper()}.{secrets.token_hex(4)}.part"
                sftp.putfo(io.BytesIO(_HELPER), part)
                sftp.posix_rename(part, self._helper())
            self._sftp = (client, sftp)
        except (OSError, paramiko.SSHException) as exc:
            client.close()
            raise ConnectError(f"cannot prepare {h.workdir} on {h.where}: {exc}",
                               host=h.address, hint="check options.workdir and that the user "
                                                    "may write there") from exc
        return client

    # -- rebooting -----------------------------------------------------------------

    def _reboot(self) -> str:
        """Reboot the host after a ``reboot: true`` step; '' once it is back."""
        h = self.host
        command = h.reboot_command or (("/sbin/shutdown", "-r", "now") if h.user == "root"
                                       else ("sudo", "-n", "/sbin/shutdown", "-r", "now"))
        # In the background, a second later: our channel must close before the network goes
        # (if it is already going down, so be it).
        with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
            _run(self._connect(), f"(sleep 1; {shlex.join(command)}) </dev/null >/dev/null "
                                  "2>&1 &", timeout=30)
        self._drop()
        problem = reboots.wait(self._answers, h.address, shlex.join(command), h.reboot_timeout)
        self._drop()  # the next action connects afresh
        return problem

    def _answers(self) -> bool:
        """Whether the host accepts a login now (a changed host key is never accepted)."""
        try:
            sshlogin.login(self.host).close()
        except HostKeyRefused:
            raise
        except ConnectError:
            return False
        return True

    def _drop(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    # -- running -------------------------------------------------------------------

    def _helper(self) -> str:
        return posixpath.join(self._base, _HELPER_NAME)

    def _work(self) -> str:
        """The host name's persistent working directory (as with the local transport, each
        host name gets its own, so entities sharing a machine do not share files)."""
        return posixpath.join(self._base, "hosts", safe_name(self.host.name))

    def _rundir(self, plan: Plan) -> str:
        return posixpath.join(self._base, "runs", run_name(plan))

    def _forgettable(self, plan: Plan) -> list[str]:
        """Collected run directories of other states than ``plan``'s: the host's helper
        removes them as it starts ``plan`` (no round trips at close). The engine journals
        a state's result before it sends another state's plan to the same host (a run's
        dispatch commits before its plans leave), so nobody needs them any more; a check's
        directory stays until then, for its action follows it without a commit between."""
        node = posixpath.dirname(self._rundir(plan))
        with self._lock:
            forget = [d for d in self._collected if posixpath.dirname(d) != node]
            self._collected = [d for d in self._collected if posixpath.dirname(d) == node]
        return forget

    def _inputs(self, plan: Plan, rundir: str, forget: Sequence[str] = ()) -> bytes:
        """The run's input files for ``supervise.prepare``, under a token of this send
        (a run sent again starts afresh; the same command arriving twice does not), and
        the collected run directories it removes."""
        env = {**plan.env,
               "MURANO_FLOW_PARAMS": posixpath.join(rundir, "params.json"),
               "MURANO_FLOW_OUTPUT": posixpath.join(rundir, "output.json"),
               "MURANO_FLOW_DEPLOYMENT": plan.deployment, "MURANO_FLOW_NODE": plan.node,
               "MURANO_FLOW_ATTEMPT": str(plan.attempt), "MURANO_FLOW_HOST_DIR": self._work()}
        files = {_script(plan): script_text(plan), supervise.PARAMS: json.dumps(plan.params),
                 supervise.ENV: json.dumps(env)}
        if plan.secrets:
            files[supervise.SECRETS] = json.dumps(list(plan.secrets))
        return json.dumps({"token": secrets.token_hex(8), "files": files,
                           "forget": list(forget)}).encode()

    def _follow(self, plan: Plan, rundir: str, started: float,
                first: tuple[str, bytes] | None) -> Result:
        """Stream the run's logs into the local run directory until its end is recorded;
        across dropped connections (reconnecting) until ``reconnect_timeout``. ``first``
        is the command that starts the run and follows it, and its stdin, if it is yet to
        start."""
        local = run_path(self.runs, plan, make=True)
        written = [0, 0]
        with (local / "stdout.log").open("wb") as out, (local / "stderr.log").open("wb") as err:
            while True:
                command, stdin = first or (shlex.join(
                    [self._python, "-I", "-S", self._helper(), "--follow", rundir,
                     *map(str, written)]), b"")
                launched: list[bool] = []
                try:
                    code = self._stream(command, stdin, (out, err), written, plan.timeout,
                                        launched)
                    break
                except (OSError, EOFError, paramiko.SSHException) as exc:
                    if self._closed:
                        raise InDoubt(f"stopped following {plan.node}: it goes on running",
                                        host=self.host.address) from exc
                    log.warning("lost %s while following %s: %s", self.host.where, plan.id, exc)
                    self._reconnect(plan, exc)
                if launched:
                    first = None  # the host has the command: from now on only follow
        return self._collect(plan, rundir, local, code, started)

    def _stream(self, command: str, stdin: bytes, sinks: tuple[BinaryIO, BinaryIO],
                written: list[int], timeout: float, launched: list[bool]) -> int:
        """Run ``command`` with ``stdin``, copying its stdout and stderr as they come; its
        exit status. ``launched`` gets an item once the host has the command and its
        whole stdin."""
        client = self._connect()
        transport = client.get_transport()
        assert transport is not None
        chan = transport.open_session()
        try:
            chan.exec_command(command)
            chan.sendall(stdin)
            chan.shutdown_write()
            launched.append(True)
            silent_since = time.monotonic()
            while True:
                moved = False
                for ready, recv, i in ((chan.recv_ready, chan.recv, 0),
                                       (chan.recv_stderr_ready, chan.recv_stderr, 1)):
                    if ready():
                        data = recv(1 << 16)
                        sinks[i].write(data)
                        written[i] += len(data)
                        moved = True
                if moved:
                    silent_since = time.monotonic()
                    continue
                # sshd may send the exit status before the last of the output (its pipes
                # drain on their own): only the channel's EOF says every byte has come
                if chan.exit_status_ready() and (chan.eof_received or chan.closed) \
                        and not chan.recv_ready() and not chan.recv_stderr_ready():
                    code = int(chan.recv_exit_status())
                    if code == -1:  # paramiko: closed without an exit status
                        raise EOFError("the connection closed under the command")
                    return code
                if self._closed:
                    raise EOFError("the transport is shutting down")
                if time.monotonic() - silent_since > timeout + _SILENCE_MARGIN:
                    raise TimeoutError(f"no word for {timeout + _SILENCE_MARGIN:g}s")
                select.select([chan], [], [], 0.05)
        finally:
            chan.close()

    def _reconnect(self, plan: Plan, cause: BaseException) -> None:
        deadline = time.monotonic() + self.host.reconnect_timeout
        self._drop()
        while True:
            try:
                self._connect()
                return
            except ConnectError as exc:
                if isinstance(exc, HostKeyRefused) or time.monotonic() > deadline:
                    raise InDoubt(
                        f"lost the connection to {self.host.where} while {plan.node} ran "
                        f"({cause}); it may still be running there", host=self.host.address,
                        hint="resume the deployment when the host is reachable: it collects "
                             "the run") from exc
                time.sleep(1.0)

    def _collect(self, plan: Plan, rundir: str, local: Path, code: int,
                 started: float) -> Result:
        with self._files() as sftp:
            recorded = _read_text(sftp, posixpath.join(rundir, supervise.EXIT))
            end = json.loads(recorded) if recorded is not None else None
            outputs, problem = parse_outputs(
                _read_text(sftp, posixpath.join(rundir, "output.json")) or "")
            # A supervisor that recorded the end removed the other inputs itself (before
            # the script started, and when it ended); without a record they may be there.
            for name in (_script(plan), *(_INPUT_FILES if end is None else ())):
                _remove(sftp, posixpath.join(rundir, name))
        with self._lock:
            self._collected.append(rundir)
        for name in supervise.LOGS:  # our copies were streamed as written on the host
            supervise.mask_file(local / name, list(plan.secrets))
        logs = tail(local / "stdout.log", TAIL_CHARS), tail(local / "stderr.log", TAIL_CHARS)
        if end is None:
            if code == supervise.LOST:
                message = lost_message(plan.idempotent)
            elif code == supervise.NEVER_STARTED:
                message = "never started: its supervisor did not start on the host"
            elif code == supervise.BAD_INPUTS:
                message = f"never started: {logs[1][-300:].strip()}"
            elif code == 127:
                message = (f"{self._python} not found on {self.host.where}: the ssh "
                           "transport needs Python 3 on the host (or set options.python)")
            else:
                message = f"the host could not start the run (exit {code}): {logs[1][-300:]}"
            return Result(plan.id, "error", None, *logs, {}, started, time.time(), message,
                          str(local))
        status, exit_code = str(end.get("status")), end.get("code")
        message = str(end.get("message", ""))
        if problem and status == "ok":
            status, message = "failed", problem
        return Result(plan.id, status, exit_code if isinstance(exit_code, int) else None,
                      *logs, outputs, started, time.time(), message, str(local))

def _script(plan: Plan) -> str:
    return "script" + SUFFIX[plan.script_type]


#: Where a host's own Python 3 usually is, in order: found first, before the PATH's (which
#: may be a version manager's shim, one more process at every action).
_PLATFORM_PYTHONS = ("/usr/bin/python3", "/usr/local/bin/python3")


def _platform_python(sftp: paramiko.SFTPClient) -> str:
    """The host's Python 3 when ``options.python`` is not set, as Ansible's interpreter
    discovery: the platform's, else ``python3`` on the login's PATH."""
    return next((p for p in _PLATFORM_PYTHONS if _exists(sftp, p)), "python3")


def _run(client: paramiko.SSHClient, command: str, timeout: float) -> int:
    _, stdout, _ = client.exec_command(command, timeout=timeout)
    return int(stdout.channel.recv_exit_status())


def _exists(sftp: paramiko.SFTPClient, path: str) -> bool:
    try:
        sftp.stat(path)
    except FileNotFoundError:
        return False
    return True


def _mkdir(sftp: paramiko.SFTPClient, path: str) -> None:
    try:
        sftp.mkdir(path, mode=0o700)
    except OSError:
        st = sftp.stat(path)  # already there (raises if it is not)
        if not stat.S_ISDIR(st.st_mode or 0):
            raise
        return
    sftp.chmod(path, 0o700)


def _remove(sftp: paramiko.SFTPClient, path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        sftp.remove(path)


def _remove_tree(sftp: paramiko.SFTPClient, path: str) -> None:
    """Remove the remote directory ``path`` and what it holds, never following a link
    (gone already is fine)."""
    try:
        if stat.S_ISLNK(sftp.lstat(path).st_mode or 0):
            sftp.remove(path)
            return
        entries = sftp.listdir_attr(path)
    except FileNotFoundError:
        return
    for entry in entries:
        child = posixpath.join(path, entry.filename)
        if stat.S_ISDIR(entry.st_mode or 0):
            _remove_tree(sftp, child)
        else:
            _remove(sftp, child)
    sftp.rmdir(path)


def _read_text(sftp: paramiko.SFTPClient, path: str) -> str | None:
    """A remote file's text, None if there is none."""
    try:
        with sftp.open(path, "r") as f:
            text: str = f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return None
    return text
