"""The guest agents the journal knows of (``amqp`` hosts of deployments), whether each is
connected now (its queue has a consumer on the broker), how many plans wait in its
queue, and what it holds: the states running, waiting or in doubt on it in unfinished
deployments. The broker is asked passively: nothing is declared nor consumed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import BrokerUnreachable
from ..states import ACTIVE
from ..store.base import Store
from ..wire.broker import close_quietly, connect, connection_lost
from .settings import Settings

#: Deployments looked at for agent hosts (the newest).
LOOKED_AT = 1000
#: Node statuses an agent holds: work given to it and not finished.
HELD = ("running", "waiting", "in_doubt", "undoing")


@dataclass
class Agent:
    """One agent's queue: ``connected`` None when the broker could not be asked."""

    queue: str
    connected: bool | None = None
    #: Consumers of its queue (an agent process each), plans waiting in it.
    consumers: int = 0
    waiting: int = 0
    holds: list[str] = field(default_factory=list)
    deployments: list[str] = field(default_factory=list)
    #: Why the broker could not say (unreachable, or the queue was never declared).
    note: str = ""


def agents(settings: Settings, store: Store) -> list[Agent]:
    """Every agent queue of the newest deployments, by queue."""
    found: dict[str, Agent] = {}
    for dep in store.deployments(LOOKED_AT):
        for node in store.nodes(dep.id):
            if not node.host.startswith("amqp:"):
                continue
            agent = found.setdefault(node.host[5:], Agent(node.host[5:]))
            if dep.id not in agent.deployments:
                agent.deployments.append(dep.id)
            if dep.state in ACTIVE and node.status in HELD:
                agent.holds.append(f"{dep.id}/{node.name} ({node.status})")
    if found:
        _ask_broker(settings.broker_url, list(found.values()))
    return [found[q] for q in sorted(found)]


def _ask_broker(url: str, agents: list[Agent]) -> None:
    try:
        conn = connect(url)
    except (BrokerUnreachable, ImportError) as exc:
        why = exc.message if isinstance(exc, BrokerUnreachable) else \
            "asking the broker needs pika: pip install 'murano-flow[amqp]'"
        for agent in agents:
            agent.note = why
        return
    try:
        for agent in agents:
            _ask_queue(conn, agent)
    finally:
        close_quietly(conn)


def _ask_queue(conn: Any, agent: Agent) -> None:
    import pika.exceptions

    try:
        channel = conn.channel()
        declared = channel.queue_declare(agent.queue, passive=True)
    except pika.exceptions.ChannelClosedByBroker:  # 404: no such queue
        agent.connected, agent.note = False, "its queue does not exist (never started?)"
        return
    except connection_lost() as exc:
        agent.note = f"the broker did not say: {exc}"
        return
    agent.consumers = declared.method.consumer_count
    agent.waiting = declared.method.message_count
    agent.connected = agent.consumers > 0
    close_quietly(channel)
