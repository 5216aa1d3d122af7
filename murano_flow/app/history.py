"""History that does not grow forever: delete one finished deployment, or prune those
finished longer ago than a retention period, with their journal rows and run directories."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass

from ..errors import UsageError
from ..states import FINISHED
from ..store import Store
from ..wire.runner import safe_name
from .settings import Settings


@dataclass
class Pruned:
    """What a prune removed (or, dry, would remove), oldest first."""

    deleted: list[str]
    #: Finished long enough ago but held or asked for by an engine: left alone.
    skipped: list[str]


def delete(settings: Settings, store: Store, deployment: str) -> None:
    """Delete a finished deployment: its journal rows in one transaction, then its run
    directory (action logs). Raises UsageError for one that may still run (it names how
    to end it) and NotFound for an unknown id; nothing is deleted then."""
    dep = store.deployment(deployment)
    if dep.state not in FINISHED:
        raise UsageError(
            f"deployment {deployment} is {dep.state}: only a finished deployment is deleted",
            hint=f"end it first: 'murano-flow cancel {deployment}', or resume or roll it back")
    if not store.delete(deployment):
        raise UsageError(f"deployment {deployment} is held by an engine right now (or one was "
                         "asked to take it): try again once it let go")
    shutil.rmtree(settings.home / "runs" / safe_name(deployment), ignore_errors=True)


def prune(settings: Settings, store: Store, older_than: float, *, dry_run: bool = False,
          now: float | None = None) -> Pruned:
    """Delete every deployment finished more than ``older_than`` seconds ago (last
    updated before then); with ``dry_run`` only say which."""
    cutoff = (time.time() if now is None else now) - older_than
    old = sorted((d for d in store.deployments(limit=10**9)
                  if d.state in FINISHED and d.updated < cutoff), key=lambda d: d.updated)
    deleted: list[str] = []
    skipped: list[str] = []
    for dep in old:
        if dry_run:
            (skipped if dep.owner or dep.request else deleted).append(dep.id)
            continue
        try:
            delete(settings, store, dep.id)
            deleted.append(dep.id)
        except UsageError:
            skipped.append(dep.id)
    return Pruned(deleted, skipped)
