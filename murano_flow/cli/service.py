"""``murano-flow engine serve|list`` and ``murano-flow db upgrade``: several engines
sharing one journal."""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from typing import Any

import click

from ..app.service import EngineService
from ..engine import identity
from ..engine.lease import DEFAULT_TTL
from ..errors import UsageError
from ..wire.masking import masked_url
from .common import Settings, command, duration, format_option, listen_address
from .render import emit

log = logging.getLogger(__name__)


@click.group()
def engine() -> None:
    """Engine services: drive the deployments submitted with `deploy --detach`."""


@engine.command()
@click.option("--max-deployments", type=click.IntRange(1, 10_000), default=8,
              show_default=True, help="Deployments this engine drives at once.")
@click.option("--max-actions", type=click.IntRange(1, 100_000), default=64, show_default=True,
              help="Actions this engine runs at once over all its deployments, shared fairly.")
@click.option("--per-deployment", type=click.IntRange(1, 1024), default=16, show_default=True,
              help="Actions one deployment runs at once.")
@click.option("--lease", "lease_text", metavar="DURATION", default=f"{DEFAULT_TTL:.0f}s",
              show_default=True, help="How long a deployment stays this engine's without a "
                                      "renewal: another engine takes over after that.")
@click.option("--poll", "poll_text", metavar="DURATION", default="1s", show_default=True,
              help="How often to look for deployments to take.")
@click.option("--exit-when-idle", "idle_text", metavar="DURATION",
              help="Stop after this long with nothing to drive (batch runs, tests).")
@click.option("--metrics", "metrics_at", metavar="HOST:PORT",
              help="Serve this engine's Prometheus metrics there (no token: keep it on "
                   "loopback or a private network).")
@click.pass_obj
@command
def serve(settings: Settings, max_deployments: int, max_actions: int, per_deployment: int,
          lease_text: str, poll_text: str, idle_text: str | None,
          metrics_at: str | None) -> None:
    """Drive submitted deployments until SIGTERM; SIGTERM hands them over to other engines.

    Run one per machine (or several); they share the journal given by --store, which must
    be PostgreSQL for engines on more than one machine.
    """
    ttl = duration(lease_text, "--lease") or DEFAULT_TTL
    if ttl < 3:
        raise UsageError("--lease must be at least 3s (it is renewed every third of it)")
    poll = duration(poll_text, "--poll") or 1.0
    idle = duration(idle_text, "--exit-when-idle")
    logging.getLogger("murano_flow").setLevel(min(logging.INFO,
                                                  logging.getLogger().getEffectiveLevel()))
    with settings.store() as store:
        service = EngineService.of(settings, store, max_deployments=max_deployments,
                                   per_deployment=per_deployment, max_actions=max_actions,
                                   ttl=ttl, poll=poll)
        if metrics_at:
            service.observer = _metrics(metrics_at, service.health)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: service.stop())
        click.echo(f"engine {service.me} serving {masked_url(settings.store_url)}", err=True)
        service.serve(until=service.idle_for(idle) if idle else lambda: False)
        click.echo(f"engine {service.me} stopped after {service.finished} deployments",
                   err=True)


def _metrics(where: str, health: Callable[[], tuple[bool, str]]) -> Any:
    """This engine's metrics and health, served on ``where`` (HOST:PORT)."""
    try:
        from ..api.metrics import EngineMetrics
    except ImportError as exc:
        raise UsageError("--metrics needs prometheus-client",
                         hint="pip install 'murano-flow[api]'") from exc
    host, port = listen_address(where, "--metrics")
    metrics = EngineMetrics()
    try:
        metrics.serve(host, port, health)
    except OSError as exc:
        raise UsageError(f"--metrics {where}: cannot listen there ({exc.strerror})") from exc
    return metrics


@engine.command("list")
@format_option
@click.pass_obj
@command
def list_engines(settings: Settings, fmt: str) -> None:
    """The engine services alive now, and what they drive."""
    with settings.store() as store:
        rows = store.engines()
    if fmt != "table":
        emit(rows, fmt)
        return
    if not rows:
        click.echo("no engine service is running ('murano-flow engine serve' starts one)")
    for row in rows:
        info = row["info"]
        click.echo(f"{identity.describe(row['id'])}: {len(info.get('deployments', []))}/"
                   f"{info.get('max_deployments')} deployments "
                   f"{' '.join(info.get('deployments', []))}".rstrip())


@click.group()
def db() -> None:
    """The journal's schema."""


@db.command()
@click.pass_obj
@command
def upgrade(settings: Settings) -> None:
    """Create the journal's schema, or migrate it to this release's (safe to repeat)."""
    before, after = settings.upgrade_journal()
    if before == after:
        click.echo(f"journal schema is up to date (version {after})")
    else:
        click.echo(f"journal schema upgraded from version {before} to {after}")
