"""The stable JSON documents of deployments, nodes and events: what ``-f json`` prints,
what ``notify`` publishes and what the HTTP API serves (docs/cli.md documents them)."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from ..store.base import DeploymentRecord, Event, NodeRecord
from ..store.sealing import shown_outputs

#: The fields of each document, in order (the columns ``-c`` can name).
DEPLOYMENT_FIELDS = tuple(f.name for f in fields(DeploymentRecord) if f.name != "source")
NODE_FIELDS = tuple(f.name for f in fields(NodeRecord) if f.name != "deployment")
EVENT_FIELDS = tuple(f.name for f in fields(Event))


def deployment_dict(dep: DeploymentRecord) -> dict[str, Any]:
    """The stable JSON form of a deployment (without its stored source)."""
    return _shallow(dep, DEPLOYMENT_FIELDS)


def node_dict(node: NodeRecord) -> dict[str, Any]:
    """The stable JSON form of a node (outputs masked, without their sealed copy)."""
    out = _shallow(node, NODE_FIELDS)
    out["outputs"] = shown_outputs(node.outputs)
    return out


def event_dict(event: Event) -> dict[str, Any]:
    """The stable JSON form of an event."""
    return _shallow(event, EVENT_FIELDS)


def _shallow(record: Any, names: tuple[str, ...]) -> dict[str, Any]:
    """``record``'s fields as a dict sharing its values: documents are read, never changed,
    and copying every nested value (``asdict``) was most of ``status -f json``'s time."""
    values = vars(record)
    return {name: values[name] for name in names}
