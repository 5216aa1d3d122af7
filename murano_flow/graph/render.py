"""Graphviz's ``dot`` turning a state graph's DOT source into SVG or PNG."""

from __future__ import annotations

import shutil
import subprocess

from ..errors import UsageError

#: Longest a layout may take (a 10,000-node graph takes a few seconds).
TIMEOUT = 120


def rendered(dot: str, fmt: str) -> bytes:
    """``dot`` laid out as ``fmt`` (svg, png).

    Raises:
        UsageError: Graphviz is not installed, or dot failed (its message).
    """
    exe = shutil.which("dot")
    if exe is None:
        raise UsageError(f"a {fmt} graph needs Graphviz's 'dot' program",
                         hint="install graphviz (apt-get install graphviz), or ask for DOT")
    try:
        proc = subprocess.run([exe, f"-T{fmt}"], input=dot.encode(), capture_output=True,
                              check=False, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        raise UsageError(f"dot took longer than {TIMEOUT} s to lay the graph out") from None
    if proc.returncode:
        raise UsageError(f"dot failed: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout
