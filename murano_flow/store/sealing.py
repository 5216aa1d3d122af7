"""Secrets sealed in the journal: a detached deployment's secret parameters, and the
clear copy of outputs that carried a secret.

Secrets are never journaled in the clear. An engine service on another machine still
needs them to render the actions, so ``deploy --detach`` seals them (Fernet:
AES-128-CBC with HMAC-SHA256, from the ``cryptography`` package) under a key derived
(HKDF-SHA256) from the engines' shared secret - the one they already need to talk to
agents. Anyone who can read the journal but lacks that secret sees only the token.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from ..errors import UsageError
from ..wire.masking import MASK

_INFO = b"murano-flow sealed parameters v1"


def _fernet(secret: str) -> Any:
    from cryptography.fernet import Fernet
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
        secret.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def seal(secret: str, values: dict[str, Any]) -> str:
    """``values`` encrypted and authenticated under ``secret``."""
    return str(_fernet(secret).encrypt(json.dumps(values).encode()).decode("ascii"))


def unseal(secret: str, token: str) -> dict[str, Any]:
    """The values :func:`seal` sealed; UsageError if ``secret`` is not the one used."""
    from cryptography.fernet import InvalidToken

    try:
        values = json.loads(_fernet(secret).decrypt(token.encode("ascii")))
    except (InvalidToken, ValueError) as exc:
        raise UsageError("the deployment's secret parameters were sealed with another "
                         "engine secret", hint="every engine and the CLI that submits "
                         "deployments need the same MURANO_FLOW_AGENT_SECRET (or "
                         "HOME/agent.secret)") from exc
    if not isinstance(values, dict):
        raise UsageError("the deployment's sealed parameters are not a mapping")
    return values


#: Where a node's journaled outputs keep their sealed clear copy, when masking hid a secret.
SEALED = "__sealed__"


def journal_outputs(values: dict[str, Any], masked: dict[str, Any], secret: str | None
                    ) -> dict[str, Any]:
    """Outputs as the journal keeps them: ``masked`` (what people see), plus a sealed copy
    of ``values`` when the mask hid a secret and there is an engine secret to seal with,
    so that a later run reads the real values, never the mask."""
    if masked == values or not secret:
        return masked
    return {**masked, SEALED: seal(secret, values)}


def clear_outputs(journaled: dict[str, Any], secret: str | None) -> dict[str, Any] | None:
    """The outputs a state reads from a journaled row: unsealed if they were sealed, as
    they are if nothing was masked; None when a secret was masked and cannot be had."""
    if not journaled:  # most rows: nothing published (no need to look for a mask)
        return {}
    token = journaled.get(SEALED)
    if token is None:
        return None if MASK in json.dumps(journaled) else dict(journaled)
    if not secret:
        return None
    try:
        return unseal(secret, str(token))
    except UsageError:
        return None


def unreadable(name: str) -> str:
    """Why the outputs of ``name`` cannot be read (:func:`clear_outputs` gave None)."""
    return (f"the outputs of {name} carried a secret and are journaled masked; they cannot be "
            "read without the engine secret that sealed them (MURANO_FLOW_AGENT_SECRET or "
            f"HOME/agent.secret), or run {name} again (deploy --id converges it)")


def shown_outputs(journaled: dict[str, Any]) -> dict[str, Any]:
    """Journaled outputs as people see them (masked, without the sealed copy)."""
    return {k: v for k, v in journaled.items() if k != SEALED}
