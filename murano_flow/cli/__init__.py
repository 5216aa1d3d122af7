"""The command line: parses arguments, calls the application layer, renders what it returns."""

from __future__ import annotations

from .commands import cli, main

__all__ = ["cli", "main"]
