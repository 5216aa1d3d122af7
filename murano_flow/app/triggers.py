"""Triggers as journaled objects that the engine services fire: deploy (or converge) a
stored blueprint at the times of a cron expression, or when a matching broker message
arrives. Registering one needs no process of its own; every engine service looks for
due cron triggers and consumes the message triggers' queues.

Exactly one engine fires a cron trigger for each time it is due: it first moves the
trigger's due time on in the journal (compare-and-set), then submits the deployment. An
engine that dies between the two loses that firing (its log says nothing was submitted);
a firing is never doubled. Messages go to one durable queue per trigger, which every
engine service consumes: each message is delivered to one of them, and the messages that
arrive together collapse into one firing (a converge looks at the whole deployment).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from datetime import UTC, datetime
from typing import Any

from ..engine.rows import check_id
from ..errors import MuranoFlowError, UsageError
from ..store.base import Store, Trigger
from ..store.sealing import seal, unseal
from ..wire.masking import MASK
from . import library
from .deployments import Submitted, deploy
from .schedule import Cron, MessageTrigger
from .settings import Settings

log = logging.getLogger(__name__)
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def register(settings: Settings, store: Store, trigger_id: str, *, blueprint: str,
             version: int | None, deployment: str, given: dict[str, Any],
             cron: str | None = None, timezone: str = "UTC", on_message: str | None = None,
             match: dict[str, Any] | None = None, from_user: str = "") -> Trigger:
    """Journal a trigger after checking everything a firing will need: the stored
    blueprint version binds to ``given``, the cron expression or message address parses.
    Secret parameters are sealed for the engines and masked in the record.

    Raises:
        UsageError: a bad id, spec or deployment id, or an id already taken.
        BlueprintError, NotFound: the blueprint version, or its parameters.
    """
    if not _ID.fullmatch(trigger_id):
        raise UsageError(f"bad trigger id {trigger_id!r}", hint="1 to 100 letters, digits, "
                         "'.', '_' or '-', starting with a letter or digit")
    if (cron is None) == (on_message is None):
        raise UsageError("a trigger has a cron expression or a message address (one of them)")
    if deployment:
        check_id(deployment)
    bp = library.bound(store.blueprint(blueprint, version), given)
    secret = {p.name: bp.values[p.name] for p in bp.parameters.values()
              if p.secret and p.name in given}
    params = {k: MASK if k in secret else v for k, v in given.items()}
    trigger = Trigger(trigger_id, "cron" if cron else "message", {}, blueprint, version,
                      deployment, params, seal(settings.secret(), secret) if secret else "",
                      created=time.time())
    if cron:
        Cron(cron, timezone)  # raises UsageError for a bad expression or zone
        trigger.spec = {"expr": cron, "timezone": timezone}
        trigger.due = next_due(trigger, time.time())
    else:
        exchange, sep, key = (on_message or "").partition(":")
        if not sep or not exchange or not key:
            raise UsageError(f"message address {on_message!r}: write EXCHANGE:ROUTING_KEY")
        trigger.spec = {"exchange": exchange, "key": key, "match": match or {},
                        "from_user": from_user}
    if not store.add_trigger(trigger):
        raise UsageError(f"trigger '{trigger_id}' exists", hint="remove it first, or pick "
                                                                "another id")
    return trigger


def remove(store: Store, trigger_id: str) -> bool:
    """Remove a trigger (it fires no more); False if there was none."""
    return store.remove_trigger(trigger_id)


def next_due(trigger: Trigger, after: float) -> float:
    """When cron ``trigger`` is due next after ``after`` (epoch seconds)."""
    from croniter import croniter

    zone = Cron(trigger.spec["expr"], trigger.spec["timezone"]).zone
    return float(croniter(trigger.spec["expr"], datetime.fromtimestamp(after, zone))
                 .get_next(float))


def fire_due(settings: Settings, store: Store, now: float) -> list[str]:
    """Fire every cron trigger due by ``now`` that this engine takes (see the module's
    docstring); what each firing did."""
    done = []
    for trigger in store.triggers():
        if trigger.kind != "cron" or trigger.due > now:
            continue
        if store.take_trigger(trigger.id, trigger.due, next_due(trigger, now)):
            when = datetime.fromtimestamp(trigger.due, UTC).isoformat(timespec="seconds")
            done.append(fire(settings, store, trigger, f"cron '{trigger.spec['expr']}' "
                                                       f"due {when}", trigger.due))
    return done


def fire(settings: Settings, store: Store, trigger: Trigger, why: str, when: float) -> str:
    """Submit the deployment ``trigger`` asks for (``why`` says what fired it, ``when``
    names a new deployment: ``<trigger>-<UTC time>``), journal what the firing did, and
    return it; a firing that cannot submit says why (the deployment it converges still
    runs, the blueprint version is gone...)."""
    given = {k: v for k, v in trigger.params.items() if v != MASK}
    try:
        if trigger.sealed:
            given.update(unseal(settings.secret(), trigger.sealed))
        version = store.blueprint(trigger.blueprint, trigger.version)
        stamp = datetime.fromtimestamp(when, UTC).strftime("%Y%m%dT%H%M%S.%f")[:-3]
        target = trigger.deployment or f"{trigger.id}-{stamp}"
        result = deploy(settings, store, library.bound(version, given), given,
                        deployment_id=target, force_new=True, detach=True,
                        stored=library.origin(version))
        assert isinstance(result, Submitted)
        last = f"{why}: submitted {result.deployment} (version {version.version})"
    except MuranoFlowError as exc:
        last = f"{why}: nothing submitted: {exc.message}"
    log.info("trigger %s: %s", trigger.id, last)
    store.record_firing(trigger.id, last)
    return last


def watcher(settings: Settings, trigger: Trigger) -> MessageTrigger:
    """The consumer of a message trigger's durable queue."""
    spec = trigger.spec
    return MessageTrigger(settings.broker_url, f"{spec['exchange']}:{spec['key']}",
                          spec.get("match", {}), spec.get("from_user", ""), trigger.id)


class Firing:
    """An engine service's part in firing triggers: every :meth:`tick` fires the due cron
    triggers and keeps one consumer thread for each message trigger (started when one
    is registered, stopped when it is removed or the service stops)."""

    #: Seconds between looks for message triggers registered or removed.
    REFRESH = 5.0

    def __init__(self, settings: Settings, store: Store, stopping: threading.Event) -> None:
        self.settings, self.store, self.stopping = settings, store, stopping
        self._watching: dict[str, threading.Thread] = {}
        self._wanted: set[str] = set()
        self._looked = 0.0
        self._no_pika = False

    def tick(self) -> None:
        """Fire what is due; never raises (a journal outage is logged, retried next)."""
        try:
            fire_due(self.settings, self.store, time.time())
            if time.monotonic() - self._looked >= self.REFRESH:
                self._looked = time.monotonic()
                self._refresh()
        except MuranoFlowError as exc:
            log.warning("triggers: %s", exc)

    def _refresh(self) -> None:
        self._wanted = {t.id for t in self.store.triggers() if t.kind == "message"}
        for trigger_id in self._wanted - set(self._watching):
            thread = threading.Thread(target=self._watch, args=(trigger_id,),
                                      name=f"trigger-{trigger_id}", daemon=True)
            self._watching[trigger_id] = thread
            thread.start()
        for trigger_id, thread in list(self._watching.items()):
            if not thread.is_alive():
                del self._watching[trigger_id]

    def _watch(self, trigger_id: str) -> None:
        def stop() -> bool:
            return self.stopping.is_set() or trigger_id not in self._wanted

        try:
            while not stop():
                trigger = self.store.trigger(trigger_id)
                why = watcher(self.settings, trigger).next(stop)
                if why and not stop():
                    fire(self.settings, self.store, trigger, why, time.time())
        except ImportError:
            if not self._no_pika:
                self._no_pika = True
                log.error("message triggers need pika: pip install 'murano-flow[amqp]'")
        except MuranoFlowError as exc:  # removed meanwhile, or the journal failed
            log.warning("trigger %s: %s", trigger_id, exc)

    def join(self) -> None:
        """Wait for the consumers to stop (after the service's ``stopping`` is set)."""
        for thread in list(self._watching.values()):
            thread.join(10)
