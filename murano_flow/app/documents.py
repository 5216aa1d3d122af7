"""The stable JSON documents of deployments, nodes and events: what ``-f json`` prints,
what ``notify`` publishes and what the HTTP API serves (docs/cli.md documents them)."""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any

from ..store.base import DeploymentRecord, Event, NodeRecord
from ..store.sealing import shown_outputs

#: The fields of each document, in order (the columns ``-c`` can name).
DEPLOYMENT_FIELDS = tuple(f.name for f in fields(DeploymentRecord) if f.name != "source")
NODE_FIELDS = tuple(f.name for f in fields(NodeRecord) if f.name != "deployment")
EVENT_FIELDS = tuple(f.name for f in fields(Event))


def deployment_dict(dep: DeploymentRecord) -> dict[str, Any]:
    """The stable JSON form of a deployment (without its stored source)."""
    out = asdict(dep)
    out.pop("source", None)
    return out


def node_dict(node: NodeRecord) -> dict[str, Any]:
    """The stable JSON form of a node (outputs masked, without their sealed copy)."""
    out = asdict(node)
    out.pop("deployment", None)
    out["outputs"] = shown_outputs(node.outputs)
    return out


def event_dict(event: Event) -> dict[str, Any]:
    """The stable JSON form of an event."""
    return asdict(event)
