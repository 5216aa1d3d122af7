"""A host belongs to one deployment at a time: others are refused before anything runs,
a host only known at run time fails its state there, and an operator can hand one over."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from murano_flow.cli import cli
from murano_flow.store import open_store

BP = """\
format: 1
name: pair
entities:
  app:
    host: {transport: local, name: shared-box}
    states:
      Deployed:
        action: {inline: 'echo "$MURANO_FLOW_DEPLOYMENT" >> "$MARKS"', env: {MARKS: MARKS_FILE}}
        undo: {inline: 'echo "undo $MURANO_FLOW_DEPLOYMENT" >> "$MARKS"', env: {MARKS: MARKS_FILE}}
"""

# The box's name comes from an output: only known once Allocated has run.
LATE = """\
format: 1
name: late
entities:
  alloc:
    states:
      Allocated:
        action:
          inline: |
            printf '{"box": "shared-box"}' > "$MURANO_FLOW_OUTPUT"
        outputs: [box]
      Deployed: {requires: [Allocated]}
  app:
    host: {transport: local, name: "{{ outputs['alloc.Allocated'].box }}"}
    states:
      Deployed:
        requires: [alloc.Allocated]
        action: {inline: 'echo late >> "$MARKS"', env: {MARKS: MARKS_FILE}}
"""


@pytest.fixture
def marks(tmp_path: Path) -> Path:
    path = tmp_path / "marks"
    path.touch()
    return path


def write(tmp_path: Path, name: str, text: str, marks: Path) -> str:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text.replace("MARKS_FILE", str(marks)))
    return str(path)


def mf(*args: str):
    return CliRunner().invoke(cli, list(args))


def deployments(home: Path) -> list[str]:
    with open_store(f"sqlite:///{home}/journal.db") as store:
        return sorted(d.id for d in store.deployments())


def test_a_second_deployment_on_a_held_host_is_refused_before_anything_is_journaled(
        tmp_path, home, marks):
    bp = write(tmp_path, "pair", BP, marks)
    assert mf("deploy", bp, "--id", "first").exit_code == 0
    second = mf("deploy", bp, "--new")
    assert second.exit_code == 2
    assert "host local:shared-box belongs to deployment first" in second.output
    assert "murano-flow hosts release first local:shared-box" in second.output
    assert deployments(home) == ["first"] and marks.read_text() == "first\n"
    held = json.loads(mf("hosts", "list", "-f", "json").output)
    assert held == [{"host": "local:shared-box", "deployment": "first", "released": False}]
    # converging the holder itself is fine; once it is rolled back the host is free
    assert mf("deploy", bp, "--id", "first").exit_code == 0
    assert mf("rollback", "first").exit_code == 0
    assert mf("deploy", bp, "--id", "second").exit_code == 0
    assert marks.read_text() == "first\nundo first\nsecond\n"


def test_a_host_known_only_at_run_time_fails_its_state_there(tmp_path, home, marks):
    assert mf("deploy", write(tmp_path, "pair", BP, marks), "--id", "first").exit_code == 0
    late = mf("deploy", write(tmp_path, "late", LATE, marks), "--id", "late")
    assert late.exit_code == 1, late.output
    assert "app.Deployed failed: host local:shared-box belongs to deployment first" \
        in late.output
    assert marks.read_text() == "first\n"  # nothing of 'late' ran on the box


def test_a_host_handed_over_is_free_for_another_and_closed_to_the_one_that_gave_it(
        tmp_path, home, marks):
    bp = write(tmp_path, "pair", BP, marks)
    assert mf("deploy", bp, "--id", "first").exit_code == 0
    wrong = mf("hosts", "release", "first", "local:other-box")
    assert wrong.exit_code == 2
    assert "does not hold local:other-box; it holds: local:shared-box" in wrong.output
    done = mf("hosts", "release", "first", "local:shared-box")
    assert done.exit_code == 0 and "first handed over local:shared-box" in done.output
    events = mf("events", "first").output
    assert "handed over local:shared-box: it runs nothing there any more" in events
    assert mf("deploy", bp, "--id", "second").exit_code == 0
    held = json.loads(mf("hosts", "list", "-f", "json").output)
    assert {(h["deployment"], h["released"]) for h in held} == {("first", True),
                                                                ("second", False)}
    # the deployment that handed it over runs nothing there: not even its undo
    back = mf("rollback", "first")
    assert back.exit_code == 1 and "host local:shared-box belongs to deployment second" \
        in back.output
    assert marks.read_text() == "first\nsecond\n"


def test_deleting_a_deployment_frees_its_hosts(tmp_path, home, marks):
    bp = write(tmp_path, "pair", BP.replace("echo \"$MURANO_FLOW_DEPLOYMENT\"", "exit 3; echo"),
               marks)
    assert mf("deploy", bp, "--id", "broken").exit_code == 1  # failed there: it holds it
    assert mf("deploy", bp, "--id", "other").exit_code == 2
    assert mf("delete", "broken").exit_code == 0
    assert mf("hosts", "list", "-f", "value").output == ""
    assert mf("deploy", bp, "--id", "other").exit_code == 1  # its own failure this time


def test_a_host_the_blueprint_says_is_shared_serves_several_deployments(tmp_path, home, marks):
    shared = BP.replace("name: shared-box}", "name: shared-box, shared: true}")
    bp = write(tmp_path, "pair", shared, marks)
    assert mf("deploy", bp, "--id", "first").exit_code == 0
    assert mf("deploy", bp, "--id", "second").exit_code == 0
    assert marks.read_text() == "first\nsecond\n"
