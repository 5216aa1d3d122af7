"""``murano-flow check | observe``: drift detection (and repair) from the command line.

Exit codes of ``check``: 0 every probe holds (or the drift was fixed); 1 drift found
(without --fix) or the fix failed; 3 a probe could not reach its host.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import click

from ..app import drift
from ..app.drift import DRIFTED, UNKNOWN, Probe, drifted
from ..engine import DEFAULT_WORKERS
from ..store.base import DeploymentRecord
from .common import Settings, command, duration, format_option, given_params, params_options
from .progress import LinePrinter
from .render import console, emit, table


def _options(f: Any) -> Any:
    f = command(f)
    f = click.pass_obj(f)
    f = format_option(f)
    f = params_options(f)
    f = click.option("-w", "--workers", type=click.IntRange(1, 1024), default=DEFAULT_WORKERS,
                     show_default=True, help="Hosts probed at once.")(f)
    f = click.option("--fix", is_flag=True,
                     help="Re-converge what drifted: run those states' actions again and "
                          "re-examine their dependents.")(f)
    return click.argument("deployment")(f)


@click.command("check")
@_options
def check(settings: Settings, deployment: str, fix: bool, workers: int,
          params: tuple[str, ...], params_file: str | None, fmt: str) -> None:
    """Ask every reached state's check probe whether it still holds; report drift."""
    code = _round(settings, deployment, fix, workers, given_params(params, params_file), fmt)
    sys.exit(code)


@click.command("observe")
@click.option("--every", "every_text", metavar="DURATION", required=True,
              help="Time between two checks (e.g. 5m).")
@click.option("--count", type=click.IntRange(1), help="Stop after this many checks.")
@_options
def observe_command(settings: Settings, deployment: str, fix: bool, workers: int,
                    params: tuple[str, ...], params_file: str | None, fmt: str,
                    every_text: str, count: int | None) -> None:
    """Check a deployment again and again (with --fix, repair drift as it is found);
    each round is journaled, so 'events --follow' and notifications see it. Ctrl-C stops."""
    every = duration(every_text, "--every")
    assert every is not None  # the option is required
    given = given_params(params, params_file)
    done, worst = 0, 0
    try:
        while count is None or done < count:
            started = time.monotonic()
            worst = max(worst, _round(settings, deployment, fix, workers, given, fmt))
            done += 1
            if count is None or done < count:
                time.sleep(max(0.0, every - (time.monotonic() - started)))
    except KeyboardInterrupt:
        click.echo(f"observer stopped after {done} checks", err=True)
    sys.exit(worst if count is not None else 0)


def _round(settings: Settings, deployment: str, fix: bool, workers: int,
           given: dict[str, Any], fmt: str) -> int:
    with settings.existing_store() as store:
        dep, bp, probes = drift.look(settings, store, deployment, given, workers)
        _show(dep, probes, fmt)
        found = drifted(probes)
        if found and fix:
            final = drift.repair(settings, store, bp, dep.id, found, workers,
                                 LinePrinter() if fmt == "table" else None)
            if fmt == "table":
                click.echo(f"{dep.id}: {final.state} after re-converging "
                           f"{', '.join(found)}")
            return 0 if final.state == "succeeded" else (3 if final.infrastructure else 1)
    if any(p.verdict == UNKNOWN for p in probes):
        return 3
    return 1 if found else 0


def _show(dep: DeploymentRecord, probes: list[Probe], fmt: str) -> None:
    if fmt != "table":
        emit({"deployment": dep.id, "checked": time.time(),
              "probes": [p.__dict__ for p in probes], "drifted": drifted(probes)}, fmt)
        return
    rows = [[p.node, p.host, p.verdict, p.detail] for p in probes]
    lost = sum(p.verdict == DRIFTED for p in probes)
    title = f"{dep.id}: {len(probes)} check probes, {lost} drifted"
    console().print(table(title, ("state", "host", "verdict", "detail"), rows))
