"""Deploying an existing deployment again runs only what is not satisfied: new states,
states whose inputs changed, and states whose check probe fails."""

from __future__ import annotations

import json

import pytest
from kits.common import BLUEPRINTS, consecutive_free_ports
from test_engine import Recorder, engine_for

from murano_flow.blueprint import parse_blueprint
from murano_flow.errors import UsageError
from murano_flow.wire.protocol import Result

FARM = """
format: 1
name: farm
parameters:
  count: {type: integer, default: 2}
  flavour: {type: string, default: plain}
entities:
  web:
    count: "{{ params.count }}"
    states:
      Serving:
        action: {inline: serve, env: {FLAVOUR: "{{ params.flavour }}"}}
        outputs: [url]
        undo: unserve
      Deployed: {requires: Serving}
  lb:
    states:
      Configured:
        requires: ["web[*].Serving"]
        action:
          inline: proxy
          params: {backends: "{{ outputs['web[*].Serving'] | map(attribute='url') | list }}"}
      Probed:
        requires: Configured
        action: probe
        check: look
      Deployed: {requires: Probed}
"""


def _farm(**params):
    return parse_blueprint(FARM, "farm.yaml", params, strict=True)


def _recorder() -> Recorder:
    rec = Recorder()
    rec.behaviour["web[0].Serving/action"] = {"url": "http://w0"}
    rec.behaviour["web[1].Serving/action"] = {"url": "http://w1"}
    rec.behaviour["web[2].Serving/action"] = {"url": "http://w2"}
    rec.behaviour["lb.Probed/check"] = lambda p: Result(p.id, "failed", 1)  # not yet
    return rec


def _deployed_farm():
    """A farm deployed once, whose Probed check passes from now on."""
    rec = _recorder()
    engine, store = engine_for(rec)
    dep = engine.create(_farm())
    engine.deploy(_farm(), dep.id)
    rec.behaviour["lb.Probed/check"] = None
    return rec, engine, store, dep


def _again(engine, rec, dep_id, **params):
    rec.calls.clear()
    bp = _farm(**params)
    engine.reshape(bp, dep_id)
    return engine.deploy(bp, dep_id, converge=True)


def test_one_more_member_runs_its_states_and_what_reads_the_membership():
    rec = _recorder()
    engine, store = engine_for(rec)
    dep = engine.create(_farm())
    assert engine.deploy(_farm(), dep.id).state == "succeeded"
    rec.behaviour["lb.Probed/check"] = None  # the probe now finds it in place

    final = _again(engine, rec, dep.id, count=3)

    assert final.state == "succeeded"
    assert sorted(rec.nodes()) == ["lb.Configured", "web[2].Serving"]
    assert rec.nodes("check") == ["lb.Probed"]  # asked again; it passed: not run
    backends = [p for p in rec.calls if p.node == "lb.Configured"][0].params["inputs"]
    assert backends == {"backends": ["http://w0", "http://w1", "http://w2"]}
    events = {(e.node, e.kind) for e in store.events(dep.id)}
    assert ("web[0].Serving", "unchanged") in events and ("lb.Configured", "pending") in events


def test_the_same_blueprint_again_runs_nothing_but_probes_and_drift_is_repaired():
    rec, engine, _, dep = _deployed_farm()

    assert _again(engine, rec, dep.id).state == "succeeded"
    assert rec.nodes() == [] and rec.nodes("check") == ["lb.Probed"]

    rec.behaviour["lb.Probed/check"] = lambda p: Result(p.id, "failed", 1)  # drifted
    assert _again(engine, rec, dep.id).state == "succeeded"
    assert rec.nodes() == ["lb.Probed"]


def test_changed_inputs_run_again_without_asking_the_probe():
    rec, engine, _, dep = _deployed_farm()

    _again(engine, rec, dep.id, flavour="spicy")
    # web actions read the flavour; the lb's inputs (the urls) did not change
    assert sorted(rec.nodes()) == ["web[0].Serving", "web[1].Serving"]


def test_dropped_states_are_undone_after_their_dependents_converged_without_them():
    rec = _recorder()
    engine, store = engine_for(rec)
    dep = engine.create(_farm(count=3), None, {"text": FARM})  # to undo dropped states by
    engine.deploy(_farm(count=3), dep.id)
    engine.reshape(_farm(count=2), dep.id, {"text": FARM})
    rec.calls.clear()
    final = engine.deploy(_farm(count=2), dep.id, converge=True)
    assert final.state == "succeeded"
    # the load balancer re-converges on two members before the third is undone
    ran = [(p.node, p.kind) for p in rec.calls if p.kind != "check"]
    assert ran[0] == ("lb.Configured", "action") and ran[-1] == ("web[2].Serving", "undo")
    assert ran.count(("web[2].Serving", "undo")) == 1
    assert "web[2].Serving" not in {n.name for n in store.nodes(dep.id)}


def test_dropping_more_states_while_some_are_still_to_be_undone_is_refused():
    rec = _recorder()
    rec.behaviour["web[2].Serving/undo"] = lambda p: Result(p.id, "failed", 1)
    engine, store = engine_for(rec)
    dep = engine.create(_farm(count=3), None, {"text": FARM})  # to undo dropped states by
    engine.deploy(_farm(count=3), dep.id)
    engine.reshape(_farm(count=2), dep.id, {"text": FARM})
    assert engine.deploy(_farm(count=2), dep.id, converge=True).state == "failed"
    before = [(n.name, n.status) for n in store.nodes(dep.id)]
    with pytest.raises(UsageError, match=r"still removing 1 states .*\(web\[2\]\.Serving\)"):
        engine.reshape(_farm(count=1), dep.id)
    assert [(n.name, n.status) for n in store.nodes(dep.id)] == before


def test_the_web_farm_grows_from_two_to_three_members_through_the_cli(home, tmp_path):
    from click.testing import CliRunner
    from test_cli import get

    from murano_flow.cli.commands import cli

    def mf(*args):
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    base = consecutive_free_ports(4)
    ports = ["-p", f"lb_port={base}", "-p", f"base_port={base + 1}"]
    farm = str(BLUEPRINTS / "webfarm.yaml")
    try:
        assert mf("deploy", farm, "--id", "grow", "-p", "web_count=2", *ports).exit_code == 0
        grown = mf("deploy", farm, "--id", "grow", "-p", "web_count=3", *ports, "-f", "json")
        assert grown.exit_code == 0, grown.output
        events = json.loads(mf("events", "grow", "-f", "json").output)
        ran = {e["node"] for e in events if e["kind"] == "running"
               and e["seq"] > max(x["seq"] for x in events if "deployed again" in x["message"])}
        assert ran == {"web[2].ContentPublished", "web[2].Serving", "web[0].Serving",
                       "web[1].Serving", "lb.Configured", "lb.HealthChecked"}
        assert {get(f"http://127.0.0.1:{base}/") for _ in range(6)} == {
            "web[0]", "web[1]", "web[2]"}
        assert mf("fsck", "grow").exit_code == 0
    finally:
        mf("rollback", "grow")
