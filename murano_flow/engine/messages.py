"""States that wait for a RabbitMQ message (an alarm from a monitoring system, say).

Each waiting state gets a durable queue of its own, bound to the blueprint's exchange
and routing key, declared when the state starts waiting and deleted when it stops:
messages that arrive while no engine runs stay in it. One I/O thread per engine run
consumes the queues, judges each message and writes the ones that count into the
deployment's inbox in the journal *before* acking it (at least once into the inbox;
the engine applies an entry only to a node that still waits, so once in effect).

A message is:
  ignored   when it does not pass the state's ``match`` filter (acked, logged);
  rejected  when it is not a JSON object, is too big, lacks the state's declared
            outputs, or was not published by ``from_user`` - RabbitMQ checks the
            ``user_id`` property against the publisher's login, so it cannot be
            forged by anyone without that login (acked, logged, reported in the
            deployment's event log, changes nothing);
  accepted  otherwise: its body becomes the state's outputs.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..blueprint.spec import Node
from ..errors import BrokerUnreachable, ConnectError
from ..store.base import Signal, Store
from ..wire.broker import keep_connected
from ..wire.masking import masked_url
from .waits import data_problem, judge_message, queue_name

log = logging.getLogger(__name__)

#: Largest message body accepted, in bytes.
MAX_BODY = 1 << 20
#: Seconds the I/O thread blocks in the broker's event loop between looks at requests.
TICK = 0.2
#: On close, how long pending queue deletions may wait for an unreachable broker.
CLOSE_LIMIT = 5.0
#: How long a state may take to start waiting (its queue bound) before it fails.
SUBSCRIBE_LIMIT = 30.0


@dataclass
class _Subscription:
    deployment: str
    node: Node
    match: dict[str, Any]
    queue: str
    tag: str = ""
    #: Set once the queue is bound and consumed (or ``error`` says why it cannot be).
    ready: threading.Event = field(default_factory=threading.Event)
    error: str = ""


class MessageWaits:
    """The broker subscriptions of one engine run's waiting states."""

    def __init__(self, url: str, store: Store, wake: Callable[[], None]) -> None:
        import pika  # imported here: a local-only install does not need pika

        self._pika = pika
        self.url, self.store, self.wake = url, store, wake
        self._subs: dict[str, _Subscription] = {}
        self._by_tag: dict[str, _Subscription] = {}
        self._forget: set[str] = set()
        self._requests: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._closed = threading.Event()
        self._channel: Any = None
        self._problem = ""
        self._closing_since = 0.0
        self._thread = threading.Thread(target=self._loop, name="message-waits", daemon=True)
        self._thread.start()

    # -- the engine-thread side ----------------------------------------------------

    def subscribe(self, deployment: str, node: Node, match: dict[str, Any]) -> None:
        """Consume the queue of ``node``, declared and bound if new; return once it is.

        The engine journals the state as waiting only after this returns, so a message
        published after that is kept by the broker whatever happens to the engine.

        Raises:
            ConnectError: the broker could not be reached, or refused the queue.
        """
        sub = _Subscription(deployment, node, match, queue_name(deployment, node.name))
        self._requests.put(("subscribe", sub))
        if not sub.ready.wait(SUBSCRIBE_LIMIT):
            sub.error = (f"cannot reach the broker at {masked_url(self.url)} within "
                         f"{SUBSCRIBE_LIMIT:g}s ({self._problem or 'no answer'})")
        if sub.error:
            self.unsubscribe(deployment, node.name, forget=False)
            raise ConnectError(f"{node.name} cannot wait for a message: {sub.error}",
                               hint="start RabbitMQ (rabbitmq-server -detached) or fix "
                                    "--broker / MURANO_FLOW_BROKER, then resume")

    def unsubscribe(self, deployment: str, node: str, forget: bool) -> None:
        """Stop consuming for ``node``; with ``forget`` delete its queue too."""
        self._requests.put(("forget" if forget else "cancel", queue_name(deployment, node)))

    def close(self) -> None:
        """Stop consuming; queued deletions are done first (within CLOSE_LIMIT)."""
        self._closed.set()
        self._thread.join(timeout=CLOSE_LIMIT + 5)

    # -- the I/O thread ------------------------------------------------------------

    def _loop(self) -> None:
        keep_connected(self.url, self._session, what="message waits (messages wait in their "
                       "queues meanwhile)", until=self._finished, wait=time.sleep,
                       on_down=self._down)

    def _finished(self) -> bool:
        """Take new requests; True once closed with its queue deletions done (or given up
        on after CLOSE_LIMIT)."""
        self._take_requests()
        if not self._closed.is_set():
            return False
        self._closing_since = self._closing_since or time.monotonic()
        return not self._forget or time.monotonic() - self._closing_since > CLOSE_LIMIT

    def _down(self, error: BrokerUnreachable, down_for: float) -> None:
        self._problem = error.reason

    def _session(self, conn: Any, outage: float) -> bool:
        try:
            self._serve(conn)
        finally:
            self._channel = None
            self._by_tag.clear()
        return True

    def _serve(self, conn: Any) -> None:
        self._channel = conn.channel()
        self._channel.basic_qos(prefetch_count=16)
        for sub in list(self._subs.values()):
            self._consume(sub)
        while True:
            self._take_requests()
            for name in list(self._forget):
                self._channel.queue_delete(name)
                self._forget.discard(name)
            if self._closed.is_set():
                return
            conn.process_data_events(time_limit=TICK)

    def _take_requests(self) -> None:
        while True:
            try:
                what, arg = self._requests.get_nowait()
            except queue.Empty:
                return
            if what == "subscribe":
                self._subs[arg.queue] = arg
                self._forget.discard(arg.queue)
                if self._channel is not None:
                    self._consume(arg)
                continue
            sub = self._subs.pop(arg, None)
            if sub is not None and sub.tag and self._channel is not None:
                self._channel.basic_cancel(sub.tag)
                self._by_tag.pop(sub.tag, None)
            if what == "forget":
                self._forget.add(arg)

    def _consume(self, sub: _Subscription) -> None:
        spec = sub.node.wait
        assert spec is not None
        try:
            self._declare_exchange(spec.exchange, spec.exchange_type)
            self._channel.queue_declare(sub.queue, durable=True)
            self._channel.queue_bind(sub.queue, spec.exchange, routing_key=spec.routing_key)
        except self._pika.exceptions.ChannelClosedByBroker as exc:  # e.g. 403 access refused
            sub.error = f"the broker refused queue {sub.queue}: {exc.reply_text}"
            self._subs.pop(sub.queue, None)
            sub.ready.set()
            raise  # the channel is closed: reconnect, consuming the others again
        sub.tag = self._channel.basic_consume(sub.queue, self._on_message)
        self._by_tag[sub.tag] = sub
        sub.ready.set()
        log.info("%s: consuming %s (exchange %s, key %s)", sub.node.name, sub.queue,
                 spec.exchange, spec.routing_key)

    def _declare_exchange(self, name: str, kind: str) -> None:
        """Declare the exchange (durable) so the binding has something to bind to; one
        that its publisher declared otherwise is used as it is."""
        # On a channel of its own: a refusal closes the channel it happens on.
        channel = self._channel.connection.channel()
        try:
            channel.exchange_declare(name, exchange_type=kind, durable=True)
        except self._pika.exceptions.ChannelClosedByBroker as exc:
            if exc.reply_code != 406:  # 406 PRECONDITION_FAILED: it exists, declared otherwise
                raise
        finally:
            if channel.is_open:
                channel.close()

    def _on_message(self, channel: Any, method: Any, props: Any, body: bytes) -> None:
        sub = self._by_tag.get(method.consumer_tag)
        if sub is None:  # cancelled meanwhile: leave it in the queue for the next engine
            channel.basic_nack(method.delivery_tag, requeue=True)
            return
        spec = sub.node.wait
        assert spec is not None
        user = getattr(props, "user_id", None) or ""
        source = (f"message from {user or 'a publisher without user_id'} via "
                  f"{spec.exchange}/{method.routing_key}")
        data, problem = _judge(sub, user, body)
        if problem is None:  # it did not pass the filter: not for this state
            log.info("%s: ignored a %s", sub.node.name, source)
            channel.basic_ack(method.delivery_tag)
            return
        status = "rejected" if problem else "new"
        if problem:
            log.warning("%s: rejected a %s: %s", sub.node.name, source, problem)
        try:
            self.store.add_signal(Signal(sub.deployment, sub.node.name, time.time(), "message",
                                         source, data if not problem else {}, status, problem))
        except Exception:  # the journal is unreachable: the broker keeps the message
            log.exception("%s: cannot journal a message; it goes back to its queue",
                          sub.node.name)
            channel.basic_nack(method.delivery_tag, requeue=True)
            time.sleep(1)
            return
        channel.basic_ack(method.delivery_tag)
        with contextlib.suppress(Exception):
            self.wake()


def _judge(sub: _Subscription, user: str, body: bytes) -> tuple[dict[str, Any], str | None]:
    """(data, problem): problem '' accepts it, a text rejects it, None ignores it."""
    spec = sub.node.wait
    assert spec is not None
    if len(body) > MAX_BODY:
        return {}, f"the body is larger than {MAX_BODY} bytes"
    data, problem = judge_message(body, user, spec.from_user, sub.match)
    if problem == "":  # it passes: does it carry what the state declares?
        problem = data_problem(sub.node, data)
    return data, problem
