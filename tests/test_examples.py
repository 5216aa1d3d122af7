"""`murano-flow examples` lists the shipped blueprints; `init` copies one out with the
files it reads, ready to validate and deploy."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from murano_flow.cli import cli


def mf(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_examples_lists_the_shipped_blueprints():
    done = mf("examples")
    assert done.exit_code == 0
    for name in ("webfarm", "sql-on-ad", "active-directory", "gated-release"):
        assert name in done.output
    assert "'murano-flow init NAME' copies one here" in done.output


def test_init_copies_a_blueprint_and_what_it_reads_and_it_deploys(tmp_path: Path, home):
    target = tmp_path / "mine"
    done = mf("init", "webfarm", str(target))
    assert done.exit_code == 0, done.output
    assert (target / "webfarm.yaml").is_file() and any((target / "scripts").rglob("*.sh"))
    assert mf("validate", str(target / "sql-on-ad.yaml")).exit_code == 2  # only webfarm
    deployed = mf("deploy", str(target / "webfarm.yaml"), "--id", "mine", "-p", "web_count=1",
                  "-p", "base_port=19381", "-p", "lb_port=19380")
    assert deployed.exit_code == 0, deployed.output
    assert mf("rollback", "mine").exit_code == 0


def test_init_refuses_to_overwrite_and_names_the_examples(tmp_path: Path):
    assert mf("init", "webfarm", str(tmp_path)).exit_code == 0
    again = mf("init", "webfarm", str(tmp_path))
    assert again.exit_code == 2 and "webfarm.yaml exists" in again.output
    assert "--force to overwrite" in again.output
    assert mf("init", "webfarm", str(tmp_path), "--force").exit_code == 0
    unknown = mf("init", "webform", str(tmp_path))
    assert unknown.exit_code == 2 and "no example called 'webform'; the examples: " \
        in unknown.output
