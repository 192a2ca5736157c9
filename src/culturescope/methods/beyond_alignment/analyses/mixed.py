"""Mixed backbones (Beyond-Alignment §5.2, Fig. 2): every assignment of B backbones to N culture slots.

Assignment ``m`` gives slot ``i`` backbone ``digit_i(m)`` in base B, the first slot most significant,
so the B**N assignments are the cells of a grid with one axis per slot (C order); the B
single-backbone systems are the cells with all digits equal.

Pairwise distances between all B·N (backbone, culture) answer vectors are computed once. Diversity_P
and Alignment are means of per-slot-pair and per-slot terms, accumulated over the whole grid by
broadcasting small tables. Diversity_S runs Prim's algorithm over slabs of the grid (the first slots
fixed, the last ones free), every edge of a slab a broadcast of one pair table, the slab's trees at
once; it keeps its own Prim (node axes first, whole-row operations) rather than the generic
``metrics.mst_weight``, over twice as slow here.

Highlighted configurations (the paper's three green stars):

- alignment-optimal: the assignment with the highest Alignment (ties: higher Diversity_P), against
  the single-backbone system with the highest Alignment;
- diversity-optimal: the highest Diversity_P (ties: higher Alignment), against the single-backbone
  system with the highest Diversity_P;
- balanced: the knee of the frontier of all assignments against the knee of the single-backbone
  frontier, as the reference implementation picks them: Diversity_P and Alignment are scaled to
  [0, 1] by their minimum and maximum over all B**N assignments (both frontiers on the same scale),
  and a frontier's knee is its point nearest (Euclidean) to (1, 1); the first in order of
  decreasing Alignment on a tie.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations, product

import numpy as np

from culturescope.errors import CulturescopeError
from culturescope.metrics import agreement as metrics

BINS = 1 << 12  # Alignment bins of the frontier's coarse pass
CHUNK = 1 << 13  # assignments per slab of the MST pass: small slabs stay in cache (measured on 2 cores)


@dataclass(frozen=True)
class Highlight:
    name: str
    config: int
    reference: int  # the single-backbone backbone index it is compared with
    delta_d: float  # Diversity_P difference (fraction)
    delta_a: float  # Alignment difference (fraction)


@dataclass(frozen=True)
class MixedResult:
    backbones: list[str]
    cultures: list[str]
    diversity_p: np.ndarray  # (B**N,)
    diversity_s: np.ndarray
    alignment: np.ndarray
    frontier: np.ndarray  # indices of the Pareto frontier of all assignments (Diversity_P, Alignment)
    single_frontier: np.ndarray  # backbone indices of the frontier of single-backbone systems
    highlights: list[Highlight]

    @property
    def single(self) -> np.ndarray:
        """Assignment index of each backbone's single-backbone system."""
        return single_configs(len(self.backbones), len(self.cultures))

    def assignment(self, config: int) -> list[str]:
        B, N = len(self.backbones), len(self.cultures)
        return [self.backbones[(config // B ** (N - 1 - i)) % B] for i in range(N)]


def single_configs(B: int, N: int) -> np.ndarray:
    """Assignment index of each backbone's single-backbone system (all digits equal)."""
    return np.arange(B) * sum(B**p for p in range(N))


def digits(configs: np.ndarray, B: int, N: int) -> np.ndarray:
    """(M, N) backbone index per slot of each assignment."""
    powers = B ** np.arange(N - 1, -1, -1)
    return (configs[:, None] // powers) % B


def pareto_front(d: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Indices of the points no other point beats on both axes (maximize both), by decreasing
    Alignment; exact duplicates appear once, points with an undefined value not at all.

    A coarse pass drops the points beaten on Diversity by a point of a higher Alignment bin (so of a
    strictly higher Alignment); on the few left, in order of decreasing Alignment, a frontier point
    must beat the Diversity of every point before it, and one sort by both keys settles ties.
    """
    points = np.flatnonzero(np.isfinite(d) & np.isfinite(a))
    if len(points) > BINS:
        dd, aa = d[points], a[points]
        lo, hi = aa.min(), aa.max()
        if hi > lo:
            b = np.minimum(((aa - lo) * (BINS / (hi - lo))).astype(np.intp), BINS - 1)
            top = np.full(BINS + 1, -np.inf)
            np.maximum.at(top, b, dd)
            above = np.maximum.accumulate(top[::-1])[::-1][1:]  # best Diversity in the bins above each
            points = points[dd >= above[b]]
    order = points[np.lexsort((-d[points], -a[points]))]
    best = np.maximum.accumulate(d[order])
    keep = np.concatenate(([True], d[order][1:] > best[:-1]))[: len(order)]
    return order[keep]


def knee(d: np.ndarray, a: np.ndarray, points: np.ndarray, scale: tuple[np.ndarray, np.ndarray]) -> int:
    """The point of ``points`` nearest (Euclidean) to (1, 1) once Diversity and Alignment are scaled
    by ``scale`` = ((d_min, a_min), (d_max, a_max)); an axis without spread scales to 0."""
    lo, hi = scale
    span = np.where(hi > lo, hi - lo, np.inf)
    dn, an = (d[points] - lo[0]) / span[0], (a[points] - lo[1]) / span[1]
    return int(points[np.argmin((1 - dn) ** 2 + (1 - an) ** 2)])


def _grid_sum(table: np.ndarray) -> np.ndarray:
    """For every cell (b_0, ..., b_{N-1}) of the grid, flattened: the sum over slots of ``T[b_i, i]``
    for a slot table ``T`` (2-D), or over slot pairs i < j of ``T[b_i, i, b_j, j]`` for a pair table (4-D).

    Built slot by slot: the sums over slots 0..k are those over 0..k−1, broadcast, plus the terms
    that involve slot k, themselves built a slot at a time, so only the last additions of each step
    run over the grid of that step.
    """
    B, N = table.shape[:2]
    pairs = table.ndim == 4
    total = np.zeros(B) if pairs else table[:, 0].copy()
    for k in range(1, N):
        if pairs:
            new = table[:, 0, :, k]  # over (b_0, b_k), then (b_0, b_1, b_k), ...
            for i in range(1, k):
                new = new[..., None, :] + table[:, i, :, k].reshape((1,) * i + (B, B))
        else:
            new = table[:, k]
        total = total[..., None] + new
    return total.reshape(-1)


def _grid_mean(table: np.ndarray) -> np.ndarray:
    """Like :func:`_grid_sum`, the mean over the terms that are defined (NaN ones are left out)."""
    defined = np.isfinite(table)
    total = _grid_sum(np.where(defined, table, 0.0))
    if defined.all():
        N = table.shape[1]
        return total / (N * (N - 1) // 2 if table.ndim == 4 else N)
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / _grid_sum(defined.astype(float))


def _mst_grid(P: np.ndarray, chunk: int) -> np.ndarray:
    """MST weight of every grid cell; ``P[b, i, c, j]``: distance of (backbone b, slot i) to (c, j).

    A slab fixes the first ``N − r`` slots and spans the last ``r`` (``B**r`` ≤ ``chunk`` cells): each
    edge of the slab's graphs is a broadcast of one pair table into ``Dm[i, j, cells]`` (the edges
    among the free slots once for all slabs), and Prim's algorithm runs on all its cells at once.
    Undefined distances are absent edges, as in ``metrics.mst_weight``.
    """
    B, N = P.shape[0], P.shape[1]
    P = np.where(np.isfinite(P), P, np.inf)
    r = max(1, min(N, int(np.log(max(chunk, B)) / np.log(B) + 1e-9)))
    lead, cells = N - r, B**r
    out = np.empty(B**N)
    Dm = np.empty((N, N) + (B,) * r)
    Dm[np.arange(N), np.arange(N)] = np.nan  # see _prim

    def edges(pairs, fixed=()):
        for i, j in pairs:
            t = P[:, i, :, j]
            t = t[fixed[i]] if i < lead else t
            t = t[..., fixed[j]] if j < lead else t
            shape = [1] * r
            for s in (i, j):
                if s >= lead:
                    shape[s - lead] = B
            Dm[i, j] = Dm[j, i] = t.reshape(shape)

    pairs = list(combinations(range(N), 2))
    edges([(i, j) for i, j in pairs if i >= lead])
    for n, fixed in enumerate(product(range(B), repeat=lead)):
        edges([(i, j) for i, j in pairs if i < lead], fixed)
        out[n * cells : (n + 1) * cells] = _prim(Dm.reshape(N, N, cells))
    return np.where(np.isfinite(out), out, np.nan)


def _prim(D: np.ndarray) -> np.ndarray:
    """Total MST weight of each graph ``D[:, :, g]`` (node axes first, NaN on the diagonal), Prim's
    algorithm from node 0.

    A node's distance to the tree becomes NaN when it joins (``min`` with its NaN diagonal entry) and
    stays NaN, so it is never chosen again; the nearest node is found by a running comparison over
    the node rows and its distances gathered from the flat array: whole-row operations only.
    """
    N, cells = D.shape[0], D.shape[2]
    flat = D.reshape(-1)
    cols = (np.arange(N) * cells)[:, None] + np.arange(cells)  # flat offset of D[0, v, g]
    key = D[0].copy()  # distance of each node to the tree
    total = np.zeros(cells)
    for _ in range(N - 1):
        nearest, u = np.full(cells, np.inf), np.zeros(cells, np.intp)
        for v in range(1, N):
            closer = key[v] < nearest
            nearest = np.where(closer, key[v], nearest)
            u = np.where(closer, v, u)
        total += nearest
        np.minimum(key, flat.take((u * (N * cells)) + cols), out=key)
    return total


def mixed_backbones(
    X: np.ndarray, mu: np.ndarray, delta: np.ndarray, backbones: list[str], cultures: list[str], chunk: int = CHUNK
) -> MixedResult:
    """All B**N assignments. ``X[b, i, k]``: backbone b's answers for culture slot i; ``mu[i, k]``."""
    B, N, K = X.shape
    if N < 2:
        raise CulturescopeError("the mixed analysis needs at least two cultures")
    P = metrics.pairwise_distances(X.reshape(B * N, K), delta).reshape(B, N, B, N)
    align = np.stack([metrics.align_scores(X[b], mu, delta) for b in range(B)])  # (B, N)
    dp = _grid_mean(P)
    al = _grid_mean(align)
    ds = _mst_grid(P, chunk) / (N - 1)
    single = single_configs(B, N)
    frontier = pareto_front(dp, al)
    single_frontier = pareto_front(dp[single], al[single])
    return MixedResult(
        backbones,
        cultures,
        dp,
        ds,
        al,
        frontier,
        single_frontier,
        _highlights(dp, al, frontier, single, single_frontier),
    )


def _best(primary: np.ndarray, secondary: np.ndarray) -> int:
    """The index of the highest ``primary``, ties broken by the higher ``secondary``, then the lower index."""
    tied = np.flatnonzero(primary == np.nanmax(primary))
    return int(tied[np.argmax(secondary[tied])])


def _highlights(
    d: np.ndarray, a: np.ndarray, frontier: np.ndarray, single: np.ndarray, single_frontier: np.ndarray
) -> list[Highlight]:
    def versus(name: str, config: int, ref: int) -> Highlight:
        return Highlight(name, config, ref, float(d[config] - d[single[ref]]), float(a[config] - a[single[ref]]))

    scale = (np.array([np.nanmin(d), np.nanmin(a)]), np.array([np.nanmax(d), np.nanmax(a)]))
    return [
        versus("alignment-optimal", _best(a, d), int(np.nanargmax(a[single]))),
        versus("diversity-optimal", _best(d, a), int(np.nanargmax(d[single]))),
        versus("balanced", knee(d, a, frontier, scale), knee(d[single], a[single], single_frontier, scale)),
    ]
