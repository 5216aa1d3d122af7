"""Errors as problem details (RFC 9457, ``application/problem+json``), with the same
messages and hints as the CLI prints, and a blueprint's problems as ``file:line``.

Nothing a client sent is echoed back in a validation problem: a secret parameter with
a wrong type must not come back in the response (nor reach a log).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from ..errors import (
    AccessDenied,
    BlueprintError,
    DecodeError,
    MuranoFlowError,
    NotFound,
    StoreError,
    UsageError,
)

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"

#: HTTP status of each error class (the first that matches, most specific first).
_STATUS: tuple[tuple[type[MuranoFlowError], int], ...] = (
    (NotFound, 404), (BlueprintError, 422), (UsageError, 409), (DecodeError, 400),
    (StoreError, 503))


def problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    """A problem details response."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail,
            **{k: v for k, v in extra.items() if v not in (None, "", [])}}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def status_of(exc: MuranoFlowError) -> int:
    """The HTTP status an error stands for."""
    if isinstance(exc, AccessDenied):
        return 403 if exc.needed else 401
    return next((code for cls, code in _STATUS if isinstance(exc, cls)), 500)


def _ours(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, MuranoFlowError)
    status = status_of(exc)
    if status == 500:
        log.error("%s %s: %s", request.method, request.url.path, exc)
    diagnostics = [{"file": d.file, "line": d.line, "column": d.column, "message": d.message,
                    "text": str(d)} for d in exc.diagnostics] \
        if isinstance(exc, BlueprintError) else None
    title = "invalid blueprint" if diagnostics else type(exc).__name__
    return problem(status, title, exc.message, hint=exc.hint, diagnostics=diagnostics)


def _invalid(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{"where": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", "")}
              for e in exc.errors()]
    detail = "; ".join(f"{e['where']}: {e['message']}" for e in errors[:5])
    return problem(422, "invalid request", detail, errors=errors)


def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return problem(exc.status_code, "HTTP error", str(exc.detail))


def _bug(request: Request, exc: Exception) -> JSONResponse:
    log.exception("internal error serving %s %s", request.method, request.url.path)
    return problem(500, "internal error", f"{type(exc).__name__}: a bug in murano-flow, "
                                          "logged by the server; please report it")


def install(app: FastAPI) -> None:
    """Answer every error of ``app`` with a problem document."""
    app.add_exception_handler(MuranoFlowError, _ours)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(Exception, _bug)
