"""The Windows edges of the transports, checked without a Windows host: the PowerShell we
ship parses (tree-sitter's PowerShell grammar) and passes its arguments as PowerShell
means; files a Windows PowerShell 5.1 script writes or reads are UTF-8 it reads right."""

from __future__ import annotations

from pathlib import Path

import pytest
import tree_sitter
import tree_sitter_powershell
from kits.common import ROOT

from murano_flow.transports.local import LocalTransport
from murano_flow.wire.protocol import Plan
from murano_flow.wire.runner import BOM, parse_outputs, script_text

PARSER = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))
SHIPPED = sorted((ROOT / "murano_flow").rglob("*.ps1"))


def _tree(source: str) -> tree_sitter.Tree:
    return PARSER.parse(source.encode("utf-8"))


def _nodes(node: tree_sitter.Node, kind: str) -> list[tree_sitter.Node]:
    out, stack = [], [node]
    while stack:
        n = stack.pop()
        if n.type == kind:
            out.append(n)
        stack.extend(n.children)
    return out


def array_arguments(source: str) -> list[str]:
    """Commands given an ``@(...)`` array as an argument: PowerShell passes it as one
    argument (an array); splatting takes a variable (``@argv``)."""
    found = []
    for command in _nodes(_tree(source).root_node, "command"):
        for elements in (c for c in command.children if c.type == "command_elements"):
            if _nodes(elements, "array_expression"):
                found.append(command.text.decode() if command.text else "")
    return found


def test_we_ship_powershell():
    assert ROOT / "murano_flow" / "transports" / "winrs" / "bootstrap.ps1" in SHIPPED


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_powershell_file_we_ship_parses(path: Path):
    tree = _tree(path.read_text("utf-8"))
    assert not tree.root_node.has_error, [str(n) for n in _nodes(tree.root_node, "ERROR")]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_arguments_are_splatted_from_a_variable(path: Path):
    assert array_arguments(path.read_text("utf-8")) == []


def test_the_rule_catches_an_array_passed_as_one_argument():
    # what the bootstrap did: the script got one argument, the whole array
    assert array_arguments("& $script @($envelope.args)") == ["& $script @($envelope.args)"]
    assert array_arguments("$argv = @($envelope.args)\n& $script @argv") == []


def test_the_bootstrap_reads_and_writes_what_windows_powershell_reads_right():
    source = (ROOT / "murano_flow" / "transports" / "winrs" / "bootstrap.ps1").read_text()
    # files for the script (script.ps1, params.json) are written with a BOM ...
    assert "New-Object Text.UTF8Encoding $true" in source
    assert "UTF8Encoding $false" not in source
    # ... and the envelope is not read by 5.1's ConvertFrom-Json, which refuses over 2 MB
    [version] = [n for n in _nodes(_tree(source).root_node, "if_statement")
                 if b"PSVersionTable" in (n.text or b"")]
    [legacy] = [c for c in version.children if c.type == "else_clause"]
    assert "MaxJsonLength = [int]::MaxValue" in (legacy.text or b"").decode()
    commands = {(n.text or b"").decode() for n in _nodes(legacy, "command_name")}
    assert "Add-Type" in commands and "ConvertFrom-Json" not in commands


def _plan(body: str, script_type: str = "sh") -> Plan:
    return Plan(id="d/web.S/action/1", deployment="d", node="web.S", kind="action",
                attempt=1, script_type=script_type, body=body)


def test_a_powershell_script_file_starts_with_a_bom_other_scripts_do_not():
    assert script_text(_plan("Write-Output 'é'", "powershell")) == BOM + "Write-Output 'é'"
    assert script_text(_plan(BOM + "x", "powershell")) == BOM + "x"  # not two
    assert script_text(_plan("echo é")) == "echo é"


def test_outputs_written_with_a_bom_are_read():
    assert parse_outputs(BOM + '{"password_set": true}') == ({"password_set": True}, "")
    assert parse_outputs(BOM) == ({}, "")


def test_an_action_that_writes_its_outputs_with_a_bom_publishes_them(tmp_path: Path):
    # what Set-Content -Encoding utf8 does in Windows PowerShell 5.1, done by a shell script
    body = "printf '\\357\\273\\277{\"name\": \"h\\303\\251\"}' > \"$MURANO_FLOW_OUTPUT\""
    with LocalTransport(tmp_path / "runs", "web") as transport:
        result = transport.send(_plan(body))
    assert result.ok, result.message
    assert result.outputs == {"name": "hé"}
