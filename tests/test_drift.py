"""`murano-flow check [--fix]` and `observe`: drift found by check probes, and repaired."""

from __future__ import annotations

import json

from click.testing import CliRunner

from murano_flow.cli import cli
from murano_flow.store import SqliteStore

DRIFT = """
format: 1
name: drift
parameters:
  dir: {type: string}
entities:
  svc:
    states:
      Configured:
        action: {inline: 'mkdir -p "$D" && touch "$D/conf" && echo x >> "$D/conf-runs"',
                 env: {D: "{{ params.dir }}"}}
        check: {inline: 'test -f "$D/conf"', env: {D: "{{ params.dir }}"}}
      Started:
        requires: Configured
        action: {inline: 'touch "$D/started" && echo x >> "$D/start-runs"',
                 env: {D: "{{ params.dir }}"}}
        check: {inline: 'test -f "$D/started"', env: {D: "{{ params.dir }}"}}
      Deployed: {requires: Started}
  other:
    states:
      Deployed:
        action: {inline: 'mkdir -p "$D" && echo x >> "$D/other-runs"',
                 env: {D: "{{ params.dir }}"}}
        check: {inline: 'test -f "$D/other-runs"',
                env: {D: "{{ params.dir }}"}}
"""


def _cli(*args):
    return CliRunner().invoke(cli, list(args))


def _deploy(tmp_path, write_blueprint):
    path = write_blueprint(DRIFT)
    work = tmp_path / "work"
    result = _cli("deploy", str(path), "--id", "d", "-p", f"dir={work}")
    assert result.exit_code == 0, result.output
    return work


def test_check_reports_drift_and_fix_reruns_only_the_drifted_part(tmp_path, home,
                                                                   write_blueprint):
    work = _deploy(tmp_path, write_blueprint)
    clean = _cli("check", "d", "-f", "json")
    assert clean.exit_code == 0, clean.output
    assert json.loads(clean.output)["drifted"] == []

    (work / "conf").unlink()  # someone removed the configuration by hand
    found = _cli("check", "d", "-f", "json")
    assert found.exit_code == 1
    report = json.loads(found.output)
    assert report["drifted"] == ["svc.Configured"]
    assert {p["node"]: p["verdict"] for p in report["probes"]} == {
        "svc.Configured": "drifted", "svc.Started": "holds", "other.Deployed": "holds"}
    assert (work / "conf-runs").read_text() == "x\n"  # check alone changes nothing

    fixed = _cli("check", "d", "--fix")
    assert fixed.exit_code == 0, fixed.output
    assert "succeeded after re-converging svc.Configured" in fixed.output
    assert (work / "conf").exists()
    assert (work / "conf-runs").read_text() == "x\nx\n"  # the drifted state ran again
    assert (work / "start-runs").read_text() == "x\n"  # its dependent was re-examined only
    assert (work / "other-runs").read_text() == "x\n"  # the rest was not touched
    store = SqliteStore(home / "journal.db")
    kinds = [(e.kind, e.node) for e in store.events("d")]
    assert ("drift", "svc.Configured") in kinds
    assert ("skipped", "svc.Started") in kinds
    assert not [k for k in kinds if k[1] == "other.Deployed" and k[0] in ("running", "pending")
                and kinds.index(k) > kinds.index(("drift", "svc.Configured"))]
    assert _cli("check", "d").exit_code == 0


def test_observe_repeats_and_fixes(tmp_path, home, write_blueprint):
    work = _deploy(tmp_path, write_blueprint)
    (work / "started").unlink()
    result = _cli("observe", "d", "--every", "0.2s", "--count", "2", "--fix", "-f", "json")
    assert result.exit_code == 0, result.output
    rounds = [json.loads(chunk) for chunk in result.output.replace("}\n{", "}\x00{")
              .split("\x00")]
    assert [r["drifted"] for r in rounds] == [["svc.Started"], []]
    assert (work / "start-runs").read_text() == "x\nx\n"
    events = SqliteStore(home / "journal.db").events("d")
    assert sum(e.kind == "observed" for e in events) == 2


def test_check_refuses_what_it_cannot_check(tmp_path, home, write_blueprint):
    assert _cli("check", "nope").exit_code == 2
    assert _cli("observe", "nope", "--every", "soon").exit_code == 2
    path = write_blueprint(DRIFT.replace("mkdir -p \"$D\" && echo x", "exit 3; echo"))
    assert _cli("deploy", str(path), "--id", "f", "-p", f"dir={tmp_path}/w").exit_code == 1
    result = _cli("check", "f")
    assert result.exit_code == 2
    assert "only a succeeded deployment is checked" in result.output
