"""Write docs/cli-reference.md: every command, option and environment variable, from the
CLI itself (tests/test_docs.py fails when the file is out of date).

    .venv/bin/python scripts/cli_reference.py > docs/cli-reference.md
"""

from __future__ import annotations

from collections.abc import Iterator

import click

from murano_flow.cli.commands import cli
from murano_flow.cli.config import name_variables

HEAD = """\
# Command-line reference

Generated from the CLI by `scripts/cli_reference.py`; [cli.md](cli.md) explains the commands.
Every option can be given on the command line, as its environment variable, or in a config
file (`~/.config/murano-flow/config.toml`, then `./murano-flow.toml`; or the one file
`MURANO_FLOW_CONFIG` names) under its command's table with its long name as the key, e.g.
`[deploy]` `workers = 8`, `[engine.serve]` `max-actions = 32`. The command line wins over the
environment, which wins over the files.
"""


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _rows(cmd: click.Command, path: list[str]) -> Iterator[str]:
    ctx = click.Context(cmd, info_name=" ".join(path))
    yield f"\n## `{' '.join(path)}`\n"
    yield f"`{cmd.get_usage(ctx).removeprefix('Usage: ')}`\n"
    if cmd.help:
        yield _cell(cmd.help.split("\n\n")[0]) + "\n"
    options = [p for p in cmd.params if isinstance(p, click.Option)
               and p.name not in ("help", "version")]
    if options:
        yield "| option | environment variable | default | what |"
        yield "|---|---|---|---|"
        for o in options:
            flags = ", ".join(f"`{f}`" for f in [*o.opts, *o.secondary_opts])
            value = o.to_info_dict()["default"]
            shown = value not in (None, False, (), []) and not callable(value) \
                and "UNSET" not in repr(value)  # click's marker of "no default"
            default = f"`{value}`" if shown else ""
            yield f"| {flags} | `{o.envvar}` | {default} | {_cell(o.help or '')} |"
    if isinstance(cmd, click.Group):
        for name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, name)
            assert sub is not None
            yield from _rows(sub, [*path, name])


def reference() -> str:
    """The reference's text, as the CLI defines it now."""
    name_variables(cli)
    return HEAD + "\n".join(_rows(cli, ["murano-flow"])) + "\n"


if __name__ == "__main__":
    print(reference(), end="")
