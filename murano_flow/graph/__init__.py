"""The state graph: nodes are (entity, state), edges are ``requires``."""

from __future__ import annotations

from .stategraph import StateGraph

__all__ = ["StateGraph"]
