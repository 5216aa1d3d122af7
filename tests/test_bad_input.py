"""A corpus of bad command-line input: each case gives its specific error, exit 2, no
traceback, and never shows a secret (blueprint errors have their own corpus in
tests/broken/)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from murano_flow.cli import cli

SECRET = "S3cr3t-value-9"

BLUEPRINT = """\
format: 1
name: bad
parameters:
  pw: {type: string, secret: true, allowed: [one, two], default: one}
  level: {type: integer, secret: true, default: 1}
  data: {type: map, default: {}}
entities:
  a:
    states:
      Deployed: {action: {inline: "true", env: {PW: "{{ params.pw }}"}}}
"""


def nested(depth: int) -> str:
    return "{deep: " + "[" * depth + "x" + "]" * depth + "}"


CASES = [
    (["deploy", "{bp}", "--id", "../../x"], "bad deployment id '../../x'"),
    (["deploy", "{bp}", "--id", ""], "bad deployment id ''"),
    (["deploy", "{bp}", "--id", "x" * 5000], "bad deployment id 'xxxx"),
    (["deploy", "{bp}", "--id", "a/b"], "no '/', no '..'"),
    (["validate", "{bp}", "-p", f"pw={SECRET}"], "****** is not one of the allowed values"),
    (["deploy", "{bp}", "-p", f"pw={SECRET}"], "****** is not one of the allowed values"),
    (["validate", "{bp}", "-p", f"level={SECRET}"], "expected an integer, got ******"),
    (["deploy", "{bp}", "--params-file", "{deep}"], "'data': nested more than 64 levels"),
    (["resume", "nope", "--rerun", "a.Deployed", "--detach"], "--rerun cannot be combined"),
]


@pytest.mark.parametrize("args,message", CASES, ids=[" ".join(c[0])[:40] for c in CASES])
def test_bad_input_is_a_clear_error(home, tmp_path, args, message):
    bp = tmp_path / "bad.yaml"
    bp.write_text(BLUEPRINT)
    deep = tmp_path / "deep.yaml"
    deep.write_text(f"data: {nested(100)}\n")
    argv = [a.format(bp=bp, deep=deep) for a in args]
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 2, result.output
    assert message in result.output, result.output
    assert "Traceback" not in result.output and SECRET not in result.output


def test_validate_json_problems_never_show_a_secret(home, tmp_path):
    bp = tmp_path / "bad.yaml"
    bp.write_text(BLUEPRINT)
    result = CliRunner().invoke(cli, ["validate", str(bp), "-p", f"pw={SECRET}", "-f", "json"])
    assert result.exit_code == 2
    problems = json.loads(result.output)["problems"]
    assert problems and SECRET not in result.output
