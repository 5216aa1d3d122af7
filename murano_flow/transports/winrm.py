"""Run plans on Windows hosts without an agent, over WinRM (pywinrm).

Each plan gets its own WS-Management shell: one command starts a small bootstrap
(``winrs/``) on the command line, and the plan itself - script, params, environment,
arguments, as JSON - is sent through the command's stdin in chunks below the host's
envelope limit, so scripts of any length work (``run_ps`` squeezes them into an
8 K command line). Output is received as it comes into the engine's local run
directory; the result is judged by the exit code and PowerShell's error records,
with CLIXML progress noise dropped (``clixml.py``). The timeout is enforced here: the
command is signalled to terminate and its shell deleted. A ``reboot`` step then
reboots the host and waits, within a bound, for it to go down and come back.

Security defaults: HTTPS (5986) with certificate validation, NTLM with message
encryption when HTTP is chosen; Basic over plain HTTP is refused unless asked for.
"""

from __future__ import annotations

import io
import ipaddress
import json
import logging
import secrets
import ssl
import subprocess  # list2cmdline: Windows' quoting rules
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import requests
import winrm
from winrm.exceptions import (
    InvalidCredentialsError,
    WinRMError,
    WinRMOperationTimeoutError,
    WinRMTransportError,
)

from ..errors import ConnectError
from ..wire.protocol import Plan, Result
from ..wire.runner import TAIL_CHARS, parse_outputs, run_path, tail
from . import clixml, hostfields, reboots, winrs
from .base import Transport

log = logging.getLogger(__name__)

#: Authentication methods: what pywinrm calls them, and whether they can encrypt messages.
AUTHS = {"ntlm": True, "kerberos": True, "credssp": True, "basic": False, "certificate": False}
#: Bytes of the plan envelope per Send (base64 makes it 4/3 of this; Windows' default
#: MaxEnvelopeSizekb is 500).
CHUNK = 150_000
#: Seconds the reboot command may take (shutdown.exe /r returns at once, having scheduled it).
REBOOT_COMMAND_TIME = 30.0
#: The system's CA bundle, trusted unless options.ca_file names another (None: certifi's).
_SYSTEM_CA = ssl.get_default_verify_paths().cafile
_OPTIONS: dict[str, hostfields.Types] = {
    "auth": str, "scheme": str, "validate_certs": bool, "ca_file": str,
    "message_encryption": str, "allow_unencrypted": bool, "operation_timeout": int,
    "connect_timeout": (int, float), "reboot_timeout": (int, float), "reboot_command": list,
    "powershell": str, "python": str, "cert_pem": str, "cert_key_pem": str,
    "kerberos_delegation": bool}


@dataclass(frozen=True)
class WinRMHost:
    """A rendered ``host:`` mapping with ``transport: winrm``, checked."""

    address: str
    name: str
    port: int
    user: str = ""
    password: str = ""
    auth: str = "ntlm"
    scheme: str = "https"
    validate_certs: bool = True
    ca_file: str = ""
    message_encryption: str = "auto"
    allow_unencrypted: bool = False
    operation_timeout: int = 10
    connect_timeout: float = 30.0
    reboot_timeout: float = 900.0
    reboot_command: tuple[str, ...] = ("shutdown.exe", "/r", "/t", "5", "/c", "murano-flow")
    powershell: str = "powershell.exe"
    python: str = "python.exe"
    cert_pem: str = ""
    cert_key_pem: str = ""
    #: Kerberos: forward the user's ticket, so the script can reach a second host (a file
    #: share, a domain controller) as the user - the "double hop".
    kerberos_delegation: bool = False

    @classmethod
    def from_fields(cls, fields: dict[str, Any]) -> WinRMHost:
        """Check the host mapping; raise ConnectError naming the setting to change."""
        address = hostfields.address(fields, "winrm")
        options = hostfields.options(fields, _OPTIONS, "winrm", address)
        if options.get("auth") == "ssl":  # pywinrm's name for Basic over HTTPS
            options["auth"], options["scheme"] = "basic", "https"
        auth, scheme = options.get("auth", "ntlm"), options.get("scheme", "https")
        if auth not in AUTHS:
            raise ConnectError(f"winrm auth {auth!r} is not one of {', '.join(AUTHS)}, ssl",
                               host=address)
        if scheme not in ("http", "https"):
            raise ConnectError(f"winrm scheme {scheme!r} is neither http nor https", host=address)
        if options.get("message_encryption", "auto") not in ("auto", "always", "never"):
            raise ConnectError("options.message_encryption must be auto, always or never",
                               host=address)
        encrypted = scheme == "https" or (
            AUTHS[auth] and options.get("message_encryption", "auto") != "never")
        if not encrypted and not options.get("allow_unencrypted"):
            raise ConnectError(
                f"winrm over http with {auth} auth would send credentials and scripts "
                "unencrypted", host=address,
                hint="use scheme: https (port 5986), or ntlm/kerberos/credssp with "
                     "message_encryption auto; for a lab only, set allow_unencrypted: true")
        if options.get("kerberos_delegation") and auth != "kerberos":
            raise ConnectError(f"options.kerberos_delegation needs auth: kerberos, not {auth}",
                               host=address, hint="for the double hop with NTLM, use auth: "
                                                  "credssp (it delegates the credentials)")
        if auth == "kerberos" and _is_ip(address):
            raise ConnectError(
                f"Kerberos needs the host's name, not the IP address {address}: its ticket "
                "is for a service name (HTTP/<fqdn>)", host=address,
                hint="set host.address to the computer's DNS name (after it joined the "
                     "domain), or use ntlm/credssp for an address")
        if auth == "certificate":
            if not (options.get("cert_pem") and options.get("cert_key_pem")):
                raise ConnectError("certificate auth needs options.cert_pem and "
                                   "options.cert_key_pem", host=address)
        elif not (fields.get("user") and fields.get("password")):
            raise ConnectError(f"a winrm host with {auth} auth needs user and password",
                               host=address, hint="set host.user, and host.password from a "
                                                  "secret parameter")
        if options.get("operation_timeout", 10) < 1:
            raise ConnectError("options.operation_timeout must be at least 1 second",
                               host=address)
        reboot = options.pop("reboot_command", None)
        if reboot is not None and not (reboot and all(isinstance(a, str) for a in reboot)):
            raise ConnectError("options.reboot_command must be a list of strings", host=address)
        port = hostfields.port(fields, 5986 if scheme == "https" else 5985, "winrm", address)
        if reboot:
            options["reboot_command"] = tuple(reboot)
        return cls(address=address, name=str(fields.get("name") or address), port=port,
                   user=str(fields.get("user") or ""), password=str(fields.get("password") or ""),
                   **options)

    @property
    def endpoint(self) -> str:
        """The WS-Management URL."""
        return f"{self.scheme}://{self.address}:{self.port}/wsman"


class WinRMTransport(Transport):
    """Runs plans on one WinRM host; local logs go under ``root/runs``."""

    def __init__(self, root: Path, fields: dict[str, Any]) -> None:
        self.host = WinRMHost.from_fields(fields)
        self.runs = Path(root).resolve() / "runs"
        self._closed = False

    def send(self, plan: Plan) -> Result:
        """Run ``plan`` in a new shell; then, for a reboot step that succeeded, reboot."""
        started = time.time()
        if plan.script_type == "powershell":
            command = winrs.powershell_command(self.host.powershell)
        elif plan.script_type == "python":
            command = winrs.python_command(self.host.python)
        else:
            return Result(plan.id, "error", started=started, finished=time.time(),
                          message=f"a winrm host runs powershell or python scripts, not "
                                  f"{plan.script_type}")
        local = run_path(self.runs, plan, make=True)
        marker = f"##murano-flow-outputs-{secrets.token_hex(8)}##"
        envelope = json.dumps({"body": plan.body, "params": plan.params, "env": plan.env,
                               "args": list(plan.args), "marker": marker}).encode()
        code, ended = self._run(plan, command, envelope, local)
        result = self._result(plan, local, marker, code, ended, started)
        return reboots.after_step(plan, result, self._reboot)

    def reattach(self, plan: Plan) -> Result | None:
        """WinRM cannot re-attach to a command a dead engine started: an idempotent plan
        runs again; any other fails, so that nothing runs twice unasked."""
        if plan.idempotent:
            return None
        now = time.time()
        return Result(plan.id, "error", started=now, finished=now, message=(
            "lost: the engine stopped while this ran over WinRM, which cannot re-attach to a "
            "running command; not run again because the state is not marked idempotent - "
            "check the host, then resume to run it again"))

    def close(self) -> None:
        """Stop running commands, as the local transport does: each is terminated and its
        shell deleted once its current Receive returns (within ``operation_timeout``)."""
        self._closed = True

    # -- running -------------------------------------------------------------------

    def _protocol(self, operation_timeout: int) -> winrm.protocol.Protocol:
        h = self.host
        transport = "ssl" if h.auth == "basic" and h.scheme == "https" else \
            "plaintext" if h.auth == "basic" else h.auth
        protocol: winrm.protocol.Protocol = self._call(
            winrm.protocol.Protocol, h.endpoint, transport=transport,
            username=h.user or None, password=h.password or None,
            server_cert_validation="validate" if h.validate_certs else "ignore",
            ca_trust_path=h.ca_file or _SYSTEM_CA, message_encryption=h.message_encryption,
            cert_pem=h.cert_pem or None, cert_key_pem=h.cert_key_pem or None,
            kerberos_delegation=h.kerberos_delegation, operation_timeout_sec=operation_timeout,
            read_timeout_sec=max(operation_timeout + 10, int(h.connect_timeout)))
        return protocol

    def _run(self, plan: Plan, command: tuple[str, list[str]], envelope: bytes,
             local: Path) -> tuple[int | None, str]:
        """Start, feed and follow one command; (exit code, how it ended: done | timeout |
        stopped)."""
        deadline = time.monotonic() + plan.timeout
        proto = self._protocol(self.host.operation_timeout)
        shell = self._call(proto.open_shell, codepage=65001)  # UTF-8 both ways
        command_id = None
        try:
            command_id = self._call(proto.run_command, shell, command[0],
                                    [subprocess.list2cmdline(command[1])])
            for at in range(0, max(len(envelope), 1), CHUNK):
                self._call(proto.send_command_input, shell, command_id,
                           envelope[at:at + CHUNK], end=at + CHUNK >= len(envelope))
            with (local / "stdout.log").open("wb") as out, \
                    (local / "stderr.log").open("wb") as err:
                return self._receive(proto, shell, command_id, (out, err), deadline)
        finally:
            self._dispose(proto, shell, command_id)

    def _receive(self, proto: winrm.protocol.Protocol, shell: str, command_id: str,
                 sinks: tuple[BinaryIO, BinaryIO], deadline: float) -> tuple[int | None, str]:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None, "timeout"
            if self._closed:  # Ctrl-C, deadline, cancel --now: deleting the shell ends it
                return None, "stopped"
            # Receive is a long poll: never let it outlast the plan's deadline by much.
            proto.operation_timeout_sec = max(1, min(self.host.operation_timeout, int(left) + 1))
            try:
                out, err, code, done = self._call(proto.get_command_output_raw, shell,
                                                  command_id)
            except WinRMOperationTimeoutError:
                continue  # no output within the poll: ask again
            sinks[0].write(out)
            sinks[1].write(err)
            if done:
                return code, "done"

    def _dispose(self, proto: winrm.protocol.Protocol, shell: str, command_id: str | None) -> None:
        """Terminate the command and delete the shell (the host kills what it started)."""
        proto.operation_timeout_sec = self.host.operation_timeout
        if command_id:
            self._quietly(proto.cleanup_command, shell, command_id)
        self._quietly(proto.close_shell, shell)

    def _quietly(self, fn: Any, *args: Any) -> None:
        try:
            fn(*args)
        except (WinRMError, WinRMTransportError, requests.RequestException, AssertionError,
                StopIteration) as exc:  # cleanup of a host that went away: nothing to do
            log.warning("winrm cleanup on %s: %s", self.host.address, exc)

    def _result(self, plan: Plan, local: Path, marker: str, code: int | None, ended: str,
                started: float) -> Result:
        outputs, problem = _take_outputs(local / "stdout.log", marker)
        stderr = clixml.parse((local / "stderr.log").read_bytes().decode("utf-8", "replace"))
        (local / "stderr.log").write_text(stderr.text, "utf-8")
        if ended == "stopped":
            status, message = "error", ("stopped: the engine is shutting down; the command "
                                        "was terminated")
        elif ended == "timeout":
            status, message = "timeout", (f"timed out after {plan.timeout:g}s; the command "
                                          "was terminated and its shell deleted")
        elif code != 0:
            status, message = "failed", ""
        elif stderr.errors:
            status, message = "failed", f"the script wrote error records: {stderr.errors[0]}"
        elif problem:
            status, message = "failed", problem
        else:
            status, message = "ok", ""
        return Result(plan.id, status, code, tail(local / "stdout.log", TAIL_CHARS),
                      tail(local / "stderr.log", TAIL_CHARS), outputs if status == "ok" else {},
                      started, time.time(), message, str(local))

    # -- rebooting -----------------------------------------------------------------

    def _reboot(self) -> str:
        """Reboot the host and wait for it to go down and come back; '' or what went wrong."""
        h = self.host
        # A shell does not outlive a boot: while this one is there, the host has not rebooted
        proto = self._protocol(min(h.operation_timeout, 5))
        try:
            sentinel = self._call(proto.open_shell)
        except ConnectError:
            sentinel = None
        try:
            try:
                said = self._run_reboot_command()
            except ConnectError:
                said = ""  # it may already be going down
            same_boot = None if sentinel is None else (
                lambda: self._shell_lives(proto, sentinel))
            problem = reboots.wait(self._answers, h.address, " ".join(h.reboot_command),
                                   h.reboot_timeout, same_boot=same_boot)
        finally:
            if sentinel is not None:  # gone with the boot, unless the host stayed up
                self._quietly(proto.close_shell, sentinel)
        return f"{problem}{said}" if problem else ""

    def _shell_lives(self, proto: winrm.protocol.Protocol, shell: str) -> bool:
        """Whether ``shell`` still exists on the host (False once it is down, or up again
        in a new boot without it)."""
        try:
            command_id = self._call(proto.run_command, shell, "cmd.exe", ["/c", "exit 0"])
        except ConnectError:
            return False
        self._quietly(proto.cleanup_command, shell, command_id)
        return True

    def _run_reboot_command(self) -> str:
        """Run the reboot command to its end; '' or, if it failed, what it said (for the
        message should the host stay up: a failing command may still have worked)."""
        h = self.host
        proto = self._protocol(min(h.operation_timeout, 5))
        shell = self._call(proto.open_shell)
        command_id = None
        out, err = io.BytesIO(), io.BytesIO()
        try:
            command_id = self._call(proto.run_command, shell, h.reboot_command[0],
                                    [subprocess.list2cmdline(h.reboot_command[1:])])
            # Deleting the shell kills the command: a reboot command killed before it
            # scheduled the reboot would do nothing, so wait for it first.
            code, ended = self._receive(proto, shell, command_id, (out, err),
                                        time.monotonic() + REBOOT_COMMAND_TIME)
        finally:
            self._dispose(proto, shell, command_id)
        if ended == "timeout":
            return f"; the reboot command did not end within {REBOOT_COMMAND_TIME:g}s"
        if ended == "stopped" or code == 0:
            return ""
        said = clixml.parse(err.getvalue().decode("utf-8", "replace")).text.strip()
        return f"; the reboot command exited {code}" + (f": {said[-300:]}" if said else "")

    def _answers(self) -> bool:
        """Whether the host accepts a new shell now."""
        proto = self._protocol(min(self.host.operation_timeout, 5))
        try:
            shell = self._call(proto.open_shell)
        except ConnectError:
            return False
        self._dispose(proto, shell, None)
        return True

    # -- helpers -------------------------------------------------------------------

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Call pywinrm, turning its failures into ConnectErrors that say what to change."""
        h = self.host
        try:
            return fn(*args, **kwargs)
        except WinRMOperationTimeoutError:
            raise
        except InvalidCredentialsError as exc:
            if h.auth == "basic":
                raise ConnectError(
                    f"{h.endpoint} refused Basic authentication for {h.user!r}: Windows turns "
                    "Basic off by default (or the password is wrong)", host=h.address,
                    hint="use auth: ntlm (or kerberos), or on a host served over HTTPS turn "
                         "Basic on: winrm set winrm/config/service/auth @{Basic=\"true\"}"
                ) from exc
            raise ConnectError(f"{h.endpoint} rejected the credentials of {h.user!r} "
                               f"({h.auth}): {exc}", host=h.address,
                               hint="check host.user / host.password, and that the host "
                                    f"allows {h.auth} (winrm get winrm/config/service/auth)"
                               ) from exc
        except requests.exceptions.SSLError as exc:
            raise ConnectError(f"TLS with {h.endpoint} failed: {exc}", host=h.address,
                               hint="if the certificate is self-signed, give its CA as "
                                    "options.ca_file; validate_certs: false only for a lab"
                               ) from exc
        except requests.exceptions.ConnectionError as exc:
            raise ConnectError(f"cannot connect to {h.endpoint}: {_root_cause(exc)}",
                               host=h.address, hint="is WinRM listening there (winrm "
                                                    "quickconfig), and are scheme and port "
                                                    "right?") from exc
        except requests.exceptions.Timeout as exc:
            raise ConnectError(f"{h.endpoint} did not answer in time", host=h.address) from exc
        except WinRMTransportError as exc:
            hint = None
            if exc.code in (400, 415) or "encrypt" in str(exc.response_text).lower():
                hint = ("the host and the engine disagree about message encryption: a host "
                        "with AllowUnencrypted=false (the default) needs scheme: https, or "
                        "ntlm/kerberos/credssp with message_encryption auto or always")
            raise ConnectError(f"{h.endpoint} answered HTTP {exc.code}: "
                               f"{str(exc.response_text)[:300]}", host=h.address,
                               hint=hint) from exc
        except WinRMError as exc:
            hint = None
            if str(getattr(exc, "fault_subcode", "")).endswith("QuotaLimit"):
                hint = ("the host's WinRM quotas are used up (other sessions of this user?): "
                        "wait for them to end, or raise them - winrm set winrm/config/winrs "
                        "@{MaxShellsPerUser=\"50\"} (MaxConcurrentOperationsPerUser likewise)")
            elif "encryption" in str(exc):
                hint = ("set options.message_encryption to auto, or use scheme: https "
                        "with this auth")
            elif "not installed" in str(exc):
                hint = f"pip install 'pywinrm[{h.auth}]' (and the system's {h.auth} libraries)"
            raise ConnectError(f"winrm on {h.endpoint}: {exc}", host=h.address,
                               hint=hint) from exc

def _take_outputs(stdout: Path, marker: str) -> tuple[dict[str, Any], str]:
    """Cut the outputs line the bootstrap printed off the end of ``stdout``; parse it."""
    size = stdout.stat().st_size
    with stdout.open("r+b") as f:
        start = max(0, size - (8 << 20))
        f.seek(start)
        data = f.read()
        at = data.rfind(marker.encode())
        if at < 0:
            return {}, ""
        line = data[at + len(marker):].decode("utf-8", "replace").strip()
        cut = start + at
        if cut and data[at - 1:at] == b"\n":
            cut -= 1
        f.truncate(cut)
    return parse_outputs(line)


def _root_cause(exc: BaseException) -> str:
    while exc.__context__ is not None and exc.__context__ is not exc:
        exc = exc.__context__
    return str(exc) or type(exc).__name__


def _is_ip(address: str) -> bool:
    """Whether ``address`` is an IP literal rather than a name."""
    try:
        ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return False
    return True
