"""The command line end to end: real local deployments, the journal, exit codes."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner
from kits.common import BLUEPRINTS, consecutive_free_ports

from murano_flow.cli import cli
from murano_flow.store import SqliteStore

WEBFARM = str(BLUEPRINTS / "webfarm.yaml")


def mf(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


def farm_params(count: int) -> list[str]:
    base = consecutive_free_ports(count + 1)
    return ["-p", f"web_count={count}", "-p", f"lb_port={base}", "-p", f"base_port={base + 1}"]


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as reply:
        return reply.headers["X-Backend"]


def test_validate_plan_and_graph_of_the_shipped_blueprints():
    for name in ("webfarm", "active-directory", "sql-alwayson", "sql-on-ad"):
        path = str(BLUEPRINTS / f"{name}.yaml")
        assert mf("validate", path).exit_code == 0
        plan = json.loads(mf("plan", path, "-f", "json").output)
        assert plan["blueprint"] == name and plan["waves"]
        dot = mf("graph", path).output
        assert dot.startswith("digraph") and "->" in dot


def test_plan_waves_reflect_the_graph():
    plan = json.loads(mf("plan", WEBFARM, "-p", "web_count=2", "-f", "json").output)
    first = {n["node"] for n in plan["waves"][0]}
    assert first == {"web[0].ContentPublished", "web[1].ContentPublished"}
    assert plan["waves"][-1] == [{"node": "lb.Deployed", "host": "", "action": False, "wait": None,
                                  "requires": ["lb.HealthChecked"], "after": []}]


def test_graph_png_without_graphviz_says_how_to_fix(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    result = CliRunner().invoke(cli, ["graph", WEBFARM, "--format", "png", "-o", "x.png"])
    assert result.exit_code == 2 and "Graphviz" in result.output


@pytest.mark.parametrize("count,workers", [(2, 1), (3, 4)])
def test_deploy_webfarm_for_real_then_roll_back(home: Path, count: int, workers: int):
    params = farm_params(count)
    result = mf("deploy", WEBFARM, *params, "--workers", str(workers), "--id", "farm")
    assert result.exit_code == 0, result.output
    status = json.loads(mf("status", "farm", "-f", "json").output)
    assert status["deployment"]["state"] == "succeeded"
    nodes = {n["name"]: n for n in status["nodes"]}
    lb_url = nodes["lb.Configured"]["outputs"]["url"]
    assert {get(lb_url) for _ in range(2 * count)} == {f"web[{i}]" for i in range(count)}
    assert nodes["lb.HealthChecked"]["outputs"]["backends_seen"] == [
        f"web[{i}]" for i in range(count)]

    # every action started only after the states it requires were reached
    events = json.loads(mf("events", "farm", "-f", "json").output)
    reached = {e["node"]: e["ts"] for e in events if e["kind"] == "reached"}
    requires = {n["name"]: n["requires"] for n in status["nodes"]}
    started = [e for e in events if e["kind"] == "running"]
    assert len(started) == 2 * count + 2  # sync states emit no "running"
    for e in started:
        assert all(reached[r] <= e["ts"] for r in requires[e["node"]]), e

    assert mf("rollback", "farm").exit_code == 0
    with pytest.raises(OSError):
        get(lb_url)
    listed = json.loads(mf("list", "-f", "json").output)
    assert [d["state"] for d in listed] == ["rolled_back"]


FAILING = """
format: 1
name: failing
entities:
  a:
    host: {transport: local, name: "a-{{ deployment }}"}  # one each: hosts are not shared
    states:
      Deployed:
        action: {inline: "echo 'cannot reach the repo' >&2; exit 7"}
"""


def test_failed_deploy_exits_1_and_says_why(home, write_blueprint):
    result = mf("deploy", str(write_blueprint(FAILING)), "--id", "f1")
    assert result.exit_code == 1
    assert "a.Deployed failed: exit code 7: cannot reach the repo" in result.output
    shown = mf("status", "f1", "--nodes").output
    assert "failed" in shown and "exit code 7" in shown


def test_unknown_deployment_and_bad_parameters_exit_2(home):
    result = CliRunner().invoke(cli, ["status", "nope"])  # no journal yet, even
    assert result.exit_code == 2 and "no journal at" in result.output
    result = CliRunner().invoke(cli, ["deploy", WEBFARM, "-p", "web_count=many"])
    assert result.exit_code == 2 and "expected an integer" in result.output
    result = CliRunner().invoke(cli, ["deploy", WEBFARM, "-p", "oops"])
    assert result.exit_code == 2 and "name=value" in result.output
    result = CliRunner().invoke(cli, ["--store", "mysql://x", "list"])
    assert result.exit_code == 2 and "unknown store URL" in result.output


def test_unreachable_windows_hosts_exit_3_without_showing_the_password(home):
    ad = str(BLUEPRINTS / "active-directory.yaml")
    result = CliRunner().invoke(cli, ["deploy", ad, "-p", "admin_password=Sup3rSecretPassw0rd",
                                      "-p", "recovery_password=Sup3rSecretPassw0rd",
                                      "-p", "dc_addresses=[127.0.0.1, 127.0.0.1]"])
    assert result.exit_code == 3, result.output
    assert "cannot connect to https://127.0.0.1:5986/wsman" in result.output
    assert "Sup3rSecretPassw0rd" not in result.output


SECRET = """
format: 1
name: secret
parameters:
  token: {type: string, secret: true}
entities:
  a:
    states:
      Deployed:
        action:
          inline: 'echo "token=$TOKEN"; echo "token=$TOKEN" >&2; exit 1'
          env: {TOKEN: "{{ params.token }}"}
"""


def test_secrets_never_reach_any_output_or_the_journal(home, write_blueprint):
    path = str(write_blueprint(SECRET))
    result = mf("deploy", path, "-p", "token=tok-12345-xyz", "--id", "s1")
    outputs = [result.output]
    for args in (["status", "s1", "-f", "json"], ["status", "s1", "--nodes"],
                 ["events", "s1", "-f", "json"], ["list", "-f", "yaml"]):
        outputs.append(mf(*args).output)
    assert all("tok-12345-xyz" not in o for o in outputs)
    assert "token=******" in outputs[1]
    raw = b"".join(p.read_bytes() for p in home.glob("journal.db*"))
    assert b"tok-12345-xyz" not in raw


SLOW = """
format: 1
name: slow
entities:
  first: {states: {Deployed: {action: "echo first >> ../../ran.log"}}}
  slow:
    states:
      Deployed:
        requires: first.Deployed
        action: "echo slow >> ../../ran.log; [ -f ../../fast ] || sleep 60"
"""


def test_ctrl_c_saves_state_exits_130_and_resume_finishes(home, write_blueprint):
    path = write_blueprint(SLOW)
    env = {**os.environ, "MURANO_FLOW_HOME": str(home),
           "MURANO_FLOW_STORE": f"sqlite:///{home}/journal.db"}
    proc = subprocess.Popen([sys.executable, "-m", "murano_flow", "deploy", str(path),
                             "--id", "c1"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 30
    while "slow" not in _read(home / "ran.log") and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 130, out
    assert "murano-flow resume c1" in out and "Traceback" not in out

    store = SqliteStore(home / "journal.db")
    status = {n.name: n.status for n in store.nodes("c1")}
    assert store.deployment("c1").state == "interrupted"
    assert status == {"first.Deployed": "reached", "slow.Deployed": "pending"}
    kinds = [e.kind for e in store.events("c1") if e.node == "slow.Deployed"]
    assert kinds == ["running", "interrupted"]
    store.close()

    (home / "fast").write_text("")
    result = mf("resume", "c1")
    assert result.exit_code == 0, result.output
    assert _read(home / "ran.log").split() == ["first", "slow", "slow"]


def _read(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def test_detached_deploy_runs_in_the_background(home, write_blueprint):
    path = write_blueprint(SLOW.replace("|| sleep 60", "|| true"))
    result = mf("deploy", str(path), "--detach", "--id", "bg1")
    assert result.output.strip() == "bg1"
    waited = mf("wait", "bg1")  # what a CI job does after --detach
    assert waited.exit_code == 0 and "bg1: succeeded" in waited.output
    follow = mf("events", "bg1", "--follow")
    assert follow.exit_code == 0
    assert "slow.Deployed" in follow.output and "nodes reached" in follow.output
    # a detached rollback of the finished deployment: wait waits for the rollback, not
    # for the verdict the journal still holds until an engine takes it
    assert mf("rollback", "bg1", "--detach").exit_code == 0
    waited = mf("wait", "bg1")
    assert waited.exit_code == 0 and "bg1: rolled_back" in waited.output, waited.output


ROLLS_BACK = """
format: 1
name: rolls-back
entities:
  a:
    host: {transport: local, name: "a-{{ deployment }}"}  # one each: hosts are not shared
    states:
      One: {action: echo one, undo: echo undo}
      Deployed: {requires: One, action: "exit 4"}
"""


def test_wait_and_events_follow_exit_with_the_deployments_verdict(home, write_blueprint):
    path = str(write_blueprint(ROLLS_BACK))
    assert mf("deploy", path, "--id", "fails").exit_code == 1
    assert mf("deploy", path, "--id", "undone", "--on-failure", "rollback").exit_code == 1
    assert mf("deploy", path, "--id", "asked").exit_code == 1
    assert mf("rollback", "asked").exit_code == 0
    for dep, code in (("fails", 1), ("undone", 1), ("asked", 0)):
        assert mf("wait", dep).exit_code == code, dep
        assert mf("events", dep, "--follow").exit_code == code, dep
        assert mf("events", dep).exit_code == 0  # not following: it only prints
    said = mf("wait", "fails").output
    assert "fails: failed (a.Deployed failed: exit code 4)" in said
    unknown = mf("wait", "nope")
    assert unknown.exit_code == 2 and "no deployment 'nope'" in unknown.output
    bad = mf("wait", "fails", "--timeout", "soon")
    assert bad.exit_code == 2 and "1h30m" in bad.output


def test_durations_take_units_and_compounds_alike_in_blueprints_and_options():
    import re

    from murano_flow.blueprint.schema import schema
    from murano_flow.durations import seconds

    pattern = schema()["$defs"]["duration"]["oneOf"][1]["pattern"]
    good = {"90": 90, "1.5": 1.5, "500ms": 0.5, "30s": 30, "5m": 300, "2h": 7200,
            "7d": 604800, "1h30m": 5400, "2d12h": 216000, "1m30s": 90}
    for text, value in good.items():
        assert seconds(text) == value and re.match(pattern, text), text
    for text in ("", "soon", "1h30", "h", "-5s", "1.s", "5 m"):
        with pytest.raises(ValueError, match="1h30m"):
            seconds(text)
        assert not re.match(pattern, text), text


def test_events_follow_json_lines(home, write_blueprint):
    mf("deploy", str(write_blueprint(FAILING)), "--id", "e1")
    lines = mf("events", "e1", "--follow", "-f", "json").output.strip().splitlines()
    assert all(json.loads(line)["deployment"] == "e1" for line in lines)
    assert json.loads(lines[-1])["status"] == "failed"


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_graph_png_with_graphviz(tmp_path):
    out = tmp_path / "farm.png"
    result = mf("graph", WEBFARM, "--format", "png", "-o", str(out))
    assert result.exit_code == 0 and out.read_bytes()[:4] == b"\x89PNG"


def test_a_deployment_id_is_deployed_again_only_with_its_own_blueprint(home, write_blueprint):
    path = str(write_blueprint(FAILING))
    assert mf("deploy", path, "--id", "same").exit_code == 1
    again = CliRunner().invoke(cli, ["deploy", path, "--id", "same"])  # converge: retries it
    assert again.exit_code == 1 and "converge same" in again.output
    other = str(write_blueprint(FAILING.replace("name: failing", "name: other"), "other.yaml"))
    result = CliRunner().invoke(cli, ["deploy", other, "--id", "same"])
    assert result.exit_code == 2 and "is of blueprint 'failing', not 'other'" in result.output


def test_resume_of_a_finished_deployment_says_why_not(home, write_blueprint):
    path = str(write_blueprint(SLOW.replace("|| sleep 60", "|| true")))
    assert mf("deploy", path, "--id", "done").exit_code == 0
    result = CliRunner().invoke(cli, ["resume", "done"])
    assert result.exit_code == 2 and "is 'succeeded': nothing to resume" in result.output


def test_bad_params_files_exit_2_with_the_reason(home, tmp_path):
    result = CliRunner().invoke(cli, ["validate", WEBFARM, "--params-file",
                                      str(tmp_path / "missing.yaml")])
    assert result.exit_code == 2 and "cannot read parameters" in result.output
    listing = tmp_path / "list.yaml"
    listing.write_text("- web_count\n- 3\n")
    result = CliRunner().invoke(cli, ["validate", WEBFARM, "--params-file", str(listing)])
    assert result.exit_code == 2 and "must hold a mapping" in result.output
    broken = tmp_path / "broken.yaml"
    broken.write_text("web_count: [3\n")
    result = CliRunner().invoke(cli, ["validate", WEBFARM, "--params-file", str(broken)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    good = tmp_path / "good.yaml"
    good.write_text("web_count: 2\n")
    assert CliRunner().invoke(cli, ["validate", WEBFARM, "--params-file", str(good)]).exit_code == 0


SECRET_OUTPUT = """\
format: 1
name: dsn
parameters:
  pw: {type: string, secret: true}
  flag: {type: string}
  out: {type: string}
entities:
  a:
    states:
      Made:
        action: {script: made.sh, env: {PW: "{{ params.pw }}"}}
        outputs: [dsn]
      Used:
        requires: Made
        action:
          inline: 'if [ ! -f "$FLAG" ]; then touch "$FLAG"; exit 1; fi; echo "$DSN" > "$OUT"'
          env: {DSN: "{{ outputs['a.Made'].dsn }}", FLAG: "{{ params.flag }}",
                OUT: "{{ params.out }}"}
      Deployed: {requires: Used}
"""


def test_a_resumed_state_reads_a_secret_bearing_output_not_its_mask(home, tmp_path,
                                                                       write_blueprint):
    made = 'printf \'{"dsn": "db://u:%s@h"}\' "$PW" > "$MURANO_FLOW_OUTPUT"\n'
    bp = str(write_blueprint(SECRET_OUTPUT, files={"made.sh": made}))
    out = tmp_path / "dsn.txt"
    params = ["-p", "pw=Sup3r-s3cret", "-p", f"flag={tmp_path / 'flag'}", "-p", f"out={out}"]
    first = mf("deploy", bp, "--id", "dsn", *params)
    assert first.exit_code == 1, first.output  # Used fails once; Made's outputs journaled
    again = mf("resume", "dsn", *params)  # a new engine: Made's outputs come from the journal
    assert again.exit_code == 0, again.output
    assert out.read_text() == "db://u:Sup3r-s3cret@h\n"  # the value, never '******'
    journal = b"".join(p.read_bytes() for p in home.glob("journal.db*"))
    assert b"Sup3r-s3cret" not in journal
    shown = json.loads(mf("status", "dsn", "-f", "json").output)
    row = next(n for n in shown["nodes"] if n["name"] == "a.Made")
    assert row["outputs"] == {"dsn": "db://u:******@h"}


def test_fsck_reports_a_damaged_journal_as_a_finding_and_points_at_the_backup(
        home, write_blueprint):
    assert mf("deploy", str(write_blueprint(FAILING)), "--id", "f1").exit_code == 1
    journal = home / "journal.db"
    for leftover in home.glob("journal.db-*"):  # the WAL folded back in: the file alone
        leftover.unlink()
    with journal.open("r+b") as f:
        f.seek(4096)
        f.write(b"\x00damaged" * 512)
    checked = CliRunner().invoke(cli, ["fsck"])
    assert checked.exit_code == 1, checked.output  # damage found: not 'cannot open' (3)
    assert "is damaged" in checked.output and "restore it from a backup" in checked.output
    listed = CliRunner().invoke(cli, ["list"])
    assert listed.exit_code == 3 and "is damaged" in listed.output
    assert "Traceback" not in checked.output + listed.output


def test_a_home_that_cannot_hold_run_directories_is_a_clear_failure(home, tmp_path,
                                                                     write_blueprint):
    home.mkdir(parents=True, exist_ok=True)
    (home / "runs").write_text("a file where the run directories should go")
    result = mf("deploy", str(write_blueprint(FAILING)), "--id", "h1")
    assert result.exit_code == 3, result.output  # the host could not be used: not a bug
    assert "cannot prepare its run directory" in result.output
    assert "internal error" not in result.output and "Traceback" not in result.output


_LONE = """\
format: 1
name: lone
entities:
  a:
    states:
      Deployed: {action: {script: lone.sh}}
"""


def test_a_run_that_ends_without_a_record_is_in_doubt_and_runs_again_only_when_asked(
        home, tmp_path, write_blueprint):
    counter = tmp_path / "runs.txt"
    # The script outlives its supervisor, which records nothing (as on a full disk).
    script = f'echo run >> "{counter}"\nkill -9 $PPID\n'
    bp = str(write_blueprint(_LONE, files={"lone.sh": script}))
    first = mf("deploy", bp, "--id", "lone")
    assert first.exit_code == 3, first.output
    assert "is in doubt" in first.output and "--rerun a.Deployed" in first.output
    again = mf("resume", "lone")  # asks again: still no record, so still in doubt
    assert again.exit_code == 3 and counter.read_text() == "run\n", again.output
    rerun = mf("resume", "lone", "--rerun", "a.Deployed")
    assert counter.read_text() == "run\nrun\n", rerun.output  # only on the operator's word


def test_a_read_only_journal_can_be_read_and_says_so_when_written(home, write_blueprint):
    """Mounted read-only (in a mount namespace of the test's own): read commands work, a
    command that must write says why it cannot."""
    if shutil.which("unshare") is None:
        pytest.fail("the read-only journal test needs util-linux's unshare")
    bp = str(write_blueprint(FAILING))
    assert mf("deploy", bp, "--id", "r1").exit_code == 1
    view = home.parent / "read-only"
    view.mkdir()
    murano = [sys.executable, "-m", "murano_flow", "--store", f"sqlite:///{view}/journal.db"]
    script = (f"mount --bind {home} {view} && mount -o remount,bind,ro {view} && "
              f"{shlex.join([*murano, 'list'])} && {shlex.join([*murano, 'status', 'r1'])} && "
              f"{{ {shlex.join([*murano, 'deploy', bp, '--id', 'r2'])}; echo \"deploy $?\"; }}")
    done = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr  # list and status worked
    assert "r1" in done.stdout and "deploy 3" in done.stdout
    assert "is read-only here, and this command needs to write it" in done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_delete_and_prune_remove_finished_deployments_and_keep_live_ones(home,
                                                                       write_blueprint):
    from murano_flow.store import SqliteStore

    path = str(write_blueprint(ROLLS_BACK))
    for dep in ("old1", "old2", "live"):
        assert mf("deploy", path, "--id", dep).exit_code == 1
    with SqliteStore(home / "journal.db") as store:  # as an engine that died left it
        store.commit("live", [], [], state="running")
    assert (home / "runs" / "old1").is_dir()
    live = mf("delete", "live")
    assert live.exit_code == 2 and "live is running" in live.output \
        and "murano-flow cancel live" in live.output
    gone = mf("delete", "old1")
    assert gone.exit_code == 0 and "deleted old1" in gone.output
    assert mf("status", "old1").exit_code == 2 and not (home / "runs" / "old1").exists()
    assert mf("delete", "old1").exit_code == 2  # unknown now
    assert mf("prune", "--older-than", "30d").output.endswith("deleted 0 deployments "
                                                              "finished more than 30d ago\n")
    dry = mf("prune", "--older-than", "1ms", "--dry-run")
    assert "would delete old2" in dry.output and "live" not in dry.output
    assert mf("status", "old2").exit_code == 0  # a dry run deletes nothing
    pruned = mf("prune", "--older-than", "1ms")
    assert pruned.exit_code == 0 and "deleted old2" in pruned.output
    assert [d["id"] for d in json.loads(mf("list", "-f", "json").output)] == ["live"]
    bad = mf("prune", "--older-than", "soon")
    assert bad.exit_code == 2 and "not a duration" in bad.output


def test_read_commands_in_a_folder_without_a_journal_say_so_and_create_none(home):
    journal = home / "journal.db"
    listed = mf("list")
    assert listed.exit_code == 0 and f"no journal at {journal} yet" in listed.output
    for args in (["status", "x"], ["events", "x"], ["wait", "x"], ["delete", "x"],
                 ["prune", "--older-than", "1d"], ["cancel", "x"], ["pause", "x"],
                 ["signal", "x", "a.B"], ["check", "x"]):
        result = mf(*args)
        assert result.exit_code == 2 and f"no journal at {journal}" in result.output, args
    assert not journal.exists() and not home.exists()


def test_log_format_json_writes_one_json_object_per_line(tmp_path):
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-m", "murano_flow", "--store",
                          f"sqlite:///{tmp_path}/j.db", "--log-format", "json", "-vv",
                          "token", "create", "ci", "--scope", "read"],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    logged = [json.loads(line) for line in run.stderr.splitlines() if line.startswith("{")]
    assert any(r["logger"] == "murano_flow.app.settings" and r["level"] == "debug" and
               r["message"].startswith("journal sqlite:///") for r in logged), run.stderr
    assert all(set(r) >= {"time", "level", "logger", "message"} for r in logged)


def test_a_deploy_on_the_in_memory_journal_recaps_from_that_journal(tmp_path, write_blueprint):
    # the recap used to open the store URL again: a second, empty memory:// journal, and
    # a successful run exited 2 ("no deployment ... in the journal")
    path = write_blueprint("format: 1\nname: m\nentities:\n  a:\n    states:\n"
                           "      Deployed: {action: echo hi}\n")
    result = CliRunner().invoke(cli, ["--store", "memory://", "--home", str(tmp_path / "h"),
                                      "deploy", str(path), "--id", "m1"])
    assert result.exit_code == 0, result.output
    assert "m1: succeeded" in result.output


def test_status_of_a_big_deployment_prints_plain_aligned_rows(home, write_blueprint):
    # rich lays out ~2,000 table rows a second: status of 10,000 entities took 5 s
    from murano_flow.cli.render import LARGE

    n = LARGE + 100
    path = write_blueprint(f"format: 1\nname: big\nentities:\n  e:\n    count: {n}\n"
                           "    states:\n      Deployed: {}\n")
    assert mf("deploy", str(path), "--id", "big").exit_code == 0
    shown = mf("status", "big").output.splitlines()
    rows = [line for line in shown if line.startswith("e[")]
    assert len(rows) == n and rows[0].split()[:2] == ["e[0]", "reached"]
    assert not any("┃" in line or "│" in line for line in shown)  # no box: plain columns
    header = next(line for line in shown if line.startswith("entity"))
    assert rows[-1].index("reached") == header.index("state")  # aligned under the header


def test_plain_tables_show_control_characters_escaped_and_cells_on_one_line():
    from murano_flow.cli.render import PlainTable

    lines = PlainTable("t\x1b]0;x", ("a", "b"), [["\x1b[31mred", "two\nlines"]]).lines()
    assert lines == ["t\\x1b]0;x", "a            b", "\\x1b[31mred  two lines"]


def test_yaml_documents_write_shared_values_in_full():
    # documents share nested values with the records they show (copying them all was
    # most of 'status -f json' of 10,000 nodes): YAML must not turn them into anchors
    from murano_flow.cli.render import dumps

    shared = {"url": "http://x"}
    text = dumps([{"outputs": shared}, {"outputs": shared}], "yaml")
    assert "&" not in text and "*" not in text and text.count("url: http://x") == 2


def test_a_large_json_document_is_outlined_and_reads_back_the_same():
    # indent=2 makes json use its pure-Python encoder: 0.9 s of 'status -f json' of
    # 10,000 nodes; past LARGE items each node is one line from the C encoder instead
    from murano_flow.cli.render import LARGE, dumps

    small = {"deployment": {"id": "d"}, "nodes": [{"name": "a.S"}]}
    assert dumps(small, "json") == json.dumps(small, indent=2)
    doc = {"deployment": {"id": "d", "params": {"n": 1}},
           "nodes": [{"name": f"a[{i}].S", "outputs": {"k": [i]}} for i in range(LARGE + 1)]}
    text = dumps(doc, "json")
    assert json.loads(text) == doc
    lines = text.splitlines()
    assert lines[:6] == ["{", '  "deployment": {', '    "id": "d",', '    "params": {"n": 1}',
                         "  },", '  "nodes": [']
    assert lines[6] == '    {"name": "a[0].S", "outputs": {"k": [0]}},'
    assert lines[-2:] == ["  ]", "}"] and len(lines) == 8 + LARGE + 1
