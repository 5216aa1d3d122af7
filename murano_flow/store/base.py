"""The journal: deployments, their nodes, and an append-only log of events.

Every write is one short transaction (:meth:`Store.commit`), so the engine can
group-commit the transitions that complete together. A node row holds both its
state and its *intention* (``execute`` or ``revert``), as TaskFlow does, so a
crash between deciding and doing is resumable in either direction.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any


@dataclass
class DeploymentRecord:
    """One deployment, as journaled."""

    id: str
    blueprint: str
    path: str
    digest: str
    state: str
    created: float
    updated: float
    #: Parameter values with secrets masked.
    params: dict[str, Any] = field(default_factory=dict)
    targets: list[str] = field(default_factory=list)
    reason: str = ""
    #: Blueprint text and script files, so rollback/resume do not depend on the disk.
    source: dict[str, Any] = field(default_factory=dict)
    #: The engine driving it now (see :mod:`murano_flow.engine.identity`); '' when none is.
    owner: str = ""
    #: What an operator asked of the engine driving it: '', pause, cancel, or with ':now'.
    control: str = ""
    #: Run policies: on_failure, deadline (epoch seconds or None).
    settings: dict[str, Any] = field(default_factory=dict)
    #: When the owner's lease runs out (epoch seconds, the journal's clock; 0 for none).
    lease: float = 0.0
    #: What it asks of an engine service: '' (nothing), deploy, converge or rollback.
    request: str = ""


@dataclass
class NodeRecord:
    """One node of a deployment, as journaled."""

    deployment: str
    name: str
    instance: str
    state: str
    status: str = "pending"
    intention: str = "execute"
    host: str = ""
    attempt: int = 0
    started: float | None = None
    finished: float | None = None
    exit_code: int | None = None
    reason: str = ""
    outputs: dict[str, Any] = field(default_factory=dict)
    stdout_tail: str = ""
    stderr_tail: str = ""
    log_dir: str = ""
    requires: list[str] = field(default_factory=list)
    has_action: bool = False
    #: Attempts in the current episode (reset when the node is reset); drives retries.
    tries: int = 0
    #: Digest of the inputs its last successful run had, so a re-deploy can tell changes.
    inputs: str = ""
    #: While it waits for an event: kind, since, and due / expires as epoch seconds.
    waiting: dict[str, Any] = field(default_factory=dict)


@dataclass
class Event:
    """One entry of the append-only event log; ``seq`` is assigned by the store."""

    deployment: str
    ts: float
    kind: str
    node: str = ""
    status: str = ""
    attempt: int = 0
    message: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    seq: int = 0
    #: The engine that journaled it ('' for the CLI and older journals).
    engine: str = ""


#: Inbox statuses: new (not yet acted on), rejected (by the message listener; the engine
#: still has to report it), then applied, ignored (its node was not waiting for it) or
#: refused (bad data, reported in the event log).
SIGNAL_OPEN = ("new", "rejected")


@dataclass
class Signal:
    """An external event addressed to one node: a signal, or a broker message that passed
    (or failed) its filter. ``seq`` is assigned by the store."""

    deployment: str
    node: str
    ts: float
    #: signal | message
    kind: str
    #: Who sent it: 'signal by USER@HOST', 'message from USER via EXCHANGE/KEY'.
    source: str
    data: dict[str, Any] = field(default_factory=dict)
    status: str = "new"
    #: Why it was rejected or ignored.
    note: str = ""
    seq: int = 0


@dataclass
class BlueprintVersion:
    """One version of a stored blueprint (uploaded through the API): never changed once
    stored; a deployment made from it records its name and version."""

    name: str
    version: int
    #: The file name it was uploaded as: messages about it cite ``path:line``.
    path: str
    #: sha256 of the text and every file, so an identical upload is the same version.
    digest: str
    text: str
    #: The files it reads (scripts, parts, libraries) by path from its folder.
    files: dict[str, str]
    created: float
    #: Who stored it (the API token's name).
    author: str = ""


#: API token scopes, each allowing what the ones before it allow.
SCOPES = ("read", "operate", "admin")


@dataclass
class ApiToken:
    """An API token as journaled: only a digest of its secret is kept."""

    id: str
    name: str
    #: sha256 of the token's secret part (tokens are random, so no slow hash is needed).
    digest: str
    #: One of SCOPES.
    scope: str
    created: float
    #: When it was revoked (epoch seconds); 0 while it is valid.
    revoked: float = 0.0


@dataclass
class Trigger:
    """A deployment trigger that the engine services fire: at the times of a cron
    expression, or when a matching broker message arrives."""

    id: str
    #: cron | message
    kind: str
    #: cron: expr, timezone; message: exchange, key, match, from_user.
    spec: dict[str, Any]
    #: The stored blueprint it deploys, and which version (None: the newest when it fires).
    blueprint: str
    version: int | None
    #: The deployment each firing converges ('' : a new one each time).
    deployment: str
    #: Parameter values, secrets masked; their clear values are in ``sealed``.
    params: dict[str, Any] = field(default_factory=dict)
    sealed: str = ""
    #: When a cron trigger fires next (epoch seconds); 0 for a message trigger.
    due: float = 0.0
    created: float = 0.0
    #: How many times it fired, and what its last firing did.
    fired: int = 0
    last: str = ""


class Store(ABC):
    """Where deployments are journaled. Implementations: memory, sqlite, postgres."""

    @abstractmethod
    def create(self, deployment: DeploymentRecord, nodes: list[NodeRecord],
               events: list[Event]) -> None:
        """Journal a new deployment with all its nodes, atomically."""

    @abstractmethod
    def commit(self, deployment: str, nodes: list[NodeRecord], events: list[Event],
               state: str | None = None, reason: str | None = None, *,
               owner: str = "") -> None:
        """Atomically update ``nodes``, append ``events`` and optionally set the state.

        With ``owner``, first make sure ``owner`` still holds an unexpired lease on the
        deployment, and hold it for the transaction (an engine taking it over waits);
        raise LeaseLost otherwise, writing nothing. Events record ``owner`` as their
        engine. The deployment row is written only when the state or reason changes, so
        completions touch only their own node rows.
        """

    @abstractmethod
    def deployment(self, deployment: str) -> DeploymentRecord:
        """The deployment called ``deployment``; raise NotFound."""

    @abstractmethod
    def deployments(self, limit: int = 100) -> list[DeploymentRecord]:
        """The most recent deployments, newest first."""

    @abstractmethod
    def hosts_in_use(self) -> list[tuple[str, str]]:
        """(host, deployment) for every host on which a node of the deployment has done
        something not undone (any status but pending and undone), sorted."""

    @abstractmethod
    def nodes(self, deployment: str) -> list[NodeRecord]:
        """Every node of ``deployment`` in creation order."""

    @abstractmethod
    def events(self, deployment: str, after: int = 0, limit: int = 10_000) -> list[Event]:
        """Events of ``deployment`` with ``seq > after``, oldest first."""

    @abstractmethod
    def claim(self, deployment: str, owner: str, expected: str, *, ttl: float = 0.0,
              request: str | None = None) -> bool:
        """Set the owner to ``owner`` if it is ``expected`` now (compare-and-set), with a
        lease of ``ttl`` seconds (none for 0 or when releasing with owner ''); also set
        ``request`` when given."""

    @abstractmethod
    def acquire(self, owner: str, ttl: float, limit: int) -> list[tuple[str, str]]:
        """Take up to ``limit`` deployments that ask for an engine (``request``) and have
        no owner or one whose lease ran out, oldest first; deployments another engine is
        taking at this moment are skipped. Returns (id, previous owner) of each."""

    @abstractmethod
    def renew(self, owner: str, deployments: list[str], ttl: float) -> list[str]:
        """Extend ``owner``'s leases on ``deployments``; return those it still holds."""

    @abstractmethod
    def set_request(self, deployment: str, request: str) -> None:
        """Ask engine services to drive ``deployment`` ('deploy'...) or stop asking ('')."""

    @abstractmethod
    def heartbeat(self, engine: str, info: dict[str, Any], ttl: float) -> None:
        """Record that engine service ``engine`` is alive for ``ttl`` seconds more
        (0: it stopped) and what it runs."""

    @abstractmethod
    def engines(self) -> list[dict[str, Any]]:
        """Engine services whose heartbeat has not run out: id, seen, expires, info."""

    def control(self, deployment: str) -> str:
        """The operator's pending request for ``deployment`` ('' for none)."""
        return self.deployment(deployment).control

    @abstractmethod
    def set_control(self, deployment: str, control: str) -> None:
        """Record an operator's request (pause, cancel...) for the engine driving it."""

    @abstractmethod
    def reshape(self, deployment: DeploymentRecord, nodes: list[NodeRecord],
                events: list[Event]) -> None:
        """Replace the deployment row and its node set (a re-deploy changed the graph)."""

    @abstractmethod
    def delete(self, deployment: str) -> bool:
        """Delete ``deployment`` with its nodes, events and signals, in one transaction, if
        it is finished (FINISHED), no engine holds it and nothing is asked of one; False,
        and nothing deleted, otherwise. Raises StoreError for an unknown deployment."""

    @abstractmethod
    def add_signal(self, signal: Signal) -> int:
        """Append ``signal`` to its deployment's inbox; return its sequence number."""

    @abstractmethod
    def signals(self, deployment: str) -> list[Signal]:
        """Inbox entries of ``deployment`` still to be acted on (SIGNAL_OPEN), oldest first."""

    @abstractmethod
    def settle_signals(self, outcomes: list[tuple[int, str, str]]) -> None:
        """Record (seq, status, note) for inbox entries that were acted on."""

    @abstractmethod
    def feed(self, after: int = 0, limit: int = 1000) -> list[Event]:
        """Events of every deployment with ``seq > after``, oldest first."""

    @abstractmethod
    def newest_event(self) -> int:
        """The ``seq`` of the newest event of any deployment (0 if none)."""

    @abstractmethod
    def cursor(self, name: str) -> int:
        """The last event ``seq`` the reader ``name`` saved (0 if none)."""

    @abstractmethod
    def set_cursor(self, name: str, seq: int) -> None:
        """Save how far the reader ``name`` has got in :meth:`feed`."""

    @abstractmethod
    def add_blueprint(self, version: BlueprintVersion) -> BlueprintVersion:
        """Store ``version`` as the next version of its name (its ``version`` field is
        ignored) and return it as stored; when the newest version has the same digest,
        return that one and store nothing. Versions are never changed nor reused."""

    @abstractmethod
    def blueprint(self, name: str, version: int | None = None) -> BlueprintVersion:
        """Version ``version`` (None: the newest) of the stored blueprint ``name``; raise
        NotFound."""

    @abstractmethod
    def blueprint_versions(self, name: str) -> list[BlueprintVersion]:
        """Every version of the stored blueprint ``name``, oldest first (none: [])."""

    @abstractmethod
    def blueprints(self) -> list[BlueprintVersion]:
        """The newest version of every stored blueprint, by name."""

    @abstractmethod
    def add_token(self, token: ApiToken) -> None:
        """Journal a new API token."""

    @abstractmethod
    def token(self, token_id: str) -> ApiToken:
        """The API token ``token_id`` (revoked ones too); raise NotFound."""

    @abstractmethod
    def tokens(self) -> list[ApiToken]:
        """Every API token, revoked ones too, oldest first."""

    @abstractmethod
    def revoke_token(self, token_id: str) -> bool:
        """Revoke the token ``token_id`` for good; False if it was revoked already.
        Raises NotFound for an unknown token."""

    @abstractmethod
    def add_trigger(self, trigger: Trigger) -> bool:
        """Journal a new trigger; False, and nothing written, if its id is taken."""

    @abstractmethod
    def trigger(self, trigger_id: str) -> Trigger:
        """The trigger ``trigger_id``; raise NotFound."""

    @abstractmethod
    def triggers(self) -> list[Trigger]:
        """Every trigger, by id."""

    @abstractmethod
    def remove_trigger(self, trigger_id: str) -> bool:
        """Delete a trigger; False if there was none."""

    @abstractmethod
    def take_trigger(self, trigger_id: str, due: float, next_due: float) -> bool:
        """Move a cron trigger from ``due`` to ``next_due`` if it is still due then
        (compare-and-set): the one engine that gets True fires it for ``due``."""

    @abstractmethod
    def record_firing(self, trigger_id: str, last: str) -> None:
        """Count one firing of the trigger and say what it did (gone: nothing happens)."""

    def upgrade(self) -> tuple[int, int]:
        """Create or migrate the schema: (version before, version after). A journal that
        migrates itself when opened reports what it did then."""
        return 0, 0

    def check(self) -> list[str]:
        """Problems the storage itself reports (e.g. a damaged file); none by default."""
        return []

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def lease_lost(deployment: str, owner: str, holder: str) -> str:
    """Why ``owner`` may no longer write to ``deployment`` (``holder`` owns it now)."""
    now = f"engine {holder} drives it now" if holder and holder != owner else \
        "its lease ran out"
    return f"deployment {deployment}: engine {owner} lost its lease ({now})"


def missing_blueprint(name: str, version: int | None, versions: int) -> str:
    """Why a stored blueprint version is not found (``versions``: how many ``name`` has)."""
    if not versions:
        return f"no stored blueprint '{name}'"
    return f"blueprint '{name}' has no version {version} (it has 1 to {versions})"


def missing_token(token_id: str) -> str:
    """Why an API token is not found."""
    return f"no API token '{token_id}'"


def missing_trigger(trigger_id: str) -> str:
    """Why a trigger is not found."""
    return f"no trigger '{trigger_id}'"
