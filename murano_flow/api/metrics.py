"""Prometheus metrics read from the journal at each scrape: what every API process of
one journal reports alike (deployments by state, actions by host and status, engines).
What only an engine process knows (action durations, lease takeovers, broker
reconnects) is on ``engine serve --metrics``."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ..states import ACTIVE
from ..store.base import Event, Store
from ..wire.tally import TALLY

#: Deployments looked at per scrape (the newest); older ones are finished history.
SCRAPED = 10_000
#: Node statuses worth counting per host: work in progress.
BUSY = ("running", "waiting", "in_doubt", "reverting")


class JournalCollector(Collector):
    """Gauges computed from the journal when scraped."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        deployments = self.store.deployments(SCRAPED)
        by_state = GaugeMetricFamily("murano_flow_deployments", "Deployments by state",
                                     labels=["state"])
        for state, n in sorted(Counter(d.state for d in deployments).items()):
            by_state.add_metric([state], n)
        yield by_state
        actions = GaugeMetricFamily("murano_flow_actions",
                                    "States of unfinished deployments in progress, by host "
                                    "and status", labels=["host", "status"])
        busy: Counter[tuple[str, str]] = Counter()
        for dep in deployments:
            if dep.state in ACTIVE:
                busy.update((n.host or "-", n.status) for n in self.store.nodes(dep.id)
                            if n.status in BUSY)
        for (host, status), n in sorted(busy.items()):
            actions.add_metric([host, status], n)
        yield actions
        engines = self.store.engines()
        yield GaugeMetricFamily("murano_flow_engines", "Engine services alive",
                                value=len(engines))
        held = GaugeMetricFamily("murano_flow_engine_deployments",
                                 "Deployments each engine service drives", labels=["engine"])
        for e in engines:
            held.add_metric([e["id"]], len(e["info"].get("deployments", [])))
        yield held
        yield GaugeMetricFamily("murano_flow_journal_events",
                                "Number of the newest journaled event",
                                value=self.store.newest_event())


def exposition(store: Store) -> tuple[bytes, str]:
    """The metrics in Prometheus' text format, and its media type."""
    registry = CollectorRegistry()
    registry.register(JournalCollector(store))
    return generate_latest(registry), CONTENT_TYPE_LATEST


class WireCollector(Collector):
    """This process's wire counts (:mod:`murano_flow.wire.tally`) as counters."""

    #: tally name -> (metric, help, label)
    METRICS = {
        "broker_reconnects": ("murano_flow_broker_reconnects",
                              "Broker connections made again after one was lost or refused",
                              "client"),
        "agent_notices": ("murano_flow_agent_notices",
                          "Notices from guest agents, by kind (accepted, heartbeat, result)",
                          "kind"),
        "agent_messages_ignored": ("murano_flow_agent_messages_ignored",
                                   "Messages on the results queue not from a known agent",
                                   "why"),
    }

    def collect(self) -> Iterator[Metric]:
        counts = TALLY.snapshot()
        for name, (metric, text, label) in self.METRICS.items():
            family = CounterMetricFamily(metric, text, labels=[label])
            for (counted, labels), n in sorted(counts.items()):
                if counted == name:
                    family.add_metric(list(labels), n)
            yield family


#: Node statuses that end an attempt, an undo or a wait.
_ENDS = {"reached", "failed", "in_doubt", "skipped", "undone", "undo_failed", "pending",
         "interrupted"}


class EngineMetrics:
    """What one engine service does, as Prometheus metrics (``engine serve --metrics``):
    deployments driven and taken over, actions running, action durations by outcome,
    leases lost, and the wire's counts (broker reconnects, agents' notices). An
    :class:`~murano_flow.app.service.Observer`."""

    def __init__(self) -> None:
        from prometheus_client import Counter as Count
        from prometheus_client import Gauge, Histogram

        self.registry = CollectorRegistry()
        self.driving = Gauge("murano_flow_engine_deployments_driving",
                             "Deployments this engine drives now", registry=self.registry)
        self.taken_total = Count("murano_flow_engine_deployments_taken",
                                 "Deployments this engine took: new, or taken over from an "
                                 "engine whose lease ran out", ["how"], registry=self.registry)
        self.running = Gauge("murano_flow_engine_actions_running",
                             "Actions (and undos) running now", registry=self.registry)
        self.seconds = Histogram("murano_flow_engine_action_seconds",
                                 "How long actions and undos took, by outcome", ["outcome"],
                                 registry=self.registry,
                                 buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
                                          900, 3600))
        self.leases_lost = Count("murano_flow_engine_leases_lost",
                                 "Deployments this engine lost to another one",
                                 registry=self.registry)
        self._started: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()
        self.registry.register(WireCollector())

    def taken(self, deployment: str, previous: str) -> None:
        self.driving.inc()
        self.taken_total.labels("takeover" if previous else "new").inc()

    def released(self, deployment: str) -> None:
        self.driving.dec()
        with self._lock:  # what it ran and did not see end is no longer its own
            for key in [k for k in self._started if k[0] == deployment]:
                del self._started[key]
                self.running.dec()

    def event(self, event: Event) -> None:
        key = (event.deployment, event.node)
        with self._lock:
            if event.kind in ("running", "undoing"):
                if key not in self._started:
                    self.running.inc()
                self._started[key] = event.ts
            elif event.node and event.status in _ENDS and key in self._started:
                self.running.dec()
                self.seconds.labels(event.status).observe(event.ts - self._started.pop(key))

    def lost(self, deployment: str) -> None:
        self.leases_lost.inc()

    def serve(self, host: str, port: int, health: Callable[[], tuple[bool, str]]) -> None:
        """Answer ``GET /metrics`` and ``GET /healthz`` (200 or 503, from ``health``) on
        ``host:port`` from a thread of its own. Raises OSError if it cannot listen."""
        registry = self.registry

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server protocol
                if self.path.split("?")[0] == "/metrics":
                    self._answer(200, CONTENT_TYPE_LATEST, generate_latest(registry))
                elif self.path.split("?")[0] == "/healthz":
                    ok, why = health()
                    self._answer(200 if ok else 503, "text/plain", why.encode() + b"\n")
                else:
                    self._answer(404, "text/plain", b"/metrics or /healthz\n")

            def _answer(self, status: int, media_type: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", media_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                return  # scrapes every few seconds: not worth a log line each

        server = ThreadingHTTPServer((host, port), Handler)
        threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
