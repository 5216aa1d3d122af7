"""The example blueprints shipped with murano-flow, and copying one out to start from.

A wheel installs them under ``<prefix>/share/murano-flow/blueprints``; a checkout (an
editable install) has them in ``blueprints/`` beside the package.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from ..blueprint import load_blueprint
from ..errors import MuranoFlowError, UsageError


@dataclass(frozen=True)
class Example:
    """A shipped blueprint: its name (file stem), description and file."""

    name: str
    description: str
    path: Path


def examples_dir() -> Path:
    """Where the shipped blueprints are.

    Raises:
        UsageError: this installation has none (say how to get them).
    """
    for candidate in (Path(sys.prefix) / "share" / "murano-flow" / "blueprints",
                      Path(__file__).resolve().parents[2] / "blueprints"):
        if (candidate / "webfarm.yaml").is_file():
            return candidate
    raise UsageError("this installation of murano-flow has no example blueprints",
                     hint="install it from its wheel or a checkout of its repository")


def examples() -> list[Example]:
    """Every shipped blueprint, by name."""
    out = []
    for path in sorted(examples_dir().glob("*.yaml")):
        try:
            description = load_blueprint(path).description
        except MuranoFlowError as exc:  # shipped broken: show it rather than hide it
            description = f"(does not load: {exc})"
        out.append(Example(path.stem, " ".join(description.split()), path))
    return out


def copy_out(name: str, target: Path, *, force: bool = False) -> list[Path]:
    """Copy the example ``name`` into ``target`` with every file it reads (scripts, parts,
    libraries), keeping their paths; the files written, the blueprint first.

    Raises:
        UsageError: no such example, or a file would be overwritten without ``force``
            (nothing is written then).
    """
    known = {e.name: e for e in examples()}
    if name not in known:
        raise UsageError(f"no example called {name!r}; the examples: {', '.join(known)}")
    bp = load_blueprint(known[name].path)
    files = {Path(f"{name}.yaml"): bp.text, **{Path(rel): text for rel, text in
                                              sorted(bp.scripts.items())}}
    existing = [target / rel for rel in files if (target / rel).exists()]
    if existing and not force:
        raise UsageError(f"{existing[0]} exists (and {len(existing) - 1} more files)"
                         if len(existing) > 1 else f"{existing[0]} exists",
                         hint="pick another directory, or --force to overwrite")
    written = []
    for rel, text in files.items():
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
