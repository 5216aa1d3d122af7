"""Publish every journaled event to a RabbitMQ topic exchange.

A relay from the journal (the transactional-outbox pattern): engines only write the
journal; this process reads its event feed in order, publishes each event with
publisher confirms, and saves how far it got in the journal *after* the broker
confirmed. Nothing an engine journals is lost to a broker outage or a crash of the
relay: delivery is at least once, in journal order, and each message carries the
event's ``seq`` so that consumers drop the rare duplicate. One relay serves every
engine that writes the journal. Format: docs/notifications.md and
docs/notification.schema.json.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

from ..errors import BrokerUnreachable, ConnectError
from ..store.base import Event, Store
from ..wire.broker import Backoff, broker_error, connect, connection_lost
from ..wire.masking import masked_url
from .documents import event_dict

log = logging.getLogger(__name__)

#: The ``schema`` field of every notification.
SCHEMA = "murano-flow.event/1"
#: Events read from the journal (and published) per batch.
BATCH = 500
#: Seconds between looks at the journal when there is nothing new.
POLL = 0.5


def routing_key(e: Event) -> str:
    """``<deployment>.<kind>``: bind ``web.*`` for one deployment, ``*.failed`` for
    failures everywhere, ``#`` for all (dots in ids become '_': they separate words)."""
    return f"{e.deployment.replace('.', '_')}.{e.kind}"


def body(e: Event) -> dict[str, Any]:
    """The JSON document published for ``e`` (see docs/notification.schema.json)."""
    doc = {"schema": SCHEMA, **event_dict(e)}
    doc["time"] = datetime.fromtimestamp(e.ts, UTC).isoformat()
    return doc


class Relay:
    """Publishes the journal's events from a saved cursor, with confirms."""

    def __init__(self, store: Store, url: str, exchange: str) -> None:
        import pika  # imported here: a local-only install does not need pika

        self._pika = pika
        self.store, self.url, self.exchange = store, url, exchange
        self.name = f"notify:{exchange}"
        self._conn: Any = None
        self._channel: Any = None

    def run(self, *, once: bool, start: int | None) -> int:
        """Publish until stopped (or, with ``once``, until caught up); return the count."""
        if start is not None:
            self.store.set_cursor(self.name, start)
        sent = 0
        try:
            while True:
                batch = self.store.feed(self.store.cursor(self.name), BATCH)
                if batch:
                    self._publish(batch, give_up=3 if once else 0)
                    self.store.set_cursor(self.name, batch[-1].seq)  # only once confirmed
                    sent += len(batch)
                elif once:
                    return sent
                else:
                    time.sleep(POLL)
        finally:
            if self._conn is not None and self._conn.is_open:
                self._conn.close()

    def _publish(self, batch: list[Event], give_up: int) -> None:
        pika, backoff, attempt = self._pika, Backoff(first=0.4, most=10.0), 0
        errors: tuple[type[BaseException], ...] = (BrokerUnreachable, *connection_lost())
        while True:
            attempt += 1
            try:
                channel = self._open()
                for e in batch:
                    channel.basic_publish(
                        self.exchange, routing_key(e), json.dumps(body(e)).encode(),
                        pika.BasicProperties(content_type="application/json", delivery_mode=2,
                                             message_id=str(e.seq), type=e.kind,
                                             timestamp=int(e.ts)))
                return
            except errors as exc:
                self._conn = self._channel = None
                reason = exc.reason if isinstance(exc, BrokerUnreachable) else broker_error(exc)
                if attempt == give_up:
                    raise ConnectError(f"cannot publish events to the broker at "
                                       f"{masked_url(self.url)}: {reason}",
                                       hint="nothing was marked as published: the next run "
                                            "starts from the same event") from exc
                delay = backoff.next()
                log.warning("cannot publish events to %s (%s); again in %.1fs", self.exchange,
                            reason, delay)
                time.sleep(delay)

    def _open(self) -> Any:
        if self._channel is None or not self._channel.is_open:
            self._conn = connect(self.url)
            self._channel = self._conn.channel()
            self._channel.exchange_declare(self.exchange, exchange_type="topic", durable=True)
            self._channel.confirm_delivery()  # basic_publish now returns once confirmed
        return self._channel


def relay_events(store: Store, url: str, exchange: str, *, from_start: bool, once: bool) -> int:
    """Publish the journal's events to ``exchange`` from where the last relay to it stopped
    (on the very first run: from the end, or with ``from_start`` the beginning); return how
    many. Runs until interrupted unless ``once``.

    Raises:
        ConnectError: pika is not installed, or (with ``once``) the broker stayed away.
    """
    start = 0 if from_start else None
    if start is None and store.cursor(f"notify:{exchange}") == 0:
        start = store.newest_event()
    try:
        relay = Relay(store, url, exchange)
    except ImportError as exc:
        raise ConnectError("notifications need pika", hint="pip install 'murano-flow[amqp]'") \
            from exc
    return relay.run(once=once, start=start)
