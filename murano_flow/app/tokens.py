"""API tokens: created here, shown once, journaled only as a digest; scoped and revocable.

A token reads ``mft_<id>_<secret>``: the id finds its row, the secret is compared with
the row's digest in constant time. Tokens are 256 random bits, so a plain sha256 is as
strong as a slow password hash would be (nothing to guess from a dictionary).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from datetime import UTC, datetime

from ..errors import AccessDenied, NotFound, UsageError
from ..store.base import SCOPES, ApiToken, Store

#: A token as presented: its id, then its secret.
_SHAPE = re.compile(r"mft_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue(store: Store, name: str, scope: str) -> tuple[ApiToken, str]:
    """Journal a new token called ``name`` with ``scope``; return it with the token text,
    which is shown this once and never stored."""
    if scope not in SCOPES:
        raise UsageError(f"unknown scope {scope!r}", hint=f"use one of {', '.join(SCOPES)}")
    if not _NAME.fullmatch(name):
        raise UsageError(f"token name {name!r}: use up to 64 letters, digits and . _ @ -")
    token_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    token = ApiToken(token_id, name, _digest(secret), scope, time.time())
    store.add_token(token)
    return token, f"mft_{token_id}_{secret}"


def authenticate(store: Store, presented: str | None, needed: str) -> ApiToken:
    """The valid token ``presented`` (a bearer token) if its scope allows ``needed``.

    Raises:
        AccessDenied: no token, a malformed, unknown, wrong or revoked one (``needed``
            '': the request is not authenticated), or one whose scope is too small.
    """
    if not presented:
        raise AccessDenied("this request needs an API token",
                           hint="send 'Authorization: Bearer TOKEN'; 'murano-flow token "
                                "create NAME --scope read' makes one")
    shape = _SHAPE.fullmatch(presented)
    token = _known(store, shape.group(1)) if shape else None
    if token is None or shape is None or not hmac.compare_digest(
            token.digest, _digest(shape.group(2))):
        raise AccessDenied("the API token is not valid (unknown or mistyped)")
    if token.revoked:
        when = datetime.fromtimestamp(token.revoked, UTC).isoformat(timespec="seconds")
        raise AccessDenied(f"the API token {token.id} ({token.name}) was revoked at {when}")
    if SCOPES.index(token.scope) < SCOPES.index(needed):
        raise AccessDenied(f"the API token {token.id} ({token.name}) has scope "
                           f"'{token.scope}'; this request needs '{needed}'", needed=needed)
    return token


def _known(store: Store, token_id: str) -> ApiToken | None:
    try:
        return store.token(token_id)
    except NotFound:
        return None


def revoke(store: Store, token_id: str) -> bool:
    """Revoke ``token_id`` for good; False if it was revoked already.

    Raises:
        NotFound: no such token.
    """
    return store.revoke_token(token_id)
