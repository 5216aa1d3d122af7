"""A real OpenSSH server on a loopback port, for the ssh transport's tests.

Throwaway host and user keys are made per test session; sshd runs in the foreground
as a child of the test process (so it never outlives the suite) with its own config:
keys only from our authorized_keys file, password login only for a test user the
session creates (as root; deleted at the end). `make test` installs openssh-server if missing.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


@dataclass
class SSHServer:
    """What a test needs to reach the server."""

    port: int
    dir: Path
    user: str
    user_key: Path
    host_pub: str  # "ssh-ed25519 AAAA..."
    known_hosts: Path
    password_user: str = ""
    password: str = ""
    proc: Any = field(default=None, repr=False)

    def host(self, **options: Any) -> dict[str, Any]:
        """A host mapping for this server; ``options`` override the host's options."""
        opts = {"known_hosts": str(self.known_hosts), "agent": False,
                "workdir": str(self.dir / "remote")}
        opts.update(options)
        return {"transport": "ssh", "name": "sshd", "address": "127.0.0.1", "port": self.port,
                "user": self.user, "key_file": str(self.user_key),
                "options": {k: v for k, v in opts.items() if v is not None}}


def _keygen(path: Path, passphrase: str = "") -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-f", str(path)],
                   check=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _password_user() -> tuple[str, str]:
    """A local user of this test session with a random password, if we may make one (as
    root); each session its own, so concurrent sessions do not change each other's."""
    if os.geteuid() != 0 or not shutil.which("useradd"):
        return "", ""
    user = f"mf-ssh-{secrets.token_hex(4)}"
    subprocess.run(["useradd", "-m", "-s", "/bin/sh", user], check=True, capture_output=True)
    password = secrets.token_urlsafe(16)
    subprocess.run(["chpasswd"], input=f"{user}:{password}\n", text=True, check=True)
    return user, password


def start_sshd(d: Path, password_user: tuple[str, str] = ("", "")) -> SSHServer:
    """Start an sshd with fresh keys in directory ``d``; pytest.fail if it cannot run."""
    if not Path(SSHD).exists():
        pytest.fail("OpenSSH's sshd is not installed: `make test` installs it "
                    "(apt-get install -y openssh-server)")
    d.mkdir(parents=True, exist_ok=True)
    d.chmod(0o755)  # the password test user must reach its workdir under here
    _keygen(d / "host_key")
    _keygen(d / "user_key")
    shutil.copy(d / "user_key.pub", d / "authorized_keys")
    port = _free_port()
    host_pub = " ".join((d / "host_key.pub").read_text().split()[:2])
    known = d / "known_hosts"
    known.write_text(f"[127.0.0.1]:{port} {host_pub}\n")
    (d / "sshd_config").write_text(f"""\
Port {port}
ListenAddress 127.0.0.1
HostKey {d}/host_key
PidFile {d}/sshd.pid
AuthorizedKeysFile {d}/authorized_keys
StrictModes no
UsePAM no
PermitRootLogin yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
MaxStartups 100
MaxSessions 100
ClientAliveInterval 5
Subsystem sftp internal-sftp
LogLevel VERBOSE
""")
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation directory
    with (d / "sshd.log").open("wb") as log:
        proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(d / "sshd_config")],
                                stdout=log, stderr=log)
    deadline = time.monotonic() + 15
    while True:
        with contextlib.suppress(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"sshd did not start: {(d / 'sshd.log').read_text()[-2000:]}")
        time.sleep(0.05)
    return SSHServer(port, d, getpass.getuser(), d / "user_key", host_pub, known,
                     *password_user, proc)


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SSHServer]:
    """The session's sshd; the suite fails (not skips) if OpenSSH is not installed."""
    user = _password_user()
    server = start_sshd(tmp_path_factory.mktemp("sshd"), user)
    try:
        yield server
    finally:
        server.proc.terminate()
        server.proc.wait(timeout=10)
        if user[0]:  # no account with a password outlives the session
            subprocess.run(["userdel", "-r", user[0]], capture_output=True)
