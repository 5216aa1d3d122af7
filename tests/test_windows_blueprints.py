"""The Windows blueprints as a whole, without a Windows host: they validate, plan and
graph (tests/test_cli.py), their scripts pass the PowerShell rules and the cmdlet table
(tests/test_powershell.py), and here the rules of kits/winblueprints.py - what a lab
would fail on although every script parses - find nothing in them, and find each mistake
they are for. tests/winrm/test_windows_blueprints.py deploys them against the scripted
hosts."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from kits import winblueprints
from kits.common import ROOT


@pytest.mark.parametrize("name", ["active-directory", "sql-alwayson", "sql-on-ad"])
def test_the_windows_blueprints_have_nothing_a_lab_would_fail_on(name: str):
    assert winblueprints.problems(ROOT / "blueprints" / f"{name}.yaml") == []


def test_the_rules_find_each_mistake_they_are_for(tmp_path: Path):
    (tmp_path / "cluster.ps1").write_text("New-Cluster -Name $n -Node $nodes -NoStorage\n")
    (tmp_path / "leave.ps1").write_text("Remove-Computer -WorkgroupName 'W' -Force\n")
    (tmp_path / "ag.ps1").write_text("Invoke-Sqlcmd -Query 'CREATE AVAILABILITY GROUP [g]'\n")
    (tmp_path / "lab.yaml").write_text(textwrap.dedent("""\
        format: 1
        name: lab
        parameters:
          domain: {type: string, default: corp.example}
        entities:
          node:
            count: 2
            host: {transport: winrm, address: "10.0.0.{{ index }}", user: a, password: b,
                   options: {auth: kerberos}}
            states:
              Joined:
                reboot: true
                action: {script: cluster.ps1, params: {nodes: "{{ ['a'] }}"}}
                undo: {script: leave.ps1}
              Formed:
                requires: ["node[*].Joined"]
                check: {script: cluster.ps1}
                action:
                  script: cluster.ps1
                  params:
                    nodes: "{{ outputs['node[*].Joined'] | map(attribute='address') | list }}"
              Grouped:
                requires: Formed
                idempotent: true
                action: {script: ag.ps1}
              Deployed: {requires: Grouped}
        """))
    found = "\n".join(winblueprints.problems(tmp_path / "lab.yaml"))
    for what in ("node[0].Joined: reboot: true reboots whatever happened",
                 "node[0].Joined: neither idempotent nor with a check probe",
                 "node[0].Formed: cluster.ps1 needs the caller's credentials on a second host",
                 "node[0].Formed: cluster nodes and replicas are computer names",
                 "node[0].Joined: its undo demotes or leaves the domain",
                 "lacks a HADR endpoint", "lacks GRANT CONNECT", "lacks the full recovery",
                 "lacks a full backup", "lacks seeding", "lacks a listener", "lacks firewall",
                 "parameter 'domain' is declared but nothing reads it"):
        assert what in found, found
    assert "node[0].Grouped: neither" not in found  # idempotent: it may run again
