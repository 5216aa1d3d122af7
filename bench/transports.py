"""``make bench-transports``: what an action costs over SSH and as a local process, side by
side with each transport's limit, interleaved in one run (never part of ``make test``).

* **ssh**: ``--hosts`` host names on one loopback sshd, each with three chained trivial
  states (``true``), deployed by murano-flow; beside it the limit - OpenSSH running the
  same commands with the same parallelism over ControlMaster connections opened
  beforehand - and, when ``ansible-playbook`` is installed, Ansible's ``raw`` module with
  pipelining. Each row's wall time covers the whole deployment; "first contact" is one
  host's login and first command.
* **local**: the marginal wall and CPU time of one action (hosts x 3 states against hosts x
  1), counting every process of the tree (orphaned supervisors included: this process is
  their subreaper), beside ``fork+exec`` of ``/bin/true`` and Ansible's local ``raw``.

    .venv/bin/python -m bench.transports [--hosts 20] [--rounds 3]
"""

from __future__ import annotations

import argparse
import ctypes
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the sshd the tests use
STATES = 3


def _subreaper() -> None:
    """Orphans of our children (daemonised supervisors) become ours, so that their CPU
    time is counted once we reap them (Linux's PR_SET_CHILD_SUBREAPER)."""
    ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)


def _reap() -> None:
    """Reap every child that has exited, until none has for a moment (the sshd and the
    ControlMaster connections live on: they are never waited for)."""
    quiet = 0
    while quiet < 5:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        quiet = 0 if pid else quiet + 1
        if not pid:
            time.sleep(0.01)


def measured(run: Callable[[], None]) -> tuple[float, float]:
    """(wall, CPU of every process of the tree) of ``run``, in seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    run()
    wall = time.perf_counter() - start
    _reap()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def blueprint(hosts: list[dict[str, object]], states: int) -> str:
    """Each host an entity of ``states`` chained ``true`` states (JSON is YAML)."""
    import json

    entities = {}
    for k, host in enumerate(hosts):
        chain: dict[str, object] = {}
        for s in range(states):
            name = "Deployed" if s == states - 1 else f"S{s}"
            chain[name] = {"action": {"inline": "true"},
                           **({"requires": [f"S{s - 1}"]} if s else {})}
        entities[f"h{k}"] = {"host": host, "states": chain}
    return json.dumps({"format": 1, "name": "bench", "entities": entities})


def murano(work: Path, hosts: list[dict[str, object]], states: int) -> Callable[[], None]:
    """A fresh deployment of the blueprint by the CLI, in its own journal and home."""
    def run() -> None:
        d = Path(tempfile.mkdtemp(dir=work))
        (d / "bp.yaml").write_text(blueprint(hosts, states))
        env = {**os.environ, "MURANO_FLOW_HOME": str(d / "home"),
               "MURANO_FLOW_STORE": f"sqlite:///{d}/journal.db"}
        done = subprocess.run([sys.executable, "-m", "murano_flow", "deploy", str(d / "bp.yaml"),
                               "--id", "b", "--workers", str(max(8, len(hosts)))], env=env,
                              capture_output=True, text=True, check=False)
        if done.returncode:
            raise SystemExit(f"murano-flow deploy failed: {done.stdout}{done.stderr}")
    return run


def ansible(work: Path, inventory: str, states: int, forks: int) -> Callable[[], None] | None:
    """Ansible's raw module (pipelining on, no facts) over ``inventory``, or None when
    ansible-playbook is not installed."""
    playbook = shutil.which("ansible-playbook") or str(Path(sys.executable).parent /
                                                        "ansible-playbook")
    if not Path(playbook).exists():
        return None
    (work / "inventory.ini").write_text(inventory)
    tasks = "".join("    - raw: \"true\"\n" for _ in range(states))
    (work / "play.yml").write_text(f"- hosts: all\n  gather_facts: false\n  tasks:\n{tasks}")
    env = {**os.environ, "ANSIBLE_PIPELINING": "1", "ANSIBLE_HOST_KEY_CHECKING": "1",
           "ANSIBLE_FORKS": str(forks), "ANSIBLE_STDOUT_CALLBACK": "minimal",
           "ANSIBLE_LOCAL_TEMP": str(work / "ansible-tmp")}

    def run() -> None:
        done = subprocess.run([playbook, "-i", str(work / "inventory.ini"),
                               str(work / "play.yml")], env=env, capture_output=True, text=True,
                              check=False)
        if done.returncode:
            raise SystemExit(f"ansible-playbook failed: {done.stdout[-3000:]}{done.stderr}")
    return run


def ssh_rows(work: Path, hosts: int, rounds: int) -> list[tuple[str, float]]:
    from kits.ssh import start_sshd

    server = start_sshd(work / "sshd")
    opts = {"known_hosts": str(server.known_hosts), "agent": False,
            "workdir": str(server.dir / "remote")}
    fields = [{"transport": "ssh", "name": f"n{k}", "address": "127.0.0.1",
               "port": server.port, "user": server.user, "key_file": str(server.user_key),
               "options": opts} for k in range(hosts)]
    base = ["ssh", "-o", f"UserKnownHostsFile={server.known_hosts}", "-o", "BatchMode=yes",
            "-i", str(server.user_key), "-p", str(server.port), f"{server.user}@127.0.0.1"]
    masters = [work / f"cm{k}" for k in range(hosts)]

    def openssh() -> None:  # the limit: the same commands over connections already open
        procs = [subprocess.Popen(["sh", "-c", " && ".join(
            [" ".join([*base[:1], "-S", str(m), *base[1:], "true"])] * STATES)])
            for m in masters]
        if any(p.wait() for p in procs):
            raise SystemExit("ssh over ControlMaster failed")

    for m in masters:
        subprocess.run([*base[:1], "-M", "-N", "-f", "-S", str(m), *base[1:]], check=True)
    inventory = "[all]\n" + "".join(
        f"n{k} ansible_host=127.0.0.1 ansible_port={server.port} ansible_user={server.user} "
        f"ansible_ssh_private_key_file={server.user_key} ansible_ssh_common_args='-o "
        f"UserKnownHostsFile={server.known_hosts} -o ControlPath={work}/ans-%n'\n"
        for k in range(hosts))
    contenders: dict[str, Callable[[], None]] = {
        "murano-flow ssh": murano(work, fields, STATES), "openssh ControlMaster": openssh}
    playbook = ansible(work, inventory, STATES, hosts)
    if playbook:
        contenders["ansible raw (pipelining)"] = playbook
    firsts: dict[str, Callable[[], None]] = {
        "murano-flow ssh": murano(work, fields[:1], 1),
        "openssh (new connection)": lambda: subprocess.run([*base, "true"], check=True)}
    try:
        walls = interleaved(contenders, rounds)
        first = interleaved(firsts, rounds)
    finally:
        for m in masters:
            subprocess.run([*base[:1], "-S", str(m), "-O", "exit", *base[1:]],
                           capture_output=True, check=False)
        server.proc.terminate()
    limit = walls["openssh ControlMaster"][0]
    rows = [(f"ssh {name}: {hosts} hosts x {STATES} states", w) for name, (w, _) in walls.items()]
    rows += [(f"ssh first contact: {name}", w) for name, (w, _) in first.items()]
    rows.append(("ssh murano-flow / ControlMaster limit", walls["murano-flow ssh"][0] / limit))
    return rows


def local_rows(work: Path, hosts: int, rounds: int) -> list[tuple[str, float]]:
    fields = [{"transport": "local", "name": f"n{k}"} for k in range(hosts)]
    n = hosts * (STATES - 1)
    contenders = {"many": murano(work, fields, STATES), "few": murano(work, fields, 1),
                  "fork+exec /bin/true": lambda: [subprocess.run(["/bin/true"], check=True)
                                                   for _ in range(n)] and None}
    inventory = "".join(f"n{k} ansible_connection=local\n" for k in range(hosts))
    playbook = ansible(work, "[all]\n" + inventory, STATES, hosts)
    playbook_few = ansible(work / "few", "[all]\n" + inventory, 1, hosts) \
        if playbook and (work / "few").mkdir() is None else None
    if playbook and playbook_few:
        contenders |= {"ansible many": playbook, "ansible few": playbook_few}
    got = interleaved(contenders, rounds)
    rows = [("local murano-flow wall per action (ms)",
             (got["many"][0] - got["few"][0]) / n * 1e3),
            ("local murano-flow CPU per action (ms)", (got["many"][1] - got["few"][1]) / n * 1e3),
            ("local fork+exec /bin/true per action (ms)", got["fork+exec /bin/true"][0] / n * 1e3)]
    if "ansible many" in got:
        rows.append(("local ansible raw wall per action (ms)",
                     (got["ansible many"][0] - got["ansible few"][0]) / n * 1e3))
    return rows


def interleaved(contenders: dict[str, Callable[[], None]],
                rounds: int) -> dict[str, tuple[float, float]]:
    """Median (wall, CPU) of each contender over ``rounds``, run in turn each round (one
    warm-up round first, not counted)."""
    seen: dict[str, list[tuple[float, float]]] = {name: [] for name in contenders}
    for r in range(rounds + 1):
        order = list(contenders) if r % 2 else list(reversed(contenders))
        for name in order:
            got = measured(contenders[name])
            if r:
                seen[name].append(got)
    return {name: (statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs))
            for name, runs in seen.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    _subreaper()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "ssh").mkdir()
        (work / "local").mkdir()
        rows = ssh_rows(work / "ssh", args.hosts, args.rounds)
        rows += local_rows(work / "local", args.hosts, args.rounds)
    for name, value in rows:
        print(f"{name:<60} {value:10.3f}")


if __name__ == "__main__":
    main()
