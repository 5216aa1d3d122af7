"""Prometheus metrics read from the journal at each scrape: what every API process of
one journal reports alike (deployments by state, actions by host and status, engines).
What only an engine process knows (action durations, lease takeovers, broker
reconnects) is on ``engine serve --metrics``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ..states import ACTIVE
from ..store.base import Store

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
