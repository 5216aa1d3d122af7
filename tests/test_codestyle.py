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
    "protocol": {"errors"},
    "signing": {"errors"},
    "lifecycle": {"errors", "states"},
    "blueprint": {"errors", "blueprint", "dag", "gcpause"},
    "graph": {"blueprint", "dag"},
    "resolver": set(),
    "plans": {"blueprint", "protocol"},
    "store": {"errors", "store"},
    "transports": {"errors", "protocol", "transports"},
    "engine": {"blueprint", "errors", "graph", "lifecycle", "masking", "plans", "protocol",
               "resolver", "states", "store", "transports", "workers", "gcpause"},
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
    public = {name for name in dir(murano_flow) if not name.startswith("_")}
    modules = {"blueprint", "cli", "dag", "engine", "errors", "graph", "lifecycle", "masking",
               "output", "plans", "progress", "protocol", "resolver", "signing", "states", "store",
               "transports", "workers", "gcpause"}
    assert public - modules - {"annotations", "logging"} == set(murano_flow.__all__) - {
        "__version__"}
    for name in murano_flow.__all__:
        assert getattr(murano_flow, name) is not None


def test_only_safe_yaml_loading():
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        assert "yaml.load(" not in text and "yaml.unsafe_load" not in text, path
        assert "shell=True" not in text, path
