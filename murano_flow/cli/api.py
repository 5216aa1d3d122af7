"""``murano-flow serve`` (the HTTP API and dashboard) and ``murano-flow token``."""

from __future__ import annotations

import ipaddress
import logging
from datetime import UTC, datetime

import click

from ..app import tokens
from ..errors import UsageError
from ..wire.masking import masked_url
from .common import Settings, command, listen_address, rows_format_options
from .render import emit_rows, rows_wanted

log = logging.getLogger(__name__)
TOKEN_FIELDS = ("id", "name", "scope", "created", "revoked")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.command()
@click.option("--listen", default="127.0.0.1:8080", show_default=True, metavar="HOST:PORT",
              help="Where to listen (0.0.0.0:8080 for every interface).")
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False),
              help="PEM certificate (chain) to serve HTTPS with.")
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False),
              help="PEM private key of --tls-cert.")
@click.option("--max-body", type=click.IntRange(1024, 1 << 30), default=8 << 20,
              show_default=True, help="Largest request body accepted, in bytes.")
@click.option("--forwarded-allow-ips", default="127.0.0.1", show_default=True,
              help="Proxies trusted to say the client's address and scheme.")
@click.pass_obj
@command
def serve(settings: Settings, listen: str, tls_cert: str | None, tls_key: str | None,
          max_body: int, forwarded_allow_ips: str) -> None:
    """Serve the HTTP API and the web dashboard until SIGTERM.

    Every request needs an API token ('murano-flow token create'). Deployments are
    handed to the engine services ('murano-flow engine serve'); with none running, a
    background engine is started for each, as 'deploy --detach' does.
    """
    try:
        import uvicorn

        from ..api import create_app
    except ImportError as exc:
        raise UsageError("serve needs the API's libraries",
                         hint="pip install 'murano-flow[api]'") from exc
    host, port = listen_address(listen, "--listen")
    if bool(tls_cert) != bool(tls_key):
        raise UsageError("--tls-cert and --tls-key go together")
    app = create_app(settings, max_body=max_body)
    with settings.store() as store:
        if not [t for t in store.tokens() if not t.revoked]:
            click.echo("no API token exists yet: 'murano-flow token create NAME --scope "
                       "admin' makes one", err=True)
    if not tls_cert and not _loopback(host):
        click.echo(f"warning: plain HTTP on {host}: tokens cross the network in the clear; "
                   "give --tls-cert/--tls-key or serve behind a TLS proxy", err=True)
    scheme = "https" if tls_cert else "http"
    click.echo(f"serving {masked_url(settings.store_url)} on {scheme}://{listen}/ "
               f"(dashboard: {scheme}://{listen}/ui/)", err=True)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).setLevel(logging.INFO)
    uvicorn.run(app, host=host, port=port, ssl_certfile=tls_cert, ssl_keyfile=tls_key,
                log_config=None, forwarded_allow_ips=forwarded_allow_ips,
                server_header=False, timeout_graceful_shutdown=5)


@click.group("token")
def token() -> None:
    """API tokens: create (shown once), list, revoke."""


@token.command("create")
@click.argument("name")
@click.option("--scope", type=click.Choice(["read", "operate", "admin"]), required=True,
              help="read: look; operate: deploy and steer; admin: tokens and deletes too.")
@click.pass_obj
@command
def create(settings: Settings, name: str, scope: str) -> None:
    """Make a token called NAME; print it (it is shown this once, then only its digest is
    kept)."""
    with settings.store() as store:
        made, text = tokens.issue(store, name, scope)
    click.echo(f"token {made.id} ({made.name}, scope {made.scope}); keep it safe, it is not "
               "shown again:", err=True)
    click.echo(text)


@token.command("list")
@rows_format_options
@click.pass_obj
@command
def list_tokens(settings: Settings, fmt: str, columns: tuple[str, ...]) -> None:
    """Every token (never their secrets), revoked ones too."""
    with settings.existing_store() as store:
        rows = [{f: getattr(t, f) for f in TOKEN_FIELDS} for t in store.tokens()]
    if not rows and fmt == "table":
        click.echo("no API token ('murano-flow token create NAME --scope read' makes one)")
        return
    if fmt == "table":  # times as people read them; revoked '' while valid
        rows = [{**r, "created": _stamp(r["created"]),
                 "revoked": _stamp(r["revoked"]) if r["revoked"] else ""} for r in rows]
    emit_rows(rows, fmt, rows_wanted(fmt, columns, TOKEN_FIELDS, TOKEN_FIELDS)
              or list(TOKEN_FIELDS))


@token.command("revoke")
@click.argument("token_id", metavar="ID")
@click.pass_obj
@command
def revoke(settings: Settings, token_id: str) -> None:
    """Revoke token ID for good: requests with it are refused from now on."""
    with settings.existing_store() as store:
        changed = tokens.revoke(store, token_id)
    click.echo(f"token {token_id} revoked" if changed else f"token {token_id} was revoked "
                                                           "already")


def _stamp(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")
