"""A blueprint deployed through the winrm transport to the WS-Management test peer, by the
CLI: a password as a secret parameter, outputs flowing to a later state, a reboot step."""

from __future__ import annotations

import json
import textwrap

import pytest
from click.testing import CliRunner
from kits.winrm import PASSWORD

from murano_flow.cli import cli

pytestmark = pytest.mark.integration

BLUEPRINT = """
format: 1
name: windows-box
parameters:
  port: {type: integer}
  ca_file: {type: string}
  python: {type: string}
  password: {type: string, secret: true}
entities:
  box:
    host:
      transport: winrm
      address: 127.0.0.1
      shared: true  # one peer for the tests' deployments
      port: "{{ params.port }}"
      user: Administrator
      password: "{{ params.password }}"
      options:
        ca_file: "{{ params.ca_file }}"
        python: "{{ params.python }}"
        operation_timeout: 2
        reboot_command: [/bin/sh, -c, "kill -USR1 $PPID"]
        reboot_timeout: 60
    states:
      Renamed:
        reboot: true
        action:
          shell: python
          inline: |
            import json, os
            out = open(os.environ["MURANO_FLOW_OUTPUT"], "w")
            json.dump({"name": "WIN-" + os.environ["SUFFIX"]}, out)
          env: {SUFFIX: "{{ deployment }}"}
        outputs: [name]
      Deployed:
        requires: Renamed
        action:
          shell: python
          inline: print("renamed to", __import__("os").environ["NAME"])
          env: {NAME: "{{ outputs['Renamed'].name }}"}
"""


def test_deploy_through_winrm_with_a_reboot_step(home, winrm_https, write_blueprint):
    import sys

    bp = write_blueprint(textwrap.dedent(BLUEPRINT))
    boots = winrm_https.boots
    args = ["deploy", str(bp), "--id", "win1", "-p", f"port={winrm_https.port}",
            "-p", f"ca_file={winrm_https.ca_file}", "-p", f"python={sys.executable}",
            "-p", f"password={PASSWORD}"]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert winrm_https.boots == boots + 1
    status = json.loads(CliRunner().invoke(cli, ["status", "win1", "-f", "json"]).output)
    nodes = {n["name"]: n for n in status["nodes"]}
    assert nodes["box.Deployed"]["stdout_tail"] == "renamed to WIN-win1\n"
    assert PASSWORD not in CliRunner().invoke(cli, ["events", "win1", "-f", "json"]).output

    wrong = [a if not a.startswith("password=") else "password=nope" for a in args]
    result = CliRunner().invoke(cli, [*wrong[:2], "--id", "win2", *wrong[4:]])
    assert result.exit_code == 3
    assert "rejected the credentials of 'Administrator'" in result.output
