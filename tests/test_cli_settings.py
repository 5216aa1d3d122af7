"""Where option values come from (command line, MURANO_FLOW_* variables, config files),
how much is logged, blueprints from stdin, and the value/csv formats with -c."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BP = """\
format: 1
name: tiny
parameters:
  word: {type: string, default: hi}
entities:
  a:
    host: {transport: local, name: "a-{{ deployment }}"}  # one each: hosts are not shared
    states:
      Deployed: {action: "echo {{ params.word }}"}
"""


def mf(*args: str, cwd: Path, env: dict[str, str] | None = None, stdin: str | None = None
       ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "murano_flow", *args], capture_output=True,
                          text=True, timeout=120, cwd=cwd, input=stdin,
                          env={**os.environ, **(env or {})})


@pytest.fixture
def project(tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder holding the blueprint, with a private user config directory."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    (tmp_path / "bp.yaml").write_text(BP)
    return tmp_path


def workers_used(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stderr
    line = next(x for x in (done.stdout + done.stderr).splitlines() if "workers" in x)
    return line.split("up to ")[1].split()[0]


def test_an_option_comes_from_the_command_line_then_the_environment_then_the_files(project):
    user = project / "xdg" / "murano-flow" / "config.toml"
    user.parent.mkdir(parents=True)
    user.write_text("[deploy]\nworkers = 2\non-failure = 'rollback'\n")
    assert workers_used(mf("deploy", "bp.yaml", "--id", "d1", cwd=project)) == "2"
    (project / "murano-flow.toml").write_text("[deploy]\nworkers = 3\n")  # the project's wins
    assert workers_used(mf("deploy", "bp.yaml", "--id", "d2", cwd=project)) == "3"
    env = {"MURANO_FLOW_DEPLOY_WORKERS": "4"}
    assert workers_used(mf("deploy", "bp.yaml", "--id", "d3", cwd=project, env=env)) == "4"
    assert workers_used(mf("deploy", "bp.yaml", "--id", "d4", "-w", "5", cwd=project,
                           env=env)) == "5"
    named = project / "ci.toml"
    named.write_text("[deploy]\nworkers = 6\n")  # only the file MURANO_FLOW_CONFIG names
    assert workers_used(mf("deploy", "bp.yaml", "--id", "d5", cwd=project,
                           env={"MURANO_FLOW_CONFIG": str(named)})) == "6"
    # the user file's on-failure still applied where the project file said nothing
    shown = json.loads(mf("status", "d2", "-f", "json", cwd=project).stdout)
    assert shown["deployment"]["settings"]["on_failure"] == "rollback"


def test_every_option_of_every_command_has_its_environment_variable(project):
    listed = mf("list", "-f", "value", "-c", "id", cwd=project,
                env={"MURANO_FLOW_LIST_LIMIT": "1"})
    assert listed.returncode == 0, listed.stderr
    for i in (1, 2):
        assert mf("deploy", "bp.yaml", "--id", f"e{i}", cwd=project).returncode == 0
    listed = mf("list", "-f", "value", "-c", "id", cwd=project,
                env={"MURANO_FLOW_LIST_LIMIT": "1"})
    assert listed.stdout.split() == ["e2"]
    bad = mf("deploy", "bp.yaml", cwd=project, env={"MURANO_FLOW_DEPLOY_WORKERS": "many"})
    assert bad.returncode == 2 and "'many' is not a valid integer" in bad.stderr


@pytest.mark.parametrize(("text", "message"), [
    ("[deploy]\nworkerz = 3\n",
     "murano-flow.toml: [deploy] has no option 'workerz' (known: deadline, detach, dry-run,"),
    ("[deploy]\nworkers = 'x'\n", "murano-flow.toml: [deploy] workers: 'x' is not a valid"),
    ("[deploy\n", "murano-flow.toml: not valid TOML: "),
    ("deploy = 3\n", "deploy is a command: give its options as a table [deploy]"),
    ("[engine.serve]\nnope = 1\n", "[engine.serve] has no option 'nope'"),
    ("colour = 'red'\n",
     "the top level has no option 'colour' (known: broker, home, log-format, store,"),
])
def test_a_config_file_mistake_names_the_file_and_what_is_known(project, text, message):
    (project / "murano-flow.toml").write_text(text)
    done = mf("list", cwd=project)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_a_config_file_named_but_missing_is_an_error(project):
    done = mf("list", cwd=project, env={"MURANO_FLOW_CONFIG": str(project / "nope.toml")})
    assert done.returncode == 2 and "nope.toml, which is not a file" in done.stderr


def test_verbose_shows_murano_flows_own_debug_log_and_the_libraries_only_at_three(project):
    done = mf("-vv", "deploy", "bp.yaml", "--id", "v1", cwd=project)
    assert done.returncode == 0, done.stderr
    assert "DEBUG murano_flow.engine.dispatch: a.Deployed: plan v1/a.Deployed/action/1" \
        in done.stderr
    assert "DEBUG murano_flow.engine.completion: a.Deployed: exit 0" in done.stderr
    assert "transitions" not in done.stderr
    info = mf("-v", "deploy", "bp.yaml", "--id", "v2", cwd=project)
    assert "DEBUG" not in info.stderr
    loud = mf("-vvv", "deploy", "bp.yaml", "--id", "v3", cwd=project)
    assert "DEBUG transitions.core" in loud.stderr


def test_a_blueprint_can_come_from_stdin(project):
    done = mf("deploy", "-", "--id", "s1", "-p", "word=from-stdin", cwd=project, stdin=BP)
    assert done.returncode == 0, done.stderr
    shown = json.loads(mf("status", "s1", "-f", "json", cwd=project).stdout)
    assert shown["deployment"]["path"] == "<stdin>"
    broken = BP.replace("Deployed: {action", "Deployed: {requires: b.Deployed, action")
    bad = mf("validate", "-", cwd=project, stdin=broken)
    assert bad.returncode == 2 and "<stdin>:9:" in bad.stderr and "unknown entity 'b'" \
        in bad.stderr
    both = mf("deploy", "-", "--params-file", "-", cwd=project, stdin=BP)
    assert both.returncode == 2 and "cannot both be read from stdin" in both.stderr


def test_value_and_csv_print_the_columns_chosen(project):
    assert mf("deploy", "bp.yaml", "--id", "c1", cwd=project).returncode == 0
    value = mf("list", "-f", "value", "-c", "id", "-c", "state", cwd=project)
    assert value.stdout.splitlines() == ["c1 succeeded"]
    rows = list(csv.DictReader(io.StringIO(mf("status", "c1", "-f", "csv", cwd=project).stdout)))
    assert [(r["name"], r["status"], r["exit_code"]) for r in rows] == [
        ("a.Deployed", "reached", "0")]
    kinds = mf("events", "c1", "-f", "value", "-c", "kind", cwd=project).stdout.split()
    assert kinds[0] == "deployment" and "reached" in kinds
    only = json.loads(mf("events", "c1", "-f", "json", "-c", "seq", cwd=project).stdout)
    assert only[:2] == [{"seq": 1}, {"seq": 2}]
    followed = mf("events", "c1", "--follow", "-f", "csv", "-c", "seq", "-c", "kind",
                  cwd=project)
    assert followed.returncode == 0 and followed.stdout.splitlines()[0] == "seq,kind"
    wrong = mf("status", "c1", "-c", "colour", cwd=project)
    assert wrong.returncode == 2 and "-c colour: no such column; the columns are: name," \
        in wrong.stderr
