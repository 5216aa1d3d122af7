"""The service's own resources: health, metrics, engines, API tokens."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.concurrency import run_in_threadpool

from ..app import tokens
from ..app.agents import agents as agent_list
from ..store.base import ApiToken
from ..wire.masking import masked_url
from . import metrics
from .models import PROBLEMS, AgentInfo, CreatedToken, EngineInfo, Health, NewToken, Token
from .problems import problem
from .security import ADMIN, READ
from .state import journal

router = APIRouter(responses=PROBLEMS)
TokenId = Annotated[str, Path(pattern=r"^[0-9a-f]{12}$")]



@router.get("/healthz", response_model=Health, tags=["service"],
            responses={503: {"description": "The journal cannot be read"}})
async def healthz(request: Request) -> Response | Health:
    """Whether this process answers and can read the journal (no token needed; it tells
    nothing about deployments)."""
    url = masked_url(request.app.state.settings.store_url)
    try:
        newest = await run_in_threadpool(journal(request).newest_event)
    except Exception as exc:  # any failure to read is ill health, said as such
        return problem(503, "journal unavailable", f"cannot read the journal {url}: {exc}")
    return Health(status="ok", journal=url, newest_event=newest)


@router.get("/metrics", tags=["service"], dependencies=[Depends(READ)],
            responses={200: {"content": {"text/plain": {}},
                             "description": "Prometheus text exposition format"}})
def prometheus(request: Request) -> Response:
    """Prometheus metrics (scrape with a read token: ``authorization`` in the job)."""
    body, media_type = metrics.exposition(journal(request))
    return Response(body, media_type=media_type)


@router.get("/v1/engines", response_model=list[EngineInfo], tags=["service"],
            dependencies=[Depends(READ)])
def engines(request: Request) -> list[EngineInfo]:
    """Engine services alive now, and what each drives."""
    return [EngineInfo(**e) for e in journal(request).engines()]


@router.get("/v1/agents", response_model=list[AgentInfo], tags=["service"],
            dependencies=[Depends(READ)])
def agents(request: Request) -> list[AgentInfo]:
    """The guest agents of the deployments' amqp hosts: connected now or not (asked of the
    broker, passively), plans waiting in their queues, and the states each holds."""
    return [AgentInfo(**vars(a)) for a in agent_list(request.app.state.settings,
                                                     journal(request))]


def _token(t: ApiToken) -> Token:
    return Token(id=t.id, name=t.name, scope=t.scope, created=t.created, revoked=t.revoked)


@router.get("/v1/tokens", response_model=list[Token], tags=["tokens"],
            dependencies=[Depends(ADMIN)])
def list_tokens(request: Request) -> list[Token]:
    """Every API token (never their secrets), revoked ones too."""
    return [_token(t) for t in journal(request).tokens()]


@router.post("/v1/tokens", response_model=CreatedToken, status_code=201, tags=["tokens"],
             dependencies=[Depends(ADMIN)])
def create_token(body: NewToken, request: Request) -> CreatedToken:
    """A new token; its text is in this response only."""
    token, text = tokens.issue(journal(request), body.name, body.scope)
    return CreatedToken(**_token(token).model_dump(), token=text)


@router.delete("/v1/tokens/{token_id}", status_code=204, tags=["tokens"],
               dependencies=[Depends(ADMIN)])
def revoke_token(token_id: TokenId, request: Request) -> Response:
    """Revoke a token for good (revoking it again changes nothing)."""
    tokens.revoke(journal(request), token_id)
    return Response(status_code=204)
