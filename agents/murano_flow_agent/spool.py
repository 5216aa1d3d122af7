"""The agent's on-disk journal: a plan is written before it is acked, its result before
it is published, so neither a crash of the agent nor a lost connection loses either.

Layout under the spool directory (mode 0700), one file per plan id (hashed name)::

    plans/ID.json       the plan as received (body, signature headers, reply-to queue),
                        written before the ack; its nonce feeds replay protection; the
                        body (which holds the plan's secrets) is dropped once the result
                        is published: what deduplication needs (id, nonce) stays
    running/ID          execution started (written before the script is launched)
    results/ID.json     the recorded result (written before it is published)
    rebooting/ID        the host reboots before the result may be published
    published/ID        the broker confirmed the result

Every file with content is written to a temporary name, fsynced, renamed into place,
and the directory fsynced: after a crash a file is either whole or absent. An empty
marker cannot be torn: it is created in place and fsynced with its directory. What a
power loss may undo without harm is not fsynced: the ``published`` marker (the result
is published again, and the engine drops the duplicate) and the dropping of a published
plan's body (done again, durably, when the agent restarts).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

_DIRS = ("plans", "running", "results", "rebooting", "published")


def _name(plan_id: str) -> str:
    return hashlib.sha256(plan_id.encode()).hexdigest()[:32]


def atomic_write(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Write ``data`` to ``path`` so that a crash leaves the old file or the new, never half;
    ``durable`` also waits until it is on disk (skipped where losing it is harmless)."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    if durable:
        _sync_dir(path.parent)


def mark(path: Path) -> None:
    """Create the empty marker ``path`` so that it survives a power loss (one journal
    commit, where a temporary file and a rename take two)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    _sync_dir(path.parent)


def _sync_dir(path: Path) -> None:
    dirfd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(dirfd)
    finally:
        os.close(dirfd)


class Spool:
    """Durable bookkeeping of the plans one agent received, ran and answered."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.root, 0o700)
        for d in _DIRS:
            (self.root / d).mkdir(exist_ok=True, mode=0o700)

    def _path(self, kind: str, plan_id: str) -> Path:
        return self._file(kind, _name(plan_id))

    def _file(self, kind: str, name: str) -> Path:
        suffix = ".json" if kind in ("plans", "results") else ""
        return self.root / kind / f"{name}{suffix}"

    # -- writes, in the order they happen ------------------------------------

    def accept(self, plan_id: str, body: bytes, headers: dict[str, Any], reply_to: str) -> bool:
        """Journal a received plan; False if this plan id was received before."""
        path = self._path("plans", plan_id)
        if path.exists():
            return False
        self._write_plan(path, {"id": plan_id, "body": base64.b64encode(body).decode(),
                                "headers": headers, "reply_to": reply_to})
        return True

    def redirect(self, plan_id: str, reply_to: str) -> None:
        """Send ``plan_id``'s notices to ``reply_to`` from now on (a re-sent plan's queue)."""
        path = self._path("plans", plan_id)
        record = json.loads(path.read_text())
        if record.get("reply_to") != reply_to:
            self._write_plan(path, {**record, "reply_to": reply_to})

    @staticmethod
    def _write_plan(path: Path, record: dict[str, Any], *, durable: bool = True) -> None:
        atomic_write(path, json.dumps(record).encode(), durable=durable)

    def start(self, plan_id: str) -> None:
        """Record that the plan's script is about to run (on disk before it does: after a
        power loss, a plan that may have run is never taken for one that waits)."""
        mark(self._path("running", plan_id))

    def finish(self, plan_id: str, result: bytes) -> None:
        """Record the plan's result (before publishing it)."""
        atomic_write(self._path("results", plan_id), result)

    def reboot_pending(self, plan_id: str, pending: bool = True) -> None:
        """Mark (or clear) that the host must reboot before the result is published."""
        path = self._path("rebooting", plan_id)
        if pending:
            mark(path)
        else:
            path.unlink(missing_ok=True)

    def published(self, plan_id: str) -> None:
        """Record that the broker confirmed the result, and drop the plan's body (its
        secrets): nothing runs it again. Neither write is fsynced: if a power loss undoes
        the marker, the result is published again (the engine drops duplicates); if it
        undoes the drop, :meth:`drop_published_bodies` does it again at the restart."""
        atomic_write(self._path("published", plan_id), b"", durable=False)
        path = self._path("plans", plan_id)
        record = json.loads(path.read_text())
        if record.get("body"):
            self._write_plan(path, {**record, "body": ""}, durable=False)

    def drop_published_bodies(self) -> int:
        """Durably drop the body still kept by any plan whose result was confirmed (a crash
        lost :meth:`published`'s rewrite); how many."""
        dropped = 0
        for path in (self.root / "plans").glob("*.json"):
            if not self._file("published", path.stem).exists():
                continue
            record = json.loads(path.read_text())
            if record.get("body"):
                self._write_plan(path, {**record, "body": ""})
                dropped += 1
        return dropped

    def prune(self, before: float) -> int:
        """Forget finished plans last touched before ``before`` (epoch seconds); how many.

        Only plans whose result was published, and older than the signature window,
        so a replay of one is refused as stale rather than run again.
        """
        gone = 0
        for path in (self.root / "plans").glob("*.json"):
            name = path.stem
            if path.stat().st_mtime >= before or not self._file("published", name).exists():
                continue
            for d in _DIRS:
                self._file(d, name).unlink(missing_ok=True)
            gone += 1
        return gone

    # -- reads -----------------------------------------------------------------

    def result(self, plan_id: str) -> bytes | None:
        """The recorded result of ``plan_id``, if it finished."""
        path = self._path("results", plan_id)
        return path.read_bytes() if path.exists() else None

    def plan(self, plan_id: str) -> tuple[bytes, dict[str, Any]]:
        """The plan body and headers as received."""
        record = json.loads(self._path("plans", plan_id).read_text())
        return base64.b64decode(record["body"]), dict(record["headers"])

    def reply_to(self, plan_id: str) -> str:
        """The queue that wants ``plan_id``'s notices."""
        return str(json.loads(self._path("plans", plan_id).read_text()).get("reply_to", ""))

    def reboot_is_pending(self, plan_id: str) -> bool:
        """Whether ``plan_id``'s result waits for the host to come back from a reboot."""
        return self._path("rebooting", plan_id).exists()

    def known(self, plan_id: str) -> bool:
        """Whether ``plan_id`` was received before."""
        return self._path("plans", plan_id).exists()

    def _ids(self, started: bool, finished: bool | None = None,
             confirmed: bool | None = None, rebooting: bool | None = None) -> list[str]:
        """Plan ids, oldest first, whose markers match (None: either way)."""
        out = []
        for path in sorted((self.root / "plans").glob("*.json"), key=lambda p: p.stat().st_mtime):
            plan_id = json.loads(path.read_text())["id"]
            marks = [self._path(d, plan_id).exists()
                     for d in ("running", "results", "published", "rebooting")]
            wanted = (started, finished, confirmed, rebooting)
            if all(w is None or w == m for w, m in zip(wanted, marks)):  # noqa: B905 - Python 3.9
                out.append(plan_id)
        return out

    def waiting(self) -> list[str]:
        """Plans received but never started (run them after a restart), oldest first."""
        return self._ids(started=False)

    def interrupted(self) -> list[str]:
        """Plans that started but have no result: the agent died while running them."""
        return self._ids(started=True, finished=False)

    def rebooting(self) -> list[str]:
        """Plans whose host was to reboot after them: back now, their results may go."""
        return self._ids(started=True, finished=True, rebooting=True)

    def unpublished(self) -> list[str]:
        """Results recorded but not confirmed by the broker: publish them again."""
        return self._ids(started=True, finished=True, confirmed=False, rebooting=False)

    def nonces(self) -> dict[str, float]:
        """Nonce -> time stamp of every plan still in the spool (replay protection)."""
        out: dict[str, float] = {}
        for path in (self.root / "plans").glob("*.json"):
            try:
                headers = json.loads(path.read_text())["headers"]
                out[str(headers["mf-nonce"])] = float(headers["mf-stamp"])
            except (OSError, ValueError, KeyError, TypeError):
                continue
        return out
