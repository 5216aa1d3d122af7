"""Blueprints: YAML in, an immutable, validated, expanded :class:`Blueprint` out."""

from __future__ import annotations

from .build import load_blueprint, parse_blueprint
from .params import parse_cli_params
from .spec import ActionSpec, Blueprint, HostSpec, Node, Parameter, RetryPolicy

__all__ = [
    "ActionSpec",
    "Blueprint",
    "HostSpec",
    "Node",
    "Parameter",
    "RetryPolicy",
    "load_blueprint",
    "parse_blueprint",
    "parse_cli_params",
]
