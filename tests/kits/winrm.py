"""The WinRM test peer (tests/kits/winrmpeer.py) as fixtures: one over HTTPS with a throwaway
self-signed certificate, one over plain HTTP that accepts only NTLM-sealed messages,
each a separate process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

PEER = Path(__file__).with_name("winrmpeer.py")
USER, PASSWORD = "Administrator", "Pa55w.rd-for-the-peer"


@dataclass
class WinRMPeer:
    """How to reach a running peer, and where it runs commands."""

    port: int
    scheme: str
    workdir: Path
    ca_file: str
    proc: subprocess.Popen

    def host(self, **options: Any) -> dict[str, Any]:
        """A host mapping for this peer (NTLM, the default auth, unless ``options`` say)."""
        opts: dict[str, Any] = {"scheme": self.scheme, "python": sys.executable,
                                "operation_timeout": 2}
        if self.ca_file:
            opts["ca_file"] = self.ca_file
        opts.update(options)
        return {"transport": "winrm", "name": "win", "address": "127.0.0.1", "port": self.port,
                "user": USER, "password": PASSWORD,
                "options": {k: v for k, v in opts.items() if v is not None}}

    def wire(self) -> list[str]:
        """How each message arrived (sealed/plain, NTLM or not), oldest first."""
        return (self.workdir / "wire.log").read_text().splitlines()

    def receives(self) -> list[tuple[int, int]]:
        """(response bytes, MaxEnvelopeSize the client asked for) of each Receive answered."""
        lines = (self.workdir / "receive.log").read_text().splitlines()
        return [(int(a), int(b)) for a, b in (ln.split() for ln in lines)]

    @property
    def boots(self) -> int:
        return int((self.workdir / "boots").read_text())


def start_peer(tmp: Path, tls: tuple[str, str] | None, *, basic: bool = False,
               port: int = 0, extra: tuple[str, ...] = (),
               env: dict[str, str] | None = None) -> WinRMPeer:
    """A peer process with its workdir under ``tmp``, on ``port`` (a free one by default);
    ``extra`` are more of its options (--address, --domain, --reboot-scale, --downtime)."""
    if not port:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
    work = tmp / "work"
    work.mkdir()
    argv = [sys.executable, str(PEER), "--port", str(port), "--user", USER, "--password",
            PASSWORD, "--workdir", str(work), "--downtime", "2", *extra]
    if tls:
        argv += ["--tls", *tls]
    if basic:
        argv.append("--basic")
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, **(env or {})})
    line = proc.stdout.readline()
    if line.strip() != "ready":
        proc.kill()
        pytest.fail(f"the WinRM peer did not start: {line}{proc.stdout.read()}")
    return WinRMPeer(port, "https" if tls else "http", work, tls[0] if tls else "", proc)


@pytest.fixture(scope="session")
def winrm_https(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WinRMPeer]:
    d = tmp_path_factory.mktemp("winrm-https")
    cert, key = str(d / "cert.pem"), str(d / "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    peer = start_peer(d, (cert, key), basic=True)  # a host whose Basic auth was turned on
    yield peer
    peer.proc.terminate()
    peer.proc.wait(10)


@pytest.fixture(scope="session")
def winrm_http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WinRMPeer]:
    peer = start_peer(tmp_path_factory.mktemp("winrm-http"), None)
    yield peer
    peer.proc.terminate()
    peer.proc.wait(10)
