"""Rendering records for people (tables) and programs (JSON, YAML).

Text that comes from actions, hosts, blueprints or errors is data: the console
interprets no markup (``[/etc/foo]`` prints as written), styles come only from
:class:`rich.text.Text` built here, and control characters are shown escaped so
that an action's output cannot move the operator's cursor or retitle the terminal.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import click
import yaml

from ..store.base import NodeRecord

if TYPE_CHECKING:  # rich is imported where a table or a styled line is made (start-up)
    from rich.console import Console
    from rich.segment import Segment
    from rich.table import Table
    from rich.text import Text

#: Colour of each node or deployment state in tables.
STYLE = {"reached": "green", "succeeded": "green", "skipped": "cyan", "failed": "red",
         "undo_failed": "red", "running": "yellow", "undoing": "yellow", "rolling_back": "yellow",
         "interrupted": "magenta", "cancelled": "magenta", "undone": "dim", "rolled_back": "dim",
         "pending": "white", "waiting": "blue", "in_doubt": "bold magenta",
         "holds": "green", "drifted": "red", "unknown": "magenta"}


#: Control characters but newline and tab (C0, DEL, C1): escape sequences start here.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """``text`` with every control character but newline and tab shown as ``\\xNN``."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def styled(*parts: str | tuple[str, str]) -> Text:
    """A line of literal text pieces, each plain or ``(text, style)``; never markup."""
    from rich.text import Text

    return Text.assemble(*[(printable(p[0]), p[1]) if isinstance(p, tuple) else printable(p)
                           for p in parts])


def console(err: bool = False) -> Console:
    """A rich console that interprets no markup; plain text (no colour codes) when not
    writing to a terminal."""
    from rich.console import Console

    out = Console(stderr=err, markup=False, highlight=False, soft_wrap=False)
    if not out.is_terminal:  # logs and pipes: do not fold tables to 80 columns
        out.width = max(out.width, 160)
    return out


def stamp(ts: float | None) -> str:
    """Local wall-clock time of ``ts`` as HH:MM:SS ('' if None)."""
    return time.strftime("%H:%M:%S", time.localtime(ts)) if ts else ""


def dumps(data: Any, fmt: str) -> str:
    """``data`` as JSON or YAML text. JSON holding a list of more than :data:`LARGE`
    items is indented two levels deep and each deeper value written on one line."""
    if fmt == "json":
        if _large(data):
            return _outline(data, 0) + "\n"
        return json.dumps(data, indent=2, sort_keys=False, default=str)
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True)


#: JSON on one line with the C encoder (``indent`` makes json use its pure-Python one,
#: which took 0.9 s of the 1.3 s of ``status -f json`` of 10,000 nodes).
_json_line = json.JSONEncoder(separators=(", ", ": "), default=str).encode


def _large(data: Any) -> bool:
    lists = data.values() if isinstance(data, dict) else [data]
    return any(isinstance(v, list) and len(v) > LARGE for v in lists)


def _outline(value: Any, level: int) -> str:
    """``value`` as JSON, indented as ``json.dumps(indent=2)`` down to two levels."""
    pad = "  " * (level + 1)
    if level < 2 and isinstance(value, dict) and value:
        items = [f"{pad}{_json_line(str(k))}: {_outline(v, level + 1)}" for k, v in value.items()]
    elif level < 2 and isinstance(value, list) and value:
        items = [pad + _outline(v, level + 1) for v in value]
    else:
        return str(_json_line(value))
    brackets = "{}" if isinstance(value, dict) else "[]"
    return brackets[0] + "\n" + ",\n".join(items) + "\n" + "  " * level + brackets[1]


class _Dumper(yaml.SafeDumper):
    """Writes a value met twice in full both times: documents share values with the
    records they show, and ``&id001`` anchors would mean nothing to a reader."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def emit(data: Any, fmt: str) -> None:
    """Print ``data`` as JSON or YAML on stdout."""
    click.echo(dumps(data, fmt).rstrip("\n"))


#: Rows past which a table prints as plain aligned columns: rich lays out about two
#: thousand rows a second, so the status of a 10,000-entity deployment took 5 s.
LARGE = 500


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]
          ) -> Table | PlainTable:
    """A rich table with ``columns``; cells whose text is a known state get its colour.
    Past :data:`LARGE` rows, plain aligned columns instead (no colour, cells on one line)."""
    rows = list(rows)
    if len(rows) > LARGE:
        return PlainTable(title, columns, rows)
    from rich.table import Table

    t = Table(title=styled(title) if title else None, title_justify="left",
              header_style="bold")
    for c in columns:
        t.add_column(c, overflow="fold")
    for row in rows:
        t.add_row(*[_cell(v) for v in row])
    return t


class PlainTable:
    """A table as plain text lines, each column as wide as its widest cell: what a big
    table is printed as, at the speed of string formatting."""

    def __init__(self, title: str | None, columns: Sequence[str],
                 rows: list[Sequence[Any]]) -> None:
        self.title = title
        self.cells = [list(columns), *[[_one_line(v) for v in row] for row in rows]]

    def lines(self) -> list[str]:
        """The title (if any), the header, then one line per row."""
        widths = [max(len(r[i]) for r in self.cells) for i in range(len(self.cells[0]))]
        out = [printable(self.title)] if self.title else []
        out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                for r in self.cells]
        return out

    def __rich_console__(self, console: Console, options: Any) -> Iterable[Segment]:
        from rich.segment import Segment

        for line in self.lines():
            yield Segment(line + "\n")


def _one_line(value: Any) -> str:
    return printable("" if value is None else str(value)).replace("\n", " ")


def _cell(value: Any) -> Text:
    text = "" if value is None else str(value)
    return styled((text, STYLE.get(text, "")))


def recap_rows(nodes: list[NodeRecord], since: float | None = None) -> list[list[Any]]:
    """Per entity instance: how many states changed (their action ran and succeeded), were
    ok (in place without running: kept, check passed, no action), failed, were undone or
    stand otherwise, and how long it took; the entities of a part (``ad.dc[0]``) indented
    under one row for the whole part. With ``since`` (when this run started), counts and
    durations are this run's: what ran before it is ok."""
    groups: dict[str, list[NodeRecord]] = {}
    for n in nodes:
        groups.setdefault(n.instance, []).append(n)
    parts = {p for instance in groups for p in _parts_of(instance)}
    rows, shown = [], set()
    for instance, members in groups.items():
        for part in [*_parts_of(instance), instance]:
            if part in shown or (part == instance and instance in parts):
                continue  # a part's own Deployed is counted in the part's row
            shown.add(part)
            inside = [n for n in nodes if n.instance == part or n.instance.startswith(part + ".")] \
                if part in parts else members
            depth = len(_parts_of(part))
            rows.append(_recap_row("  " * depth + part.rsplit(".", 1)[-1], inside, since))
    return rows


def recap_counts(nodes: list[NodeRecord], since: float | None = None) -> dict[str, Any]:
    """The whole deployment's recap counts (as :func:`recap_rows`) and duration."""
    row = _recap_row("", nodes, since)
    return dict(zip(RECAP_COLUMNS[2:], row[2:], strict=True))


def _parts_of(instance: str) -> list[str]:
    """The parts an entity instance is in, outermost first: ``a.b.vm[0]`` -> a, a.b."""
    pieces = instance.split(".")
    return [".".join(pieces[:k]) for k in range(1, len(pieces))]


def _recap_row(label: str, members: list[NodeRecord], since: float | None) -> list[Any]:
    def this_run(m: NodeRecord) -> bool:
        return since is None or (m.started is not None and m.started >= since)

    count = dict.fromkeys(("changed", "ok", "failed", "undone"), 0)
    for m in members:
        if m.status == "reached" and m.has_action and this_run(m):
            count["changed"] += 1
        elif m.status in ("reached", "skipped"):
            count["ok"] += 1
        elif m.status in ("failed", "undone"):
            count[m.status] += 1
    other = len(members) - sum(count.values())
    ran = [m for m in members if m.started and this_run(m)]
    starts = [m.started for m in ran if m.started]
    ends = [m.finished for m in ran if m.finished]
    took = f"{max(ends) - min(starts):.1f}s" if starts and ends else ""
    return [label, _worst(members), count["changed"], count["ok"], count["failed"],
            count["undone"], other, took]


RECAP_COLUMNS = ("entity", "state", "changed", "ok", "failed", "undone", "other", "took")


def _worst(members: list[NodeRecord]) -> str:
    order = ("undo_failed", "failed", "in_doubt", "running", "undoing", "waiting", "pending",
             "undone", "skipped", "reached")
    statuses = {m.status for m in members}
    return next((s for s in order if s in statuses), "pending")


#: Formats of the commands that list records (list, status, events): cliff's value and csv too.
ROW_FORMATS = ("table", "json", "yaml", "value", "csv")


def pick_columns(fields: Sequence[str], wanted: Sequence[str]) -> list[str]:
    """The ``-c`` columns, each a field of the records' JSON form; UsageError if unknown."""
    from ..errors import UsageError

    unknown = [c for c in wanted if c not in fields]
    if unknown:
        raise UsageError(f"-c {unknown[0]}: no such column; the columns are: "
                         f"{', '.join(fields)}")
    return list(wanted)


def row_lines(records: Iterable[dict[str, Any]], fmt: str, columns: Sequence[str],
              header: bool = True) -> Iterable[str]:
    """Records as ``value`` lines (the columns' values separated by spaces) or ``csv``
    lines (with a header row unless ``header`` is false); text is shown literally."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if fmt == "csv" and header:
        writer.writerow(columns)
    for record in records:
        cells = [_plain(record.get(c)) for c in columns]
        if fmt == "csv":
            writer.writerow(cells)
        else:
            buffer.write(" ".join(printable(c).replace("\n", "\\n") for c in cells) + "\n")
    yield from buffer.getvalue().splitlines()


def _plain(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=str, separators=(",", ":"))
    return str(value)


def emit_rows(records: list[dict[str, Any]], fmt: str, columns: Sequence[str]) -> None:
    """Print records as json/yaml (only ``columns``' keys when chosen), value or csv,
    or a plain table of ``columns``."""
    if fmt in ("json", "yaml"):
        emit([{c: r.get(c) for c in columns} for r in records] if columns else records, fmt)
    elif fmt in ("value", "csv"):
        for line in row_lines(records, fmt, columns):
            click.echo(line)
    else:
        console().print(table(None, columns, [[_plain(r.get(c)) for c in columns]
                                              for r in records]))


def rows_wanted(fmt: str, columns: tuple[str, ...], fields: tuple[str, ...],
                default: tuple[str, ...]) -> list[str] | None:
    """The columns to print record by record, or None for the command's own rendering
    (its table, or its whole JSON/YAML document)."""
    if columns:
        return pick_columns(fields, columns)
    return list(default) if fmt in ("value", "csv") else None
