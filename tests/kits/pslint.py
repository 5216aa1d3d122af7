"""Static checks of PowerShell on its tree-sitter parse tree (no PowerShell runs here).

Each rule returns the problems it finds as "line N: what" strings:

- ``parses``: the grammar accepts the file (see GRAMMAR_LIMITS for what it does not);
- ``stops_on_errors``: ``$ErrorActionPreference = 'Stop'`` before the first command;
- ``inputs_as_data``: inputs come from a ``param()`` block or ``$env:MURANO_FLOW_PARAMS``,
  never from ``$args`` (positional words anyone can shift);
- ``no_secret_on_a_command_line``: no password/secret/key value interpolated into a
  command-line switch (``"/SQLSVCPASSWORD=$pw"``) or given to a native program;
- ``no_secret_written``: none passed to Write-Host/Write-Output/Write-Verbose/echo;
- ``native_exit_checked``: a native program (``x.exe``, or one of NATIVE) is followed by a
  look at ``$LASTEXITCODE`` in the next statement;
- ``splats_from_a_variable``: a script called with ``&`` gets no ``@(...)`` argument (it
  would be one array; splatting takes ``@name``).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import tree_sitter
import tree_sitter_powershell

PARSER = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))

#: What tree-sitter-powershell (0.26) rejects although PowerShell accepts it, each shown by
#: a test (tests/test_powershell.py) so that a grammar fix is noticed. Our scripts avoid them.
GRAMMAR_LIMITS = {
    "Foo -Name A, B": "a comma-separated list of bareword arguments (about_Parsing, argument "
                      "mode): quote them ('A', 'B'), which PowerShell reads the same",
}

#: Programs that are not cmdlets, by the names our scripts call them.
NATIVE = {"icacls", "py", "pip", "netsh", "setspn", "sc", "shutdown", "reg", "dism"}
#: Names of variables and members that hold secrets.
SECRET = re.compile(r"password|passwd|secret|pwd|credential_key|\bkey\b", re.IGNORECASE)
_WRITERS = {"write-host", "write-output", "write-verbose", "write-information", "echo"}


def tree(source: str) -> tree_sitter.Tree:
    """The parse tree of ``source``."""
    return PARSER.parse(source.encode("utf-8"))


def nodes(node: tree_sitter.Node, kind: str) -> list[tree_sitter.Node]:
    """Every node of type ``kind`` under ``node``, in document order."""
    out, stack = [], [node]
    while stack:
        n = stack.pop()
        if n.type == kind:
            out.append(n)
        stack.extend(reversed(n.children))
    return out


def _text(node: tree_sitter.Node) -> str:
    return (node.text or b"").decode("utf-8", "replace")


def _line(node: tree_sitter.Node) -> int:
    return node.start_point[0] + 1


def _name(command: tree_sitter.Node) -> str:
    """The program a command runs, lower case (``& "...\\pip.exe"`` by its path)."""
    names = [c for c in command.children if c.type in ("command_name", "command_name_expr")]
    return _text(names[0]).strip("'\"").lower() if names else ""


def _native(name: str) -> bool:
    return name.endswith(".exe") or name in NATIVE


def parses(source: str) -> list[str]:
    """Where the grammar rejects the source."""
    root = tree(source).root_node
    return [f"line {_line(n)}: does not parse: {_text(n)[:60]!r}"
            for n in nodes(root, "ERROR")] or (["does not parse"] if root.has_error else [])


def stops_on_errors(source: str) -> list[str]:
    """``$ErrorActionPreference = 'Stop'`` comes before any command."""
    root = tree(source).root_node
    first = nodes(root, "command")
    stop = [n for n in nodes(root, "assignment_expression")
            if re.match(r"\$ErrorActionPreference\s*=\s*'Stop'", _text(n))]
    if not stop:
        return ["never sets $ErrorActionPreference = 'Stop': a failing cmdlet would go on"]
    if first and first[0].start_byte < stop[0].start_byte:
        return [f"line {_line(first[0])}: runs a command before "
                "$ErrorActionPreference = 'Stop'"]
    return []


def inputs_as_data(source: str) -> list[str]:
    """Inputs come as data (param() or the params file), not as ``$args``."""
    return [f"line {_line(v)}: reads $args; declare param() or read the params file"
            for v in nodes(tree(source).root_node, "variable") if _text(v).lower() == "$args"]


def no_secret_on_a_command_line(source: str) -> list[str]:
    """No secret in a command-line switch string, nor in a native program's arguments."""
    root = tree(source).root_node
    problems = []
    for s in nodes(root, "expandable_string_literal"):
        text = _text(s)
        if re.match(r'"[/-][A-Za-z]', text) and SECRET.search(text.split("=", 1)[-1]):
            problems.append(f"line {_line(s)}: a secret in a command-line switch {text[:40]}...")
    for command in nodes(root, "command"):
        if _native(_name(command)):
            args = "".join(_text(c) for c in command.children if c.type == "command_elements")
            if SECRET.search(args):
                problems.append(f"line {_line(command)}: a secret given to {_name(command)}")
    return problems


def no_secret_written(source: str) -> list[str]:
    """No secret variable is written to the output streams."""
    problems = []
    for command in nodes(tree(source).root_node, "command"):
        if _name(command) in _WRITERS:
            for v in nodes(command, "variable") + nodes(command, "member_name"):
                if SECRET.search(_text(v)):
                    problems.append(f"line {_line(command)}: writes {_text(v)}")
    return problems


def native_exit_checked(source: str) -> list[str]:
    """A native program's exit code is looked at right after it ran (a failing native
    command does not stop a script, whatever $ErrorActionPreference says)."""
    root = tree(source).root_node
    problems = []
    for command in nodes(root, "command"):
        name = _name(command)
        if not _native(name):
            continue
        statement = command
        while statement.parent is not None and statement.parent.type != "statement_list":
            statement = statement.parent
        after = statement.next_named_sibling
        if after is None or "$LASTEXITCODE" not in _text(after):
            problems.append(f"line {_line(command)}: {name}'s exit code is not checked")
    return problems


def splats_from_a_variable(source: str) -> list[str]:
    """``& $script @(...)`` passes one array; splatting takes ``@name``."""
    problems = []
    for command in nodes(tree(source).root_node, "command"):
        if not any(c.type == "command_invokation_operator" for c in command.children):
            continue
        for elements in (c for c in command.children if c.type == "command_elements"):
            if nodes(elements, "array_expression"):
                problems.append(f"line {_line(command)}: {_text(command)[:50]} passes an "
                                "array as one argument")
    return problems


RULES: dict[str, Callable[[str], list[str]]] = {
    "parses": parses, "stops_on_errors": stops_on_errors, "inputs_as_data": inputs_as_data,
    "no_secret_on_a_command_line": no_secret_on_a_command_line,
    "no_secret_written": no_secret_written, "native_exit_checked": native_exit_checked,
    "splats_from_a_variable": splats_from_a_variable,
}


def check(source: str, rules: list[str] | None = None) -> dict[str, list[str]]:
    """The problems each rule (all by default) finds in ``source``; rules with none left out."""
    found = {name: RULES[name](source) for name in rules or list(RULES)}
    return {name: problems for name, problems in found.items() if problems}
