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
                 "murano_flow_agent/__main__.py"):
        assert data in names, data
