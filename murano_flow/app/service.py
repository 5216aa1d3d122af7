"""``engine serve``: a long-lived engine that drives the deployments submitted to it.

Several of these, on one machine or many, share one journal (PostgreSQL) and one
broker. Each one, every ``poll`` seconds, takes deployments that ask for an engine
(``deploy --detach``) and have none - or whose engine's lease ran out - with
``Store.acquire`` (``FOR UPDATE SKIP LOCKED``: two engines never take the same one),
up to its ``max_deployments``, and drives each on a thread of its own, exactly as
``resume`` would: what a dead engine left running is re-attached, never run twice.

Limits: each deployment runs at most ``per_deployment`` actions at once, and the
engine at most ``max_actions`` over all its deployments, shared fairly
(:mod:`murano_flow.engine.share`). SIGTERM hands every deployment over: running actions go
on, the leases are released, and another engine re-attaches at once. Each service also
fires the registered triggers (:mod:`.triggers`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from ..blueprint.spec import Blueprint
from ..engine.engine import Engine, TransportFactory
from ..engine.identity import me
from ..engine.lease import DEFAULT_TTL, Leases
from ..engine.share import FairShare
from ..engine.waits import MessageFactory
from ..errors import CorruptState, LeaseLost, MuranoFlowError, StoreError
from ..lifecycle import allowed
from ..states import ACTIVE
from ..store.base import DeploymentRecord, Event, Store
from ..store.sealing import unseal
from .settings import Settings, journaled_blueprint
from .triggers import Firing

log = logging.getLogger(__name__)

Loader = Callable[[DeploymentRecord], Blueprint]


class Observer(Protocol):
    """Told what a service does (its metrics): deployments taken, let go and lost to
    another engine, every event its engines journal (from their threads)."""

    def taken(self, deployment: str, previous: str) -> None: ...

    def released(self, deployment: str) -> None: ...

    def lost(self, deployment: str) -> None: ...

    def event(self, event: Event) -> None: ...


class EngineService:
    """One engine process serving a shared journal."""

    def __init__(self, store: Store, transports: TransportFactory, load: Loader, *,
                 messages: MessageFactory | None = None, max_deployments: int = 8,
                 per_deployment: int = 16, max_actions: int = 64, ttl: float = DEFAULT_TTL,
                 poll: float = 1.0, identity: str | None = None,
                 secret: str | None = None) -> None:
        self.store, self.transports, self.load, self.messages = store, transports, load, messages
        self.secret = secret
        self.max_deployments, self.per_deployment = max_deployments, per_deployment
        self.ttl, self.poll = ttl, poll
        self.me = identity or me()
        self.leases = Leases(store, self.me, ttl)
        self.share = FairShare(max_actions)
        self.stopping = threading.Event()
        self._runs: dict[str, tuple[threading.Thread, Engine]] = {}
        #: Deployments this service finished driving (for --count and tests).
        self.finished = 0
        #: Its part in firing triggers (set by :meth:`of`; none without settings).
        self.firing: Firing | None = None
        #: Who is told what it does (metrics), if anyone.
        self.observer: Observer | None = None
        self._ticked = time.monotonic()
        self._journal_problem = ""

    @classmethod
    def of(cls, settings: Settings, store: Store, **options: Any) -> EngineService:
        """A service with ``settings``' transports, broker and secret; it reads each
        deployment's blueprint from the journal, its secret parameters unsealed with the
        engines' secret (see :mod:`murano_flow.store.sealing`)."""
        secret = settings.secret()

        def load(dep: DeploymentRecord) -> Blueprint:
            sealed = (dep.source or {}).get("sealed")
            return journaled_blueprint(dep, unseal(secret, sealed) if sealed else {})

        service = cls(store, settings.transports, load, messages=settings.message_waits,
                      secret=secret, **options)
        service.firing = Firing(settings, store, service.stopping)
        return service

    def idle_for(self, seconds: float) -> Callable[[], bool]:
        """A test for :meth:`serve`'s ``until``: true once nothing was driven for
        ``seconds`` (batch runs, tests)."""
        since = [time.monotonic()]

        def idle() -> bool:
            if self.driving():
                since[0] = time.monotonic()
            return time.monotonic() - since[0] > seconds
        return idle

    def serve(self, until: Callable[[], bool] = lambda: False) -> None:
        """Take and drive deployments until :meth:`stop` (or ``until()`` is true)."""
        log.info("engine %s serving: up to %d deployments, %d actions (%d per deployment), "
                 "lease %.0fs", self.me, self.max_deployments, self.share.total,
                 self.per_deployment, self.ttl)
        beat = 0.0
        try:
            while not self.stopping.is_set() and not until():
                self._ticked = time.monotonic()
                self._reap()
                free = self.max_deployments - len(self._runs)
                if free > 0:
                    try:
                        for dep_id, previous in self.store.acquire(self.me, self.ttl, free):
                            self._start(dep_id, previous)
                    except MuranoFlowError as exc:  # database unreachable: try again soon
                        log.warning("could not look for deployments: %s", exc)
                if time.monotonic() - beat >= self.ttl / 3:
                    beat = time.monotonic()
                    self._heartbeat(self.ttl)
                if self.firing is not None:
                    self.firing.tick()
                self.stopping.wait(self.poll)
        finally:
            self._shutdown()

    def stop(self) -> None:
        """Hand every deployment over and stop (safe from a signal handler)."""
        self.stopping.set()

    def driving(self) -> list[str]:
        """Deployments being driven now."""
        return list(self._runs)

    # -- runs ------------------------------------------------------------------

    def _start(self, dep_id: str, previous: str) -> None:
        engine = Engine(self.store, self.transports, workers=self.per_deployment,
                        messages=self.messages, leases=self.leases, share=self.share,
                        me=self.me, secret=self.secret,
                        listener=self.observer.event if self.observer else None)
        if self.observer is not None:
            self.observer.taken(dep_id, previous)
        engine.took_over = previous
        thread = threading.Thread(target=self._drive, args=(engine, dep_id),
                                  name=f"drive-{dep_id}", daemon=True)
        self._runs[dep_id] = (thread, engine)
        if previous:
            log.warning("%s: took it over from %s, whose lease ran out", dep_id, previous)
        else:
            log.info("%s: taken", dep_id)
        thread.start()

    def _drive(self, engine: Engine, dep_id: str) -> None:
        try:
            dep = self.store.deployment(dep_id)
            what = "rollback" if dep.state == "rolling_back" else dep.request
            if dep.state not in ACTIVE and not allowed(
                    "deployment", dep.state, "rollback" if what == "rollback" else "start"):
                self._answer(dep_id, f"nothing to {what}: it is {dep.state}")
                return
            bp = self.load(dep)
            if what == "rollback":
                final = engine.rollback(bp, dep_id)
            else:
                final = engine.deploy(bp, dep_id, converge=what == "converge")
            log.info("%s: %s", dep_id, final.state)
        except LeaseLost as exc:
            log.warning("%s: %s", dep_id, exc)
            if self.observer is not None:
                self.observer.lost(dep_id)
        except StoreError as exc:
            if isinstance(exc, CorruptState):
                self._answer(dep_id, f"the engine {self.me} cannot drive it: {exc}")
            else:  # the journal failed under it: the request stays, for another try
                log.error("%s: journal error, letting it go for another try: %s", dep_id, exc)
        except MuranoFlowError as exc:  # its blueprint or parameters: retrying will not help
            log.error("%s: cannot drive it: %s", dep_id, exc)
            self._answer(dep_id, f"the engine {self.me} cannot drive it: {exc}")
        except Exception:  # a bug must not take the other deployments down with it
            log.exception("%s: engine failure", dep_id)
            self._answer(dep_id, f"the engine {self.me} failed on it (see its log)")
        finally:  # whatever happened, nothing of it stays held here
            self.leases.drop(dep_id)
            self.share.leave(dep_id)
            if self.observer is not None:
                self.observer.released(dep_id)
            try:
                self.store.claim(dep_id, "", self.me)  # a no-op when the engine released it
            except MuranoFlowError as exc:
                log.warning("%s: %s", dep_id, exc)

    def _answer(self, dep_id: str, why: str) -> None:
        """Journal why the request cannot be served, and stop asking (no retry loop)."""
        try:
            state = self.store.deployment(dep_id).state
            self.store.commit(dep_id, [], [Event(dep_id, time.time(), "deployment",
                                                 status=state, message=why)],
                              reason=why, owner=self.me)
            self.store.claim(dep_id, "", self.me, request="")
        except MuranoFlowError as exc:
            log.warning("%s: %s", dep_id, exc)

    def _reap(self) -> None:
        for dep_id, (thread, _) in list(self._runs.items()):
            if not thread.is_alive():
                del self._runs[dep_id]
                self.finished += 1

    def _heartbeat(self, ttl: float) -> None:
        info: dict[str, Any] = {"deployments": sorted(self._runs),
                                "max_deployments": self.max_deployments,
                                "max_actions": self.share.total,
                                "per_deployment": self.per_deployment, "lease": self.ttl}
        try:
            self.store.heartbeat(self.me, info, ttl)
            self._journal_problem = ""
        except MuranoFlowError as exc:
            log.warning("heartbeat: %s", exc)
            self._journal_problem = exc.message

    def health(self) -> tuple[bool, str]:
        """Whether the service loop goes round and its last heartbeat reached the journal
        (``/healthz`` of ``engine serve --metrics``), and why not."""
        if self._journal_problem:
            return False, f"the journal refused its heartbeat: {self._journal_problem}"
        idle = time.monotonic() - self._ticked
        if idle > max(10.0, 3 * self.poll):
            return False, f"its loop has not gone round for {idle:.0f} s"
        return True, f"ok: driving {len(self._runs)} deployments"

    def _shutdown(self) -> None:
        runs = list(self._runs.values())
        if runs:
            log.warning("handing %d deployments over to other engines", len(runs))
        for _, engine in runs:
            engine.hand_over()
        for thread, _ in runs:
            thread.join()
        self._reap()
        self.leases.close()
        self._heartbeat(0)
        if self.firing is not None:
            self.stopping.set()  # the consumers stop with the service, whatever ended it
            self.firing.join()
