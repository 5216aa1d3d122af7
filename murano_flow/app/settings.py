"""Where a use case finds the journal, the engine's home, the broker and the engines' secret;
and the two lookups every use case needs (does a deployment exist, what did it deploy)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConnectError, NotFound, UsageError
from ..store import Store, open_store, sqlite_path
from ..store.base import DeploymentRecord
from ..wire.masking import masked_url

if TYPE_CHECKING:  # imported where used: commands that only read the journal skip them
    from ..blueprint import Blueprint
    from ..transports.amqp import Broker

log = logging.getLogger(__name__)


class Settings:
    """The journal, home directory and broker a use case works with (``--store``,
    ``--home``, ``--broker`` on the command line)."""

    def __init__(self, store: str, home: str, broker: str) -> None:
        self.store_url, self.home, self.broker_url = store, Path(home), broker
        self._broker: Broker | None = None

    def store(self) -> Store:
        """Open the journal."""
        log.debug("journal %s", masked_url(self.store_url))
        return open_store(self.store_url)

    def missing_journal(self) -> Path | None:
        """The SQLite journal file the store URL names, when it does not exist (a read
        command run in another folder would otherwise create an empty one silently)."""
        path = sqlite_path(self.store_url)
        return None if path is None or path.exists() else path

    def existing_store(self) -> Store:
        """Open the journal for reading about deployments in it; raises NotFound, naming
        where it looked, when an SQLite journal does not exist (none is created)."""
        missing = self.missing_journal()
        if missing is not None:
            raise NotFound(f"no journal at {missing}: nothing was deployed with this store",
                           hint="run where you deployed, or give --store (MURANO_FLOW_STORE)")
        return self.store()

    def upgrade_journal(self) -> tuple[int, int]:
        """Create the journal's schema, or migrate it to this release's (safe to repeat);
        (version before, version now)."""
        with open_store(self.store_url, check_schema=False) as store:
            return store.upgrade()

    def transports(self, kind: str, fields: dict[str, Any]) -> Any:
        """Transport factory handed to the engine (agent hosts share one connection)."""
        from ..transports import open_transport

        return open_transport(kind, fields, root=self.home, broker=self.broker)

    def message_waits(self, store: Store, wake: Callable[[], None]) -> Any:
        """Broker subscriptions for states that wait for a message (the engine's factory)."""
        from ..engine.messages import MessageWaits

        try:
            return MessageWaits(self.broker_url, store, wake)
        except ImportError as exc:
            raise ConnectError("states that wait for a message need pika",
                               hint="pip install 'murano-flow[amqp]'") from exc

    def secret(self) -> str:
        """The engines' shared secret (agents' keys, sealed secrets): see agent_secret."""
        from ..transports.amqp import agent_secret

        return agent_secret(self.home)

    def broker(self) -> Broker:
        """The broker connection of the current run, opened on first use."""
        from ..transports.amqp import Broker, agent_secret

        if self._broker is None or self._broker.closed:
            try:
                self._broker = Broker(self.broker_url, agent_secret(self.home))
            except ImportError as exc:
                raise ConnectError("agent hosts need pika",
                                   hint="pip install 'murano-flow[amqp]'") from exc
        return self._broker


def exists(store: Store, deployment_id: str) -> bool:
    """Whether the journal has a deployment called ``deployment_id``."""
    try:
        store.deployment(deployment_id)
    except NotFound:
        return False
    return True


def journaled_blueprint(dep: DeploymentRecord, given: dict[str, Any], *,
                        strict: bool = True) -> Blueprint:
    """The blueprint exactly as deployed; secrets must be given again (never stored).

    Without ``strict``, placeholders stand in for them (to read its shape only).
    """
    from ..blueprint import parse_blueprint

    values = {k: v for k, v in dep.params.items() if v != "******"}
    values.update(given)
    src = dep.source or {}
    if "text" not in src:
        raise UsageError(f"deployment {dep.id} has no journaled blueprint")
    return parse_blueprint(src["text"], dep.path, values, strict=strict,
                           scripts=src.get("scripts", {}))
