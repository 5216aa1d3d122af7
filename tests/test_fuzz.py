"""Fuzzing the blueprint loader: whatever the input, a BlueprintError or a Blueprint."""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from murano_flow.blueprint import parse_blueprint
from murano_flow.errors import BlueprintError

VALID = """\
format: 1
name: fuzz
parameters:
  n: {type: integer, default: 2, min: 0, max: 4}
entities:
  web:
    count: "{{ params.n }}"
    states:
      Installed: {action: {inline: echo, env: {I: "{{ index }}"}}, outputs: [url]}
      Deployed: {requires: Installed}
  lb:
    states:
      Deployed:
        requires: ["web[*].Installed"]
        action:
          inline: echo
          env: {B: "{{ outputs['web[*].Installed'] | map(attribute='url') | join(',') }}"}
"""

scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=True),
                    st.text(max_size=12),
                    st.sampled_from(["Deployed", "web[*].Installed", "{{ params.n }}", "{{",
                                     "local", "ssh", "5m", "web[9].X", "a..b", "{% if %}"]))
keys = st.one_of(st.sampled_from(["format", "name", "entities", "states", "requires", "action",
                                  "inline", "script", "count", "host", "parameters", "type",
                                  "default", "env", "outputs", "undo", "check", "targets"]),
                 st.text(max_size=8))
documents = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=5)), max_leaves=30)


def _load(text: str) -> None:
    try:
        parse_blueprint(text, "fuzz.yaml")
    except BlueprintError as exc:
        assert exc.diagnostics, "a BlueprintError must carry diagnostics"
        for d in exc.diagnostics:
            assert d.file == "fuzz.yaml" and d.line >= 0 and d.message


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
def test_random_text_never_crashes(text: str) -> None:
    _load(text)


@settings(max_examples=300, deadline=None)
@given(documents)
def test_random_structures_never_crash(doc: object) -> None:
    _load(yaml.safe_dump(doc))


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(VALID) - 1), st.integers(0, 40), st.text(max_size=6))
def test_mutations_of_a_valid_blueprint_never_crash(at: int, cut: int, insert: str) -> None:
    _load(VALID[:at] + insert + VALID[at + cut:])


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["format", "name", "entities", "parameters", "targets"]),
                       documents, max_size=5))
def test_structured_top_levels_never_crash(doc: dict[str, object]) -> None:
    base = yaml.safe_load(VALID)
    base.update(doc)
    _load(yaml.safe_dump(base))
