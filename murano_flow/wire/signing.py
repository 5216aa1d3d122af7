"""Authenticating and encrypting messages between the engine and guest agents.

Every message carries, in its AMQP headers, the queue it was addressed to, a time
stamp, a random nonce and an HMAC-SHA256 over all of them and the body, keyed with
the agent's own key. So a message signed for one agent's queue does not verify on
another's, a changed byte breaks the signature, and a captured message replayed
later is refused: too old, or its nonce already seen.

Bodies are encrypted too (:func:`encrypt`: Fernet, AES-128-CBC with HMAC-SHA256 from the
``cryptography`` package, under a key derived with HKDF from the agent's key): a plan or a
result read off a queue - by another agent, a broker user, a capture - reveals nothing,
and only that agent and the engines (which derive every agent's key) can read it.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import math
import secrets
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from ..errors import SignatureError

#: Header names carried by every signed message.
QUEUE, STAMP, NONCE, SIGNATURE = "mf-queue", "mf-stamp", "mf-nonce", "mf-signature"

#: Default oldest acceptable message: plans may wait in a durable queue while a VM boots.
MAX_AGE = 24 * 3600.0
#: Largest tolerated clock skew into the future.
MAX_SKEW = 300.0


def new_key() -> str:
    """A fresh random per-agent key (hex, 256 bits)."""
    return secrets.token_hex(32)


def agent_key(secret: str, queue: str) -> str:
    """The key of the agent consuming ``queue``, derived from the engines' shared secret.

    Engines need only the one secret; each agent gets only its own key, so a
    compromised VM cannot sign as another agent.
    """
    return hmac.new(secret.encode(), b"murano-flow agent key\0" + queue.encode(),
                    hashlib.sha256).hexdigest()


#: Header naming the agent a notice comes from (its key opens the body).
AGENT = "mf-agent"
_CIPHER_INFO = b"murano-flow message encryption v1"


@functools.lru_cache(maxsize=4096)
def _fernet(key: str) -> Any:
    from cryptography.fernet import Fernet
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                   info=_CIPHER_INFO).derive(bytes.fromhex(key))
    return Fernet(base64.urlsafe_b64encode(derived))


def encrypt(key: str, body: bytes) -> bytes:
    """``body`` encrypted (and authenticated) for the holder of the agent key ``key``."""
    return bytes(_fernet(key).encrypt(body))


def decrypt(key: str, token: bytes) -> bytes:
    """The body :func:`encrypt` sealed under ``key``; SignatureError if it cannot be."""
    from cryptography.fernet import InvalidToken

    try:
        return bytes(_fernet(key).decrypt(token))
    except (InvalidToken, ValueError, TypeError):
        raise SignatureError("undecryptable", "the body is not encrypted with this "
                                              "agent's key") from None


def _mac(key: str, queue: str, stamp: str, nonce: str, body: bytes) -> str:
    msg = b"\0".join((queue.encode(), stamp.encode(), nonce.encode(), body))
    return hmac.new(bytes.fromhex(key), msg, hashlib.sha256).hexdigest()


def sign(key: str, queue: str, body: bytes, *, now: float | None = None) -> dict[str, str]:
    """Headers that authenticate ``body`` sent to ``queue``."""
    stamp = f"{time.time() if now is None else now:.6f}"
    nonce = secrets.token_hex(16)
    return {QUEUE: queue, STAMP: stamp, NONCE: nonce,
            SIGNATURE: _mac(key, queue, stamp, nonce, body)}


class ReplayGuard:
    """Remembers nonces seen within the acceptance window (bounded)."""

    def __init__(self, max_age: float = MAX_AGE, capacity: int = 100_000) -> None:
        self.max_age, self.capacity = max_age, capacity
        self._seen: OrderedDict[str, float] = OrderedDict()

    def seen(self, nonce: str) -> bool:
        """Whether ``nonce`` is remembered."""
        return nonce in self._seen

    def check_and_add(self, nonce: str, stamp: float) -> bool:
        """False when ``nonce`` was already seen (or ``stamp`` is no finite time, which
        would empty the window); otherwise remember it."""
        if not math.isfinite(stamp):
            return False
        self._expire(stamp)
        if nonce in self._seen:
            return False
        self._seen[nonce] = stamp
        while len(self._seen) > self.capacity:
            self._seen.popitem(last=False)
        return True

    def _expire(self, now: float) -> None:
        while self._seen:
            nonce, stamp = next(iter(self._seen.items()))
            if now - stamp <= self.max_age:
                break
            del self._seen[nonce]

    def dump(self) -> dict[str, float]:
        """The remembered nonces, to persist across restarts."""
        return dict(self._seen)

    def load(self, seen: Mapping[str, float]) -> None:
        """Restore remembered nonces."""
        for nonce, stamp in sorted(seen.items(), key=lambda kv: kv[1]):
            self._seen[nonce] = float(stamp)


def verify(key: str, queue: str, body: bytes, headers: Mapping[str, Any] | None, *,
           guard: ReplayGuard | None = None, now: float | None = None,
           max_age: float = MAX_AGE) -> None:
    """Check that ``body`` arrived on ``queue`` as signed; raise SignatureError otherwise."""
    headers = headers or {}
    fields = [headers.get(h) for h in (QUEUE, STAMP, NONCE, SIGNATURE)]
    if not all(isinstance(f, str) and f for f in fields):
        raise SignatureError("unsigned", "the message carries no complete signature headers")
    sent_to, stamp, nonce, signature = (str(f) for f in fields)
    expected = _mac(key, sent_to, stamp, nonce, body)
    if not hmac.compare_digest(expected, signature):
        raise SignatureError("mis-signed", "the signature does not match (wrong key or "
                                           "altered message)")
    if sent_to != queue:
        raise SignatureError("wrong-queue", f"signed for queue '{sent_to}', received on '{queue}'")
    try:
        sent = float(stamp)
    except ValueError:
        sent = math.nan
    if not math.isfinite(sent):  # NaN compares false with everything: it would pass
        raise SignatureError("mis-signed", f"bad time stamp {stamp[:40]!r}")
    now = time.time() if now is None else now
    if now - sent > max_age or sent - now > MAX_SKEW:
        raise SignatureError("stale", f"sent at {sent:.0f}, now {now:.0f} (window "
                                      f"{max_age:.0f} s); check the clocks")
    if guard is not None and not guard.check_and_add(nonce, sent):
        raise SignatureError("replayed", f"nonce {nonce} was already used")
