"""The amqp transport: plans pushed to guest agents through RabbitMQ.

One :class:`Broker` per engine run owns one pika connection, driven by its own I/O
thread (pika is not thread-safe); every agent host of the run is an
:class:`AgentTransport` sharing it. A worker thread's ``send`` hands its plan to
the I/O thread and waits for the agent's result.

* Plans go to the agent's durable queue (declared on demand), persistent, with
  ``mandatory`` and publisher confirms; a plan not confirmed when the connection
  drops is published again after the reconnect (the agent deduplicates by plan id).
* Notices come back on this engine's durable results queue: "accepted" (the plan
  is in the agent's spool), "heartbeat" (still running), "result". Each is
  verified with the key of the agent the plan went to; forged, altered, replayed
  or misdirected ones are logged and ignored, duplicates dropped.
* Every plan carries, in its signed body, the queue for its notices and the time by
  which an agent must have taken it (``ready_timeout`` after it was published); an
  agent refuses it after that, so a plan the engine stopped waiting for never runs late.
* Silence is not failure. When the engine stops hearing about a plan it handed to the
  broker - no agent took it within ``ready_timeout``, the agent went quiet for
  ``heartbeat_timeout``, or the broker stayed out of reach past the plan's own deadline
  - the call raises :class:`~murano_flow.errors.InDoubt` with a diagnosis of which it
  was: the node keeps its plan id and a later run asks the agent for that plan again.
  Only a plan that never reached the broker fails as unreachable (it cannot have run).
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..durations import seconds
from ..errors import (
    BrokerUnreachable,
    ConnectError,
    DecodeError,
    InDoubt,
    SignatureError,
    TransportError,
    UsageError,
)
from ..wire.broker import connection_lost, keep_connected
from ..wire.masking import masked_url
from ..wire.protocol import RESULTS_EXCHANGE, Notice, Plan, Result
from ..wire.signing import AGENT, ReplayGuard, agent_key, decrypt, encrypt, new_key, sign, verify
from ..wire.tally import TALLY
from .base import Transport

log = logging.getLogger(__name__)

#: A results queue nobody consumes for this long is deleted by the broker.
RESULTS_EXPIRE_MS = 24 * 3600 * 1000
#: How long one turn of the I/O loop waits for broker traffic.
TICK = 0.1


@dataclass(frozen=True)
class Limits:
    """How long the engine waits on an agent, from the host's ``options``."""

    ready_timeout: float = 600.0      # plan queued, nobody took it
    heartbeat_timeout: float = 60.0   # plan taken, then silence
    reboot_timeout: float = 1800.0    # silence allowed while a reboot step runs

    @classmethod
    def from_options(cls, options: Any) -> Limits:
        """Limits from a host's ``options`` mapping; UsageError for a bad value."""
        options = options if isinstance(options, dict) else {}
        values: dict[str, float] = {}
        for name in cls.__dataclass_fields__:
            if name in options:
                try:
                    values[name] = seconds(options[name])
                except ValueError as exc:
                    raise UsageError(f"host option {name}: {exc}") from None
        return cls(**values)


@dataclass(eq=False)
class _Call:
    """One plan on its way to an agent and back."""

    plan: Plan
    queue: str
    key: str
    limits: Limits
    state: str = "queued"   # queued -> published -> accepted
    deadline: float = 0.0
    #: Handed to the broker at least once (so an agent may have it): from then on only
    #: its result, or doubt, ends the call - never "unreachable".
    sent: bool = False
    #: When a broker outage makes it in doubt: past any moment the agent could still be
    #: taking or running it (monotonic seconds).
    give_up: float = 0.0
    done: threading.Event = field(default_factory=threading.Event)
    result: Result | None = None
    error: TransportError | None = None

    def finish(self, result: Result | None = None, error: TransportError | None = None) -> None:
        if not self.done.is_set():
            self.result, self.error = result, error
            self.done.set()


class Broker:
    """One RabbitMQ connection, its I/O thread, and the plans waiting on agents."""

    def __init__(self, url: str, secret: str, *, results_queue: str | None = None,
                 connect_timeout: float = 30.0) -> None:
        import pika  # imported here: a local-only install does not need pika

        self._pika = pika
        self.url, self.secret = url, secret
        self.results_queue = results_queue or f"murano-flow.results.{secrets.token_hex(6)}"
        self.connect_timeout = connect_timeout
        self._calls: dict[str, _Call] = {}
        self._outbox: deque[_Call] = deque()
        self._lock = threading.Lock()
        self._heard: set[str] = set()
        self._guard = ReplayGuard()
        self._conn: Any = None
        self._channel: Any = None
        self._declared: set[str] = set()
        self._flushing = False
        self._users = 0
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="amqp-io", daemon=True)
        self._thread.start()

    # -- the worker-thread side ------------------------------------------------

    def call(self, queue: str, plan: Plan, limits: Limits) -> Result:
        """Send ``plan`` to the agent on ``queue`` and wait for its result."""
        call = _Call(plan, queue, agent_key(self.secret, queue), limits)
        with self._lock:
            if self._closed.is_set():
                raise ConnectError("the broker connection is closed (the engine is stopping)")
            self._calls[plan.id] = call
            self._outbox.append(call)
        self._wake()
        call.done.wait()
        with self._lock:
            self._calls.pop(plan.id, None)
        if call.error:
            raise call.error
        assert call.result is not None
        return call.result

    @property
    def closed(self) -> bool:
        """Whether ``close`` was called (a new run needs a new Broker)."""
        return self._closed.is_set()

    def acquire(self) -> Broker:
        """Count one more transport using this connection."""
        with self._lock:
            self._users += 1
        return self

    def release(self) -> None:
        """One transport done; the last one closes the connection."""
        with self._lock:
            self._users -= 1
            last = self._users <= 0
        if last:
            self.close()

    def __enter__(self) -> Broker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def close(self) -> None:
        """Stop the I/O thread; plans still waiting fail (their agents keep them)."""
        self._closed.set()
        self._wake()
        self._thread.join(timeout=10)
        self._fail_all(InDoubt("stopped waiting: the engine is shutting down",
                               hint="the agents keep their plans; `murano-flow resume` "
                                    "collects the results"))

    def _wake(self) -> None:
        conn = self._conn
        if conn is not None:
            try:
                conn.add_callback_threadsafe(self._flush)
            except Exception:  # noqa: BLE001 - closing or reconnecting: the loop flushes later
                log.debug("wake-up skipped: connection not usable")

    # -- the I/O thread ----------------------------------------------------------

    def _loop(self) -> None:
        self._unsent_since = time.monotonic()
        keep_connected(self.url, self._session, what="amqp transport",
                       until=self._closed.is_set, wait=self._closed.wait, on_down=self._down)

    def _down(self, error: BrokerUnreachable, down_for: float) -> None:
        """Between attempts to reach the broker: fail what cannot have run, once waiting
        is hopeless; plans that went out are in doubt past their own deadline."""
        # Refused credentials or an untrusted certificate will not heal by waiting.
        if error.refused or time.monotonic() - self._unsent_since > self.connect_timeout:
            self._fail_unsent(error)
            self._unsent_since = time.monotonic()
        self._give_up_overdue(error.reason)

    def _session(self, conn: Any, outage: float) -> bool:
        try:
            self._serve(conn, outage)
        except connection_lost():
            raise
        except Exception as exc:  # a bug here must fail the waiting plans, not hang them
            log.exception("internal error in the amqp transport")
            self._fail_all(ConnectError(f"internal error in the amqp transport: {exc!r}"))
        finally:
            self._conn = self._channel = None
            self._unsent_since = time.monotonic()
        return False

    def _serve(self, conn: Any, outage: float) -> None:
        channel = conn.channel()
        channel.confirm_delivery()
        channel.queue_declare(self.results_queue, durable=True,
                              arguments={"x-expires": RESULTS_EXPIRE_MS})
        channel.exchange_declare(RESULTS_EXCHANGE, "direct", durable=True)
        channel.queue_bind(self.results_queue, RESULTS_EXCHANGE, routing_key=self.results_queue)
        # Manual acks: with auto_ack, notices in flight when a connection drops are lost.
        consumer = channel.basic_consume(self.results_queue, self._on_notice)
        self._declared = set()
        now = time.monotonic()
        with self._lock:
            for call in self._calls.values():
                if call.state == "queued" and call not in self._outbox:
                    self._outbox.append(call)  # its publish was never confirmed
                elif call.state != "queued":  # the outage was ours: agents were not silent
                    call.deadline = max(call.deadline + outage, now + TICK)
        self._conn, self._channel = conn, channel
        while not self._closed.is_set():
            self._flush()
            conn.process_data_events(time_limit=TICK)
            self._check_deadlines()
        # Nobody will read it again (a resumed engine re-sends plans to a queue of its own).
        # Our consumer goes first: a queue deleted under it makes the broker cancel it,
        # which pika reports as "consumer not found".
        with contextlib.suppress(self._pika.exceptions.AMQPError):
            channel.basic_cancel(consumer)
            channel.queue_delete(self.results_queue)

    def _flush(self) -> None:
        if self._flushing or self._channel is None:
            return
        self._flushing = True
        try:
            while True:
                with self._lock:
                    if not self._outbox:
                        return
                    call = self._outbox.popleft()
                if not call.done.is_set():
                    self._publish(call)
        finally:
            self._flushing = False

    def _publish(self, call: _Call) -> None:
        pika, channel = self._pika, self._channel
        if call.queue not in self._declared:
            try:
                channel.queue_declare(call.queue, durable=True)
            except pika.exceptions.ChannelClosedByBroker as exc:
                call.finish(error=ConnectError(
                    f"cannot use agent queue '{call.queue}': {exc.reply_text}",
                    hint="the queue exists with other settings; delete it (rabbitmqctl "
                         "delete_queue) or give the host another queue"))
                raise
            self._declared.add(call.queue)
        lim, plan = call.limits, call.plan
        # Not taken in time: the broker drops it and the agent refuses it (the time is
        # signed), so a late agent cannot run what the engine stopped waiting for.
        body = encrypt(call.key, replace(plan, expires=time.time() + lim.ready_timeout,
                                         reply_to=self.results_queue).encode())
        props = pika.BasicProperties(delivery_mode=2, content_type="application/octet-stream",
                                     type="plan", reply_to=self.results_queue,
                                     headers=sign(call.key, call.queue, body),
                                     expiration=str(int(lim.ready_timeout * 1000)))
        if not call.sent:  # from here on the broker may have it, even if unconfirmed
            call.sent = True
            quiet = lim.reboot_timeout if plan.reboot or plan.reboot_if_asked \
                else lim.heartbeat_timeout
            call.give_up = time.monotonic() + lim.ready_timeout + plan.timeout + quiet
        channel.basic_publish("", call.queue, body, props, mandatory=True)
        call.state, call.deadline = "published", time.monotonic() + call.limits.ready_timeout

    def _on_notice(self, channel: Any, method: Any, props: Any, body: bytes) -> None:
        self._handle(body, props.headers)
        channel.basic_ack(method.delivery_tag)  # after handling: a cut before it redelivers

    def _handle(self, body: bytes, headers: Any) -> None:
        agent = (headers or {}).get(AGENT)
        if not isinstance(agent, str) or not agent:
            log.warning("IGNORED a message on %s that names no agent", self.results_queue)
            return
        try:  # the agent's key authenticates the message, then opens it
            verify(agent_key(self.secret, agent), self.results_queue, body, headers,
                   guard=self._guard)
            notice = Notice.decode(decrypt(agent_key(self.secret, agent), body))
        except SignatureError as exc:
            log.warning("IGNORED a message claiming to come from agent '%s': %s (%s)",
                        agent, exc.reason, exc.cause)
            TALLY.add("agent_messages_ignored", "unauthenticated")
            return
        except DecodeError as exc:
            log.warning("ignored a malformed message from agent '%s': %s", agent, exc)
            return
        with self._lock:
            call = self._calls.get(notice.plan_id)
        if call is None or call.done.is_set():
            log.debug("dropped a %s for plan %s: nobody waits for it (a duplicate)",
                      notice.kind, notice.plan_id)
            return
        if agent != call.queue or notice.agent != agent:
            log.warning("IGNORED a %s for plan %s from agent '%s': the plan went to '%s'",
                        notice.kind, notice.plan_id, agent, call.queue)
            return
        self._heard.add(call.queue)
        TALLY.add("agent_notices", notice.kind)
        if notice.kind == "result":
            call.finish(result=notice.result)
            return
        call.state = "accepted"
        quiet = (call.limits.reboot_timeout if call.plan.reboot or call.plan.reboot_if_asked
                 else call.limits.heartbeat_timeout)
        call.deadline = time.monotonic() + quiet

    def _check_deadlines(self) -> None:
        now = time.monotonic()
        with self._lock:
            late = [c for c in self._calls.values()
                    if c.state != "queued" and not c.done.is_set() and now > c.deadline]
        for call in late:
            call.finish(error=self._silence(call))

    def _silence(self, call: _Call) -> InDoubt:
        """Which of "never came", "went away" and "stopped answering" this is; each leaves
        the plan in doubt (the agent may take or finish it unseen)."""
        lim, q, node = call.limits, call.queue, call.plan.node
        if call.state == "accepted":
            return InDoubt(
                f"the agent on queue '{q}' stopped heartbeating while running {node}: "
                f"nothing heard for {lim.heartbeat_timeout:g} s", host=q,
                hint="the VM may be down or the agent stopped; the plan stays in the agent's "
                     "spool, and `murano-flow resume` collects its result once the agent is back")
        try:
            consumers = self._channel.queue_declare(q, passive=True).method.consumer_count
        except self._pika.exceptions.ChannelClosedByBroker:
            consumers = 0  # the queue was deleted; the closed channel makes the loop reconnect
        if consumers == 0 and q not in self._heard:
            return InDoubt(
                f"no agent ever connected to queue '{q}' (waited {lim.ready_timeout:g} s "
                f"for it to take {node})", host=q,
                hint="check that the VM booted and its agent runs with a config from "
                     "`murano-flow agent config` for this queue (its log says why not); then "
                     "`murano-flow resume` sends the same plan again")
        if consumers == 0:
            return InDoubt(
                f"the agent on queue '{q}' went away: nothing consumes its queue, and {node} "
                f"waited {lim.ready_timeout:g} s", host=q,
                hint="restart the agent, then `murano-flow resume`: the agent answers the "
                     "plan from its spool if it took it, or runs it if it never did")
        return InDoubt(
            f"the agent on queue '{q}' is connected but did not accept {node} within "
            f"{lim.ready_timeout:g} s", host=q,
            hint="its log probably says REJECTED: its key does not match this engine's "
                 "agent secret (regenerate its config with `murano-flow agent config`), or "
                 "its clock is more than 5 minutes off; then `murano-flow resume`")

    def _fail_unsent(self, error: ConnectError) -> None:
        """Fail the calls whose plan never reached the broker: none of them can have run."""
        with self._lock:
            unsent = [c for c in self._calls.values() if not c.sent]
            self._outbox = deque(c for c in self._outbox if c.sent)
        for call in unsent:
            call.finish(error=error)

    def _give_up_overdue(self, problem: str) -> None:
        """With the broker out of reach, a plan that was sent is in doubt once its own
        deadline has passed (taken or not, run or not: nobody here can tell)."""
        now = time.monotonic()
        with self._lock:
            overdue = [c for c in self._calls.values() if c.sent and now > c.give_up]
        for call in overdue:
            call.finish(error=InDoubt(
                f"cannot reach the broker at {masked_url(self.url)} ({problem}) past the "
                f"deadline of {call.plan.node}: the agent on queue '{call.queue}' may have "
                "run it", host=call.queue,
                hint="the agent keeps the plan and its result; `murano-flow resume` asks "
                     "for it once the broker is back"))

    def _fail_all(self, error: TransportError) -> None:
        with self._lock:
            calls = list(self._calls.values())
            self._outbox.clear()
        for call in calls:
            call.finish(error=error)


def agent_queue(host: dict[str, Any]) -> str:
    """The queue of an amqp host: ``queue``, else derived from its name or address."""
    queue = host.get("queue") or host.get("name") or host.get("address")
    if not queue:
        raise UsageError("an amqp host needs a 'queue' (the queue its agent consumes)")
    return str(queue) if host.get("queue") else f"murano-flow.agent.{queue}"


def agent_secret(home: Path) -> str:
    """The engines' agent secret: MURANO_FLOW_AGENT_SECRET, else ``home/agent.secret``
    (created, private, on first use). Every engine that talks to the same agents needs it."""
    env = os.environ.get("MURANO_FLOW_AGENT_SECRET")
    if env:
        return env
    path = Path(home) / "agent.secret"
    try:
        return path.read_text("utf-8").strip()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(new_key())
        return path.read_text("utf-8").strip()


class AgentTransport(Transport):
    """One agent host: its queue and limits, over the run's shared Broker."""

    def __init__(self, broker: Broker, queue: str, limits: Limits) -> None:
        self.broker, self.queue, self.limits = broker.acquire(), queue, limits
        self._closed = False

    def send(self, plan: Plan) -> Result:
        """Push ``plan`` to the agent and wait for its result."""
        return self.broker.call(self.queue, plan, self.limits)

    def reattach(self, plan: Plan) -> Result:
        """Send ``plan`` again: the agent answers a plan id it has seen from its spool
        (or keeps running it) and runs one it never received, so this never runs twice."""
        return self.send(plan)

    def close(self) -> None:
        """Release the shared connection (once); agents keep running their plans."""
        if not self._closed:
            self._closed = True
            self.broker.release()

    detach = close
