"""`murano-flow schedule`: deployment-level triggers by cron time and by broker message."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pika
import pytest
from click.testing import CliRunner

from murano_flow.cli import cli
from murano_flow.store import SqliteStore

BP = """
format: 1
name: sched
parameters:
  dir: {type: string}
entities:
  a:
    states:
      Deployed:
        action: {inline: 'echo x >> "$D/runs"', env: {D: "{{ params.dir }}"}}
        check: {inline: 'test -n "$NEVER"', env: {NEVER: ""}}
"""


def test_cron_runs_then_converges_the_same_deployment(tmp_path, home, write_blueprint):
    path = write_blueprint(BP)
    result = CliRunner().invoke(cli, ["schedule", str(path), "-p", f"dir={tmp_path}",
                                      "--cron", "* * * * * *", "--runs", "2", "--id", "s"])
    assert result.exit_code == 0, result.output
    assert result.output.count("cron '* * * * * *'") == 2
    assert (tmp_path / "runs").read_text() == "x\nx\n"  # the probe fails: converge re-runs
    store = SqliteStore(home / "journal.db")
    assert [d.id for d in store.deployments()] == ["s"]  # one deployment, converged


def test_bad_triggers_are_exit_2(tmp_path, home, write_blueprint):
    path = str(write_blueprint(BP))
    for args in (["--cron", "61 * * * *"], [], ["--cron", "* * * * *", "--on-message", "x:y"],
                 ["--on-message", "no-colon"], ["--cron", "* * * * *", "--timezone", "Nope/No"],
                 ["--on-message", "x:y", "--match", "no-equals-sign"]):
        result = CliRunner().invoke(cli, ["schedule", path, "-p", "dir=/tmp", *args])
        assert result.exit_code == 2, (args, result.output)
        assert "Traceback" not in result.output


@pytest.mark.integration
def test_a_matching_message_starts_a_run(tmp_path, home, broker_url, exchange,
                                         write_blueprint):
    path = write_blueprint(BP)
    env = {**os.environ, "MURANO_FLOW_HOME": str(home),
           "MURANO_FLOW_STORE": f"sqlite:///{home}/journal.db"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "murano_flow", "--broker", broker_url, "schedule", str(path),
         "-p", f"dir={tmp_path}", "--on-message", f"{exchange}:vm.died",
         "--match", "cluster=sql", "--runs", "1", "--id", "m"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    conn = pika.BlockingConnection(pika.URLParameters(broker_url))
    channel = conn.channel()
    try:
        end = time.monotonic() + 20
        while True:  # the scheduler declares its queue when it starts listening
            try:
                channel.queue_declare(f"murano-flow.trigger.m.{exchange}.vm.died",
                                      passive=True)
                break
            except pika.exceptions.ChannelClosedByBroker:
                assert time.monotonic() < end, "the scheduler never bound its queue"
                channel = conn.channel()
                time.sleep(0.2)
        channel.basic_publish(exchange, "vm.died", json.dumps({"cluster": "web"}).encode())
        time.sleep(1.5)
        assert not (tmp_path / "runs").exists()  # filtered out
        channel.basic_publish(exchange, "vm.died", json.dumps({"cluster": "sql"}).encode())
        out, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
        channel.queue_delete(f"murano-flow.trigger.m.{exchange}.vm.died")
        conn.close()
    assert proc.returncode == 0, out.decode()
    assert f"message via {exchange}/vm.died" in out.decode()
    assert (tmp_path / "runs").read_text() == "x\n"
