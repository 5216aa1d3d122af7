"""Live progress while the engine works: a rich dashboard on a terminal, lines otherwise."""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

import click
from rich.console import Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from ..store.base import Event
from .render import STYLE, console, printable, stamp

#: Node statuses that end a node's part in a traversal.
_DONE = {"reached", "skipped", "failed", "undone", "undo_failed"}


def event_line(e: Event) -> str:
    """One plain, timestamped line for an event (control characters shown escaped)."""
    subject = e.node or "deployment"
    # "running" says its attempt already; a failure says which one failed
    tail = f" (attempt {e.attempt})" if e.attempt > 1 and e.kind == "failed" else ""
    text = f"{stamp(e.ts)} {subject:<32} {e.kind:<11} {e.message}{tail}"
    return printable(text.rstrip())


class LinePrinter:
    """Listener printing one line per event (for logs, pipes and CI)."""

    def __init__(self, quiet_sync: bool = True) -> None:
        self.quiet_sync = quiet_sync

    def __call__(self, e: Event) -> None:
        if self.quiet_sync and e.kind == "running" and not e.message:
            return  # a synchronisation point passing through 'running'
        click.echo(event_line(e))


class Dashboard:
    """Listener drawing per-entity progress bars and the latest events on a terminal."""

    def __init__(self, instances: dict[str, int], title: str, tail: int = 8) -> None:
        self.total = instances
        self.done = dict.fromkeys(instances, 0)
        self.state: dict[str, str] = dict.fromkeys(instances, "pending")
        self.tail: deque[Event] = deque(maxlen=tail)
        self.title = title
        self.status = "starting"
        self._lock = threading.Lock()
        self.live = Live(self._render(), console=console(), refresh_per_second=8, transient=False)

    def __enter__(self) -> Dashboard:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.live.update(self._render())
        self.live.__exit__(*exc)

    def __call__(self, e: Event) -> None:
        with self._lock:
            if e.kind == "deployment":
                self.status = e.status
            elif e.node:
                instance = e.node.rsplit(".", 1)[0]
                if e.status in _DONE and instance in self.done:
                    self.done[instance] += 1
                if instance in self.state:
                    self.state[instance] = e.status
            if not (e.kind == "running" and not e.message):
                self.tail.append(e)
            self.live.update(self._render())

    def _render(self) -> Group:
        grid = Table.grid(padding=(0, 1))
        for instance, total in self.total.items():
            done, state = self.done[instance], self.state[instance]
            grid.add_row(Text(instance, style="bold"),
                         ProgressBar(total=max(total, 1), completed=done, width=30),
                         Text(f"{done}/{total}"), Text(state, style=STYLE.get(state, "")))
        lines = Text("\n".join(event_line(e) for e in self.tail), style="dim")
        head = Text(f"{self.title}: {self.status}", style=STYLE.get(self.status, "bold"))
        return Group(head, grid, Text(""), lines)
