"""What runs on a WinRM host to start a plan: a bootstrap per interpreter, which reads the
plan's envelope (script, params, environment, arguments) from stdin, runs it, prints its
outputs after a marker line and removes its files. Each is sent on the command line
(well under cmd.exe's 8,191 characters); the plan itself, of any size, goes through stdin."""

from __future__ import annotations

import base64
from pathlib import Path

_HERE = Path(__file__).parent


def powershell_command(powershell: str) -> tuple[str, list[str]]:
    """``powershell.exe`` and its arguments running ``bootstrap.ps1``."""
    source = (_HERE / "bootstrap.ps1").read_text("utf-8")
    encoded = base64.b64encode(source.encode("utf-16-le")).decode()
    return powershell, ["-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass",
                        "-EncodedCommand", encoded]


def python_command(python: str) -> tuple[str, list[str]]:
    """``python`` and its arguments running ``bootstrap.py`` (one argument, no spaces or
    double quotes, so cmd.exe and CommandLineToArgvW leave it whole)."""
    source = (_HERE / "bootstrap.py").read_text("utf-8")
    encoded = base64.b64encode(source.encode()).decode()
    return python, ["-c", f"exec(__import__('base64').b64decode('{encoded}'))"]
