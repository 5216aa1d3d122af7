"""The HTTP API (``murano-flow serve``): the same use cases as the CLI, over the same
journal, stateless between requests, so several API processes can serve one journal
beside several engine services. The OpenAPI document is generated from the routes'
types (docs/openapi.json); the dashboard is served from ``/ui/``.

FastAPI (on Starlette, served by uvicorn) was chosen because the request and response
types that validate every request also generate the OpenAPI document: the document
cannot drift from what the server checks, and it is what the fuzzing tests use.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from .. import __version__
from ..app.report import ASSETS
from ..app.settings import Settings
from ..errors import UsageError
from . import blueprints, deployments, events, problems, service, triggers
from .problems import MEDIA_TYPE
from .security import MAX_BODY, Guard


def create_app(settings: Settings, *, max_body: int = MAX_BODY) -> FastAPI:
    """The API application over ``settings``' journal (opened at startup).

    Raises:
        UsageError: for an in-memory journal, which no engine could share.
    """
    if settings.store_url.startswith("memory:"):
        raise UsageError("the API needs a journal that engines share",
                         hint="use --store sqlite:///PATH or postgresql://...")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.store = settings.store()
        try:
            yield
        finally:
            app.state.store.close()

    app = FastAPI(title="murano-flow", version=__version__, lifespan=lifespan,
                  summary="Blueprints, deployments, their events and engines",
                  docs_url=None, redoc_url=None)  # those pages load scripts from a CDN
    app.state.settings = settings
    problems.install(app)
    for module in (service, blueprints, deployments, events, triggers):
        app.include_router(module.router)
    app.mount("/ui", StaticFiles(directory=ASSETS, html=True), name="ui")
    app.add_api_route("/", lambda: RedirectResponse("/ui/"), include_in_schema=False)
    app.add_middleware(Guard, limit=max_body)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The generated document, with every error response as problem+json (FastAPI
    files a model under application/json)."""
    if app.openapi_schema is None:
        schema = FastAPI.openapi(app)
        for operations in schema["paths"].values():
            for operation in operations.values():
                for code, response in operation.get("responses", {}).items():
                    content = response.get("content", {})
                    if code[0] in "45" and "application/json" in content:
                        response["content"] = {MEDIA_TYPE: content.pop("application/json")}
        app.openapi_schema = schema
    return app.openapi_schema
