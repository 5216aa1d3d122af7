"""Day-two deploys: --dry-run says what a deploy would do and changes nothing; --redo runs
states in place again; --limit keeps a converge to some states."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from murano_flow.cli import cli
from murano_flow.store import open_store

BP = """\
format: 1
name: shop
parameters:
  port: {type: integer, default: 80}
  password: {type: string, secret: true, default: first-S3CRET}
  n: {type: integer, default: 2}
  db_script: {type: string, default: "v1"}
entities:
  db:
    states:
      Deployed:
        action:
          inline: |
            echo "db $VERSION" >> "$MARKS"
            printf '{"addr": "%s"}' "$ADDR" > "$MURANO_FLOW_OUTPUT"
          env: {PW: "{{ params.password }}", MARKS: MARKS_FILE, VERSION: "{{ params.db_script }}",
                ADDR: "10.0.0.{{ params.db_script | length }}"}
        outputs: [addr]
  web:
    count: "{{ params.n }}"
    states:
      Configured:
        requires: [db.Deployed]
        action:
          inline: echo "$MURANO_FLOW_ENTITY configured $PORT $DB" >> "$MARKS"
          env: {PORT: "{{ params.port }}", DB: "{{ outputs['db.Deployed'].addr }}",
                MARKS: MARKS_FILE}
      Deployed:
        requires: [Configured]
        check: "true"
        action: {inline: echo "$MURANO_FLOW_ENTITY deployed" >> "$MARKS", env: {MARKS: MARKS_FILE}}
"""


@pytest.fixture
def shop(tmp_path: Path, home: Path) -> tuple[Path, Path]:
    marks = tmp_path / "marks"
    marks.touch()
    bp = tmp_path / "shop.yaml"
    bp.write_text(BP.replace("MARKS_FILE", str(marks)))
    return bp, marks


def mf(*args: str):
    return CliRunner().invoke(cli, list(args))


def journal(home: Path) -> tuple[list, list]:
    with open_store(f"sqlite:///{home}/journal.db") as store:
        return ([(n.name, n.status, n.attempt, n.inputs) for n in store.nodes("s1")],
                [e.seq for e in store.events("s1", 0)])


def steps(result) -> dict[str, dict]:
    return {s["state"]: s for s in json.loads(result.output)["steps"]}


def test_a_dry_run_of_a_new_deployment_creates_no_journal(shop, home):
    bp, marks = shop
    done = mf("deploy", str(bp), "--dry-run", "-f", "json")
    assert done.exit_code == 1, done.output  # it would change hosts
    assert {s["would"] for s in steps(done).values()} == {"run"}
    assert not home.exists() and marks.read_text() == ""


def test_a_dry_run_says_what_a_converge_would_do_and_journals_nothing(shop, home):
    bp, marks = shop
    assert mf("deploy", str(bp), "--id", "s1").exit_code == 0
    ran, before = marks.read_text(), journal(home)
    same = mf("deploy", str(bp), "--id", "s1", "--dry-run", "-f", "json")
    assert same.exit_code == 0, same.output  # nothing would change
    assert {k: v["would"] for k, v in steps(same).items()} == {
        "db.Deployed": "keep", "web[0].Configured": "keep", "web[1].Configured": "keep",
        "web[0].Deployed": "probe", "web[1].Deployed": "probe"}
    port = mf("deploy", str(bp), "--id", "s1", "--dry-run", "-p", "port=81", "-f", "json")
    assert port.exit_code == 1
    web0 = steps(port)["web[0].Configured"]
    assert web0["would"] == "run" and web0["why"] == "inputs changed: env.PORT"
    assert web0["diff"] == [{"field": "env.PORT", "old": "80", "new": "81"}]
    script = steps(mf("deploy", str(bp), "--id", "s1", "--dry-run", "-p", "db_script=v22",
                      "-f", "json"))
    assert script["db.Deployed"]["would"] == "run"
    assert [d["field"] for d in script["db.Deployed"]["diff"]] == ["env.VERSION", "env.ADDR"]
    # what reads db's outputs can only be decided once db has run again
    assert script["web[1].Configured"]["would"] == "decided then"
    # a secret is masked, and its new value (never journaled) is said to be invisible
    secret = mf("deploy", str(bp), "--id", "s1", "--dry-run", "-p", "password=second-S3CRET")
    assert secret.exit_code == 0 and "S3CRET" not in secret.output
    assert "reads a secret, whose new value would not be seen: --redo it" in secret.output
    table = mf("deploy", str(bp), "--id", "s1", "--dry-run", "-p", "port=81")
    assert "web[0].Configured env.PORT: 80 -> 81" in table.output
    assert "nothing was run or journaled" in table.output
    assert marks.read_text() == ran and journal(home) == before


def test_a_dry_run_is_refused_where_the_deploy_would_be(shop, home):
    bp, _ = shop
    assert mf("deploy", str(bp), "--id", "s1").exit_code == 0
    other = bp.with_name("other.yaml")
    other.write_text(bp.read_text().replace("name: shop", "name: other"))
    done = mf("deploy", str(other), "--id", "s1", "--dry-run")
    assert done.exit_code == 2 and "is of blueprint 'shop', not 'other'" in done.output


def test_redo_runs_a_state_in_place_again_and_only_re_examines_its_dependents(shop, home):
    bp, marks = shop
    assert mf("deploy", str(bp), "--id", "s1").exit_code == 0
    marks.write_text("")
    done = mf("deploy", str(bp), "--id", "s1", "--redo", "db", "-p", "password=rotated")
    assert done.exit_code == 0, done.output
    # db's action ran once more; the web nodes read the same address: kept
    assert marks.read_text().splitlines() == ["db v1"]
    rows = {n: (status, attempt) for n, status, attempt, _ in journal(home)[0]}
    # the web nodes' configs were kept; their Deployed asked its check probe, which passed
    assert rows == {"db.Deployed": ("reached", 2), "web[0].Configured": ("reached", 1),
                    "web[1].Configured": ("reached", 1), "web[0].Deployed": ("skipped", 2),
                    "web[1].Deployed": ("skipped", 2)}


def test_redo_with_dependents_runs_everything_below_it_once(shop, home):
    bp, marks = shop
    assert mf("deploy", str(bp), "--id", "s1").exit_code == 0
    marks.write_text("")
    done = mf("deploy", str(bp), "--id", "s1", "--redo", "web[1].Configured",
              "--with-dependents")
    assert done.exit_code == 0, done.output
    assert marks.read_text().splitlines() == ["web[1] configured 80 10.0.0.2",
                                              "web[1] deployed"]


def test_limit_re_converges_only_the_states_it_names(shop, home):
    bp, marks = shop
    assert mf("deploy", str(bp), "--id", "s1").exit_code == 0
    marks.write_text("")
    dry = mf("deploy", str(bp), "--id", "s1", "-p", "port=81", "--limit", "web[0]",
             "--dry-run", "-f", "json")
    assert {k: v["would"] for k, v in steps(dry).items()} == {
        "db.Deployed": "keep", "web[0].Configured": "run", "web[1].Configured": "keep",
        "web[0].Deployed": "probe", "web[1].Deployed": "keep"}
    done = mf("deploy", str(bp), "--id", "s1", "-p", "port=81", "--limit", "web[0]")
    assert done.exit_code == 0, done.output
    assert marks.read_text().splitlines() == ["web[0] configured 81 10.0.0.2"]
    marks.write_text("")
    rest = mf("deploy", str(bp), "--id", "s1", "-p", "port=81")  # the rest follows
    assert rest.exit_code == 0 and marks.read_text().splitlines() == [
        "web[1] configured 81 10.0.0.2"]


@pytest.mark.parametrize(("args", "message"), [
    (["--redo", "web"], "--redo applies to a deployment in place: give its --id"),
    (["--id", "s1", "--redo", "cache"], "--redo cache: no state, entity or part"),
    (["--id", "s1", "--limit", "web[0]", "-p", "n=3"],
     "--limit web[0] leaves 2 states outside it that are not in place (web[2].Configured"),
    (["--id", "s1", "--redo", "db", "--limit", "web[0]"], "--redo db.Deployed is outside --limit"),
    (["--id", "s1", "--with-dependents"], "--with-dependents goes with --redo STATE"),
    (["--id", "s1", "--redo", "db", "--detach"], "--redo cannot be combined with --detach"),
])
def test_redo_and_limit_mistakes_are_refused_before_anything_runs(shop, home, args, message):
    bp, marks = shop
    assert mf("deploy", str(bp), "--id", "s1").exit_code == 0
    marks.write_text("")
    before = journal(home)
    done = mf("deploy", str(bp), *args)
    assert done.exit_code == 2 and message in done.output, done.output
    assert marks.read_text() == "" and journal(home) == before


def recap(output: str) -> dict[str, list[str]]:
    """The recap table's rows by entity: [state, changed, ok, failed, undone, other, took]."""
    rows = {}
    for line in output.splitlines():
        cells = [c.strip() for c in line.strip().removeprefix("│").removesuffix("│").split("│")]
        if len(cells) == 8 and cells[0] in ("db", "web[0]", "web[1]"):
            rows[cells[0]] = cells[1:]
    return rows


def test_the_recap_counts_what_this_run_changed_and_how_long_this_run_took(shop, home):
    bp, _ = shop
    first = mf("deploy", str(bp), "--id", "s1")
    assert "this run: 3 changed, 2 ok in " in first.output  # the Deployed checks passed
    again = mf("deploy", str(bp), "--id", "s1", "-p", "port=81", "--limit", "web[0]")
    assert again.exit_code == 0
    assert "this run: 1 changed, 4 ok in " in again.output
    rows = recap(again.output)
    assert rows["db"][:3] == ["reached", "0", "1"] and rows["db"][-1] == ""  # nothing ran
    assert rows["web[0]"][1:3] == ["1", "1"] and rows["web[0]"][-1].endswith("s")
    assert rows["web[1]"][1:3] == ["0", "2"] and rows["web[1]"][-1] == ""
    # a converge's words: a probe that looks again is not an action run again
    events = mf("events", "s1").output
    assert "its check probe looks again (the action runs only if it fails)" in events
    assert "running it again" not in events
    assert "check passed: in place, its action not run" in events
    back = mf("rollback", "s1")  # nothing has an undo: nothing ran, nothing took time
    assert back.exit_code == 0 and "this run: 0 changed, 0 ok, 5 undone" in back.output
    assert all(row[-1] == "" for row in recap(back.output).values())
