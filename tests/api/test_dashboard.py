"""The dashboard in a real headless Chromium: signing in, a web farm deployed from the page
turning green, a deployment followed live through its states, paused and resumed with the
page's buttons. Screenshots are kept in test-artifacts/dashboard/."""

from __future__ import annotations

from pathlib import Path

import pytest
from kits.api import ApiServer, bundle
from kits.browser import artifacts, until
from kits.common import consecutive_free_ports

pytestmark = pytest.mark.integration

GATED = """\
format: 1
name: gated
parameters:
  gate: {type: string}
entities:
  first:
    host: {transport: local, name: "first-{{ deployment }}"}
    states:
      Deployed:
        action:
          inline: 'while [ ! -e "$GATE" ]; do sleep 0.05; done; echo "<b>not markup</b>"'
          env: {GATE: "{{ params.gate }}"}
  second:
    host: {transport: local, name: "second-{{ deployment }}"}
    states:
      Deployed: {requires: first.Deployed, action: "echo second"}
"""


def _status(driver, state: str) -> str | None:
    return driver.execute_script(
        "const g = document.getElementById(arguments[0]);"
        "return g ? g.getAttribute('data-status') : null;", state)


def _sign_in(driver, api: ApiServer) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{api.url}/")
    until(driver, lambda d: d.find_element(By.ID, "token").is_displayed(), "the sign-in form")
    driver.find_element(By.ID, "token").send_keys(api.tokens["operate"])
    driver.find_element(By.ID, "sign-in").click()
    until(driver, lambda d: d.find_element(By.ID, "list").is_displayed(), "the deployments")


def test_a_web_farm_deployed_from_the_page_turns_green(api: ApiServer, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    shots = artifacts("dashboard")
    with api.client("operate") as ops:
        assert ops.post("/v1/blueprints", json=bundle()).status_code == 201
    _sign_in(browser, api)
    browser.save_screenshot(str(shots / "1-deployments.png"))
    base = consecutive_free_ports(3)
    Select(browser.find_element(By.ID, "new-blueprint")).select_by_value("webfarm")
    browser.find_element(By.ID, "new-id").send_keys("farm")
    params = browser.find_element(By.ID, "new-params")
    params.clear()
    params.send_keys(f'{{"web_count": 2, "lb_port": {base}, "base_port": {base + 1}}}')
    browser.find_element(By.ID, "deploy").click()
    until(browser, lambda d: d.find_element(By.ID, "dep-id").text == "farm", "the farm's page")
    until(browser, lambda d: d.find_element(By.ID, "dep-state").text == "succeeded",
          "the farm succeeded")
    until(browser, lambda d: _status(d, "lb.Deployed") == "reached", "lb.Deployed green")
    states = browser.execute_script(
        "return [...document.querySelectorAll('#graph g.node')].map(g => g.dataset.status)")
    assert len(states) == 9 and set(states) == {"reached"}
    assert browser.find_elements(By.CSS_SELECTOR, "#timeline .bar")  # every action a bar
    browser.save_screenshot(str(shots / "2-farm-green.png"))
    with api.client("operate") as ops:
        dep = ops.get("/v1/deployments/farm").json()
        assert dep["state"] == "succeeded" and dep["stored"]["version"] == 1
        journaled = len(ops.get("/v1/deployments/farm/events").json())
        assert ops.post("/v1/deployments/farm/rollback", json={}).status_code == 202
    until(browser, lambda d: d.find_element(By.ID, "dep-state").text == "rolled_back",
          "the rollback, followed live")
    until(browser, lambda d: any("rolled_back" in r.text for r in d.find_elements(
        By.CSS_SELECTOR, "#events tbody tr")), "the rollback's last event in the log")
    rows = browser.find_elements(By.CSS_SELECTOR, "#events tbody tr")
    assert len(rows) > journaled  # the rollback's events came in after the page loaded


def test_the_page_follows_a_deployment_live_and_pauses_and_resumes_it(
        api: ApiServer, browser, tmp_path: Path):
    from selenium.webdriver.common.by import By

    shots = artifacts("dashboard-live")
    gate = tmp_path / "gate"
    with api.client("operate") as ops:
        assert ops.post("/v1/blueprints", json={"path": "gated.yaml",
                                                "text": GATED}).status_code == 201
        assert ops.post("/v1/deployments", json={"blueprint": "gated", "id": "g",
                                                 "params": {"gate": str(gate)}}
                        ).status_code == 202
    _sign_in(browser, api)
    browser.get(f"{api.url}/ui/#/d/g")
    until(browser, lambda d: _status(d, "first.Deployed") == "running", "first running")
    assert _status(browser, "second.Deployed") == "pending"
    browser.save_screenshot(str(shots / "1-running.png"))
    browser.find_element(By.ID, "pause").click()
    until(browser, lambda d: "pause requested" in d.find_element(By.ID, "message").text,
          "the pause was asked")
    gate.touch()  # the running action finishes; nothing new starts: paused
    until(browser, lambda d: d.find_element(By.ID, "dep-state").text == "paused",
          "the deployment paused")
    assert _status(browser, "first.Deployed") == "reached"
    assert _status(browser, "second.Deployed") == "pending"  # pause held it back
    browser.save_screenshot(str(shots / "2-paused.png"))
    browser.find_element(By.ID, "resume").click()
    until(browser, lambda d: d.find_element(By.ID, "dep-state").text == "succeeded",
          "the deployment resumed to success")
    assert _status(browser, "second.Deployed") == "reached"
    # the node rows fetched after a deployment event may show it first; the stream's
    # own event follows
    until(browser, lambda d: any("second.Deployed" in r.text and "reached" in r.text
                                 for r in d.find_elements(By.CSS_SELECTOR, "#events tbody tr")),
          "second.Deployed's event in the log, as it came")
    assert not browser.find_elements(By.CSS_SELECTOR, "#events b")  # shown as text
    browser.save_screenshot(str(shots / "3-succeeded.png"))
