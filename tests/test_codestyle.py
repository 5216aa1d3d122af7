"""House rules checked by machine: the public surface and who may import whom."""

from __future__ import annotations

import ast
from pathlib import Path

import murano_flow

PACKAGE = Path(murano_flow.__file__).parent

#: module -> package-internal modules it may import (DESIGN: data flows one way).
ALLOWED = {
    "errors": set(),
    "states": set(),
    "masking": set(),
    "dag": set(),
    "workers": set(),
    "gcpause": set(),
    "durations": set(),
    "protocol": {"errors"},
    "signing": {"errors"},
    "lifecycle": {"errors", "states"},
    "blueprint": {"errors", "blueprint", "dag", "durations", "gcpause"},
    "graph": {"blueprint", "dag"},
    "resolver": set(),
    "plans": {"blueprint", "protocol"},
    "store": {"errors", "faults", "masking", "store"},
    "faults": set(),
    "owner": {"store"},
    "lease": {"errors", "store"},
    "share": set(),
    "sealing": {"errors", "masking"},
    "outcomes": {"errors", "protocol", "transports"},
    "transports": {"errors", "durations", "masking", "protocol", "signing", "transports"},
    "shaping": {"blueprint", "errors", "masking", "states", "store"},
    "fsck": {"owner", "states", "store"},
    "runstate": {"blueprint", "graph", "lifecycle", "masking", "plans", "sealing", "states",
                 "store", "transports"},
    "steering": {"runstate", "store"},
    "observer": {"blueprint", "errors", "masking", "outcomes", "owner", "plans", "protocol",
                 "sealing", "states", "store", "transports"},
    "waiting": {"blueprint", "errors", "runstate", "sealing", "states", "steering", "store"},
    "messagewaits": {"blueprint", "errors", "masking", "store", "transports", "waiting"},
    "engine": {"blueprint", "errors", "graph", "lifecycle", "masking", "plans", "protocol",
               "steering", "runstate", "shaping",
               "resolver", "states", "store", "transports", "workers", "gcpause", "faults",
               "owner", "outcomes", "waiting", "lease", "share", "sealing"},
    "service": {"blueprint", "engine", "errors", "lease", "lifecycle", "owner", "share",
                "states", "store", "waiting"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = list(parts[: len(parts) - node.level])
            target = [*base, *(node.module.split(".") if node.module else [])]
            if target:
                found.add(target[0])
            else:  # "from . import x" at the package root
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("murano_flow."):
            found.add(node.module.split(".")[1])
    return found


def test_layers_import_only_downwards():
    for path in PACKAGE.rglob("*.py"):
        layer = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
        if layer not in ALLOWED:
            continue  # cli, output, progress, __init__, __main__: the top may use anything
        bad = _imports(path) - ALLOWED[layer] - {layer}
        assert not bad, f"{path.relative_to(PACKAGE)} imports {sorted(bad)}"


def test_all_is_complete_and_importable():
    for name in murano_flow.__all__:
        assert getattr(murano_flow, name) is not None
    from murano_flow import errors

    public_errors = {n for n, v in vars(errors).items()
                     if isinstance(v, type) and issubclass(v, Exception) and not n.startswith("_")}
    assert public_errors <= set(murano_flow.__all__)


def test_the_wire_modules_and_the_agent_import_nothing_heavy():
    import subprocess
    import sys

    # The agent goes onto VMs with pika alone: it must not pull in the engine's dependencies.
    code = ("import sys, murano_flow.protocol, murano_flow.signing, "
            "murano_flow_agent.agent, murano_flow_agent.__main__; "
            "bad = [m for m in ('click', 'rich', 'jinja2', 'yaml', 'transitions', "
            "'murano_flow.engine') if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


def test_only_safe_yaml_loading():
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        assert "yaml.load(" not in text and "yaml.unsafe_load" not in text, path
        assert "shell=True" not in text, path
