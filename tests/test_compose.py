"""Blueprints that compose: parts (one blueprint used as a part of another, here one
included twice with different inputs) and entity types from a library, deployed as
one deployment with one journal, on the local transport (real processes)."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from kits.common import ROOT
from kits.effects import side_effects

from murano_flow.blueprint import load_blueprint, parse_blueprint
from murano_flow.cli import cli
from murano_flow.errors import BlueprintError
from murano_flow.graph.stategraph import StateGraph

STACK = ROOT / "tests" / "compose"


@pytest.fixture
def stack(tmp_path: Path) -> Path:
    """A copy of the composed test stack (the tests change its files)."""
    shutil.copytree(STACK, tmp_path / "stack")
    return tmp_path / "stack"


def _mf(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.output


def _nodes(dep: str) -> dict[str, dict]:
    code, out = _mf("status", dep, "-f", "json")
    assert code == 0, out
    return {n["name"]: n for n in json.loads(out)["nodes"]}


def test_parts_expand_under_their_names_with_their_own_parameters(stack: Path):
    bp = load_blueprint(stack / "stack.yaml", {"counter": "/c"})
    assert {n for n in bp.nodes if n.startswith("alpha.server")} == {
        f"alpha.server[{i}].{s}" for i in (0, 1) for s in ("Installed", "Ready", "Deployed")}
    assert {n for n in bp.nodes if n.startswith("beta.server")} == {
        f"beta.server[0].{s}" for s in ("Installed", "Ready", "Deployed")}
    assert bp.scopes["alpha"].values["port"] == 5432 and bp.scopes["beta"].values["port"] == 6432
    # the part's own Deployed requires each of its targets; the gateway binding makes every
    # node of alpha require the state whose output it reads
    assert set(bp.nodes["alpha.Deployed"].requires) == {
        "alpha.server[0].Deployed", "alpha.server[1].Deployed", "alpha.monitor.Deployed"}
    assert "net.router.Up" in bp.nodes["alpha.server[0].Installed"].requires
    # scripts stay each file's own: the part's next to it, the type's next to its library
    assert set(bp.scripts) >= {"parts/network.yaml", "parts/db.yaml", "lib/members.yaml",
                               "parts/scripts/mark.sh", "lib/mark.sh"}
    assert bp.nodes["app.Joined"].action.origin == "mark.sh"  # from the type, in lib/


def test_a_composed_deployment_deploys_converges_per_part_and_rolls_back(stack: Path, home):
    counter = stack / "counter.txt"
    code, out = _mf("deploy", str(stack / "stack.yaml"), "--id", "s", "-p",
                    f"counter={counter}")
    assert code == 0, out
    effects = side_effects(counter)
    nodes = _nodes("s")
    actions = {n for n, rec in nodes.items() if rec["has_action"]}
    assert set(effects) == actions and len(actions) == 11
    assert all(c == {"start": 1, "end": 1} for c in effects.values()), effects
    # the app read both parts' exported outputs, the monitor its type's vars
    assert nodes["app.Deployed"]["outputs"] == {"role": "6432", "gateway": "", "port": 5432}
    assert nodes["beta.monitor.Joined"]["outputs"]["gateway"] == "10.0.0.1"

    # one status tree, parts nested
    code, out = _mf("status", "s")
    lines = [ln for ln in out.splitlines() if "│" in ln]
    labels = [ln.split("│")[1].rstrip() for ln in lines]
    assert labels[:3] == [" net", "   router", " alpha"], labels

    # converge: only alpha's port changes; net and beta are left alone
    counter.write_text("")
    code, out = _mf("deploy", str(stack / "stack.yaml"), "--id", "s", "-p",
                    f"counter={counter}", "-p", "alpha_port=7000")
    assert code == 0, out
    ran = set(side_effects(counter))
    assert ran == {"alpha.server[0].Installed", "alpha.server[1].Installed",
                   "alpha.server[0].Ready", "alpha.server[1].Ready", "app.Deployed"}

    # one rollback across parts: every undo once, dependents first
    counter.write_text("")
    code, out = _mf("rollback", "s")
    assert code == 0, out
    undone = [ln.split(" ")[1] for ln in counter.read_text().splitlines()]
    assert sorted(undone) == sorted(actions) and len(set(undone)) == len(undone)
    assert undone.index("app.Deployed") < undone.index("alpha.server[0].Installed")
    assert undone.index("alpha.server[0].Installed") < undone.index("net.router.Up")
    assert undone.index("beta.monitor.Joined") < undone.index("net.router.Up")


def test_a_resume_runs_the_parts_as_journaled_whatever_the_disk_holds(stack: Path, home):
    counter = stack / "counter.txt"
    code, out = _mf("deploy", str(stack / "stack.yaml"), "--id", "s", "-p",
                    f"counter={counter}", "-p", "fail=beta.server[0].Ready")
    assert code == 1, out
    # the part and its script change on disk; the deployment keeps what it started with
    db = stack / "parts" / "db.yaml"
    db.write_text(db.read_text().replace("Ready:", "Renamed:"))
    (stack / "parts" / "scripts" / "mark.sh").write_text("#!/bin/sh\nexit 9\n")
    code, out = _mf("resume", "s", "-p", f"counter={counter}", "-p", "fail=")
    assert code == 0, out
    assert side_effects(counter)["beta.server[0].Ready"] == {"start": 2, "end": 1}


def test_the_graph_has_a_cluster_per_part_and_plan_expand_shows_the_types(stack: Path):
    dot = StateGraph(load_blueprint(stack / "stack.yaml")).to_dot()
    for part in ("net", "alpha", "beta"):
        assert f'label="part {part}"; style=dashed;' in dot
    code, out = _mf("plan", str(stack / "stack.yaml"), "--expand", "-f", "json")
    assert code == 0, out
    data = json.loads(out)
    assert data["parts"]["beta"]["parameters"]["members"] == 1
    assert data["parts"]["alpha"]["parameters"]["gateway"].startswith("{{ outputs[")
    app = data["entities"]["app"]
    assert app["vars"] == {"gateway": "{{ outputs['net.router.Up'].gateway }}", "role": "app",
                           "counter": "{{ params.counter }}"}
    assert app["states"]["Joined"]["action"]["script"] == "mark.sh"  # laid out from the type
    assert app["states"]["Joined"]["requires"] == ["net.Deployed"]  # the entity's own key


def test_a_counted_part_has_a_member_per_index(tmp_path: Path):
    shutil.copytree(STACK / "parts", tmp_path / "parts")
    shutil.copytree(STACK / "lib", tmp_path / "lib")
    top = tmp_path / "many.yaml"
    top.write_text(textwrap.dedent("""\
        format: 1
        name: many
        parts:
          db:
            blueprint: parts/db.yaml
            count: 3
            parameters: {name: "db{{ index }}", port: "{{ 5000 + index }}", gateway: gw,
                         counter: /c, members: 1}
        entities:
          app:
            states:
              Deployed:
                requires: ["db[*].Deployed"]
                action:
                  inline: app
                  env:
                    PORTS: "{{ outputs['db[*].server[0].Ready'] | map(attribute='port') | join() }}"
        """))
    with pytest.raises(BlueprintError) as info:
        load_blueprint(top)
    assert "db[*].server[0].Ready" in str(info.value)  # a counted part's member is named
    top.write_text(top.read_text().replace(
        "{{ outputs['db[*].server[0].Ready'] | map(attribute='port') | join() }}",
        "{{ outputs['db[2].server[0].Ready'].port }}"))
    bp = load_blueprint(top)
    assert {bp.scopes[f"db[{i}]"].values["port"] for i in range(3)} == {5000, 5001, 5002}
    assert bp.nodes["app.Deployed"].requires == ("db[0].Deployed", "db[1].Deployed",
                                                 "db[2].Deployed")


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(textwrap.dedent(text))
    return tmp_path / next(iter(files))


def test_an_error_in_an_included_file_is_located_there_with_the_include_chain(tmp_path: Path):
    top = _tree(tmp_path, {
        "top.yaml": """\
            format: 1
            name: top
            parts:
              mid: {blueprint: mid/mid.yaml}
            """,
        "mid/mid.yaml": """\
            format: 1
            name: mid
            parts:
              leaf:
                blueprint: ../leaf.yaml
            """,
        "leaf.yaml": """\
            format: 1
            name: leaf
            entities:
              e:
                states:
                  Deployed: {requires: Nowhere}
            """,
    })
    with pytest.raises(BlueprintError) as info:
        load_blueprint(top)
    [problem] = info.value.diagnostics
    assert problem.file.endswith("leaf.yaml") and problem.line == 6
    assert "no state 'Nowhere'" in problem.message
    assert problem.chain == (f"{tmp_path}/mid/mid.yaml:5:16 (part 'leaf')",
                             f"{top}:4:20 (part 'mid')")
    code, out = _mf("validate", str(top))
    assert code == 2 and "included from" in out and f"{tmp_path}/leaf.yaml:6:" in out


def test_include_cycles_are_refused(tmp_path: Path):
    top = _tree(tmp_path, {
        "a.yaml": "format: 1\nname: a\nparts: {b: {blueprint: b.yaml}}\n",
        "b.yaml": "format: 1\nname: b\nparts: {a: {blueprint: a.yaml}}\n",
    })
    with pytest.raises(BlueprintError) as info:
        load_blueprint(top)
    assert "include cycle" in str(info.value) and "a.yaml -> " in str(info.value)


def test_a_journaled_blueprint_rebuilds_from_its_texts_alone(stack: Path):
    bp = load_blueprint(stack / "stack.yaml", {"counter": "/c"})
    shutil.rmtree(stack / "parts")
    again = parse_blueprint(bp.text, bp.path, {"counter": "/c"}, scripts=bp.scripts)
    assert again.digest == bp.digest and list(again.nodes) == list(bp.nodes)


def test_a_secret_passed_to_a_part_is_masked_in_what_plan_expand_shows(tmp_path: Path):
    top = _tree(tmp_path, {
        "top.yaml": """\
            format: 1
            name: top
            parameters:
              pw: {type: string, secret: true}
            parts:
              db:
                blueprint: db.yaml
                parameters: {password: "{{ params.pw }}", literal: Lit3ralSecret}
            """,
        "db.yaml": """\
            format: 1
            name: db
            parameters:
              password: {type: string, secret: true}
              literal: {type: string, secret: true}
            entities:
              e:
                states:
                  Deployed: {action: {inline: echo, env: {P: "{{ params.password }}"}}}
            """,
    })
    bp = load_blueprint(top, {"pw": "S3cretValue"})
    assert set(bp.secrets) == {"S3cretValue", "Lit3ralSecret"}
    code, out = _mf("plan", str(top), "-p", "pw=S3cretValue", "--expand")
    assert code == 0, out
    assert "S3cretValue" not in out and "Lit3ralSecret" not in out and "******" in out


def test_a_library_that_cannot_be_read_is_the_only_problem_reported(tmp_path: Path):
    top = _tree(tmp_path, {
        "top.yaml": """\
            format: 1
            name: top
            libraries: [lib.yaml]
            entities:
              web: {type: member}
            """,
        "lib.yaml": "format: 1\ntypes: {member: {states: {Deployed: {action: echo}}}\n",
    })
    with pytest.raises(BlueprintError) as info:
        load_blueprint(top)
    [problem] = info.value.diagnostics  # no "unknown entity type", no "no Deployed state"
    assert problem.file.endswith("lib.yaml") and "YAML syntax error" in problem.message


def test_a_secret_left_out_of_validate_does_not_fail_the_pattern_of_the_part_it_feeds(
        tmp_path: Path):
    top = _tree(tmp_path, {
        "top.yaml": """\
            format: 1
            name: top
            parameters:
              pw: {type: string, secret: true}
            parts:
              db:
                blueprint: db.yaml
                parameters: {password: "{{ params.pw }}", port: "{{ 5432 }}"}
            """,
        "db.yaml": """\
            format: 1
            name: db
            parameters:
              password: {type: string, secret: true, pattern: "(?=.*[0-9]).{12,}"}
              port: {type: integer, max: 1000}
            entities:
              e:
                states:
                  Deployed: {action: {inline: echo, env: {P: "{{ params.password }}"}}}
            """,
    })
    with pytest.raises(BlueprintError) as info:  # a value the part refuses is still refused
        load_blueprint(top)
    [problem] = info.value.diagnostics
    assert "parameter 'port' of part 'db'" in problem.message
    top.write_text(top.read_text().replace('port: "{{ 5432 }}"', "port: 543"))
    code, out = _mf("validate", str(top))  # the operator gives the secret at deploy
    assert code == 0 and "placeholders were used" in out, out
    code, out = _mf("validate", str(top), "-p", "pw=short")
    assert code == 2 and "parameter 'password' of part 'db'" in out, out
    with pytest.raises(BlueprintError) as info:  # deploy without it: said once, at the top
        load_blueprint(top, strict=True)
    [problem] = info.value.diagnostics
    assert "parameter 'pw' is required" in problem.message


def test_a_type_var_bound_to_an_output_binds_only_the_states_that_read_it(tmp_path: Path):
    top = _tree(tmp_path, {
        "top.yaml": """\
            format: 1
            name: top
            types:
              member:
                vars: {dns: {}}
                states:
                  Early: {action: echo early}
                  Pointed:
                    requires: Early
                    action: {inline: echo, env: {DNS: "{{ vars.dns }}"}}
                  Deployed: {requires: Pointed}
            entities:
              dc:
                states:
                  Up: {action: echo, outputs: [ip]}
                  Deployed: {requires: Up}
              node:
                type: member
                vars: {dns: "{{ outputs['dc.Up'].ip }}"}
                states:
                  Pointed: {requires: [Early, dc.Up]}
            """,
    })
    bp = load_blueprint(top)
    assert bp.nodes["node.Early"].requires == ()  # runs at once, beside dc.Up
    assert [r[0] for r in bp.nodes["node.Pointed"].output_refs] == ["dc.Up"]
