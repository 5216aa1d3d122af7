"""Option values from config files and environment variables.

Every option can also be given as ``MURANO_FLOW_<COMMAND>_<OPTION>`` (``deploy --workers``:
``MURANO_FLOW_DEPLOY_WORKERS``, ``engine serve --max-actions``:
``MURANO_FLOW_ENGINE_SERVE_MAX_ACTIONS``; ``--store`` keeps ``MURANO_FLOW_STORE``) and in
TOML files, one table per command (``[deploy]``, ``[engine.serve]``), read in this order,
later ones winning: ``~/.config/murano-flow/config.toml`` (``$XDG_CONFIG_HOME``), then
``murano-flow.toml`` in the current directory — or only the file ``MURANO_FLOW_CONFIG``
names. The command line wins over the environment, which wins over the files.
"""

from __future__ import annotations

import logging
import os
import tomllib
from pathlib import Path
from typing import Any

import click

from ..errors import UsageError

log = logging.getLogger(__name__)

ENV_PREFIX = "MURANO_FLOW"
PROJECT_FILE = "murano-flow.toml"


def name_variables(cmd: click.Command, prefix: str = ENV_PREFIX) -> None:
    """Give every option of ``cmd`` and its subcommands its environment variable, named
    after the command path and the option's long name (``deploy --on-failure``:
    ``MURANO_FLOW_DEPLOY_ON_FAILURE``), and show it in ``--help``; an option that names
    its own (``--store``: ``MURANO_FLOW_STORE``) keeps it."""
    for param in cmd.params:
        if isinstance(param, click.Option) and param.name not in ("help", "version"):
            if not param.envvar:
                param.envvar = f"{prefix}_{_key(param).upper().replace('-', '_')}"
            param.show_envvar = True
    def named(name: str, sub: click.Command) -> None:
        name_variables(sub, f"{prefix}_{name.upper().replace('-', '_')}")

    for name, sub in getattr(cmd, "commands", {}).items():
        named(name, sub)
    hooks = getattr(cmd, "on_load", None)  # a group importing its commands when used
    if hooks is not None:
        hooks.append(named)


def config_files() -> list[Path]:
    """The config files that apply here, in the order they are read (those that exist)."""
    named = os.environ.get(f"{ENV_PREFIX}_CONFIG")
    if named:
        path = Path(named).expanduser()
        if not path.is_file():
            raise UsageError(f"{ENV_PREFIX}_CONFIG names {path}, which is not a file")
        return [path]
    user = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    candidates = [user / "murano-flow" / "config.toml", Path(PROJECT_FILE)]
    return [p for p in candidates if p.is_file()]


def default_map(root: click.Group) -> dict[str, Any]:
    """Click's default map from the config files, each checked against ``root``'s
    commands and options; raises UsageError naming the file and the key to fix."""
    merged: dict[str, Any] = {}
    for path in config_files():
        try:
            with path.open("rb") as f:
                data = tomllib.load(f)
        except tomllib.TOMLDecodeError as exc:
            raise UsageError(f"{path}: not valid TOML: {exc}") from None
        except OSError as exc:
            raise UsageError(f"cannot read {path}: {exc.strerror}") from None
        _merge(merged, _checked(root, data, path, []))
        log.debug("option values from %s", path)
    return merged


def _checked(cmd: click.Command, table: dict[str, Any], path: Path,
             where: list[str]) -> dict[str, Any]:
    ctx = click.Context(cmd)
    commands = cmd.list_commands(ctx) if isinstance(cmd, click.Group) else []
    options = {_key(p): p for p in cmd.params
               if isinstance(p, click.Option) and p.name not in ("help", "version")}
    section = f"[{'.'.join(where)}]" if where else "the top level"
    out: dict[str, Any] = {}
    for key, value in table.items():
        if key in commands:
            if not isinstance(value, dict):
                raise UsageError(f"{path}: {key} is a command: give its options as a table "
                                 f"[{'.'.join([*where, key])}]")
            sub = cmd.get_command(ctx, key)  # type: ignore[attr-defined]
            out[key] = _checked(sub, value, path, [*where, key])
            continue
        option = options.get(key.replace("_", "-"))
        if option is None or option.name is None:
            known = ", ".join(sorted(options) + sorted(f"[{c}]" for c in commands)) or "none"
            raise UsageError(f"{path}: {section} has no option {key!r} (known: {known})")
        try:
            option.type_cast_value(ctx, value)
        except click.BadParameter as exc:
            raise UsageError(f"{path}: {section} {key}: {exc.message}") from None
        out[option.name] = value
    return out


def _key(option: click.Option) -> str:
    """An option's key in a config file: its long name (``--on-failure``: ``on-failure``)."""
    longs = [o for o in option.opts if o.startswith("--")]
    return (longs[0] if longs else option.opts[0]).lstrip("-")


def _merge(into: dict[str, Any], more: dict[str, Any]) -> None:
    for key, value in more.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value
