"""Every complete blueprint example in the docs validates."""

from __future__ import annotations

import re

import pytest
from kits.common import ROOT

from murano_flow.blueprint import parse_blueprint

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
