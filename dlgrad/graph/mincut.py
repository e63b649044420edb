"""The cheapest set of values to store: a minimum vertex cut, by bytes, through a graph of nodes
(what a loop's forward step keeps for its adjoint, graph/ops/loop.py)."""
from __future__ import annotations


def cheapest_cut(region: dict, fixed: list, reads: list) -> list:
    """The nodes of `region` to store, fewest bytes first: a minimum vertex cut between the
    nodes that cannot be recomputed (`fixed`) and those the backward step reads, found as a
    maximum flow (each node split into in -> out with its size as capacity). Of the minimum
    cuts it takes the one nearest the fixed nodes (least recomputation is not the aim: bytes are)."""
    if not fixed:
        return []
    infinite = 1 + sum(n.size for n in region.values())
    capacity: dict = {}

    def edge(a, b, c):
        capacity.setdefault(a, {})[b] = capacity.get(a, {}).get(b, 0) + c
        capacity.setdefault(b, {}).setdefault(a, 0)
    for key, node in region.items():
        edge(("in", key), ("out", key), node.size)
        for i in node.inputs:
            if id(i) in region:
                edge(("out", id(i)), ("in", key), infinite)
    for node in fixed:
        edge("source", ("in", id(node)), infinite)
    for node in reads:
        edge(("out", id(node)), "sink", infinite)
    while True:   # Edmonds-Karp: shortest augmenting paths
        parent, queue = {"source": None}, [("source")]
        for at in queue:
            for nxt, c in capacity[at].items():
                if c > 0 and nxt not in parent:
                    parent[nxt] = at
                    queue.append(nxt)
        if "sink" not in parent:
            break
        path, at = [], "sink"
        while parent[at] is not None:
            path.append((parent[at], at))
            at = parent[at]
        push = min(capacity[a][b] for a, b in path)
        for a, b in path:
            capacity[a][b] -= push
            capacity[b][a] += push
    reached = set(parent)
    return [node for key, node in region.items() if ("in", key) in reached and ("out", key) not in reached]
