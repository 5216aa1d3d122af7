"""webfarm.yaml deployed with some web nodes over SSH (a real sshd on loopback), and what
the CLI says when the SSH host cannot be trusted or reached."""

from __future__ import annotations

import json
import pwd
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner
from kits.common import BLUEPRINTS, consecutive_free_ports

from murano_flow.cli import cli

pytestmark = pytest.mark.integration
WEBFARM = str(BLUEPRINTS / "webfarm.yaml")


def mf(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def ssh_home(home, sshd, tmp_path, monkeypatch):
    """HOME with the sshd's key in ~/.ssh/known_hosts (the blueprint's default file)."""
    user_home = tmp_path / "user"
    (user_home / ".ssh").mkdir(parents=True)
    (user_home / ".ssh" / "known_hosts").write_text(sshd.known_hosts.read_text())
    monkeypatch.setenv("HOME", str(user_home))
    return user_home


def farm(sshd, count: int, ssh_nodes: int, key: Path) -> list[str]:
    base = consecutive_free_ports(count + 1)
    return ["-p", f"web_count={count}", "-p", f"lb_port={base}", "-p", f"base_port={base + 1}",
            "-p", f"ssh_nodes={ssh_nodes}", "-p", f"ssh_port={sshd.port}",
            "-p", f"ssh_key_file={key}"]


def backend(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as reply:
        return reply.headers["X-Backend"]


def test_webfarm_with_two_ssh_web_nodes_deploys_serves_and_rolls_back(ssh_home, sshd):
    result = mf("deploy", WEBFARM, *farm(sshd, 3, 2, sshd.user_key), "--id", "sshfarm")
    assert result.exit_code == 0, result.output
    status = json.loads(mf("status", "sshfarm", "-f", "json").output)
    nodes = {n["name"]: n for n in status["nodes"]}
    assert [nodes[f"web[{i}].Serving"]["host"] for i in range(3)] == \
        ["ssh:web-0", "ssh:web-1", "local:web-2"]
    lb = nodes["lb.Configured"]["outputs"]["url"]
    assert {backend(lb) for _ in range(6)} == {"web[0]", "web[1]", "web[2]"}
    # the blueprint keeps the default workdir: ~/.murano-flow of the login user
    hosts = Path(pwd.getpwnam(sshd.user).pw_dir) / ".murano-flow" / "hosts"
    try:
        assert "served by web[0]" in (hosts / "web-0" / "site" / "index.html").read_text()
        undone = mf("rollback", "sshfarm")
        assert undone.exit_code == 0, undone.output
        with pytest.raises(OSError):
            backend(lb)
        assert not (hosts / "web-0" / "server.pid").exists()
    finally:
        for name in ("web-0", "web-1"):
            shutil.rmtree(hosts / name, ignore_errors=True)


def test_a_changed_host_key_stops_the_deploy_with_exit_3_and_says_why(ssh_home, sshd, tmp_path):
    impostor = tmp_path / "impostor"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(impostor)],
                   check=True)
    wrong = " ".join((tmp_path / "impostor.pub").read_text().split()[:2])
    (ssh_home / ".ssh" / "known_hosts").write_text(f"[127.0.0.1]:{sshd.port} {wrong}\n")
    result = mf("deploy", WEBFARM, *farm(sshd, 1, 1, sshd.user_key), "--id", "mitm")
    assert result.exit_code == 3, result.output
    assert "host key mismatch for [127.0.0.1]:" in result.output
    assert "ssh-keygen -R" in result.output
    assert "Traceback" not in result.output


def test_a_wrong_key_is_an_authentication_failure_with_exit_3(ssh_home, sshd, tmp_path):
    stranger = tmp_path / "stranger"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)],
                   check=True)
    result = mf("deploy", WEBFARM, *farm(sshd, 1, 1, stranger), "--id", "badkey")
    assert result.exit_code == 3, result.output
    assert "authentication failed for" in result.output and str(stranger) in result.output
