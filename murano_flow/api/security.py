"""Who may do what: bearer tokens with scopes, bounded request bodies, and the headers
that keep the dashboard's page from being framed or fed foreign scripts.

The dashboard sends its token in the ``Authorization`` header from script, never as a
cookie, so a page on another site cannot make a browser send it: requests are safe from
cross-site request forgery without a CSRF token.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..app import tokens
from ..store.base import ApiToken
from .state import journal

#: Largest request body accepted by default (a blueprint with its scripts fits easily).
MAX_BODY = 8 << 20

_bearer = HTTPBearer(auto_error=False, description="An API token: murano-flow token create")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def needs(scope: str) -> Callable[..., ApiToken]:
    """A dependency admitting requests whose token has ``scope`` (or a wider one)."""
    def check(request: Request, credentials: Credentials) -> ApiToken:
        presented = credentials.credentials if credentials else None
        token = tokens.authenticate(journal(request), presented, scope)
        request.state.token = token
        return token
    return check


READ, OPERATE, ADMIN = needs("read"), needs("operate"), needs("admin")
#: The token of a request admitted with the operate scope.
Operator = Annotated[ApiToken, Depends(OPERATE)]

#: Sent with every response: no framing, no sniffing, scripts only from this server.
HEADERS = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
           (b"referrer-policy", b"no-referrer"),
           (b"content-security-policy",
            b"default-src 'self'; img-src 'self' data:; style-src 'self'; "
            b"script-src 'self'; object-src 'none'; frame-ancestors 'none'; "
            b"base-uri 'none'; form-action 'self'")]


class Guard:
    """ASGI middleware: refuses bodies over ``limit`` bytes (413, before the application
    reads them when Content-Length says so, else as soon as they exceed it) and adds
    :data:`HEADERS` to every response."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > self.limit:
            await _too_large(send, self.limit, declared.isdigit())
            return
        seen, started, refused = 0, False, False

        async def bounded() -> Message:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:  # answer now; the application sees the client leave
                refused = True
                if not started:
                    await _too_large(send, self.limit, True)
                return {"type": "http.disconnect"}
            return message

        async def headed(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the refusal was the answer
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []), *HEADERS]
            await send(message)

        try:
            await self.app(scope, bounded, headed)
        except Exception:
            if not refused:  # else: how the application took the disconnect, answered
                raise


async def _too_large(send: Send, limit: int, numeric: bool) -> None:
    from .problems import problem

    detail = (f"the request body is larger than {limit} bytes" if numeric
              else "the Content-Length header is not a number")
    response = problem(413 if numeric else 400, "request too large" if numeric
                       else "bad request", detail,
                       hint="start the server with a larger --max-body" if numeric else None)
    await send({"type": "http.response.start", "status": response.status_code,
                "headers": [*response.raw_headers, *HEADERS]})
    await send({"type": "http.response.body", "body": response.body})

