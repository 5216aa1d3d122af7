"""Blueprint loading: expansion, references, parameters, expressions, targets."""

from __future__ import annotations

import pytest

from murano_flow.blueprint import parse_cli_params
from murano_flow.blueprint.expressions import render
from murano_flow.errors import BlueprintError, ExpressionError, UsageError

FARM = """
format: 1
name: farm
parameters:
  n: {type: integer, default: 3, min: 1, max: 5}
  title: {type: string, default: hi}
  pw: {type: string, secret: true}
entities:
  vm:
    count: "{{ params.n }}"
    host: {transport: local, name: "vm-{{ index }}"}
    states:
      Allocated:
        action: {inline: "echo", env: {PW: "{{ params.pw }}"}}
        outputs: [ip]
      Ready:
        requires: Allocated
        action:
          inline: echo
          env: {IP: "{{ outputs['Allocated'].ip }}"}
      ClusterCreated:
        requires: ["{% if index > 0 %}vm[0].ClusterCreated{% endif %}", Ready]
        action: {inline: echo, when: "{{ index == 0 }}"}
      Deployed:
        requires: [ClusterCreated, "vm[*].Ready"]
  lb:
    states:
      Deployed:
        requires: ["vm[*].Deployed"]
        action:
          inline: echo
          env: {BACKENDS: "{{ outputs['vm[*].Allocated'] | map(attribute='ip') | join(',') }}"}
        check: "exit 1"
        undo: "echo undo"
"""


def test_counted_entities_expand_into_indexed_nodes(blueprint):
    bp = blueprint(FARM, {"pw": "s3cret"})
    assert bp.counts == {"vm": 3, "lb": None}
    assert "vm[2].Allocated" in bp.nodes and "lb.Deployed" in bp.nodes
    assert bp.nodes["vm[1].Ready"].requires == ("vm[1].Allocated",)
    assert set(bp.nodes["vm[0].Deployed"].requires) == {
        "vm[0].ClusterCreated", "vm[0].Ready", "vm[1].Ready", "vm[2].Ready"}


def test_requires_templates_render_per_member_and_empty_ones_vanish(blueprint):
    bp = blueprint(FARM, {"pw": "x"})
    assert bp.nodes["vm[0].ClusterCreated"].requires == ("vm[0].Ready",)
    assert bp.nodes["vm[2].ClusterCreated"].requires == ("vm[0].ClusterCreated", "vm[2].Ready")


def test_when_false_turns_the_state_into_a_sync_point(blueprint):
    bp = blueprint(FARM, {"pw": "x"})
    assert bp.nodes["vm[0].ClusterCreated"].action is not None
    assert bp.nodes["vm[1].ClusterCreated"].action is None


def test_output_references_resolve_to_node_names(blueprint):
    bp = blueprint(FARM, {"pw": "x"})
    refs = {t: (names, many) for t, names, many in bp.nodes["lb.Deployed"].output_refs}
    assert refs["vm[*].Allocated"] == (("vm[0].Allocated", "vm[1].Allocated",
                                        "vm[2].Allocated"), True)
    own = {t: names for t, names, _ in bp.nodes["vm[1].Ready"].output_refs}
    assert own == {"Allocated": ("vm[1].Allocated",)}


def test_default_targets_are_every_deployed_state(blueprint):
    bp = blueprint(FARM, {"pw": "x", "n": 2})
    assert bp.targets == ("vm[0].Deployed", "vm[1].Deployed", "lb.Deployed")


def test_explicit_targets_prune_states_nobody_needs(blueprint):
    bp = blueprint(FARM.replace("entities:", "targets: ['vm[0].Ready']\nentities:"), {"pw": "x"})
    assert set(bp.nodes) == {"vm[0].Allocated", "vm[0].Ready"}


def test_parameters_are_typed_and_constrained(blueprint):
    bp = blueprint(FARM, {"n": "2", "pw": "x"})
    assert bp.values["n"] == 2 and bp.values["title"] == "hi"
    with pytest.raises(BlueprintError, match="above the maximum 5"):
        blueprint(FARM, {"n": "9", "pw": "x"})
    with pytest.raises(BlueprintError, match="expected an integer"):
        blueprint(FARM, {"n": "two", "pw": "x"})
    with pytest.raises(BlueprintError, match="parameter 'pw' is required"):
        blueprint(FARM)
    with pytest.raises(BlueprintError, match="did you mean 'title'"):
        blueprint(FARM, {"titel": "x", "pw": "x"})


def test_secrets_are_listed_for_masking(blueprint):
    assert blueprint(FARM, {"pw": "hunter2"}).secrets == ["hunter2"]


def test_script_files_are_read_relative_to_the_blueprint(blueprint):
    bp = blueprint("""
        format: 1
        name: s
        entities:
          a:
            states:
              Deployed:
                action: {script: scripts/go.ps1}
    """, files={"scripts/go.ps1": "Write-Output 1\n"})
    action = bp.nodes["a.Deployed"].action
    assert action.shell == "powershell" and action.body == "Write-Output 1\n"
    assert bp.scripts == {"scripts/go.ps1": "Write-Output 1\n"}


def test_digest_changes_with_script_content(write_blueprint):
    from murano_flow.blueprint import load_blueprint

    text = """
        format: 1
        name: s
        entities:
          a: {states: {Deployed: {action: {script: run.sh}}}}
    """
    first = load_blueprint(write_blueprint(text, files={"run.sh": "echo 1"}))
    second = load_blueprint(write_blueprint(text, files={"run.sh": "echo 2"}))
    assert first.digest != second.digest


def test_native_values_from_single_expressions():
    ctx = {"params": {"n": 2, "names": ["a", "b"]}}
    assert render("{{ params.n + 1 }}", ctx) == 3
    assert render("{{ params.names }}", ctx) == ["a", "b"]
    assert render("n={{ params.n }}", ctx) == "n=2"
    assert render({"k": ["{{ params.n }}"]}, ctx) == {"k": [2]}


def test_sandbox_refuses_unsafe_attribute_access():
    with pytest.raises(ExpressionError):
        render("{{ ''.__class__.__mro__[1].__subclasses__() }}", {})
    with pytest.raises(ExpressionError, match="undefined"):
        render("{{ nothing.here }}", {})


def test_cli_params_parse_name_value_pairs():
    assert parse_cli_params(["a=1", "b=x=y", "c="]) == {"a": "1", "b": "x=y", "c": ""}
    with pytest.raises(UsageError):
        parse_cli_params(["novalue"])


def test_a_forgotten_required_parameter_is_reported_as_missing_only(blueprint):
    text = """
    format: 1
    name: db
    parameters:
      db_port: {type: integer, default: 5432}
      db_password: {type: string, secret: true}
    entities:
      db:
        count: "{{ 1 if params.db_password else 1 }}"
        states:
          Deployed:
            action: {inline: echo, env: {PW: "{{ params.db_password }}"}}
    """
    with pytest.raises(BlueprintError) as caught:
        blueprint(text)
    messages = [d.message for d in caught.value.diagnostics]
    assert messages == ["parameter 'db_password' is required: pass -p db_password=VALUE or "
                        "--params-file"]


def test_validate_mode_uses_placeholders_for_missing_required(write_blueprint):
    from murano_flow.blueprint import load_blueprint

    bp = load_blueprint(write_blueprint(FARM))
    assert bp.assumed == ("pw",)


def test_reboot_needed_reaches_the_plan_as_reboot_if_asked():
    from murano_flow.blueprint import parse_blueprint
    from murano_flow.engine import plans

    bp = parse_blueprint("format: 1\nname: r\nentities:\n  dc:\n    states:\n      Deployed:\n"
                         "        action: echo\n        reboot: needed\n", "r.yaml")
    node = bp.nodes["dc.Deployed"]
    assert node.reboot_if_asked and not node.reboot
    ctx = plans.context(bp, node, "d", None)
    action = plans.plan(node, node.action, "action", 1, ctx)
    assert action.reboot_if_asked and not action.reboot
    assert not plans.plan(node, node.action, "check", 1, ctx).reboot_if_asked  # a probe never
    assert plans.plan(node, node.action, "undo", 1, ctx).reboot_if_asked  # an undo may ask
