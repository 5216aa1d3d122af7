"""A corpus of broken blueprints: each must yield a located, specific error and exit 2.

Each file marks what it expects: either a line ``# expect: LINE: fragment`` at the top,
or a trailing ``# error: fragment`` comment on the offending line; a mistake inside a
file it includes (under ``broken/parts/``, which has its own ``# error:`` marks) says
``# expect-in: parts/FILE: LINE: fragment``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from murano_flow.blueprint import load_blueprint
from murano_flow.cli import cli
from murano_flow.errors import BlueprintError

CORPUS = sorted((Path(__file__).parent / "broken").glob("*.yaml"))


PARTS = Path(__file__).parent / "broken" / "parts"


def expectations(path: Path) -> list[tuple[str, int, str]]:
    """(file, line, fragment) of every problem ``path`` expects."""
    out = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if m := re.match(r"# expect: (\d+): (.+)", line):
            out.append((str(path), int(m[1]), m[2].strip()))
        elif m := re.match(r"# expect-in: (\S+): (\d+): (.+)", line):
            out.append((str(path.parent / m[1]), int(m[2]), m[3].strip()))
        elif m := re.search(r"# error: (.+)$", line):
            out.append((str(path), number, m[1].strip()))
    return out


def test_the_corpus_is_large_enough():
    assert len(CORPUS) >= 100


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
def test_broken_blueprint_is_reported_at_its_line(path: Path):
    expected = expectations(path)
    assert expected, f"{path.name} says nothing about what it expects"
    with pytest.raises(BlueprintError) as info:
        load_blueprint(path)
    diagnostics = info.value.diagnostics
    for file, line, fragment in expected:
        hits = [d for d in diagnostics
                if d.file == file and d.line == line and fragment in d.message]
        assert hits, f"expected '{fragment}' at {file}:{line}; got:\n{info.value}"
    # a problem in an included file names the include that led there
    assert all(d.file == str(path) or (d.file.startswith(str(PARTS)) and d.chain)
               for d in diagnostics), info.value


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
def test_validate_exits_2_without_traceback(path: Path):
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert re.search(rf"{re.escape(str(path))}:\d+:\d+[: ]", result.output)


def test_validate_reports_every_problem_in_one_run(write_blueprint):
    path = write_blueprint("""
        format: 1
        name: t
        entities:
          a:
            states:
              Deployed:
                requires: [Missing, b.Deployed]
                action: {script: nowhere.sh}
    """)
    result = CliRunner().invoke(cli, ["validate", str(path), "-f", "json"])
    assert result.exit_code == 2
    import json

    problems = json.loads(result.output)["problems"]
    messages = " | ".join(p["message"] for p in problems)
    assert "no state 'Missing'" in messages
    assert "unknown entity 'b'" in messages
    assert "nowhere.sh' not found" in messages
