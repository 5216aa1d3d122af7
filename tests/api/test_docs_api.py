"""docs/api.md's curl walk-through, run as written against a fresh server."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from kits.api import ApiServer
from kits.common import ROOT

pytestmark = pytest.mark.integration


def walk_through() -> list[str]:
    text = (ROOT / "docs" / "api.md").read_text()
    part = text.split("## Walk-through with curl", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", part, re.S)


def test_the_curl_walk_through_runs_as_written(api: ApiServer, tmp_path: Path):
    blocks = walk_through()
    assert len(blocks) >= 4 and all("curl" in b for b in blocks)
    (tmp_path / "blueprints").symlink_to(ROOT / "blueprints")
    mf = " ".join(shlex.quote(a) for a in (sys.executable, "-m", "murano_flow", "--store",
                                           api.store, "--home", str(api.home)))
    env = {**os.environ, "URL": api.url, "TOKEN": api.tokens["operate"], "MF": mf}
    for block in blocks:
        run = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=tmp_path,
                             env=env, capture_output=True, text=True, check=False)
        assert run.returncode == 0, f"{block}\n--- stdout\n{run.stdout}\n--- stderr\n{run.stderr}"
    with api.client("read") as reader:
        assert reader.get("/v1/deployments/farm").json()["state"] == "rolled_back"
