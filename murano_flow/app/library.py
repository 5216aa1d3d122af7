"""Stored blueprints: uploaded (through the API), validated by the same bounded loader as
a file given to the CLI, and kept in the journal as immutable, numbered versions.

A deployment made from a stored version records its name and version in its source, so
that what it runs can always be traced back to what was uploaded.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from typing import Any

from ..blueprint import Blueprint, parse_blueprint
from ..errors import UsageError
from ..store.base import BlueprintVersion, Store

#: Most files (scripts, parts, libraries) an upload may carry.
MAX_FILES = 500
#: How an uploaded blueprint may be called: a plain YAML file name, no folders.
_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}\.ya?ml")


def check_upload(path: str, text: str, files: dict[str, str],
                 given: dict[str, Any] | None = None) -> Blueprint:
    """The blueprint an upload holds, validated (placeholders stand in for parameters
    not ``given``). Raises UsageError for a bad file name or too many files, and
    BlueprintError with every problem, each as ``path:line:column``."""
    if not _FILE_NAME.fullmatch(path):
        raise UsageError(f"blueprint file name {path!r}: give a plain YAML file name, such "
                         "as webfarm.yaml (no folders)")
    if len(files) > MAX_FILES:
        raise UsageError(f"an upload carries at most {MAX_FILES} files; this one "
                         f"carries {len(files)}")
    return parse_blueprint(text, path, given, scripts=files)


def upload(store: Store, path: str, text: str, files: dict[str, str], author: str
           ) -> tuple[BlueprintVersion, bool]:
    """Validate an upload and store it as the next version of its blueprint's name; the
    stored version, and whether it is new (an upload identical to the newest version is
    that version). Only the files the blueprint reads are kept."""
    bp = check_upload(path, text, files)
    kept = dict(sorted(bp.scripts.items()))
    digest = hashlib.sha256(json.dumps([path, text, kept]).encode()).hexdigest()
    newest = store.blueprint_versions(bp.name)[-1:]
    stored = store.add_blueprint(BlueprintVersion(bp.name, 0, path, digest, text, kept,
                                                  time.time(), author))
    return stored, not newest or newest[0].version != stored.version


def bound(version: BlueprintVersion, given: dict[str, Any], *, strict: bool = True
          ) -> Blueprint:
    """Stored ``version`` bound to the parameter values ``given`` (every required one,
    when ``strict``)."""
    return parse_blueprint(version.text, version.path, given, strict=strict,
                           scripts=version.files)


def origin(version: BlueprintVersion) -> dict[str, Any]:
    """What a deployment's source records of the stored version it runs."""
    return {"name": version.name, "version": version.version, "digest": version.digest}
