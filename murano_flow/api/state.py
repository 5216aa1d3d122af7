"""What a request finds on the application it reached: the journal opened at startup."""

from __future__ import annotations

from fastapi import Request

from ..store.base import Store


def journal(request: Request) -> Store:
    """The journal this API process serves (opened once, shared by every request)."""
    store: Store = request.app.state.store
    return store
