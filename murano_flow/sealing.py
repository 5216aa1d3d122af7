"""Secret parameters of a deployment handed to engine services, sealed in the journal.

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

from .errors import UsageError

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
