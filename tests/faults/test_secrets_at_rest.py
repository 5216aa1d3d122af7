"""No secret in clear on disk or on the wire: a deployment through local hosts and a guest
agent whose actions and undos print a distinctive secret, read it from their environment
and parameters, and publish it inside an output; then a rollback. Every file the engine,
the supervisor and the agent leave behind (journal, run directories, spool, logs, the CLI's
own output) and every byte that crossed the broker connections are searched for it."""

from __future__ import annotations

from pathlib import Path

import pytest
from harness import Crasher
from kits.common import AGENT_SECRET

pytestmark = [pytest.mark.faults, pytest.mark.integration]

SECRET = "Zq9-distinctive-Secret-77x"

BLUEPRINT = """\
format: 1
name: secretive
parameters:
  pw: {type: string, secret: true}
  queue: {type: string}
entities:
  a:
    states:
      Show:
        action: {script: show.sh, env: {PW: "{{ params.pw }}"}, params: {pw: "{{ params.pw }}"}}
        undo: {script: show.sh, env: {PW: "{{ params.pw }}"}}
        outputs: [token]
      Use:
        requires: Show
        action: {script: use.sh, env: {TOKEN: "{{ outputs['a.Show'].token }}"}}
      Deployed: {requires: Use}
  b:
    host: {transport: amqp, queue: "{{ params.queue }}"}
    states:
      Deployed:
        action: {script: show.sh, env: {PW: "{{ params.pw }}"}}
        undo: {script: show.sh, env: {PW: "{{ params.pw }}"}}
"""
SHOW = """\
echo "stdout says $PW"
echo "stderr says $PW" >&2
grep -c pw "$MURANO_FLOW_PARAMS" >/dev/null
printf '{"token": "t-%s"}' "$PW" > "$MURANO_FLOW_OUTPUT"
"""
USE = 'echo "using $TOKEN"\n'


def test_no_file_left_behind_holds_a_secret(tmp_path: Path, agents, forwarder):
    agent = agents("rest", broker=forwarder.url)  # every byte to and from the broker is kept
    (tmp_path / "show.sh").write_text(SHOW)
    (tmp_path / "use.sh").write_text(USE)
    (tmp_path / "bp.yaml").write_text(BLUEPRINT)
    crasher = Crasher(tmp_path / "home", "s", seed=0,
                      env={"MURANO_FLOW_BROKER": forwarder.url,
                           "MURANO_FLOW_AGENT_SECRET": AGENT_SECRET})
    params = ["-p", f"pw={SECRET}", "-p", f"queue={agent.queue}"]
    assert crasher.command("deploy", str(tmp_path / "bp.yaml"), "--id", "s",
                           *params).wait(timeout=300) == 0, _last_log(crasher)
    assert crasher.command("rollback", "s", *params).wait(timeout=300) == 0, _last_log(crasher)
    masked = f"stdout says {'*' * len(SECRET)}"  # the logs are kept, the secret is not
    logs = [p.read_text() for p in tmp_path.rglob("stdout.log")]
    assert sum(masked in text for text in logs) >= 4, logs  # a and b, action and undo
    found = [str(p) for p in tmp_path.rglob("*")
             if p.is_file() and SECRET.encode() in p.read_bytes()
             and p.suffix not in (".sh", ".yaml")]
    assert not found, f"the secret is in clear in: {found}"
    assert len(forwarder.wire) > 10_000 and SECRET.encode() not in forwarder.wire  # nor on it


def _last_log(crasher: Crasher) -> str:
    return (crasher.home / f"run-{crasher.runs}.log").read_text()[-3000:]
