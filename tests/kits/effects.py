"""Counting side effects: test actions append ``start``/``end``/``undo`` lines (node,
attempt) to a counter file; these read them back."""

from __future__ import annotations

from collections import Counter
from pathlib import Path


def side_effects(counter: Path) -> dict[str, Counter[str]]:
    """Per node, how many 'start', 'end' and 'undo' lines the actions wrote."""
    seen: dict[str, Counter[str]] = {}
    for line in counter.read_text().splitlines():
        what, node, _attempt = line.split(" ")
        seen.setdefault(node, Counter())[what] += 1
    return seen


def order(counter: Path, what: str) -> list[str]:
    """Nodes in the order their ``what`` lines were written."""
    return [ln.split(" ")[1] for ln in counter.read_text().splitlines()
            if ln.startswith(what + " ")]
