"""A real ``murano-flow serve`` process on a free port over a fresh SQLite journal, with
one token per scope, and an HTTP client for it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from .common import BLUEPRINTS, free_ports, wait_until

MF = [sys.executable, "-m", "murano_flow"]


@dataclass
class ApiServer:
    """A running API server: its URL, home, journal URL, a token per scope, its log."""

    url: str
    home: Path
    store: str
    proc: subprocess.Popen[bytes]
    log: Path
    tokens: dict[str, str] = field(default_factory=dict)

    def client(self, scope: str | None = "admin") -> httpx.Client:
        """A client sending the token of ``scope`` (None: no token)."""
        headers = {"Authorization": f"Bearer {self.tokens[scope]}"} if scope else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """A murano-flow command against the same journal and home."""
        return subprocess.run([*MF, "--store", self.store, "--home", str(self.home), *args],
                              input=stdin, capture_output=True, text=True, check=False,
                              cwd=self.home.parent)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def start(tmp_path: Path, store: str | None = None, *extra: str,
          tokens: dict[str, str] | None = None) -> ApiServer:
    """Start a server (the caller stops it with :func:`stop`) with ``tokens``, or new ones
    made with the CLI."""
    home = tmp_path / "home"
    home.mkdir(parents=True, exist_ok=True)
    store = store or f"sqlite:///{home}/journal.db"
    port = free_ports(1)[0]
    log = tmp_path / f"serve-{port}.log"
    scheme = "https" if "--tls-cert" in extra else "http"
    server = ApiServer(f"{scheme}://127.0.0.1:{port}", home, store, None, log)  # type: ignore[arg-type]
    for scope in ("read", "operate", "admin"):
        if tokens:
            server.tokens[scope] = tokens[scope]
            continue
        made = server.cli("token", "create", f"{scope}-tests", "--scope", scope)
        assert made.returncode == 0, made.stderr
        server.tokens[scope] = made.stdout.strip()
    with log.open("wb") as out:
        server.proc = subprocess.Popen(
            [*MF, "--store", store, "--home", str(home), "serve", "--listen",
             f"127.0.0.1:{port}", *extra], stdout=out, stderr=subprocess.STDOUT,
            cwd=tmp_path, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    wait_until(lambda: _healthy(server), f"the API server on port {port} ({log})",
               timeout=60)
    return server


def _healthy(server: ApiServer) -> bool:
    if server.proc.poll() is not None:
        raise AssertionError(f"serve exited {server.proc.returncode}: {server.log_text()}")
    try:  # a TLS server's certificate is checked by the test itself
        return httpx.get(f"{server.url}/healthz", timeout=5, verify=False).status_code == 200
    except httpx.HTTPError:
        return False


def stop(server: ApiServer) -> None:
    """SIGTERM the server and reap it."""
    if server.proc.poll() is None:
        server.proc.send_signal(signal.SIGTERM)
        try:
            server.proc.wait(30)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait()


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiServer]:
    """A fresh API server over SQLite."""
    server = start(tmp_path)
    yield server
    stop(server)


def bundle(name: str = "webfarm.yaml") -> dict[str, Any]:
    """The upload body of one of the shipped blueprints (as ``murano-flow bundle``)."""
    out = subprocess.run([*MF, "bundle", str(BLUEPRINTS / name)], capture_output=True,
                         text=True, check=True)
    return dict(json.loads(out.stdout))


def sse(lines: Iterator[str]) -> Iterator[dict[str, str]]:
    """Server-Sent Events messages (id, event, data) from a stream's lines."""
    message: dict[str, str] = {}
    for line in lines:
        if not line:
            if message:
                yield message
            message = {}
        elif not line.startswith(":"):
            key, _, value = line.partition(":")
            message[key] = value[1:] if value.startswith(" ") else value
