"""``murano-flow report ID`` (one self-contained HTML file, opened offline in a real
Chromium) and ``murano-flow graph ID`` (a deployment coloured by state)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from kits.browser import artifacts, until

FAILS = """\
format: 1
name: fails
parameters:
  pw: {type: string, secret: true}
entities:
  db:
    host: {transport: local, name: "db-{{ deployment }}"}
    states:
      Installed: {action: "echo installed"}
      Deployed:
        requires: Installed
        action:
          inline: 'echo "<img src=x onerror=alert(1)> $PW" >&2; exit 3'
          env: {PW: "{{ params.pw }}"}
"""
SECRET = "Tr0ub4dor-and-3"


def _mf(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "murano_flow", "--store",
                           f"sqlite:///{tmp_path}/j.db", "--home", str(tmp_path / "home"),
                           *args], capture_output=True, text=True, cwd=tmp_path, check=False)


@pytest.fixture
def failed(tmp_path: Path) -> Path:
    (tmp_path / "fails.yaml").write_text(FAILS)
    run = _mf(tmp_path, "deploy", "fails.yaml", "--id", "f1", "-p", f"pw={SECRET}")
    assert run.returncode == 1, run.stderr
    return tmp_path


def test_graph_of_a_deployment_is_coloured_by_state(failed: Path):
    dot = _mf(failed, "graph", "f1").stdout
    assert re.search(r'id="db.Installed".*fillcolor=palegreen', dot)
    assert re.search(r'id="db.Deployed".*fillcolor=salmon', dot)
    unknown = _mf(failed, "graph", "nope")
    assert unknown.returncode == 2 and "cannot read the blueprint" in unknown.stderr


@pytest.mark.integration
def test_the_report_is_one_offline_file_showing_the_failure_literally(failed: Path, browser):
    from selenium.webdriver.common.by import By

    out = failed / "report.html"
    made = _mf(failed, "report", "f1", "-o", str(out))
    assert made.returncode == 0, made.stderr
    html = out.read_text()
    assert SECRET not in html and "******" in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)  # nothing fetched
    browser.get(out.as_uri())
    until(browser, lambda d: d.find_element(By.ID, "dep-state").text == "failed", "the state")
    status = browser.execute_script(
        "return Object.fromEntries([...document.querySelectorAll('#graph g.node')]"
        ".map(g => [g.id, g.dataset.status]))")
    assert status == {"db.Installed": "reached", "db.Deployed": "failed"}
    failure = browser.find_element(By.CSS_SELECTOR, "#failures .stderr").text
    assert "<img src=x onerror=alert(1)>" in failure  # shown as text, not run as markup
    assert not browser.find_elements(By.CSS_SELECTOR, "#failures img")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#timeline .bar")) == 2
    assert browser.find_elements(By.CSS_SELECTOR, "#events tbody tr")
    browser.save_screenshot(str(artifacts("report") / "report.png"))
    missing = _mf(failed, "report", "nope", "-o", str(failed / "x.html"))
    assert missing.returncode == 2 and not (failed / "x.html").exists()
