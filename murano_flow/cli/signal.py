"""``murano-flow signal``: deliver an operator's (or a script's) signal to a waiting state.

The signal goes into the deployment's inbox in the journal, so whoever may write the
journal may signal (the store's access control is the authentication), and it is
kept when no engine drives the deployment: the next one to resume it acts on it.
"""

from __future__ import annotations

import getpass
import json
import socket
import sys
from pathlib import Path
from typing import Any

import click

from ..app import control
from ..engine import identity
from ..errors import UsageError
from .common import Settings, command, format_option
from .render import emit

#: Largest signal data accepted, in bytes of JSON.
MAX_DATA = 1 << 20


@click.command()
@click.argument("deployment")
@click.argument("node")
@click.option("--data", "data_text", metavar="JSON", help="A JSON object: the state's outputs.")
@click.option("--data-file", type=click.Path(dir_okay=False, allow_dash=True),
              help="Read the JSON object from this file ('-' reads stdin).")
@format_option
@click.pass_obj
@command
def signal(settings: Settings, deployment: str, node: str, data_text: str | None,
           data_file: str | None, fmt: str) -> None:
    """Send a signal to state NODE of DEPLOYMENT, which waits for one ('wait: {signal: true}').

    Its data become the state's outputs, which later states read as usual. A signal
    sent before the state starts waiting is kept until it does.
    """
    data = _data(data_text, data_file)
    source = f"signal by {getpass.getuser()}@{socket.gethostname()}"
    with settings.existing_store() as store:
        sent = control.signal(store, deployment, node, data, source)
    dep, seq, status, live = sent.deployment, sent.seq, sent.node_status, sent.live
    if fmt != "table":
        emit({"signal": seq, "deployment": dep.id, "node": node, "node_status": status,
              "engine": dep.owner if live else None}, fmt)
        return
    then = (f"the engine ({identity.describe(dep.owner)}) acts on it within a second" if live
            else f"no engine drives {dep.id} now: 'murano-flow resume {dep.id}' acts on it")
    early = " (kept until it starts waiting)" if status == "pending" else ""
    click.echo(f"signal #{seq} for {node}{early}; {then}")


def _data(text: str | None, file: str | None) -> dict[str, Any]:
    if text is not None and file is not None:
        raise UsageError("give --data or --data-file, not both")
    where = "--data"
    if file is not None:
        where = file
        try:
            text = sys.stdin.read() if file == "-" else Path(file).read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read {file}: {exc}") from None
    if text is None:
        return {}
    if len(text.encode()) > MAX_DATA:
        raise UsageError(f"{where}: the data is larger than {MAX_DATA} bytes")
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{where} is not JSON: {exc}",
                         hint='e.g. --data \'{"approved_by": "ops"}\'') from None
    if not isinstance(data, dict):
        raise UsageError(f"{where} must be a JSON object (the state's outputs), "
                         f"not {type(data).__name__}")
    return data
