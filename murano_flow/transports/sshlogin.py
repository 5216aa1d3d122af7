"""Logging in to an SSH host: the checked ``host:`` mapping, a connection whose host key
is verified (hostkeys.py) and whose login succeeded, and a clear error for each way that
fails (exit code 3 with what to change)."""

from __future__ import annotations

import getpass
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paramiko

from ..errors import ConnectError
from . import hostfields, hostkeys

#: The options a host may set, and their types.
OPTIONS: dict[str, hostfields.Types] = {
    "known_hosts": str, "host_key": str, "trust_on_first_use": bool, "passphrase": str,
    "connect_timeout": (int, float), "keepalive": (int, float), "agent": bool, "python": str,
    "workdir": str, "reconnect_timeout": (int, float), "reboot_command": list,
    "reboot_timeout": (int, float)}


@dataclass(frozen=True)
class SSHHost:
    """A rendered ``host:`` mapping with ``transport: ssh``, checked."""

    address: str
    name: str = ""
    port: int = 22
    user: str = ""
    password: str = ""
    key_file: str = ""
    passphrase: str = ""
    known_hosts: str = "~/.ssh/known_hosts"
    host_key: str = ""
    trust_on_first_use: bool = False
    connect_timeout: float = 15.0
    keepalive: float = 15.0
    agent: bool = True
    python: str = ""  # the host's: /usr/bin/python3, /usr/local/bin/python3, else python3
    workdir: str = ".murano-flow"
    reconnect_timeout: float = 60.0
    reboot_command: tuple[str, ...] = ()  # default: shutdown -r now, with sudo -n unless root
    reboot_timeout: float = 900.0

    @classmethod
    def from_fields(cls, fields: dict[str, Any]) -> SSHHost:
        """Check the host mapping; raise ConnectError naming the bad field."""
        address = hostfields.address(fields, "ssh")
        port = hostfields.port(fields, 22, "ssh", address)
        options = hostfields.options(fields, OPTIONS, "ssh", address)
        reboot = options.pop("reboot_command", None)
        if reboot is not None:
            if not (reboot and all(isinstance(a, str) for a in reboot)):
                raise ConnectError("options.reboot_command must be a list of strings",
                                   host=address)
            options["reboot_command"] = tuple(reboot)
        if options.get("host_key") and not str(options["host_key"]).startswith("SHA256:"):
            raise ConnectError(f"options.host_key {options['host_key']!r} is not a SHA256 "
                               "fingerprint", host=address,
                               hint="give it as ssh-keygen -lf prints it: SHA256:...")
        return cls(address=address, name=str(fields.get("name") or address).strip(),
                   port=port,
                   user=str(fields.get("user") or getpass.getuser()),
                   password=str(fields.get("password") or ""),
                   key_file=str(fields.get("key_file") or ""), **options)

    @property
    def where(self) -> str:
        """user@address:port, for messages."""
        return f"{self.user}@{self.address}:{self.port}"



def login(h: SSHHost) -> paramiko.SSHClient:
    """A connection to ``h`` whose host key is verified and whose login succeeded."""
    client = paramiko.SSHClient()
    known = Path(h.known_hosts).expanduser()
    hostkeys.Verify(known, pinned=h.host_key, trust_first=h.trust_on_first_use).prepare(client)
    key_file = str(Path(h.key_file).expanduser()) if h.key_file else None
    if key_file and not Path(key_file).is_file():
        raise ConnectError(f"key_file {h.key_file} does not exist", host=h.address,
                           hint="set host.key_file to a private key readable by the engine")
    try:
        sock = socket.create_connection((h.address, h.port), timeout=h.connect_timeout)
        # Every request of ours is small and waits for its answer: with Nagle's algorithm
        # on, each would wait for the peer's delayed ACK (about 40 ms on Linux).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client.connect(h.address, h.port, h.user, sock=sock, password=h.password or None,
                       key_filename=key_file, passphrase=h.passphrase or None,
                       timeout=h.connect_timeout, banner_timeout=h.connect_timeout,
                       auth_timeout=h.connect_timeout, allow_agent=h.agent,
                       look_for_keys=not (key_file or h.password))
    except Exception as exc:
        client.close()
        raise connect_error(h, known, exc) from exc
    transport = client.get_transport()
    assert transport is not None  # connect() succeeded
    transport.set_keepalive(max(1, int(h.keepalive)))
    return client


def connect_error(h: SSHHost, known: Path, exc: Exception) -> ConnectError:
    """A clear error for each way a connection fails."""
    if isinstance(exc, ConnectError):
        return exc
    if isinstance(exc, paramiko.BadHostKeyException):
        name = h.address if h.port == 22 else f"[{h.address}]:{h.port}"
        return hostkeys.mismatch(name, known, exc)
    if isinstance(exc, paramiko.PasswordRequiredException):
        return ConnectError(f"key_file {h.key_file} is encrypted", host=h.address,
                            hint="give its passphrase as options.passphrase (from a secret "
                                 "parameter)")
    if isinstance(exc, paramiko.AuthenticationException):
        how = "key_file " + h.key_file if h.key_file else "password" if h.password else \
            "the SSH agent and default keys"
        return ConnectError(f"authentication failed for {h.where} with {how}: {exc}",
                            host=h.address, hint="check host.user, host.key_file / "
                                                 "host.password, and the host's authorized_keys")
    if isinstance(exc, socket.gaierror):
        return ConnectError(f"cannot resolve host name {h.address!r}: {exc.strerror}",
                            host=h.address, hint="check host.address and DNS")
    if isinstance(exc, ConnectionRefusedError | paramiko.ssh_exception.NoValidConnectionsError):
        return ConnectError(f"connection refused by {h.address}:{h.port}", host=h.address,
                            hint="is sshd running there, and is host.port right?")
    if isinstance(exc, TimeoutError | socket.timeout):
        return ConnectError(f"timed out connecting to {h.address}:{h.port} after "
                            f"{h.connect_timeout:g}s", host=h.address,
                            hint="check the address, firewalls, or raise "
                                 "options.connect_timeout")
    if isinstance(exc, OSError):
        return ConnectError(f"cannot connect to {h.address}:{h.port}: {exc.strerror or exc}",
                            host=h.address)
    if isinstance(exc, paramiko.SSHException | EOFError):
        return ConnectError(f"SSH handshake with {h.where} failed: {exc}", host=h.address,
                            hint="is it an SSH server on that port?")
    raise exc
