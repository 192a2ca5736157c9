"""Straightforward loop implementations of Algorithms 1 and 2 (pure Python, one pair at a time).

The test oracle for the vectorized metrics and the baseline of benchmarks/metrics.py.
Answers are dicts {item index: code}; delta is a list.
"""

import math
from itertools import combinations


def loop_distance(x: dict, y: dict, delta: list) -> float | None:
    sq = mx = 0.0
    for k in x.keys() & y.keys():
        if delta[k] == 0:
            continue
        sq += (x[k] - y[k]) ** 2
        mx += delta[k] ** 2
    return math.sqrt(sq) / math.sqrt(mx) if mx else None


def loop_diversity(answers: list[dict], delta: list) -> tuple[float, float]:
    """(Diversity_P, Diversity_S) with Kruskal's MST over every defined edge, zero weights included."""
    edges = []
    for i, j in combinations(range(len(answers)), 2):
        d = loop_distance(answers[i], answers[j], delta)
        if d is not None:
            edges.append((d, i, j))
    parent = list(range(len(answers)))

    def root(a):
        while parent[a] != a:
            a = parent[a]
        return a

    tree = []
    for d, i, j in sorted(edges):
        ri, rj = root(i), root(j)
        if ri != rj:
            parent[ri] = rj
            tree.append(d)
    dp = sum(d for d, _, _ in edges) / len(edges)
    ds = sum(tree) / (len(answers) - 1) if len(tree) == len(answers) - 1 else float("nan")
    return dp, ds


def as_dicts(X) -> list[dict]:
    """Answer matrix rows (NaN = missing) as {item: code} dicts."""
    return [{k: float(v) for k, v in enumerate(row) if v == v} for row in X]
