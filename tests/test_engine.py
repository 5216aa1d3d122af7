"""The engine with in-process transports: ordering, hosts, retries, failure, rollback, stop."""

from __future__ import annotations

import random
import threading
import time

import pytest

from murano_flow.blueprint import parse_blueprint
from murano_flow.engine.engine import Engine
from murano_flow.errors import ConnectError
from murano_flow.store import MemoryStore, SqliteStore
from murano_flow.transports import StubTransport
from murano_flow.wire.protocol import Plan, Result


class Recorder:
    """A handler that records when each plan ran, with optional per-node behaviour."""

    def __init__(self, sleep: float = 0.0) -> None:
        self.sleep = sleep
        self.lock = threading.Lock()
        self.spans: dict[str, tuple[float, float]] = {}
        self.calls: list[Plan] = []
        self.behaviour: dict[str, object] = {}

    def __call__(self, plan: Plan):
        start = time.monotonic()
        with self.lock:
            self.calls.append(plan)
        rule = self.behaviour.get(f"{plan.node}/{plan.kind}")
        time.sleep(self.sleep)
        answer = rule(plan) if callable(rule) else rule
        with self.lock:
            self.spans[f"{plan.node}/{plan.kind}/{plan.attempt}"] = (start, time.monotonic())
        return answer

    def nodes(self, kind: str = "action") -> list[str]:
        return [p.node for p in self.calls if p.kind == kind]


def engine_for(handler, store=None, workers: int = 8) -> tuple[Engine, MemoryStore]:
    store = store or MemoryStore()
    transports: dict[str, StubTransport] = {}

    def factory(kind: str, fields: dict) -> StubTransport:
        return transports.setdefault(str(fields), StubTransport(handler))

    return Engine(store, factory, workers=workers), store


def run(text: str, handler, params=None, workers: int = 8, store=None):
    bp = parse_blueprint(text, "t.yaml", params or {}, strict=True)
    engine, store = engine_for(handler, store, workers)
    dep = engine.create(bp)
    return engine, store, bp, engine.deploy(bp, dep.id)


def random_dag(seed: int, n: int) -> str:
    rng = random.Random(seed)
    lines = ["format: 1", "name: dag", "targets: [all.Deployed]", "entities:"]
    for i in range(n):
        reqs = [f"n{j}.Deployed" for j in rng.sample(range(i), min(i, rng.randint(0, 3)))]
        lines += [f"  n{i}:", "    states:", "      Deployed:",
                  f"        requires: {reqs}", "        action: work"]
    lines += ["  all:", "    states:", "      Deployed:",
              f"        requires: {[f'n{i}.Deployed' for i in range(n)]}"]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("seed,workers", [(1, 1), (2, 4), (3, 16)])
def test_no_action_starts_before_its_requirements_are_reached(seed, workers):
    rec = Recorder(sleep=0.002)
    _, store, bp, dep = run(random_dag(seed, 40), rec, workers=workers)
    assert dep.state == "succeeded"
    assert len(rec.calls) == 40
    for node in bp.nodes.values():
        if node.action is None:
            continue
        start = rec.spans[f"{node.name}/action/1"][0]
        for req in node.requires:
            assert rec.spans[f"{req}/action/1"][1] <= start, (req, node.name)
    # and the journal says the same: a 'running' event never precedes a requirement's 'reached'
    events = store.events(dep.id)
    reached = {e.node: e.seq for e in events if e.kind == "reached"}
    for e in events:
        if e.kind == "running":
            assert all(reached[r] < e.seq for r in bp.nodes[e.node].requires)


SAME_HOST = """
format: 1
name: hosts
entities:
  a:
    count: 4
    host: {transport: local, name: "{{ 'shared' if index < 2 else 'own-' ~ index }}"}
    states:
      Deployed: {action: work}
"""


def test_actions_on_one_host_run_one_at_a_time_and_hosts_run_in_parallel():
    rec = Recorder(sleep=0.2)
    _, _, _, dep = run(SAME_HOST, rec, workers=8)
    assert dep.state == "succeeded"
    span = {k.split("/")[0]: v for k, v in rec.spans.items()}
    shared = sorted([span["a[0].Deployed"], span["a[1].Deployed"]])
    assert shared[0][1] <= shared[1][0]  # serialised on host 'shared'
    own = [span["a[2].Deployed"], span["a[3].Deployed"]]
    assert own[0][0] < own[1][1] and own[1][0] < own[0][1]  # overlapped


RETRY = """
format: 1
name: retry
entities:
  a:
    states:
      Deployed:
        action: {inline: work, retries: {count: 2, delay: 0.05, backoff: 2, jitter: false}}
"""


def test_retries_with_backoff_then_success():
    rec = Recorder()
    rec.behaviour["a.Deployed/action"] = lambda p: (
        Result(p.id, "failed", 1, stderr_tail="flaky") if p.attempt < 3 else None)
    _, store, _, dep = run(RETRY, rec)
    assert dep.state == "succeeded"
    node = store.nodes(dep.id)[0]
    assert node.status == "reached" and node.attempt == 3
    kinds = [e.kind for e in store.events(dep.id) if e.node]
    assert kinds.count("retrying") == 2
    starts = [rec.spans[f"a.Deployed/action/{k}"][0] for k in (1, 2, 3)]
    assert starts[1] - starts[0] >= 0.05 and starts[2] - starts[1] >= 0.1  # exponential


def test_retries_only_for_the_listed_exit_codes():
    text = RETRY.replace("jitter: false}", "jitter: false, on_exit_codes: [75]}")
    rec = Recorder()
    rec.behaviour["a.Deployed/action"] = lambda p: Result(p.id, "failed", 2, stderr_tail="no")
    _, store, _, dep = run(text, rec)
    assert dep.state == "failed" and len(rec.calls) == 1
    assert store.nodes(dep.id)[0].reason == (
        "exit code 2: no (not retried: exit code 2 is not in retries.on_failures)")


def test_a_lost_run_is_in_doubt_never_retried_by_the_policy():
    rec = Recorder()
    rec.behaviour["a.Deployed/action"] = lambda p: Result(
        p.id, "error", message="lost: the run left no record of how it ended")
    _, store, _, dep = run(RETRY, rec)
    assert dep.state == "failed" and len(rec.calls) == 1
    node = store.nodes(dep.id)[0]
    assert node.status == "in_doubt" and node.reason.startswith("lost: the run left no record")


@pytest.mark.parametrize("on,status,runs", [
    ("[timeout]", "timeout", 3), ("[timeout]", "failed", 1), ("[failed]", "failed", 3),
    ("[unreachable]", "unreachable", 3), ("[failed, timeout]", "unreachable", 1),
])
def test_retries_only_for_the_failure_kinds_the_author_lists(on, status, runs):
    text = RETRY.replace("jitter: false}", f"jitter: false, delay: 0.01, on_failures: {on}}}")
    text = text.replace("delay: 0.05, ", "")
    rec = Recorder()

    def fail(plan):
        if status == "unreachable":
            raise ConnectError("host down")
        return Result(plan.id, status, 1 if status == "failed" else None, message=status)

    rec.behaviour["a.Deployed/action"] = fail
    _, store, _, dep = run(text, rec)
    assert dep.state == "failed" and len(rec.calls) == runs
    reason = store.nodes(dep.id)[0].reason
    assert ("after 3 attempts" in reason) == (runs == 3), reason


def test_retry_delays_are_jittered_between_half_and_all_of_the_backoff():
    from murano_flow.blueprint.spec import RetryPolicy

    policy = RetryPolicy(count=5, delay=1.0, backoff=2.0, max_delay=60.0)
    rng = random.Random(7)
    delays = [policy.delay_for(3, rng) for _ in range(200)]
    assert all(2.0 <= d <= 4.0 for d in delays) and max(delays) - min(delays) > 1.5
    assert RetryPolicy(delay=1.0, jitter=False).delay_for(3) == 4.0


STOPS = """
format: 1
name: stops
entities:
  bad: {states: {Deployed: {action: work}}}
  slow: {states: {Done: {action: work}, Deployed: {requires: Done, action: work}}}
"""


def test_a_failure_stops_new_work_but_lets_running_actions_finish():
    rec = Recorder()
    rec.behaviour["bad.Deployed/action"] = lambda p: Result(p.id, "failed", 1, stderr_tail="x")
    rec.behaviour["slow.Done/action"] = lambda p: time.sleep(0.3)
    _, store, _, dep = run(STOPS, rec)
    status = {n.name: n.status for n in store.nodes(dep.id)}
    assert dep.state == "failed" and "bad.Deployed failed" in dep.reason
    assert status == {"bad.Deployed": "failed", "slow.Done": "reached",
                      "slow.Deployed": "pending"}


OUTPUTS = """
format: 1
name: outputs
parameters:
  pw: {type: string, secret: true}
entities:
  vm:
    count: 2
    states:
      Allocated:
        action: {inline: work, env: {PW: "{{ params.pw }}"}}
        outputs: [ip]
      Deployed: {requires: Allocated}
  lb:
    states:
      Deployed:
        requires: ["vm[*].Allocated"]
        action:
          inline: work
          env: {IPS: "{{ outputs['vm[*].Allocated'] | map(attribute='ip') | join(',') }}"}
          params: {first: "{{ outputs['vm[0].Allocated'].ip }}"}
"""


def test_outputs_flow_into_later_actions_and_secrets_are_masked():
    rec = Recorder()
    rec.behaviour["vm[0].Allocated/action"] = lambda p: Result(
        p.id, "ok", 0, stdout_tail=f"password is {p.env['PW']}", outputs={"ip": "10.0.0.1"})
    rec.behaviour["vm[1].Allocated/action"] = {"ip": "10.0.0.2"}
    _, store, _, dep = run(OUTPUTS, rec, {"pw": "hunter22"})
    assert dep.state == "succeeded"
    lb = [p for p in rec.calls if p.node == "lb.Deployed"][0]
    assert lb.env["IPS"] == "10.0.0.1,10.0.0.2" and lb.params["inputs"] == {"first": "10.0.0.1"}
    journal = repr(store.deployment(dep.id)) + repr(store.nodes(dep.id)) \
        + repr(store.events(dep.id))
    assert "hunter22" not in journal and "password is ******" in journal


def test_a_declared_output_that_is_not_published_fails_the_node():
    rec = Recorder()
    rec.behaviour["vm[1].Allocated/action"] = {"address": "oops"}
    rec.behaviour["vm[0].Allocated/action"] = {"ip": "10.0.0.1"}
    _, store, _, dep = run(OUTPUTS, rec, {"pw": "x"})
    node = {n.name: n for n in store.nodes(dep.id)}["vm[1].Allocated"]
    assert node.status == "failed" and "did not publish declared outputs: ip" in node.reason


CHECKED = """
format: 1
name: checked
entities:
  a:
    states:
      Deployed:
        check: probe
        action: work
"""


def test_a_passing_check_skips_the_action():
    rec = Recorder()
    rec.behaviour["a.Deployed/check"] = None  # exit 0: already in place
    _, store, _, dep = run(CHECKED, rec)
    assert dep.state == "succeeded" and rec.nodes("action") == []
    assert store.nodes(dep.id)[0].status == "skipped"


def test_a_failing_check_runs_the_action():
    rec = Recorder()
    rec.behaviour["a.Deployed/check"] = lambda p: Result(p.id, "failed", 1)
    _, store, _, dep = run(CHECKED, rec)
    assert rec.nodes("action") == ["a.Deployed"]
    assert store.nodes(dep.id)[0].status == "reached"


UNDO = """
format: 1
name: undo
entities:
  base: {states: {Deployed: {action: work, undo: unwork}}}
  mid:
    count: 3
    states:
      Deployed: {requires: [base.Deployed], action: work, undo: unwork}
  top:
    states:
      Deployed: {requires: ["mid[*].Deployed"], action: work, undo: unwork}
"""


def test_rollback_undoes_in_reverse_dependency_order():
    rec = Recorder(sleep=0.01)
    engine, store, bp, dep = run(UNDO, rec)
    assert dep.state == "succeeded"
    final = engine.rollback(bp, dep.id)
    assert final.state == "rolled_back"
    order = rec.nodes("undo")
    assert order[0] == "top.Deployed" and order[-1] == "base.Deployed"
    assert set(order[1:4]) == {"mid[0].Deployed", "mid[1].Deployed", "mid[2].Deployed"}
    assert {n.status for n in store.nodes(dep.id)} == {"undone"}


def test_rollback_of_a_failed_deployment_gives_the_failure_to_its_undo():
    rec = Recorder()
    rec.behaviour["top.Deployed/action"] = lambda p: Result(p.id, "failed", 4,
                                                            stderr_tail="disk full")
    engine, store, bp, dep = run(UNDO, rec)
    assert dep.state == "failed"
    engine.rollback(bp, dep.id)
    top_undo = [p for p in rec.calls if p.kind == "undo" and p.node == "top.Deployed"][0]
    assert top_undo.env["MURANO_FLOW_FAILURE"] == "exit code 4: disk full"


def test_a_failed_undo_fails_the_rollback_and_keeps_what_it_protects():
    rec = Recorder()
    rec.behaviour["mid[1].Deployed/undo"] = lambda p: Result(p.id, "failed", 1)
    engine, store, bp, dep = run(UNDO, rec)
    final = engine.rollback(bp, dep.id)
    status = {n.name: n.status for n in store.nodes(dep.id)}
    assert final.state == "failed" and status["mid[1].Deployed"] == "undo_failed"
    assert status["base.Deployed"] == "reached"  # still required by mid[1]


def test_request_stop_interrupts_and_resume_finishes_without_rerunning():
    release = threading.Event()
    rec = Recorder()
    rec.behaviour["mid[0].Deployed/action"] = lambda p: release.wait(5) and None
    store = MemoryStore()
    bp = parse_blueprint(UNDO, "t.yaml", {}, strict=True)
    engine, _ = engine_for(rec, store)
    dep = engine.create(bp)
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("d", engine.deploy(bp, dep.id)))
    thread.start()
    while not any(p.node == "mid[0].Deployed" for p in rec.calls):
        time.sleep(0.01)
    engine.request_stop()
    release.set()
    thread.join(10)
    assert result["d"].state == "interrupted"
    before = {n.name: n.status for n in store.nodes(dep.id)}
    assert before["base.Deployed"] == "reached" and before["top.Deployed"] == "pending"
    final = engine.deploy(bp, dep.id)
    assert final.state == "succeeded"
    assert rec.nodes().count("base.Deployed") == 1  # reached before: not run again


def test_unreachable_transport_fails_the_node_as_infrastructure():
    store = MemoryStore()

    def factory(kind, fields):
        raise ConnectError("host 10.0.0.9 unreachable", host="10.0.0.9")

    engine = Engine(store, factory)
    bp = parse_blueprint(CHECKED, "t.yaml", {}, strict=True)
    dep = engine.create(bp)
    final = engine.deploy(bp, dep.id)
    assert final.state == "failed" and final.infrastructure
    assert "unreachable" in store.nodes(dep.id)[0].reason


def test_sqlite_journal_records_the_same_story(tmp_path):
    rec = Recorder()
    store = SqliteStore(tmp_path / "j.db")
    _, _, _, dep = run(UNDO, rec, store=store)
    assert dep.state == "succeeded"
    assert {n.status for n in store.nodes(dep.id)} == {"reached"}
    kinds = [e.kind for e in store.events(dep.id)]
    assert kinds[0] == "deployment" and kinds.count("reached") == 5


def test_an_interrupted_rollback_stays_a_rollback_and_goes_forward_only_when_asked():
    rec = Recorder()
    release = threading.Event()
    engine, store, bp, dep = run(UNDO, rec)
    rec.behaviour["mid[2].Deployed/undo"] = lambda p: release.wait(5) and None
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("d", engine.rollback(bp, dep.id)))
    thread.start()
    while not any(p.node == "mid[2].Deployed" and p.kind == "undo" for p in rec.calls):
        time.sleep(0.01)
    engine.request_stop()
    release.set()
    thread.join(10)
    assert result["d"].state == "rolling_back"  # its direction is kept
    assert store.nodes(dep.id)[0].status == "reached"  # base was not undone yet
    assert engine.deploy(bp, dep.id).state == "succeeded"  # an explicit re-deploy
    assert {n.status for n in store.nodes(dep.id)} == {"reached"}


def test_a_stop_requested_before_the_loop_starts_is_honoured():
    rec = Recorder()
    engine, store, bp, dep = run(UNDO, rec)  # a first, complete run
    assert dep.state == "succeeded"
    assert engine.rollback(bp, dep.id).state == "rolled_back"  # its hosts are free again
    bp2 = parse_blueprint(UNDO, "t.yaml", {}, strict=True)
    dep2 = engine.create(bp2)
    engine.request_stop()  # e.g. Ctrl-C while the deployment was loading
    final = engine.deploy(bp2, dep2.id)
    assert final.state == "interrupted"
    assert all(n.status == "pending" for n in store.nodes(dep2.id))


BAD_HOST = """
format: 1
name: badhost
parameters:
  hosts: {type: list, default: []}
entities:
  a:
    host: {transport: local, name: "{{ params.hosts[0] }}"}
    states:
      Deployed: {action: work, undo: unwork}
"""


def test_a_host_expression_that_fails_fails_the_node_in_both_directions():
    rec = Recorder()
    engine, store, bp, dep = run(BAD_HOST, rec)
    node = store.nodes(dep.id)[0]
    assert dep.state == "failed" and node.status == "failed"
    assert node.reason.startswith("expression error:")
    final = engine.rollback(bp, dep.id)  # its undo renders the same host: a clean failure
    node = store.nodes(dep.id)[0]
    assert final.state == "failed" and node.status == "undo_failed"
    assert node.reason.startswith("expression error:") and rec.calls == []


POLICIES = """
format: 1
name: policies
on_failure: {policy}
entities:
  bad:
    states:
      Deployed: {{action: work, undo: unwork{state_policy}}}
  after: {{states: {{Deployed: {{requires: bad.Deployed, action: work, undo: unwork}}}}}}
  other:
    states:
      Done: {{action: work, undo: unwork}}
      Deployed: {{requires: Done, action: work, undo: unwork}}
"""


def _policies(policy: str, state_policy: str = "") -> str:
    extra = f", on_failure: {state_policy}" if state_policy else ""
    return POLICIES.format(policy=policy, state_policy=extra)


def _failing_bad(rec: Recorder) -> Recorder:
    rec.behaviour["bad.Deployed/action"] = lambda p: Result(p.id, "failed", 4, stderr_tail="no")
    rec.behaviour["other.Done/action"] = lambda p: time.sleep(0.2)
    return rec


def test_on_failure_continue_lets_independent_branches_finish():
    _, store, _, dep = run(_policies("continue"), _failing_bad(Recorder()))
    status = {n.name: n.status for n in store.nodes(dep.id)}
    assert dep.state == "failed" and dep.reason.startswith("bad.Deployed failed: exit code 4")
    assert status == {"bad.Deployed": "failed", "after.Deployed": "pending",
                      "other.Done": "reached", "other.Deployed": "reached"}


def test_on_failure_rollback_undoes_everything_and_gives_the_failure_to_its_undo():
    rec = _failing_bad(Recorder())
    _, store, _, dep = run(_policies("rollback"), rec)
    assert dep.state == "rolled_back" and "after: bad.Deployed failed" in dep.reason
    assert {n.status for n in store.nodes(dep.id)} <= {"undone", "pending"}
    undos = {p.node: p for p in rec.calls if p.kind == "undo"}
    assert set(undos) == {"bad.Deployed", "other.Done"}  # what ran; 'other.Deployed' never did
    assert "exit code 4" in undos["bad.Deployed"].env["MURANO_FLOW_FAILURE"]
    states = [e.status for e in store.events(dep.id) if e.kind == "deployment"]
    assert list(dict.fromkeys(states)) == ["pending", "running", "rolling_back", "rolled_back"]


def test_a_state_may_override_the_deployment_policy_both_ways():
    _, store, _, dep = run(_policies("rollback", "continue"), _failing_bad(Recorder()))
    assert dep.state == "failed"  # the state said continue: no rollback
    assert {n.name: n.status for n in store.nodes(dep.id)}["other.Deployed"] == "reached"
    _, _, _, dep = run(_policies("stop", "rollback"), _failing_bad(Recorder()))
    assert dep.state == "rolled_back"


def test_a_crashed_run_re_attaches_its_in_flight_nodes_instead_of_running_them_again():
    rec = Recorder()
    engine, store, bp, dep = run(UNDO, rec)  # every action ran once, results recorded
    nodes = store.nodes(dep.id)
    for n in nodes:  # as if the engine died with mid[*] running and top not started
        if n.name.startswith("mid"):
            n.status = "running"
        elif n.name == "top.Deployed":
            n.status, n.attempt = "pending", 0
    from murano_flow.engine import identity

    dead = identity.me().rsplit("/", 2)[0] + "/999999999/1"  # this host, a pid that is gone
    store.commit(dep.id, nodes, [], state="running")
    assert store.claim(dep.id, dead, "")
    final = engine.deploy(bp, dep.id)
    assert final.state == "succeeded" and final.deployment.owner == ""
    assert sorted(rec.nodes()).count("mid[0].Deployed") == 1  # collected, not run again
    assert rec.nodes().count("top.Deployed") == 2  # the first run's, and now its first real one
    kinds = [(e.kind, e.node) for e in store.events(dep.id)]
    assert ("reattaching", "mid[1].Deployed") in kinds
    assert "is gone" in [e for e in store.events(dep.id) if e.kind == "deployment"][-3].message


def test_a_live_engine_keeps_its_deployment():
    import os

    from murano_flow.engine import identity
    from murano_flow.errors import UsageError

    rec = Recorder()
    engine, store, bp, dep = run(UNDO, rec)
    ppid = os.getppid()
    parent = identity.me().rsplit("/", 2)[0] + f"/{ppid}/{identity._start_ticks(ppid)}"
    assert identity.alive(parent) is True
    assert store.claim(dep.id, parent, "")
    with pytest.raises(UsageError, match="is being driven by the engine pid"):
        engine.rollback(bp, dep.id)
    assert identity.alive("ghost/1/1") is None  # another host: cannot tell
    assert identity.alive(identity.me().rsplit("/", 2)[0] + "/999999999/1") is False


def test_a_rollback_collects_what_a_dead_engine_left_running_and_stops_on_ctrl_c():
    import threading as th

    from murano_flow.engine import identity
    from murano_flow.errors import InDoubt
    from murano_flow.transports.base import Transport

    class Slow(Transport):
        """Plays a host where mid[0]'s action is still running from the dead engine."""

        def __init__(self):
            self.closed, self.sent, self.still_running = th.Event(), [], True

        def send(self, plan):
            self.sent.append(plan.node)
            return Result(plan.id, "ok", 0)

        def reattach(self, plan):
            if self.still_running and self.closed.wait(10):
                raise InDoubt("stopped waiting")
            return Result(plan.id, "ok", 0)

        def close(self):
            self.closed.set()

    slow = Slow()
    store = MemoryStore()
    engine = Engine(store, lambda kind, fields: slow, workers=4)
    bp = parse_blueprint(UNDO, "t.yaml", {}, strict=True)
    dep = engine.create(bp)
    nodes = store.nodes(dep.id)
    for n in nodes:
        n.status, n.attempt = {"base.Deployed": ("reached", 1),
                               "mid[0].Deployed": ("running", 1)}.get(n.name, ("pending", 0))
    store.commit(dep.id, nodes, [], state="running")
    store.claim(dep.id, identity.me().rsplit("/", 2)[0] + "/999999999/1", "")
    th.Timer(0.3, engine.request_stop).start()  # Ctrl-C while collecting mid[0]
    final = engine.rollback(bp, dep.id)
    assert final.state == "rolling_back" and slow.sent == []  # no undo started; still back
    status = {n.name: n.status for n in store.nodes(dep.id)}
    assert status["mid[0].Deployed"] == "in_doubt" and status["base.Deployed"] == "reached"
    states = [e.status for e in store.events(dep.id) if e.kind == "deployment"]
    assert "rolling_back" in states  # journaled as a rollback while collecting

    slow.still_running = False  # it has finished meanwhile
    final = engine.rollback(bp, dep.id)  # again, uninterrupted: collect, then undo
    assert final.state == "rolled_back"
    assert sorted(slow.sent) == ["base.Deployed", "mid[0].Deployed"]


def test_an_undo_in_doubt_stops_the_rollback_until_the_operator_reruns_it():
    from murano_flow.errors import InDoubt, UsageError

    rec = Recorder()
    engine, store, bp, dep = run(UNDO, rec)

    def silent(plan):
        raise InDoubt("the host went quiet")

    rec.behaviour["top.Deployed/undo"] = silent
    final = engine.rollback(bp, dep.id)
    status = {n.name: n.status for n in store.nodes(dep.id)}
    assert final.state == "failed" and "top.Deployed is in doubt" in final.reason
    assert status["top.Deployed"] == "in_doubt"
    assert {status[f"mid[{i}].Deployed"] for i in range(3)} == {"reached"}  # nothing below
    with pytest.raises(UsageError, match="it is reached, not in doubt"):
        engine.rollback(bp, dep.id, rerun=("mid[0].Deployed",))
    rec.behaviour.pop("top.Deployed/undo")
    final = engine.rollback(bp, dep.id, rerun=("top.Deployed",))
    assert final.state == "rolled_back"
    undos = [p.id for p in rec.calls if p.kind == "undo" and p.node == "top.Deployed"]
    assert len(undos) == 2 and undos[0] != undos[1]  # run afresh: a new attempt, a new id
    assert rec.nodes("undo")[-1] == "base.Deployed"


def test_a_rollback_reruns_only_undos_in_doubt():
    from murano_flow.errors import InDoubt, UsageError

    rec = Recorder()

    def silent(plan):
        raise InDoubt("the host went quiet")

    rec.behaviour["top.Deployed/action"] = silent
    engine, store, bp, dep = run(UNDO, rec)
    assert {n.name: n.status for n in store.nodes(dep.id)}["top.Deployed"] == "in_doubt"
    with pytest.raises(UsageError, match="its action is in doubt, and a rollback runs only "
                                         "undos afresh"):
        engine.rollback(bp, dep.id, rerun=("top.Deployed",))


def test_a_finished_engine_and_its_journal_are_freed_without_the_cyclic_collector():
    # A reference cycle through the engine would keep it, and a memory journal's every
    # row, alive until a collection walks them all (a 10,000-node deploy left 50,000).
    import gc
    import weakref

    was_enabled = gc.isenabled()
    gc.disable()
    try:
        engine, store, bp, dep = run(UNDO, Recorder())
        assert dep.state == "succeeded"
        engine.rollback(bp, dep.id)
        freed = weakref.ref(engine), weakref.ref(store)
        del engine, store
        assert [ref() for ref in freed] == [None, None]
    finally:
        if was_enabled:
            gc.enable()
