"""Shared fixtures: temporary journals and homes, blueprint writers, free ports."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from murano_flow.blueprint import Blueprint, load_blueprint


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private MURANO_FLOW_HOME and SQLite journal for CLI tests."""
    h = tmp_path / "home"
    monkeypatch.setenv("MURANO_FLOW_HOME", str(h))
    monkeypatch.setenv("MURANO_FLOW_STORE", f"sqlite:///{h}/journal.db")
    return h


@pytest.fixture
def write_blueprint(tmp_path: Path) -> Callable[..., Path]:
    """Write a blueprint (dedented) plus optional script files; return its path."""

    def write(text: str, name: str = "bp.yaml", files: dict[str, str] | None = None) -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        for rel, body in (files or {}).items():
            script = tmp_path / rel
            script.parent.mkdir(parents=True, exist_ok=True)
            script.write_text(textwrap.dedent(body))
        return path

    return write


@pytest.fixture
def blueprint(write_blueprint: Callable[..., Path]) -> Callable[..., Blueprint]:
    """Write and load a blueprint in one step."""

    def make(text: str, params: dict[str, object] | None = None,
             files: dict[str, str] | None = None) -> Blueprint:
        return load_blueprint(write_blueprint(text, files=files), params or {}, strict=True)

    return make


@pytest.fixture(autouse=True)
def _no_user_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("MURANO_FLOW_"):
            monkeypatch.delenv(key)


@pytest.fixture(scope="session")
def built_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """murano-flow's wheel, built once from this checkout."""
    import subprocess
    import sys

    from kits.common import ROOT

    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q",
                    "-w", str(out)], check=True, capture_output=True)
    [wheel] = out.glob("murano_flow-*.whl")
    return wheel
