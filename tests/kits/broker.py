"""Real-broker fixtures, shared by tests/amqp and tests/faults (their conftest files import
them): a RabbitMQ URL, a TCP forwarder that can cut connections, and guest agents run
as separate processes (killable, restartable)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pika
import pytest

from kits.common import AGENT_SECRET, test_ca
from murano_flow.wire.signing import agent_key

#: Read before the autouse fixture clears MURANO_FLOW_* variables.
BROKER = os.environ.get("MURANO_FLOW_BROKER", "amqp://guest:guest@127.0.0.1:5672/%2F")
SECRET = AGENT_SECRET


@pytest.fixture(scope="session")
def broker_url() -> str:
    """The real broker; the suite fails (not skips) if it is down: `make test` starts it."""
    try:
        pika.BlockingConnection(pika.URLParameters(BROKER)).close()
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"RabbitMQ is not reachable at {BROKER} ({exc!r}); start it with "
                    "`rabbitmq-server -detached` or set MURANO_FLOW_BROKER")
    return BROKER


#: AMQP 0-9-1 Connection.Open: class 10, method 40, at the start of a method frame's payload.
OPEN_METHOD = b"\x00\x0a\x00\x28"


class Forwarder:
    """A TCP forwarder in front of the broker whose connections the test can cut."""

    def __init__(self, target: str) -> None:
        parts = urlsplit(target)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 5672)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = target.replace(f"{parts.hostname}:{parts.port or 5672}",
                                  f"127.0.0.1:{self.port}", 1)
        self._live: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.cuts = 0
        #: While set, the broker is out of reach: connections are closed as they come.
        self.down = threading.Event()
        #: Every byte that crossed the forwarder, both ways (what a capture would see).
        self.wire = bytearray()
        #: How many of the next connections to drop when the client opens the virtual
        #: host (Connection.Open): pika then guesses "access denied" from the closed socket.
        self.break_handshakes = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.down.is_set():
                self._close(client)
                continue
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._live.update((client, upstream))
                breaks = self.break_handshakes > 0
                self.break_handshakes -= breaks
            threading.Thread(target=self._pump, args=(client, upstream, breaks),
                             daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, breaks: bool = False) -> None:
        try:
            while data := src.recv(65536):
                if breaks and OPEN_METHOD in data:
                    break  # the connection dies as the virtual host is opened
                with self._lock:
                    self.wire += data
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            self._close(s)

    def _close(self, s: socket.socket) -> None:
        with self._lock:
            self._live.discard(s)
        with contextlib.suppress(OSError):
            s.shutdown(socket.SHUT_RDWR)
        s.close()

    def cut(self) -> int:
        """Drop every connection open through the forwarder; how many sockets."""
        with self._lock:
            live = list(self._live)
        for s in live:
            self._close(s)
        self.cuts += 1
        return len(live)

    @contextlib.contextmanager
    def outage(self) -> Iterator[None]:
        """The broker out of reach for the block: live connections cut, new ones refused."""
        self.down.set()
        self.cut()
        try:
            yield
        finally:
            self.down.clear()

    def close(self) -> None:
        self.listener.close()
        self.cut()


@pytest.fixture
def forwarder(broker_url: str) -> Iterator[Forwarder]:
    fwd = Forwarder(broker_url)
    yield fwd
    fwd.close()


class AgentProcess:
    """One guest agent in its own process, as on a VM."""

    def __init__(self, root: Path, broker: str, queue: str, env: dict[str, str] | None = None,
                 **overrides: object) -> None:
        self.queue, self.root, self.env = queue, root, env
        root.mkdir(exist_ok=True)
        self.config = root / f"{queue}.json"
        cfg = {"broker": broker, "queue": queue, "key": agent_key(SECRET, queue),
               "spool": str(root / queue), "heartbeat": 0.5,
               "log_file": str(root / f"{queue}.log"), **overrides}
        self.config.write_text(json.dumps(cfg))
        self.log = root / f"{queue}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> AgentProcess:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "murano_flow_agent", "--config", str(self.config)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            env={**os.environ, **self.env} if self.env else None)
        self.starts += 1
        return self

    def wait_log(self, text: str, timeout: float = 20.0, count: int = 1) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.log.exists() and self.log.read_text().count(text) >= count:
                return
            time.sleep(0.05)
        raise AssertionError(f"agent log never said {text!r}:\n{self.log_text()}")

    def log_text(self) -> str:
        return self.log.read_text() if self.log.exists() else "(no log)"

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def agents(tmp_path: Path, broker_url: str) -> Iterator[Callable[..., AgentProcess]]:
    """Make agents (name -> AgentProcess) on fresh queues; all stopped afterwards."""
    made: list[AgentProcess] = []

    def make(name: str = "a", *, broker: str | None = None, start: bool = True,
             **overrides: object) -> AgentProcess:
        queue = f"mf-test.{name}.{uuid.uuid4().hex[:8]}"
        agent = AgentProcess(tmp_path / "agents", broker or broker_url, queue, **overrides)
        made.append(agent)
        return agent.start() if start else agent

    yield make
    retire(made, broker_url)


def retire(agents: list[AgentProcess], broker_url: str) -> None:
    """Stop ``agents`` and delete their queues."""
    for agent in agents:
        agent.stop()
    with pika.BlockingConnection(pika.URLParameters(broker_url)) as conn:
        channel = conn.channel()
        for agent in agents:
            channel.queue_delete(agent.queue)


@pytest.fixture
def exchange(broker_url: str) -> Iterator[str]:
    """A durable exchange name of the test's own, deleted afterwards."""
    name = f"mf-test-{uuid.uuid4().hex[:8]}"
    yield name
    conn = pika.BlockingConnection(pika.URLParameters(broker_url))
    conn.channel().exchange_delete(name)
    conn.close()


def publish(url: str, exchange: str, key: str, body: object, user_id: str | None = None
            ) -> None:
    """Publish ``body`` (JSON, or bytes as they are), with ``user_id`` if given."""
    conn = pika.BlockingConnection(pika.URLParameters(url))
    try:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        props = pika.BasicProperties(user_id=user_id) if user_id else None
        conn.channel().basic_publish(exchange, key, raw, props)
    finally:
        conn.close()


def queue_exists(url: str, name: str) -> bool:
    """Whether the broker has a queue called ``name``."""
    conn = pika.BlockingConnection(pika.URLParameters(url))
    try:
        conn.channel().queue_declare(name, passive=True)
        return True
    except pika.exceptions.ChannelClosedByBroker as exc:
        assert exc.reply_code == 404, exc
        return False
    finally:
        if conn.is_open:
            conn.close()


def reply_queue(channel: Any, name: str) -> str:
    """Declare ``name`` as an engine declares its results queue (exclusive here), bound to
    the results exchange agents publish to; return it."""
    from murano_flow.wire.protocol import RESULTS_EXCHANGE

    channel.queue_declare(name, exclusive=True)  # gone with the connection
    channel.exchange_declare(RESULTS_EXCHANGE, "direct", durable=True)
    channel.queue_bind(name, RESULTS_EXCHANGE, routing_key=name)
    return name


@dataclass
class TlsBroker:
    """A second, real RabbitMQ node with only a TLS listener, its certificate made by a CA
    the test made: ``url`` trusts that CA (``?cafile=``), ``untrusted`` does not."""

    url: str
    untrusted: str
    ca: Path


@pytest.fixture(scope="session")
def tls_broker() -> Iterator[TlsBroker]:
    """Start the TLS node for the session (as the rabbitmq user, like the system's own
    node); the suite fails, not skips, when it cannot."""
    import tempfile

    from kits.common import free_ports, wait_until

    home = Path(tempfile.mkdtemp(prefix="mf-tls-"))
    port, dist = free_ports(2)
    test_ca(home)
    (home / "rabbitmq.conf").write_text("\n".join([
        "listeners.tcp = none", f"listeners.ssl.default = 127.0.0.1:{port}",
        *(f"ssl_options.{k} = {home / v}" for k, v in (
            ("cacertfile", "ca.pem"), ("certfile", "server.pem"), ("keyfile", "server.key"))),
        "ssl_options.verify = verify_none", "ssl_options.fail_if_no_peer_cert = false", ""]))
    (home / "enabled_plugins").write_text("[].\n")
    subprocess.run(["chown", "-R", "rabbitmq:rabbitmq", str(home)], check=True)
    node = f"mf-tls-{port}@localhost"
    env = {"HOME": "/var/lib/rabbitmq", "PATH": os.environ.get("PATH", ""),
           "RABBITMQ_NODENAME": node, "RABBITMQ_DIST_PORT": str(dist),
           "RABBITMQ_CONFIG_FILE": str(home / "rabbitmq"),
           "RABBITMQ_MNESIA_BASE": str(home / "mnesia"), "RABBITMQ_LOG_BASE": str(home / "log"),
           "RABBITMQ_ENABLED_PLUGINS_FILE": str(home / "enabled_plugins"),
           "RABBITMQ_PID_FILE": str(home / "pid")}
    started = subprocess.run(
        ["runuser", "-u", "rabbitmq", "--", "env", *(f"{k}={v}" for k, v in env.items()),
         "/usr/lib/rabbitmq/bin/rabbitmq-server", "-detached"], capture_output=True, text=True,
        timeout=120)
    if started.returncode != 0:
        pytest.fail(f"cannot start a RabbitMQ node with a TLS listener: {started.stderr}")

    def listening() -> bool:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return True
        return False

    wait_until(listening, f"the TLS node {node} to listen on {port}", timeout=180)
    base = f"amqps://guest:guest@localhost:{port}/%2F"
    yield TlsBroker(f"{base}?cafile={home / 'ca.pem'}", base, home / "ca.pem")
    with contextlib.suppress(OSError, ValueError):
        os.kill(int((home / "pid").read_text()), signal.SIGTERM)
    wait_until(lambda: not listening(), f"the TLS node {node} to stop", timeout=120)
    subprocess.run(["rm", "-rf", str(home)], check=False)
