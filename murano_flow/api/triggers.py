"""``/v1/triggers``: cron and message triggers that the engine services fire."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response

from ..app import triggers
from ..errors import NotFound
from ..store.base import Trigger
from .models import PROBLEMS, NewTrigger, TriggerDoc
from .security import OPERATE, READ
from .state import journal

router = APIRouter(prefix="/v1/triggers", tags=["triggers"], responses=PROBLEMS)
TriggerId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")]



def _doc(t: Trigger) -> TriggerDoc:
    return TriggerDoc(id=t.id, kind=t.kind, spec=t.spec, blueprint=t.blueprint,
                      version=t.version, deployment=t.deployment, params=t.params, due=t.due,
                      created=t.created, fired=t.fired, last=t.last)


@router.get("", response_model=list[TriggerDoc], dependencies=[Depends(READ)])
def list_triggers(request: Request) -> list[TriggerDoc]:
    """Every trigger, how often it fired and what its last firing did."""
    return [_doc(t) for t in journal(request).triggers()]


@router.post("", response_model=TriggerDoc, status_code=201, dependencies=[Depends(OPERATE)])
def add(body: NewTrigger, request: Request) -> TriggerDoc:
    """Register a trigger (checked as a firing would be: the stored version binds to the
    parameters; the cron expression or message address parses); secrets sealed."""
    made = triggers.register(request.app.state.settings, journal(request), body.id,
                             blueprint=body.blueprint, version=body.version,
                             deployment=body.deployment, given=body.params, cron=body.cron,
                             timezone=body.timezone, on_message=body.on_message,
                             match=body.match, from_user=body.from_user)
    return _doc(made)


@router.get("/{trigger_id}", response_model=TriggerDoc, dependencies=[Depends(READ)])
def read(trigger_id: TriggerId, request: Request) -> TriggerDoc:
    """One trigger."""
    return _doc(journal(request).trigger(trigger_id))


@router.delete("/{trigger_id}", status_code=204, dependencies=[Depends(OPERATE)])
def remove(trigger_id: TriggerId, request: Request) -> Response:
    """Remove a trigger: it fires no more."""
    if not triggers.remove(journal(request), trigger_id):
        raise NotFound(f"no trigger '{trigger_id}'")
    return Response(status_code=204)
