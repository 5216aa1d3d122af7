"""Every complete blueprint example in the docs validates."""

from __future__ import annotations

import re
import shutil

import pytest
from click.testing import CliRunner
from kits.common import ROOT

from murano_flow.blueprint import parse_blueprint
from murano_flow.cli import cli

DOC = ROOT / "docs" / "blueprint-reference.md"
EXAMPLES = [b for b in re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.DOTALL)
            if b.startswith("format: 1")]


def test_the_reference_has_examples():
    assert len(EXAMPLES) >= 8


@pytest.mark.parametrize("text", EXAMPLES, ids=lambda t: t.split("\n")[1])
def test_example_validates(text: str):
    # script paths are relative to docs/examples/, where their files live
    bp = parse_blueprint(text, str(ROOT / "docs" / "examples" / "example.yaml"))
    assert bp.nodes


RUNNABLE = ("composition", "typed", "failover", "promote")


@pytest.mark.parametrize("name", RUNNABLE)
def test_the_composition_and_flow_examples_deploy(name: str, tmp_path, home):
    # run, not only validated: local hosts, the parts and libraries of docs/examples/
    [text] = [t for t in EXAMPLES if t.split("\n")[1] == f"name: {name}"]
    shutil.copytree(ROOT / "docs" / "examples", tmp_path / "examples")
    path = tmp_path / "examples" / f"{name}.yaml"
    path.write_text(text)
    result = CliRunner().invoke(cli, ["deploy", str(path), "--id", name])
    assert result.exit_code == 0, result.output
    if name == "failover":  # nothing failed: the error branches were passed over
        assert "db.Promote" in result.output and "not taken" in result.output


def test_the_cli_reference_lists_every_option_and_variable_as_the_cli_has_them():
    import sys

    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from cli_reference import reference
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    assert (ROOT / "docs" / "cli-reference.md").read_text() == reference(), \
        "regenerate: .venv/bin/python scripts/cli_reference.py > docs/cli-reference.md"


def test_the_openapi_document_is_the_one_the_server_generates():
    import sys

    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from openapi import document
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    assert (ROOT / "docs" / "openapi.json").read_text() == document(), \
        "regenerate: .venv/bin/python scripts/openapi.py > docs/openapi.json"
