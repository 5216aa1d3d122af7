"""Text from actions, hosts and errors reaches the operator's screen literally.

Markup-like text (``[/etc/foo]``, ``[emerg]``, ``[bold]``) is printed as written by every
table and line renderer, and control characters (a terminal escape sequence that would
retitle the window) are shown escaped, never sent to the terminal.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from murano_flow.cli import cli
from murano_flow.cli import commands as cli_module
from murano_flow.cli.progress import event_line
from murano_flow.cli.render import printable, styled, table
from murano_flow.store.base import Event

MARKUP = r"[/etc/foo] [emerg] [amqp] [bold]b[/bold] [red]x[/] trailing\ "
ESCAPE = "\x1b]0;pwned\x07"

NOISY = """
format: 1
name: noisy
entities:
  a:
    states:
      Deployed:
        action: {script: noisy.sh}
"""


def mf(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def noisy_failure(home, write_blueprint):
    script = f"printf '%s\\n' '[/etc/foo]' >&2\nprintf '{ESCAPE}%s\\n' '{MARKUP}' >&2\nexit 1\n"
    path = write_blueprint(NOISY, files={"noisy.sh": script})
    return mf("deploy", str(path), "--id", "noisy")


def test_action_stderr_full_of_brackets_is_shown_as_written(noisy_failure):
    assert noisy_failure.exit_code == 1, noisy_failure.output
    shown = {"deploy": noisy_failure.output}
    for args in (("status", "noisy"), ("status", "noisy", "--nodes"), ("list",),
                 ("events", "noisy")):
        result = mf(*args)
        assert result.exit_code == 0, result.output
        shown[" ".join(args)] = result.output
    for command in ("deploy", "status noisy --nodes", "events noisy"):
        assert "[/etc/foo]" in shown[command], command
    assert MARKUP.strip() in shown["events noisy"]
    for command, text in shown.items():
        assert "\x1b" not in text and "\x07" not in text, command
    assert "\\x1b]0;pwned\\x07" in shown["events noisy"]


def test_every_renderer_keeps_markup_literal():
    text = MARKUP + ESCAPE
    rendered = table(text, ("a", "b"), [[text, "failed"]])
    from rich.console import Console

    out = Console(width=400, record=True, markup=False, color_system=None)
    out.print(rendered)
    out.print(styled((text, "red"), text))
    screen = out.export_text()
    assert screen.count(MARKUP) == 4 and "\x1b" not in screen
    line = event_line(Event("d", 0.0, "failed", node="a.Deployed", message=text))
    assert MARKUP in line and "\x1b" not in line
    assert printable("tab\tand\nnewline stay") == "tab\tand\nnewline stay"
    assert printable("\x00\x9b") == "\\x00\\x9b"


def test_json_output_keeps_the_raw_text(noisy_failure):
    nodes = json.loads(mf("status", "noisy", "-f", "json").output)["nodes"]
    assert "[/etc/foo]" in nodes[0]["stderr_tail"]


def test_an_internal_error_exits_70_not_1(monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise RuntimeError("[bold]boom[/bold]")

    monkeypatch.setattr(cli_module.cli, "main", broken)
    with pytest.raises(SystemExit) as exited:
        cli_module.main()
    assert exited.value.code == cli_module.EXIT_INTERNAL == 70
    assert "internal error: RuntimeError: [bold]boom[/bold]" in capsys.readouterr().err
