"""A deployment as one self-contained HTML file (``murano-flow report``): the graph
coloured by state, the timeline of every action per host, the failures with their log
tails, and the event log — drawn by the dashboard's own script from data embedded in
the file, so that it opens anywhere, offline, and can be attached to a ticket.

Everything in it is what the API shows: parameters, outputs and log tails masked.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..graph.render import rendered
from ..graph.stategraph import StateGraph
from ..store.base import Store
from .documents import deployment_dict, event_dict, node_dict
from .settings import journaled_blueprint

#: The dashboard's files (page, scripts, style), shared by the API and reports.
ASSETS = Path(__file__).resolve().parents[1] / "dashboard"
#: Events a report holds at most (the newest), so that a huge deployment stays readable.
MAX_EVENTS = 20_000


def deployment_dot(store: Store, deployment: str) -> str:
    """The deployment's state graph as DOT, coloured by each state's status now."""
    dep = store.deployment(deployment)
    status = {n.name: n.status for n in store.nodes(dep.id)}
    return StateGraph(journaled_blueprint(dep, {}, strict=False)).to_dot(status)


def report(store: Store, deployment: str) -> str:
    """The HTML report of ``deployment`` as it stands in the journal now. Without
    Graphviz the report says so where the graph would be."""
    dep = store.deployment(deployment)
    try:
        svg = rendered(deployment_dot(store, dep.id), "svg").decode()
    except UsageError as exc:
        svg = ""
        graph_note = str(exc)
    else:
        graph_note = ""
    events = store.events(dep.id, 0, 10**9)[-MAX_EVENTS:]
    data: dict[str, Any] = {
        "deployment": {**deployment_dict(dep), "stored": (dep.source or {}).get("stored")},
        "nodes": [node_dict(n) for n in store.nodes(dep.id)],
        "events": [event_dict(e) for e in events], "svg": svg, "graph_note": graph_note}
    parts = {"/*STYLE*/": _asset("app.css"), "/*RENDER*/": _asset("render.js"),
             "/*REPORT*/": _asset("report.js"),
             # no "<" can end the script element early once escaped; JSON reads it the same
             "{/*DATA*/}": json.dumps(data).replace("<", "\\u003c"),
             "TITLE": _html(f"murano-flow report: {dep.id}")}
    # one pass: what is put in is never searched again
    return _SLOTS.sub(lambda m: parts[m.group(0)], _asset("report.html"))


def _asset(name: str) -> str:
    return (ASSETS / name).read_text("utf-8")


_SLOTS = re.compile(r"/\*(?:STYLE|RENDER|REPORT)\*/|\{/\*DATA\*/\}|TITLE")


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
