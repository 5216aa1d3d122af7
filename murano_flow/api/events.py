"""Event logs: read as JSON pages, or followed as Server-Sent Events.

A stream sends each event with ``id: <seq>``; a client that lost its connection sends
``Last-Event-ID`` (browsers do it themselves) or ``?after=`` and continues from there,
whichever API process it reaches: the cursor is the journal's own event number, so
several API processes beside several engines serve one stream. A cursor ahead of the
journal is refused (it was not given by this journal).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from ..app.documents import event_dict
from ..states import FINISHED
from ..store.base import Event, Store
from .deployments import Id
from .models import PROBLEMS
from .models import Event as EventDoc
from .security import READ
from .state import journal

router = APIRouter(tags=["events"], dependencies=[Depends(READ)], responses=PROBLEMS)

#: Seconds between looks at the journal while nothing new comes.
POLL = 0.25
#: Seconds between keep-alive comments on a quiet stream (proxies close idle ones).
KEEP_ALIVE = 15.0
#: Events read per look.
BATCH = 500
After = Annotated[int, Query(ge=0, le=2**63 - 1, description="Events after this seq")]
Limit = Annotated[int, Query(ge=1, le=10_000)]
LastEventId = Annotated[str | None, Header(max_length=20)]
STREAM = {200: {"content": {"text/event-stream": {}},
                "description": "One SSE message per event: id = seq, event = kind, "
                               "data = the event as JSON"}}



def cursor(store: Store, after: int, last_event_id: str | None) -> int:
    """Where a reader continues: ``Last-Event-ID`` (a reconnecting stream) over ``after``.

    Raises:
        HTTPException: 400 for a cursor that is not a number or is ahead of the journal.
    """
    if last_event_id is not None:
        if not last_event_id.isdigit():
            raise HTTPException(400, "Last-Event-ID must be an event number (seq)")
        after = int(last_event_id)
    newest = store.newest_event()
    if after > newest:
        raise HTTPException(400, f"cursor {after} is ahead of the journal (its newest event "
                                 f"is {newest}): it was not given by this journal")
    return after


@router.get("/v1/deployments/{deployment}/events", response_model=list[EventDoc])
def deployment_events(deployment: Id, request: Request, after: After = 0,
                      limit: Limit = 1000) -> list[EventDoc]:
    """A page of a deployment's events, oldest first."""
    store = journal(request)
    cursor(store, after, None)
    return [EventDoc(**event_dict(e)) for e in store.events(deployment, after, limit)]


@router.get("/v1/events", response_model=list[EventDoc])
def feed(request: Request, after: After = 0, limit: Limit = 1000) -> list[EventDoc]:
    """A page of every deployment's events, in journal order."""
    store = journal(request)
    cursor(store, after, None)
    return [EventDoc(**event_dict(e)) for e in store.feed(after, limit)]


@router.get("/v1/deployments/{deployment}/events/stream", responses=STREAM,  # type: ignore[arg-type]
            response_class=StreamingResponse)
async def follow_deployment(deployment: Id, request: Request, after: After = 0,
                            last_event_id: LastEventId = None,
                            close_when_finished: bool = False) -> StreamingResponse:
    """Follow a deployment's events live; with ``close_when_finished`` the stream ends
    once it has finished and every event was sent."""
    store = journal(request)
    await run_in_threadpool(store.deployment, deployment)  # 404 for an unknown one
    start = await run_in_threadpool(cursor, store, after, last_event_id)

    def read(seq: int) -> list[Event]:
        return store.events(deployment, seq, BATCH)

    def done() -> bool:  # finished, and no engine asked to take it again
        dep = store.deployment(deployment)
        return close_when_finished and dep.state in FINISHED and not dep.request

    return _stream(request, read, start, done)


@router.get("/v1/events/stream", responses=STREAM,  # type: ignore[arg-type]
            response_class=StreamingResponse)
async def follow_feed(request: Request, after: After = 0,
                      last_event_id: LastEventId = None) -> StreamingResponse:
    """Follow every deployment's events live, in journal order."""
    store = journal(request)
    start = await run_in_threadpool(cursor, store, after, last_event_id)
    return _stream(request, lambda seq: store.feed(seq, BATCH), start, lambda: False)


def _stream(request: Request, read: Callable[[int], list[Event]], after: int,
            done: Callable[[], bool]) -> StreamingResponse:
    async def messages() -> AsyncIterator[bytes]:
        seq, quiet_since = after, time.monotonic()
        yield b"retry: 2000\n\n"
        while not await request.is_disconnected():
            batch = await run_in_threadpool(read, seq)
            for e in batch:
                yield sse(e)
                seq = e.seq
            if batch:
                quiet_since = time.monotonic()
                continue
            if await run_in_threadpool(done) and not await run_in_threadpool(read, seq):
                return
            if time.monotonic() - quiet_since > KEEP_ALIVE:
                yield b": keep-alive\n\n"
                quiet_since = time.monotonic()
            await asyncio.sleep(POLL)

    return StreamingResponse(messages(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


def sse(e: Event) -> bytes:
    """``e`` as one Server-Sent Events message (JSON has no raw newline to escape)."""
    return (f"id: {e.seq}\nevent: {e.kind}\ndata: {json.dumps(event_dict(e))}\n\n").encode()
