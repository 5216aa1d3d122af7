"""The one way murano-flow reaches RabbitMQ: every client connects through this module.

Its clients are the amqp transport, the message waits of the engine, ``notify``,
``schedule --on-message`` and the guest agent. They share:

* :func:`connection_parameters`: pika parameters from a broker URL, with our defaults
  (heartbeats, timeouts) and TLS for ``amqps://`` (certificate and host name verified);
* :func:`connect`: a blocking connection, or :class:`~murano_flow.errors.BrokerUnreachable`
  saying why in one line, and whether waiting can heal it (``refused`` when it cannot:
  the login, the virtual host, an untrusted certificate, a malformed URL);
* :func:`keep_connected`: the reconnect loop: connect with :class:`Backoff`, run the
  client's session on the connection, reconnect when the connection breaks, and log an
  outage once, not once per attempt;
* one mapping of pika's errors (:data:`CONNECTION_LOST`, :func:`broker_error`).

pika is imported on first use, so that a local-only install does not need it.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from ..errors import BrokerUnreachable
from .masking import masked_url
from .tally import TALLY

log = logging.getLogger(__name__)

#: Query parameters of an amqps:// URL that murano-flow reads itself (pika's own way is a
#: Python dict literal in ``ssl_options=``): the CA bundle, and a client certificate.
TLS_QUERY = ("cafile", "certfile", "keyfile")
#: Our defaults where the URL sets none: heartbeats find a dead peer, timeouts bound a hang.
_DEFAULTS = {"heartbeat": 30, "blocked_connection_timeout": 60, "connection_attempts": 1,
             "socket_timeout": 5}


def connection_lost() -> tuple[type[BaseException], ...]:
    """The exception types that mean "the broker connection broke": reconnect and go on."""
    import pika.exceptions

    return pika.exceptions.AMQPError, OSError


def connection_parameters(url: str) -> Any:
    """pika parameters for ``url``, with our defaults where the URL sets none.

    ``amqps://`` verifies the broker's certificate and host name, against the system's CAs
    or ``?cafile=PATH``; ``certfile=`` and ``keyfile=`` present a client certificate.
    Raises ValueError for a URL pika or these rules refuse.
    """
    import pika

    parts = urlsplit(url)
    query = parse_qs(parts.query, keep_blank_values=True)
    tls = {k: query.pop(k)[-1] for k in TLS_QUERY if k in query}
    params = pika.URLParameters(urlunsplit(parts._replace(query=urlencode(query, doseq=True))))
    if params.ssl_options is None and tls:
        raise ValueError(f"{', '.join(tls)} in the broker URL need an amqps:// URL")
    if params.ssl_options is not None:
        context = ssl.create_default_context(cafile=tls.get("cafile"))
        if "certfile" in tls:
            context.load_cert_chain(tls["certfile"], tls.get("keyfile"))
        params.ssl_options = pika.SSLOptions(context, server_hostname=parts.hostname)
    for name, value in _DEFAULTS.items():
        if name not in query:
            setattr(params, name, value)
    return params


def connect(url: str) -> Any:
    """A pika ``BlockingConnection`` to ``url``.

    Raises:
        BrokerUnreachable: with the reason in one line; ``refused`` is set when trying
            again cannot help (credentials, virtual host, TLS trust, a malformed URL).
    """
    import pika

    try:
        params = connection_parameters(url)
    except ValueError as exc:
        raise BrokerUnreachable(f"the broker URL {masked_url(url)} is not usable: {exc}",
                                reason=str(exc), refused=True,
                                hint="fix --broker / MURANO_FLOW_BROKER") from exc
    attempt = 1
    while True:
        try:  # not ValueError here: an untrusted certificate is one (SSLCertVerificationError)
            return pika.BlockingConnection(params)
        except connection_lost() as exc:
            if _guessed(exc) and attempt < GUESSES:
                attempt += 1
                time.sleep(0.2)  # a refusal guessed from a closed socket: ask again
                continue
            reason = broker_error(exc)
            raise BrokerUnreachable(f"cannot reach the broker at {masked_url(url)}: {reason}",
                                    reason=reason, refused=is_refusal(exc),
                                    hint="start RabbitMQ (rabbitmq-server -detached) or fix "
                                         "--broker / MURANO_FLOW_BROKER") from exc


def close_quietly(conn: Any) -> None:
    """Close a pika connection that may already be broken."""
    if conn.is_open:
        with contextlib.suppress(*connection_lost()):
            conn.close()


@dataclass
class Backoff:
    """Delays between reconnect attempts: ``first``, doubling up to ``most``."""

    first: float = 0.2
    most: float = 5.0
    delay: float = 0.0

    def next(self) -> float:
        """The pause before the next attempt (and doubles the one after)."""
        self.delay = min(self.delay * 2, self.most) if self.delay else self.first
        return self.delay

    def reset(self) -> None:
        """The broker answered: the next outage starts from ``first`` again."""
        self.delay = 0.0


def keep_connected(url: str, session: Callable[[Any, float], bool], *, what: str,
                   until: Callable[[], bool], wait: Callable[[float], object],
                   backoff: Backoff | None = None,
                   on_down: Callable[[BrokerUnreachable, float], None] | None = None,
                   logger: logging.Logger = log) -> None:
    """Run ``session(connection, outage)`` on connections to ``url`` until ``until()`` or
    a session returns True; reconnect whenever the connection breaks.

    ``outage`` is how long the broker was out of reach before this connection. Between
    failed attempts ``on_down(error, down_for)`` is told, and ``wait`` pauses by
    ``backoff``. A session's broken connection is logged and closed here; any
    other exception from it propagates. The outage is logged once (to ``logger``: the
    client's own log), and so is its end.
    """
    backoff = backoff or Backoff()
    down_since, noted, connected = time.monotonic(), False, False
    while not until():
        try:
            conn = connect(url)
        except BrokerUnreachable as exc:
            delay = backoff.next()
            if not noted:
                noted = True
                logger.warning("%s: %s; reconnecting in %.1f s (and on, quietly)", what,
                               exc.message, delay)
            if on_down is not None:
                on_down(exc, time.monotonic() - down_since)
            wait(delay)
            continue
        backoff.reset()
        if connected:  # not the first connection: one was lost or refused before it
            TALLY.add("broker_reconnects", what)
        connected = True
        if noted:
            noted = False
            logger.warning("%s: the broker at %s is reachable again", what, masked_url(url))
        lost = None
        try:
            if session(conn, time.monotonic() - down_since):
                return
        except connection_lost() as exc:
            lost = exc
        finally:
            close_quietly(conn)
        down_since = time.monotonic()
        if lost is not None:
            noted, delay = True, backoff.next()  # a broker that drops us at once is not hammered
            logger.warning("%s: broker connection lost (%s); reconnecting in %.1f s", what,
                           broker_error(lost), delay)
            wait(delay)


#: Attempts before a refusal that pika only guesses is believed (see :func:`_guessed`).
GUESSES = 3


def _guessed(exc: BaseException) -> bool:
    """Whether pika guessed a refusal from a connection closed during the handshake (it
    calls any such close "access denied" or "authentication"), which a network cut or an
    overloaded broker causes too: only a repeated one is taken for a refusal."""
    import pika.exceptions as pe

    return isinstance(exc, pe.ProbableAuthenticationError | pe.ProbableAccessDeniedError)


def is_refusal(exc: BaseException) -> bool:
    """Whether the broker refused us for good (login, vhost, TLS certificate)."""
    import pika.exceptions as pe

    return isinstance(exc, pe.ProbableAuthenticationError | pe.ProbableAccessDeniedError) \
        or _untrusted(exc)


def _untrusted(exc: BaseException) -> bool:
    """Whether TLS refused the broker's certificate (pika may wrap the SSL error)."""
    return isinstance(exc, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(exc)


def broker_error(exc: BaseException) -> str:
    """A one-line reason for a broker error (pika's own texts are often empty)."""
    import pika.exceptions as pe

    if isinstance(exc, pe.ProbableAuthenticationError):
        return "the broker refused the user name or password in the broker URL"
    if isinstance(exc, pe.ProbableAccessDeniedError):
        return "the broker denied access to the virtual host in the broker URL"
    if _untrusted(exc):
        return ("the broker's TLS certificate is not trusted (" + str(exc).strip("()' ,")[:200]
                + "): give its CA with ?cafile=PATH in the broker URL")
    text = str(exc).strip("()' ,")
    return f"{type(exc).__name__}: {text}" if text else f"{type(exc).__name__} (cannot connect)"
