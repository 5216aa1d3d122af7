"""sql-on-ad.yaml deployed end to end through the winrm transport: four WS-Management
test peers (two DCs, two SQL nodes, one loopback address each, HTTPS, NTLM, reboots by
shutdown.exe) whose PowerShell is the scripted Windows host of tests/kits/scriptedps.py.
The engine is killed once mid-deployment and resumed; every change to a host happens
exactly once and in an order Windows would accept; then the whole deployment is rolled
back, undoing every change across both parts in reverse order, reboots included.

What this does not show: that the PowerShell does what the model says on a real host
(that is the lab's, docs/windows.md); CredSSP (the peer speaks NTLM only, so the copy of
the blueprint here also allows domain_auth: ntlm)."""

from __future__ import annotations

import json
import shutil
import socket
import stat
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from faults.harness import Crasher
from kits import scriptedps
from kits.common import ROOT
from kits.winrm import PASSWORD, WinRMPeer, start_peer

pytestmark = [pytest.mark.integration, pytest.mark.faults]

ADDRESSES = {"DC1": "127.0.0.11", "DC2": "127.0.0.12", "SQL1": "127.0.0.13", "SQL2": "127.0.0.14"}


@pytest.fixture
def lab(tmp_path: Path):
    """The four hosts, the blueprints' copy and the parameters file."""
    blueprints = tmp_path / "blueprints"
    shutil.copytree(ROOT / "blueprints", blueprints)
    for name in ("sql-alwayson.yaml", "sql-on-ad.yaml"):
        path = blueprints / name
        text = path.read_text()
        assert "allowed: [credssp, kerberos]" in text
        path.write_text(text.replace("allowed: [credssp, kerberos]",
                                     "allowed: [credssp, kerberos, ntlm]"))
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(scriptedps.catalog(blueprints)))
    powershell = tmp_path / "powershell"
    powershell.write_text(f"#!/bin/sh\nexec {sys.executable} {scriptedps.__file__} \"$@\"\n")
    powershell.chmod(powershell.stat().st_mode | stat.S_IXUSR)
    cert, key = str(tmp_path / "cert.pem"), str(tmp_path / "key.pem")
    san = ",".join(f"IP:{a}" for a in ADDRESSES.values())
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "2", "-subj", "/CN=lab", "-addext",
                    f"subjectAltName={san}"], check=True, capture_output=True)
    port = _free_port(list(ADDRESSES.values()))
    effects = tmp_path / "effects.txt"
    effects.touch()
    peers: dict[str, WinRMPeer] = {}
    try:
        for name, address in ADDRESSES.items():
            (tmp_path / name).mkdir()
            peers[name] = start_peer(
                tmp_path / name, (cert, key), port=port,
                extra=("--address", address, "--domain", "CORP", "--reboot-scale", "0.1",
                       "--downtime", "0.3"),  # quicker than a poll: seen by its shell
                env={"SCRIPTED_PS_CATALOG": str(catalog), "SCRIPTED_PS_EFFECTS": str(effects),
                     "SCRIPTED_PS_ADDRESS": address})
        params = tmp_path / "lab.yaml"
        params.write_text(json.dumps({
            "dc_count": 2, "dc_addresses": [ADDRESSES["DC1"], ADDRESSES["DC2"]],
            "node_addresses": [ADDRESSES["SQL1"], ADDRESSES["SQL2"]],
            "admin_password": PASSWORD, "recovery_password": "Rec0very-Passw0rd",
            "service_password": "Serv1ce-Passw0rd", "domain_auth": "ntlm",
            "winrm_port": port, "winrm_ca_file": cert, "powershell": str(powershell)}))
        yield blueprints / "sql-on-ad.yaml", params, effects, peers
    finally:
        for peer in peers.values():
            peer.proc.terminate()
            peer.proc.wait(10)


def _free_port(addresses: list[str]) -> int:
    for _ in range(50):
        with socket.socket() as s:
            s.bind((addresses[0], 0))
            port = s.getsockname()[1]
        try:
            for a in addresses[1:]:
                with socket.socket() as s:
                    s.bind((a, port))
            return port
        except OSError:
            continue
    raise AssertionError("no port free on every lab address")


def _effects(path: Path, kind: str) -> list[tuple[str, str]]:
    return [(host, what) for k, host, what in (ln.split(" ") for ln in
                                                 path.read_text().splitlines()) if k == kind]


def _logs(crasher: Crasher) -> str:
    return "\n".join(p.read_text()[-2500:] for p in sorted(crasher.home.glob("run-*.log"))[-2:])


def test_sql_on_ad_deploys_through_a_kill_and_rolls_back_on_scripted_windows_hosts(
        tmp_path: Path, lab):
    blueprint, params, effects, peers = lab
    crasher = Crasher(tmp_path / "home", "lab", seed=5)
    final = crasher.run(["deploy", str(blueprint), "--id", "lab", "--params-file", str(params)],
                        ["resume", "lab", "--params-file", str(params)], kills=1,
                        done={"succeeded", "failed"})
    assert final == "succeeded", _logs(crasher)
    assert len(crasher.kills) == 1, crasher.kills

    done = _effects(effects, "effect")
    twice = {e: n for e, n in Counter(done).items() if n != 1}
    assert not twice, f"changed more than once: {twice}; kills: {crasher.kills}"
    dc1, dc2, sql1, sql2 = ADDRESSES.values()
    assert {(h, w) for h, w in done if w in ("rename", "join", "dc")} == {
        (dc1, "rename"), (dc1, "dc"), (dc2, "rename"), (dc2, "join"), (dc2, "dc"),
        (sql1, "rename"), (sql1, "join"), (sql2, "rename"), (sql2, "join")}
    first = {e: n for n, e in reversed(list(enumerate(done)))}
    assert first[(dc1, "dc")] < first[(dc2, "join")] < first[(dc2, "dc")]
    assert first[(dc1, "account:sqlsvc")] < first[(sql1, "sql")]
    assert first[(sql1, "cluster:SQLCLUSTER")] < first[(sql1, "hadr")]
    assert first[(sql1, "group:AG1")] < first[(sql2, "replica:AG1")]
    # conditional reboots: each rename, join and promotion, and SQL setup's 3010 - no other
    assert [peers[n].boots - 1 for n in ADDRESSES] == [2, 3, 3, 3]
    model = scriptedps.host_state(peers["SQL1"].workdir)
    assert model["name"] == "SQL1" and model["domain"] == "corp.example.com"
    assert model["cluster"] == {"name": "SQLCLUSTER", "nodes": ["SQL1", "SQL2"]}
    assert model["group"]["replicas"] == ["SQL1", "SQL2"]

    rollback = crasher.command("rollback", "lab", "--params-file", str(params))  # the secrets
    assert rollback.wait(timeout=600) == 0, _logs(crasher)
    undone = _effects(effects, "undo")
    has_undo = {e for e in done if e[1] not in ("rename", "dns", "password", "database:AppDb")}
    assert sorted(undone) == sorted(has_undo) and len(set(undone)) == len(undone), undone
    last = {e: n for n, e in enumerate(undone)}
    assert last[(sql2, "replica:AG1")] < last[(sql1, "group:AG1")] < last[(sql1, "hadr")] \
        < last[(sql1, "cluster:SQLCLUSTER")]
    assert last[(sql1, "join")] < last[(dc2, "dc")] < last[(dc2, "join")] < last[(dc1, "dc")]
    for name in ADDRESSES:
        model = scriptedps.host_state(peers[name].workdir)
        assert (model["domain"], model["dc"], model["features"], model["sql"]) == (
            None, None, [], False), (name, model)
