"""How the SSH transport decides to trust a host's key: never silently.

Three modes, strictest first:

* ``host_key: SHA256:...`` pins the fingerprint (as ``ssh-keygen -lf`` prints it); it
  may come from an earlier state's outputs, e.g. the key an ``Allocated`` state read
  off the new VM's console. Only that key is accepted.
* otherwise the host must be in the known_hosts file (``known_hosts``, default
  ``~/.ssh/known_hosts``); a different key there is refused as a possible
  man-in-the-middle, always.
* ``trust_on_first_use: true`` additionally accepts a host the file does not know
  yet, and appends its key to the file, so the next connection is verified.
"""

from __future__ import annotations

import fcntl
import threading
from pathlib import Path
from typing import Any

import paramiko

from ..errors import ConnectError, HostKeyRefused

#: Serialises appends to a known_hosts file among this process's threads.
_APPEND = threading.Lock()


class Verify(paramiko.MissingHostKeyPolicy):  # type: ignore[misc]  # paramiko is untyped
    """paramiko calls this for a host its loaded keys do not know."""

    def __init__(self, known_hosts: Path, *, pinned: str = "", trust_first: bool = False):
        self.known_hosts, self.pinned, self.trust_first = known_hosts, pinned, trust_first

    def prepare(self, client: paramiko.SSHClient) -> None:
        """Load what ``client`` must check against and install this policy."""
        if not self.pinned and self.known_hosts.exists():
            try:
                client.load_host_keys(str(self.known_hosts))
            except (OSError, paramiko.SSHException, ValueError) as exc:
                raise ConnectError(f"cannot read known_hosts file {self.known_hosts}: {exc}",
                                   hint="fix or remove the bad line") from exc
        client.set_missing_host_key_policy(self)

    def missing_host_key(self, client: Any, hostname: str, key: paramiko.PKey) -> None:
        got = key.fingerprint
        if self.pinned:
            if got != self.pinned:
                raise HostKeyRefused(
                    f"host key mismatch for {hostname}: it offered {got}, the blueprint pins "
                    f"{self.pinned}", host=hostname,
                    hint="someone may be intercepting the connection; if the host was "
                         "re-created, update options.host_key")
            return
        if not self.trust_first:
            raise HostKeyRefused(
                f"unknown host key for {hostname} ({key.get_name()} {got}): it is not in "
                f"{self.known_hosts}", host=hostname,
                hint=f"verify it, then add it ({_keyscan(hostname)} >> {self.known_hosts}), "
                     "pin it with options.host_key, or opt in to options.trust_on_first_use")
        _append(self.known_hosts, hostname, key)


def mismatch(hostname: str, known_hosts: Path, exc: paramiko.BadHostKeyException) -> ConnectError:
    """The error for a host whose key differs from the one on record."""
    return HostKeyRefused(
        f"host key mismatch for {hostname}: it offered {exc.key.fingerprint}, {known_hosts} "
        f"records {exc.expected_key.fingerprint}", host=hostname,
        hint="someone may be intercepting the connection; if the host was reinstalled, "
             f"remove the old key (ssh-keygen -R '{hostname}' -f {known_hosts}) and verify "
             "the new one")


def _keyscan(hostname: str) -> str:
    """The ssh-keyscan command reading the key of ``hostname`` (``host`` or ``[host]:port``)."""
    if hostname.startswith("[") and "]:" in hostname:
        host, port = hostname[1:].split("]:", 1)
        return f"ssh-keyscan -p {port} {host}"
    return f"ssh-keyscan {hostname}"


def _append(path: Path, hostname: str, key: paramiko.PKey) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with _APPEND, path.open("a", encoding="ascii") as f:
        fcntl.flock(f, fcntl.LOCK_EX)  # other engine processes may add hosts too
        f.write(f"{hostname} {key.get_name()} {key.get_base64()}\n")
