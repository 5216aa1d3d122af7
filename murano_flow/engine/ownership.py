"""A host belongs to one deployment at a time.

A deployment holds a host once one of its states has done something there that is not
undone; it lets go when that is undone, when the deployment is deleted, or when the
operator hands the host over (``murano-flow hosts release``: journaled in the
deployment's settings, and from then on that deployment runs nothing there). No other
deployment runs anything on a held host, unless the blueprint says the host is
``shared: true`` (a build runner, the engine's own machine): a deploy whose hosts are
known before it runs is refused before anything is journaled, and a host only known at
run time (rendered from outputs) fails its state when it comes to it.
"""

from __future__ import annotations

from ..blueprint.spec import Blueprint
from ..errors import ExpressionError, NotFound, UsageError
from ..store.base import Store
from . import plans

#: Key in DeploymentRecord.settings: the hosts the deployment handed over.
RELEASED = "released_hosts"


def holders(store: Store, deployment: str | None) -> dict[str, str]:
    """Hosts ``deployment`` may not use, each with the deployment holding it ('' for one
    it handed over itself and nobody holds)."""
    released: dict[str, set[str]] = {}

    def handed_over(dep: str) -> set[str]:
        if dep not in released:
            try:
                released[dep] = set(store.deployment(dep).settings.get(RELEASED) or ())
            except NotFound:  # deleted meanwhile
                released[dep] = set()
        return released[dep]

    out: dict[str, str] = {}
    for host, dep in store.hosts_in_use():
        if dep != deployment and host not in handed_over(dep):
            out.setdefault(host, dep)
    if deployment is not None:
        for host in handed_over(deployment):
            out.setdefault(host, "")
    return out


def refused(host: str, holder: str, deployment: str) -> UsageError:
    """Why ``deployment`` may not use ``host``, and what the operator can do."""
    if not holder:
        return UsageError(f"host {host} was handed over by deployment {deployment}: it runs "
                          "nothing there any more")
    return UsageError(f"host {host} belongs to deployment {holder}",
                      hint=f"'murano-flow hosts release {holder} {host}' hands it over; or "
                           f"roll {holder} back, or deploy with its --id to change it")


def check_free(store: Store, bp: Blueprint, deployment: str, exists: bool) -> None:
    """Refuse ``bp`` as ``deployment`` when a host it names (rendered without outputs)
    is held by another deployment.

    Raises:
        UsageError: naming the host and its holder.
    """
    taken = holders(store, deployment if exists else None)
    if not taken:
        return
    for node in bp.nodes.values():
        try:
            where = plans.target(node, plans.context(bp, node, deployment, None))
        except ExpressionError:  # it reads outputs: checked when it runs
            continue
        if where.key in taken and where.fields.get("shared") is not True:
            raise refused(where.key, taken[where.key], deployment)
