"""The files a blueprint reads besides itself.

A blueprint reads other files three ways: the scripts of its actions, the blueprints
it uses as parts, and libraries of entity types. :class:`Sources` reads each once,
keyed by its path relative to the top blueprint's folder; keys and texts are journaled
with a deployment, so that it is rebuilt exactly as it ran, whatever the disk holds.
"""

from __future__ import annotations

import os
from pathlib import Path

from .schema import suggest

#: Largest script file a blueprint may reference.
MAX_SCRIPT_BYTES = 1 << 20
#: Largest blueprint or library a blueprint may include.
MAX_INCLUDE_BYTES = 4 << 20


class Sources:
    """Every file one blueprint reads, keyed by its path from the top blueprint's folder."""

    def __init__(self, root: Path, preloaded: dict[str, str] | None) -> None:
        self.root = root
        #: The journaled files a deployment ran with (None: read the disk).
        self.preloaded = preloaded
        self.files: dict[str, str] = {}

    def key(self, file: Path) -> str:
        """``file``'s key: its path relative to the top blueprint's folder."""
        return Path(os.path.relpath(os.path.normpath(file), self.root)).as_posix()

    def folder(self, key: str) -> Path:
        """The folder of the file of ``key`` (for the paths written in it)."""
        return Path(os.path.normpath(self.root / key)).parent

    def read(self, folder: Path, rel: str, what: str, *, confined: bool, limit: int
             ) -> tuple[str | None, str]:
        """The text of ``rel`` (relative to ``folder``) and its key, or None and why not.

        ``confined`` files must lie inside ``folder`` (a blueprint ships its own scripts).
        """
        key = self.key(folder / rel)
        if key in self.files:
            return self.files[key], key
        if self.preloaded is not None:
            # journals written before parts existed keyed the top's scripts as written
            text = self.preloaded.get(key, self.preloaded.get(rel) if folder == self.root
                                      else None)
            if text is None:
                return None, f"{what} '{rel}' is not in the journal"
            self.files[key] = text
            return text, key
        file = folder / rel
        try:
            if confined and not file.resolve().is_relative_to(folder.resolve()):
                return None, (f"{what} '{rel}' is outside the blueprint's folder {folder} (or "
                              "a link out of it): a blueprint ships only its own scripts; "
                              "copy the file into that folder")
            if not file.is_file():
                siblings = [p.name for p in file.parent.iterdir()] if file.parent.is_dir() else []
                return None, f"{what} '{rel}' not found (looked for {file})" + suggest(
                    file.name, siblings)
            if file.stat().st_size > limit:
                return None, f"{what} '{rel}' is larger than {limit} bytes"
            self.files[key] = file.read_text("utf-8")
            return self.files[key], key
        except (OSError, UnicodeDecodeError) as exc:
            return None, f"cannot read {what} '{rel}': {exc}"


def shown_name(including: str, rel: str) -> str:
    """How an included file is named in messages: as reached from the including one."""
    return os.path.normpath(Path(including).parent / rel)
