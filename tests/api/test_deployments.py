"""The web farm deployed, followed, converged, rolled back and deleted through the API,
as an operator's client would: stored blueprint versions, a live event stream resumed
from its cursor, a dry run, problems in the CLI's words."""

from __future__ import annotations

import json

import httpx
import pytest
from kits.api import ApiServer, bundle, sse
from kits.common import consecutive_free_ports

pytestmark = pytest.mark.integration


def follow(client: httpx.Client, deployment: str, after: int = 0, *,
           last_event_id: str | None = None) -> list[dict[str, object]]:
    """Every event of the stream until the deployment has finished."""
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    with client.stream("GET", f"/v1/deployments/{deployment}/events/stream",
                       params={"after": after, "close_when_finished": True},
                       headers=headers) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith(
            "text/event-stream")
        messages = [m for m in sse(r.iter_lines()) if "data" in m]
    events = [json.loads(m["data"]) for m in messages]
    assert [int(m["id"]) for m in messages] == [e["seq"] for e in events]
    return events


def test_the_web_farm_through_the_api(api: ApiServer):
    base = consecutive_free_ports(3)
    params = {"web_count": 2, "base_port": base + 1, "lb_port": base}
    with api.client("operate") as ops:
        first = ops.post("/v1/blueprints", json=bundle())
        assert first.status_code == 201 and first.json()["version"] == 1
        again = ops.post("/v1/blueprints", json=bundle())
        assert again.status_code == 200 and again.json()["new"] is False
        plan = ops.post("/v1/deployments/farm/dry-run",
                        json={"blueprint": "webfarm", "params": params}).json()
        assert plan["changes"] and {s["would"] for s in plan["steps"]} <= {"run", "keep"}
        made = ops.post("/v1/deployments", json={"blueprint": "webfarm", "id": "farm",
                                                 "params": params})
        assert made.status_code == 202 and made.json()["what"] == "deploy", made.text
        events = follow(ops, "farm")
        reached = [e["node"] for e in events if e["kind"] == "reached"]
        assert "lb.Deployed" in reached and reached[-1] == "lb.Deployed"
        dep = ops.get("/v1/deployments/farm").json()
        assert dep["state"] == "succeeded" and dep["stored"]["version"] == 1
        assert {n["status"] for n in dep["nodes"]} == {"reached"}
        assert httpx.get(f"http://127.0.0.1:{base}/", timeout=10).status_code == 200
        checked = ops.post("/v1/deployments/farm/check", json={}).json()
        assert checked["drifted"] == [] and {p["node"]: p["verdict"] for p in
                                             checked["probes"]} == {
            "web[0].Serving": "holds", "web[1].Serving": "holds", "lb.Configured": "holds"}

        # a reconnecting client continues after the last event it saw, from the header
        middle = events[len(events) // 2]["seq"]
        rest = follow(ops, "farm", last_event_id=str(middle))
        journal = ops.get("/v1/deployments/farm/events").json()  # the check's verdicts too
        assert [e["seq"] for e in rest] == [e["seq"] for e in journal if e["seq"] > middle]

        # version 2 changes the title: the dry run says what converge would run
        changed = bundle()
        changed["text"] = changed["text"].replace("Hello from murano-flow", "Hello, v2")
        assert ops.post("/v1/blueprints", json=changed).json()["version"] == 2
        v1 = ops.get("/v1/blueprints/webfarm/versions/1").json()
        assert "Hello from murano-flow" in v1["text"]  # stored versions never change
        diff = ops.post("/v1/deployments/farm/dry-run", json={"params": params}).json()
        runs = [s for s in diff["steps"] if s["would"] == "run"]
        assert runs and all("site_title" in json.dumps(s) or s["diff"] for s in runs)
        assert ops.get("/v1/deployments/farm").json()["stored"]["version"] == 1  # nothing ran
        converge = ops.post("/v1/deployments", json={"blueprint": "webfarm", "id": "farm",
                                                     "params": params})
        assert converge.json()["what"] == "converge"
        follow(ops, "farm", journal[-1]["seq"])
        assert ops.get("/v1/deployments/farm").json()["stored"]["version"] == 2
        assert "Hello, v2" in httpx.get(f"http://127.0.0.1:{base}/", timeout=10).text

        svg = ops.get("/v1/deployments/farm/graph")
        assert svg.headers["content-type"] == "image/svg+xml"
        assert 'id="lb.Deployed"' in svg.text and "palegreen" in svg.text

        refused = ops.post("/v1/deployments/farm/resume", json={})
        assert refused.status_code == 409 and refused.json()["hint"]  # the CLI's words
        assert ops.delete("/v1/deployments/farm").status_code == 403  # admin only
        assert ops.post("/v1/deployments/farm/rollback", json={}).status_code == 202
        follow(ops, "farm", ops.get("/v1/deployments/farm/events").json()[-1]["seq"])
        assert ops.get("/v1/deployments/farm").json()["state"] == "rolled_back"
        assert ops.post("/v1/deployments/farm/check", json={}).status_code == 409
    with api.client("admin") as admin:
        assert admin.delete("/v1/deployments/farm").status_code == 204
        assert admin.get("/v1/deployments/farm").status_code == 404


def test_unknown_things_are_404_problems_in_the_cli_words(api: ApiServer):
    with api.client("read") as reader:
        missing = reader.get("/v1/deployments/nope")
        assert missing.status_code == 404
        assert missing.json()["detail"].startswith("no deployment 'nope'")
        cli = api.cli("status", "nope")
        assert missing.json()["detail"] in cli.stderr
        assert reader.get("/v1/blueprints/nope/versions").status_code == 404
        assert reader.get("/v1/deployments/-bad").status_code == 422
    with api.client("operate") as ops:
        r = ops.post("/v1/deployments", json={"blueprint": "nope"})
        assert r.status_code == 404 and "no stored blueprint 'nope'" in r.json()["detail"]


def test_triggers_are_registered_read_and_removed_through_the_api(api: ApiServer):
    with api.client("operate") as ops, api.client("read") as reader:
        assert ops.post("/v1/blueprints", json=bundle()).status_code == 201
        nightly = {"id": "nightly", "blueprint": "webfarm", "deployment": "farm",
                   "cron": "0 3 * * *", "timezone": "Europe/Paris",
                   "params": {"web_count": 2}}
        assert reader.post("/v1/triggers", json=nightly).status_code == 403
        made = ops.post("/v1/triggers", json=nightly)
        assert made.status_code == 201, made.text
        assert made.json()["kind"] == "cron" and made.json()["due"] > 0
        assert ops.post("/v1/triggers", json=nightly).status_code == 409  # the id is taken
        bad = ops.post("/v1/triggers", json={**nightly, "id": "bad", "cron": "61 * * * *"})
        assert bad.status_code == 409 and "not a cron expression" in bad.json()["detail"]
        assert [t["id"] for t in reader.get("/v1/triggers").json()] == ["nightly"]
        assert api.cli("trigger", "list", "-f", "value", "-c", "id").stdout.split() == [
            "nightly"]  # the CLI sees the same journal
        assert ops.delete("/v1/triggers/nightly").status_code == 204
        assert ops.delete("/v1/triggers/nightly").status_code == 404
