"""Several API processes beside several engine services on one PostgreSQL journal: one
deployment followed through both APIs while the engine driving it is killed and the
other takes it over, and while the API a client follows through dies. Every client sees
the journal's events exactly once, in order; every action ran once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
from pathlib import Path

import httpx
import pytest
from kits.api import MF, ApiServer, sse, start, stop
from kits.browser import artifacts, until
from kits.common import wait_until
from kits.effects import side_effects

pytestmark = [pytest.mark.integration, pytest.mark.faults]

CHAIN = """\
format: 1
name: chain
parameters:
  counter: {type: string}
entities:
""" + "".join(f"""\
  s{i}:
    host: {{transport: local, name: "s{i}-{{{{ deployment }}}}"}}
    states:
      Deployed:
        {f"requires: s{i - 1}.Deployed" if i else ""}
        action:
          inline: 'echo "start s{i} 1" >> "$COUNTER"; sleep 1; echo "end s{i} 1" >> "$COUNTER"'
          env: {{COUNTER: "{{{{ params.counter }}}}"}}
""" for i in range(5))


def _engine(store: str, home: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen([*MF, "--store", store, "--home", str(home), "engine", "serve",
                                 "--poll", "0.2s", "--lease", "3s"], stdout=out,
                                stderr=subprocess.STDOUT,
                                env={**os.environ, "MURANO_FLOW_AGENT_SECRET": "scale-test"})


class Follower(threading.Thread):
    """Follows a deployment's stream through ``urls`` in turn: when one API dies, it
    reconnects to the next with Last-Event-ID, as a client behind a balancer would."""

    def __init__(self, urls: list[str], token: str, deployment: str) -> None:
        super().__init__(daemon=True)
        self.urls, self.token, self.deployment = urls, token, deployment
        self.seqs: list[int] = []
        self.switches = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for url in self.urls:
                headers = {"Authorization": f"Bearer {self.token}"}
                if self.seqs:
                    headers["Last-Event-ID"] = str(self.seqs[-1])
                    self.switches += 1
                try:
                    with httpx.stream("GET", f"{url}/v1/deployments/{self.deployment}/events/"
                                      "stream?close_when_finished=true", headers=headers,
                                      timeout=httpx.Timeout(60, read=None)) as r:
                        for m in sse(r.iter_lines()):
                            if "data" in m:
                                self.seqs.append(json.loads(m["data"])["seq"])
                    return  # the stream ended: the deployment finished
                except httpx.HTTPError:
                    continue  # that API went away: the next one
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc


def test_two_apis_and_two_engines_serve_one_stream_through_a_kill(pg_url, tmp_path, browser):
    from selenium.webdriver.common.by import By

    home = tmp_path / "home"
    first = start(tmp_path / "a", pg_url)
    second = start(tmp_path / "b", pg_url, tokens=first.tokens)
    engines = [_engine(pg_url, home, tmp_path / f"engine{k}.log") for k in range(2)]
    counter = tmp_path / "counter"
    try:
        with first.client("operate") as ops:
            assert ops.post("/v1/blueprints", json={"path": "chain.yaml",
                                                    "text": CHAIN}).status_code == 201
            wait_until(lambda: len(ops.get("/v1/engines").json()) == 2, "two engines")
            made = ops.post("/v1/deployments", json={"blueprint": "chain", "id": "c1",
                                                     "params": {"counter": str(counter)}})
            assert made.status_code == 202 and made.json()["engines"] == 2, made.text
        follower = Follower([first.url, second.url], first.tokens["read"], "c1")
        follower.start()
        _sign_in_and_open(browser, second, "c1")
        with second.client("read") as reader:
            def running(name: str) -> bool:
                nodes = reader.get("/v1/deployments/c1").json()["nodes"]
                return any(n["name"] == name and n["status"] == "running" for n in nodes)

            wait_until(lambda: running("s1.Deployed"), "s1 running")
            owner = reader.get("/v1/deployments/c1").json()["owner"]
            holder = next(e for e in engines if f"/{e.pid}/" in owner)
            holder.kill()  # mid-action: the other engine takes over once the lease is out
            holder.wait()
            stop(first)  # and the API the follower reads through dies too
            until(browser, lambda d: d.find_element(By.ID, "dep-state").text == "succeeded",
                  "the page followed to the end", timeout=180)
            dep = reader.get("/v1/deployments/c1").json()
            journal = [e["seq"] for e in reader.get("/v1/deployments/c1/events").json()]
        follower.join(120)
        assert follower.error is None and not follower.is_alive()
        assert follower.switches == 1  # it moved to the second API ...
        assert follower.seqs == journal  # ... and saw every event once, in order
        assert dep["state"] == "succeeded"
        effects = side_effects(counter)  # every action ran once, to its end
        assert effects == {f"s{i}": {"start": 1, "end": 1} for i in range(5)}
        statuses = browser.execute_script(
            "return [...document.querySelectorAll('#graph g.node')].map(g => g.dataset.status)")
        assert statuses == ["reached"] * 5
        def shown() -> list[int]:  # newest first on the page
            return browser.execute_script(
                "return [...document.querySelectorAll('#events tbody tr')]"
                ".map(r => Number(r.dataset.seq))")[::-1]

        until(browser, lambda d: len(shown()) >= len(journal), "every event on the page")
        assert shown() == journal  # the page too: every event once, in order
        rows = browser.find_elements(By.CSS_SELECTOR, "#events tbody tr")
        assert any("reattach" in r.text for r in rows)
        browser.save_screenshot(str(artifacts("dashboard-takeover") / "succeeded.png"))
    finally:
        for e in engines:
            if e.poll() is None:
                e.send_signal(signal.SIGTERM)
                e.wait(30)
        stop(first)
        stop(second)


def _sign_in_and_open(driver, api: ApiServer, deployment: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{api.url}/ui/")
    until(driver, lambda d: d.find_element(By.ID, "token").is_displayed(), "sign-in")
    driver.find_element(By.ID, "token").send_keys(api.tokens["read"])
    driver.find_element(By.ID, "sign-in").click()
    until(driver, lambda d: d.find_element(By.ID, "list").is_displayed(), "the list")
    driver.get(f"{api.url}/ui/#/d/{deployment}")
    until(driver, lambda d: d.find_element(By.ID, "dep-id").text == deployment, "its page")

