"""``/v1/deployments``: create from a stored blueprint version, converge, dry-run, resume,
roll back, pause, cancel, signal, delete; and read them, their nodes and their graph.

Nothing here drives an engine: a deployment is handed to the engine services through
the journal (or, with none running, to a background engine), as ``deploy --detach``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response

from ..app import control, drift, history, library
from ..app import deployments as use
from ..app.documents import deployment_dict, node_dict
from ..app.dryrun import dry_run
from ..app.report import deployment_dot
from ..app.settings import exists
from ..durations import seconds
from ..graph.render import rendered
from ..store.base import BlueprintVersion, DeploymentRecord, Store
from .models import (
    DEPLOYMENT_ID,
    PROBLEMS,
    Accepted,
    CheckDoc,
    Continue,
    Deployment,
    DeploymentDetail,
    DryRun,
    DryRunRequest,
    NewDeployment,
    Node,
    ProbeDoc,
    SignalRequest,
    Step,
    Stop,
)
from .security import ADMIN, OPERATE, READ, Operator
from .state import journal

router = APIRouter(prefix="/v1/deployments", tags=["deployments"], responses=PROBLEMS)
Id = Annotated[str, Path(pattern=DEPLOYMENT_ID, max_length=128)]
#: Check probes run at once by one request.
PROBE_WORKERS = 16


def document(dep: DeploymentRecord) -> Deployment:
    """A deployment as the API shows it (secrets masked, its source left out)."""
    return Deployment(**deployment_dict(dep), stored=(dep.source or {}).get("stored"))



def _accepted(result: use.Submitted | use.Requested, what: str) -> Accepted:
    if isinstance(result, use.Requested):
        return Accepted(deployment=result.deployment, what=what, message=result.message,
                        engines=0)
    told = (f"handed to {result.engines} engine service(s)" if result.engines
            else "no engine service runs: a background engine was started for it")
    return Accepted(deployment=result.deployment, what=what, message=f"{what}: {told}",
                    engines=result.engines)


def _deadline(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = seconds(text)
    except ValueError as exc:
        raise HTTPException(422, f"deadline: {exc}") from None
    if value <= 0:
        raise HTTPException(422, "deadline must be longer than zero")
    return value


@router.get("", response_model=list[Deployment], dependencies=[Depends(READ)])
def list_deployments(request: Request,
                     limit: Annotated[int, Query(ge=1, le=10_000)] = 100) -> list[Deployment]:
    """Deployments, newest first."""
    return [document(d) for d in journal(request).deployments(limit)]


@router.post("", response_model=Accepted, status_code=202, dependencies=[Depends(OPERATE)])
def create(body: NewDeployment, request: Request) -> Accepted:
    """Deploy a stored blueprint version; with the id of an existing deployment, converge
    it to that version (only what is new, changed or failing its check runs)."""
    store = journal(request)
    version = store.blueprint(body.blueprint, body.version)
    bp = library.bound(version, body.params)
    what = "converge" if body.id and exists(store, body.id) else "deploy"
    result = use.deploy(request.app.state.settings, store, bp, body.params,
                        deployment_id=body.id, on_failure=body.on_failure,
                        deadline=_deadline(body.deadline), force_new=body.new, detach=True,
                        stored=library.origin(version))
    assert isinstance(result, use.Submitted)  # detached: an engine drives it
    return _accepted(result, what)


@router.get("/{deployment}", response_model=DeploymentDetail, dependencies=[Depends(READ)])
def read(deployment: Id, request: Request) -> DeploymentDetail:
    """A deployment with its nodes (outputs masked)."""
    store = journal(request)
    dep = store.deployment(deployment)
    nodes = [Node(**node_dict(n)) for n in store.nodes(dep.id)]
    return DeploymentDetail(**document(dep).model_dump(), nodes=nodes)


@router.delete("/{deployment}", status_code=204, dependencies=[Depends(ADMIN)])
def delete(deployment: Id, request: Request) -> Response:
    """Delete a finished deployment with its events and action logs."""
    history.delete(request.app.state.settings, journal(request), deployment)
    return Response(status_code=204)


@router.post("/{deployment}/dry-run", response_model=DryRun, dependencies=[Depends(READ)])
def dry_run_deployment(deployment: Id, body: DryRunRequest, request: Request) -> DryRun:
    """What deploying a stored version to this deployment id would do now, per state, with
    the rendered inputs that changed (secrets masked); nothing runs, nothing is written."""
    store = journal(request)
    version = _version_for(store, deployment, body.blueprint, body.version)
    bp = library.bound(version, body.params)
    plan = dry_run(request.app.state.settings, store, bp, body.params, deployment)
    return DryRun(deployment=plan.deployment, blueprint=plan.blueprint, changes=plan.changes,
                  counts=plan.counts(),
                  steps=[Step(state=s.state, would=s.would, why=s.why,
                              diff=list(s.diff)) for s in plan.steps])


def _version_for(store: Store, deployment: str, name: str | None, number: int | None
                 ) -> BlueprintVersion:
    """The stored version asked for; by default of the blueprint the deployment runs."""
    if name is None:
        dep = store.deployment(deployment)
        name = ((dep.source or {}).get("stored") or {}).get("name") or dep.blueprint
    return store.blueprint(name, number)


@router.post("/{deployment}/resume", response_model=Accepted, status_code=202,
             dependencies=[Depends(OPERATE)])
def resume(deployment: Id, body: Continue, request: Request) -> Accepted:
    """Continue an interrupted, paused, cancelled or failed deployment (a paused one its
    live engine continues)."""
    result = use.resume(request.app.state.settings, journal(request), deployment, body.params,
                        detach=True)
    return _accepted(_handed(result), "resume")


@router.post("/{deployment}/rollback", response_model=Accepted, status_code=202,
             dependencies=[Depends(OPERATE)])
def rollback(deployment: Id, body: Continue, request: Request) -> Accepted:
    """Undo a deployment: its undo actions in reverse dependency order."""
    result = use.rollback(request.app.state.settings, journal(request), deployment,
                          body.params, detach=True)
    return _accepted(_handed(result), "rollback")


def _handed(result: use.Drive | use.Submitted | use.Requested
            ) -> use.Submitted | use.Requested:
    assert not isinstance(result, use.Drive)  # detached: never driven in this process
    return result


@router.post("/{deployment}/pause", response_model=Accepted, status_code=202,
             dependencies=[Depends(OPERATE)])
def pause(deployment: Id, body: Stop, request: Request) -> Accepted:
    """Ask the engine driving it to pause (running actions finish, unless ``now``)."""
    asked = control.pause(journal(request), deployment, now=body.now)
    return Accepted(deployment=deployment, what="pause", engines=1,
                    message=f"pause requested; the engine reports '{asked.goal}' once done")


@router.post("/{deployment}/cancel", response_model=Accepted, status_code=202,
             dependencies=[Depends(OPERATE)])
def cancel(deployment: Id, body: Stop, request: Request) -> Accepted:
    """Give up on a deployment (its live engine is asked; one no engine drives is
    cancelled at once)."""
    result = control.cancel(journal(request), deployment, now=body.now)
    if isinstance(result, control.Asked):
        return Accepted(deployment=deployment, what="cancel", engines=1,
                        message=f"cancel requested; the engine reports '{result.goal}' "
                                "once done")
    return Accepted(deployment=deployment, what="cancel", engines=0,
                    message=f"cancelled: {result.state}")


@router.post("/{deployment}/signal", response_model=Accepted, status_code=202)
def signal(deployment: Id, body: SignalRequest, request: Request,
           token: Operator) -> Accepted:
    """Signal a state that waits for one, with its outputs as ``data``."""
    sent = control.signal(journal(request), deployment, body.state, body.data,
                          f"signal by API token {token.name} ({token.id})")
    live = "its engine applies it" if sent.live else "applied when an engine drives it"
    return Accepted(deployment=deployment, what="signal", engines=int(sent.live),
                    message=f"signal {sent.seq} for {sent.node} journaled; {live}")


@router.post("/{deployment}/check", response_model=CheckDoc, dependencies=[Depends(OPERATE)])
def check(deployment: Id, body: Continue, request: Request) -> CheckDoc:
    """Ask every reached state's check probe of a succeeded deployment whether it still
    holds (run from this process, as ``murano-flow check``; the verdicts are journaled).
    Repairing drift is a converge: ``murano-flow check --fix`` or a deploy of its version."""
    _, _, probes = drift.look(request.app.state.settings, journal(request), deployment,
                              body.params, PROBE_WORKERS)
    return CheckDoc(deployment=deployment, drifted=drift.drifted(probes),
                    probes=[ProbeDoc(**vars(p)) for p in probes])


@router.get("/{deployment}/graph", dependencies=[Depends(READ)],
            responses={200: {"content": {"image/svg+xml": {}, "text/vnd.graphviz": {}},
                             "description": "The state graph, coloured by state"}})
def graph(deployment: Id, request: Request,
          format: Literal["svg", "dot"] = "svg") -> Response:  # noqa: A002 - the query name
    """The deployment's state graph coloured by each state's status; parts of composed
    blueprints are clusters; each SVG node's id is its state's name."""
    dot = deployment_dot(journal(request), deployment)
    if format == "dot":
        return Response(dot, media_type="text/vnd.graphviz")
    return Response(rendered(dot, "svg"), media_type="image/svg+xml")

