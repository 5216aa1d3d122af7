"""Commands import only what they use: the root --help imports no command, a read command
neither the blueprint loader nor the engine, and the table that lets them (the commands'
catalogue, the compiled schema) stays equal to what it stands for."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from murano_flow.cli.catalogue import COMMANDS
from murano_flow.cli.commands import cli

ROOT = Path(__file__).resolve().parents[1]
#: Modules a command that does not load or run a blueprint must not import.
HEAVY = ("murano_flow.blueprint", "murano_flow.engine.engine", "jsonschema", "jinja2", "pika",
         "fastapi", "murano_flow.transports")


def imported(args: list[str], cwd: Path) -> tuple[int, set[str]]:
    """Run the CLI with ``args`` in a fresh interpreter: its exit code and every module it
    imported."""
    probe = ("import sys, json\n"
             "from murano_flow.cli.commands import main\n"
             f"sys.argv = ['murano-flow', *{args!r}]\n"
             "try:\n    main()\nexcept SystemExit as e:\n    code = e.code or 0\n"
             "print(json.dumps([code, sorted(sys.modules)]), file=sys.stderr)\n")
    done = subprocess.run([sys.executable, "-c", probe], cwd=cwd, capture_output=True,
                          text=True, timeout=120, check=False,
                          env={**os.environ, "MURANO_FLOW_HOME": str(cwd / "home")})
    code, modules = json.loads(done.stderr.strip().splitlines()[-1])
    return code, set(modules)


def heavy(modules: set[str]) -> set[str]:
    return {m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)}


def test_the_catalogue_is_the_commands_own_names_and_help():
    ctx = click.Context(cli)
    for name, (_, _, short) in COMMANDS.items():
        command = cli.get_command(ctx, name)
        assert command is not None and command.name == name
        assert command.get_short_help_str(10_000) == short, name


def test_the_root_help_lists_what_click_would_with_every_command_loaded():
    probe = ("import json, click\n"
             "from murano_flow.cli.catalogue import COMMANDS\n"
             "from murano_flow.cli.commands import cli\n"
             "ctx = click.Context(cli, info_name='murano-flow')\n"
             "lazy = ctx.make_formatter()\n"
             "cli.format_commands(ctx, lazy)\n"
             "assert not cli.commands  # nothing was imported to list them\n"
             "for name in COMMANDS:\n    cli.get_command(ctx, name)\n"
             "eager = ctx.make_formatter()\n"
             "click.Group.format_commands(cli, ctx, eager)  # click's own listing\n"
             "print(json.dumps([lazy.getvalue(), eager.getvalue()]))\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=120, check=True)
    lazy, eager = json.loads(done.stdout)
    assert lazy == eager
    assert "validate  Check a blueprint; report every problem" in lazy


def test_help_imports_no_command(tmp_path):
    code, modules = imported(["--help"], tmp_path)
    assert code == 0
    assert not {m for m in modules if m.startswith("murano_flow.cli.")} - {
        "murano_flow.cli.commands", "murano_flow.cli.catalogue", "murano_flow.cli.config",
        "murano_flow.cli.logs"}
    assert not heavy(modules) and "rich" not in modules


def test_read_commands_import_neither_the_blueprint_loader_nor_the_engine(tmp_path):
    bp = tmp_path / "one.yaml"
    bp.write_text("format: 1\nname: one\nentities:\n  a:\n    states:\n"
                  "      Deployed: {action: {inline: 'true'}}\n")
    assert subprocess.run([sys.executable, "-m", "murano_flow", "deploy", str(bp), "--id", "o1"],
                          cwd=tmp_path, capture_output=True, timeout=120,
                          env={**os.environ, "MURANO_FLOW_HOME": str(tmp_path / "home")}
                          ).returncode == 0
    for args in (["status", "o1"], ["events", "o1"], ["status", "o1", "-f", "json"],
                 ["events", "o1", "-f", "json"], ["list"], ["wait", "o1"]):
        code, modules = imported(args, tmp_path)
        assert code == 0, args
        assert not heavy(modules), (args, heavy(modules))
    code, modules = imported(["validate", str(bp)], tmp_path)
    assert code == 0 and "murano_flow.blueprint" in modules
    # a valid blueprint never needs jsonschema's walk (only an invalid one is explained)
    assert not heavy(modules) - {m for m in modules if m.startswith(("murano_flow.blueprint",
                                                                     "jinja2"))}
    assert "croniter" not in modules  # only a blueprint with a cron wait needs it
    assert "rich" not in modules  # nothing of it is printed


@pytest.mark.parametrize("script,target", [
    ("schema_check.py", "murano_flow/blueprint/schema_check.py")])
def test_generated_code_is_current(script, target):
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / script)],
                          capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout == (ROOT / target).read_text(), f"run scripts/{script} > {target}"
