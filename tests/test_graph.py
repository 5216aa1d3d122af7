"""Graph algorithms and the resolver: cycles, waves, ready sets in both directions."""

from __future__ import annotations

import random

from murano_flow.dag import ancestors, find_cycle, requires_transitively, successors, waves
from murano_flow.engine.resolver import Forward, Reverse
from murano_flow.graph.stategraph import StateGraph

#  0 <- 1 <- 3
#  0 <- 2 <- 3 ; 4 alone
PREDS = [[], [0], [0], [1, 2], []]


def test_waves_group_nodes_by_longest_chain():
    assert waves(PREDS) == [[0, 4], [1, 2], [3]]


def test_find_cycle_names_the_path():
    assert find_cycle(PREDS) is None
    cycle = find_cycle([[2], [0], [1]])
    assert cycle is not None and cycle[0] == cycle[-1] and len(cycle) == 4


def test_find_cycle_handles_deep_chains_without_recursion():
    n = 50_000
    chain = [[i + 1] if i + 1 < n else [] for i in range(n)]
    assert find_cycle(chain) is None
    chain[-1] = [0]
    assert len(find_cycle(chain)) == n + 1


def test_ancestors_and_transitive_requirement():
    assert ancestors([3], PREDS) == {0, 1, 2, 3}
    assert requires_transitively(3, 0, PREDS)
    assert not requires_transitively(0, 3, PREDS)


def test_forward_releases_a_node_only_when_all_requirements_are_met():
    fwd = Forward(PREDS, successors(PREDS), [False] * 5, [True] * 5)
    assert sorted(fwd.initial()) == [0, 4]
    assert sorted(fwd.completed(0)) == [1, 2]
    assert fwd.completed(1) == []
    assert fwd.completed(2) == [3]


def test_forward_skips_satisfied_nodes():
    satisfied = [True, True, False, False, True]
    fwd = Forward(PREDS, successors(PREDS), satisfied, [not s for s in satisfied])
    assert fwd.initial() == [2]
    assert fwd.completed(2) == [3]


def test_reverse_undoes_dependents_first():
    rev = Reverse(PREDS, successors(PREDS), [True, True, True, True, False])
    assert rev.initial() == [3]
    assert sorted(rev.completed(3)) == [1, 2]
    assert rev.completed(1) == []
    assert rev.completed(2) == [0]


def test_random_dags_forward_order_respects_every_edge():
    rng = random.Random(7)
    for _ in range(20):
        n = rng.randint(1, 200)
        preds = [rng.sample(range(i), min(i, rng.randint(0, 3))) for i in range(n)]
        fwd = Forward(preds, successors(preds), [False] * n, [True] * n)
        ready, order = list(fwd.initial()), []
        while ready:
            node = ready.pop(rng.randrange(len(ready)))
            order.append(node)
            ready.extend(fwd.completed(node))
        position = {node: k for k, node in enumerate(order)}
        assert len(order) == n
        assert all(position[p] < position[i] for i in range(n) for p in preds[i])


def test_state_graph_dot_has_clusters_and_edges(blueprint):
    bp = blueprint("""
        format: 1
        name: g
        entities:
          web:
            count: 2
            states:
              Installed: {action: echo}
              Deployed: {requires: Installed}
    """)
    dot = StateGraph(bp).to_dot()
    assert dot.startswith('digraph "g"') and 'label="web[1]"' in dot
    assert dot.count("->") == 2
