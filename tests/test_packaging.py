"""The wheel ships what an installation needs: the license, the package data the code
reads at run time (the blueprint schema, the WinRM bootstrap, py.typed) and the agent."""

from __future__ import annotations

import zipfile
from pathlib import Path

from kits.common import ROOT


def test_the_wheel_carries_the_license_and_the_package_data(built_wheel: Path):
    with zipfile.ZipFile(built_wheel) as z:
        names = set(z.namelist())
        [metadata] = [n for n in names if n.endswith(".dist-info/METADATA")]
        meta = z.read(metadata).decode()
        shipped = z.read(next(n for n in names if n.endswith("licenses/LICENSE"))).decode()
    assert "License-Expression: Apache-2.0" in meta and "License-File: LICENSE" in meta
    assert shipped == (ROOT / "LICENSE").read_text() and "Apache License" in shipped
    for data in ("murano_flow/blueprint/schema.json", "murano_flow/py.typed",
                 "murano_flow/transports/winrs/bootstrap.ps1",
                 "murano_flow_agent/__main__.py",
                 *(f"murano_flow/dashboard/{p.name}"
                   for p in (ROOT / "murano_flow" / "dashboard").iterdir())):
        assert data in names, data


def test_the_wheel_installs_the_examples_and_the_docs_where_examples_finds_them(
        built_wheel: Path, tmp_path: Path, monkeypatch):
    import sys

    from murano_flow.app import examples as shipped

    prefix = tmp_path / "prefix"
    with zipfile.ZipFile(built_wheel) as z:  # as pip lays out a wheel's .data/data
        for name in z.namelist():
            if ".data/data/" in name:
                target = prefix / name.split(".data/data/", 1)[1]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(z.read(name))
    docs = prefix / "share" / "doc" / "murano-flow"
    assert {p.name for p in docs.glob("*.md")} >= {"README.md", "cli.md", "agents.md"}
    monkeypatch.setattr(sys, "prefix", str(prefix))
    assert shipped.examples_dir() == prefix / "share" / "murano-flow" / "blueprints"
    names = {e.name for e in shipped.examples()}
    assert names == {p.stem for p in (ROOT / "blueprints").glob("*.yaml")}
    for name in names:  # every file each example reads came along
        out = tmp_path / "out" / name
        written = shipped.copy_out(name, out)
        assert all(p.read_text() == (ROOT / "blueprints" / p.relative_to(out)).read_text()
                   for p in written[1:]), name
