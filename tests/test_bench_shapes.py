"""The benchmark's shapes and floor are what they claim (the benchmark itself is `make bench`)."""

from __future__ import annotations

from bench import shapes as S
from bench.contenders import blueprint_text, floor, murano
from murano_flow.blueprint import parse_blueprint


def test_layered_shapes():
    sparse, full = S.layered(100), S.layered(100, full=True)
    assert sparse.size == full.size == 100
    assert all(len(p) == 2 for p in sparse.preds[10:]) and sparse.preds[:10] == [[]] * 10
    assert all(p == list(range((i // 10 - 1) * 10, i // 10 * 10))
               for i, p in enumerate(full.preds) if i >= 10)
    assert S.layered(100).preds == sparse.preds  # seeded: identical for every contender


def test_chain_fan_and_critical_path():
    assert S.chain(3).preds == [[], [0], [1]]
    fan = S.fan(4)
    assert fan.preds == [[], [0], [0], [0], [0], [1, 2, 3, 4]]
    shape = S.Shape("t", [[], [0], [0], [1, 2]], [0.1, 0.2, 0.5, 0.1])
    assert abs(shape.critical_path() - 0.7) < 1e-9


def test_shapes_round_trip_by_name():
    for shape in (S.layered(1000), S.layered(100, full=True), S.chain(20), S.fan(7),
                  S.makespan(30)):
        assert S.by_name(shape.name).preds == shape.preds


def test_blueprint_of_a_shape_has_the_same_graph():
    shape = S.layered(50)
    bp = parse_blueprint(blueprint_text(shape), "shape.yaml")
    for i, preds in enumerate(shape.preds):
        assert set(bp.nodes[f"n{i}.Deployed"].requires) == {f"n{p}.Deployed" for p in preds}


def test_floor_and_engine_complete_every_node():
    shape = S.makespan(20)
    assert floor(shape, 8)["wall"] >= shape.critical_path() * 0.99
    assert murano(S.layered(200), 4, "memory")["wall"] > 0
