"""House rules checked by machine: the public surface and who may import whom."""

from __future__ import annotations

import ast
from pathlib import Path

import murano_flow

PACKAGE = Path(murano_flow.__file__).parent

#: The layers, lowest first; each may import its own and the ones it lists (data flows one way:
#: blueprint -> graph -> engine -> store / transports -> app -> cli). "base" is the top-level
#: modules every layer shares (errors, states, lifecycle, faults, durations, gcpause).
LAYERS: dict[str, set[str]] = {
    "base": set(),
    "wire": {"base"},
    "blueprint": {"base"},
    "store": {"base", "wire"},
    "transports": {"base", "wire"},
    "graph": {"base", "blueprint"},
    "engine": {"base", "wire", "blueprint", "graph", "store", "transports"},
    "app": {"base", "wire", "blueprint", "graph", "store", "transports", "engine"},
    "api": {"base", "wire", "blueprint", "graph", "store", "transports", "engine", "app"},
    "cli": {"base", "wire", "blueprint", "graph", "store", "transports", "engine", "app", "api"},
}
#: What the guest agent (agents/) may import of murano_flow: the wire package and the errors.
AGENT_MAY_IMPORT = {"murano_flow.errors", "murano_flow.wire"}
AGENT = Path(__file__).parents[1] / "agents" / "murano_flow_agent"


def _layer(top: str) -> str:
    """The layer of a top-level name of the package (a subpackage, or a base module)."""
    return top if top in LAYERS else "base"


def _imports(path: Path) -> set[str]:
    """The top-level names of murano_flow that ``path`` (inside the package) imports."""
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
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names
                         if a.name.startswith("murano_flow."))
    return found


def test_layers_import_only_downwards():
    checked = 0
    for path in PACKAGE.rglob("*.py"):
        top = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
        if top in ("__init__", "__main__"):
            continue  # the package's lazy public names and `python -m`
        layer = _layer(top)
        bad = {name for name in _imports(path) if _layer(name) not in LAYERS[layer] | {layer}}
        assert not bad, f"{path.relative_to(PACKAGE)} ({layer}) imports {sorted(bad)}"
        checked += 1
    assert checked > 60  # the walk found the package


def test_the_layer_table_names_every_subpackage():
    packages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert packages == set(LAYERS) - {"base"}


def test_the_agent_imports_only_the_wire_package_and_the_errors():
    seen = set()
    for path in AGENT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [
                a.name for a in node.names] if isinstance(node, ast.Import) else []
            for name in names:
                if name.startswith("murano_flow."):
                    seen.add(name)
                    assert any(name == ok or name.startswith(ok + ".")
                               for ok in AGENT_MAY_IMPORT), f"{path.name} imports {name}"
    assert "murano_flow.wire.protocol" in seen  # the walk found the agent


#: The Store methods that write the journal (see murano_flow.store.base.Store).
JOURNAL_WRITES = {"create", "commit", "claim", "acquire", "renew", "set_request", "heartbeat",
                  "set_control", "reshape", "add_signal", "settle_signals", "set_cursor",
                  "upgrade", "add_blueprint", "add_token", "revoke_token", "add_trigger",
                  "remove_trigger", "take_trigger", "record_firing"}


def test_the_cli_and_the_api_never_write_the_journal_nor_drive_an_engine():
    from murano_flow.store.base import Store

    assert set(vars(Store)) >= JOURNAL_WRITES  # the table names real methods
    found = []
    for path in [*(PACKAGE / "cli").glob("*.py"), *(PACKAGE / "api").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                    node.func.attr in JOURNAL_WRITES:
                found.append(f"{path.name}:{node.lineno} calls .{node.func.attr}()")
            if isinstance(node, ast.Name) and node.id == "Engine":
                found.append(f"{path.name}:{node.lineno} uses Engine")
    assert found == []


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
    code = ("import sys, murano_flow.wire.protocol, murano_flow.wire.signing, "
            "murano_flow_agent.agent, murano_flow_agent.__main__; "
            "bad = [m for m in ('click', 'rich', 'jinja2', 'yaml', 'transitions', "
            "'murano_flow.engine.engine') if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


def test_only_safe_yaml_loading():
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        assert "yaml.load(" not in text and "yaml.unsafe_load" not in text, path
        assert "shell=True" not in text, path
