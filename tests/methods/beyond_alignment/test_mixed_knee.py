"""The mixed-backbone highlights, the balanced knee above all, against a brute-force route: every
assignment enumerated with itertools, scored by loops, frontiers by an O(n²) dominance check."""

import itertools
import math

import numpy as np
import pytest

from culturescope.methods.beyond_alignment.analyses.mixed import mixed_backbones
from helpers.loop_metrics import as_dicts, loop_diversity


def loop_alignment(S: np.ndarray, mu: np.ndarray, delta: np.ndarray) -> float:
    """Eq. 1–2 one agent and one item at a time: agents without a scored item are left out."""
    scores = []
    for x, m in zip(S, mu):
        sq = mx = 0.0
        for k in range(len(delta)):
            if x[k] == x[k] and m[k] == m[k] and delta[k] > 0:
                sq += (x[k] - m[k]) ** 2
                mx += delta[k] ** 2
        if mx:
            scores.append(1 - math.sqrt(sq) / math.sqrt(mx))
    return sum(scores) / len(scores)


def brute_force(X, mu, delta):
    B, N, _ = X.shape
    d, s, a = [], [], []
    for combo in itertools.product(range(B), repeat=N):
        S = np.stack([X[b, i] for i, b in enumerate(combo)])
        dp, ds = loop_diversity(as_dicts(S), list(delta))
        d.append(dp), s.append(ds), a.append(loop_alignment(S, mu, delta))
    return d, s, a


def frontier(points: list[int], d, a) -> list[int]:
    """Undominated points, exact duplicates once (the lowest index)."""
    kept, seen = [], set()
    for i in points:
        beaten = any(d[j] >= d[i] and a[j] >= a[i] and (d[j] > d[i] or a[j] > a[i]) for j in points)
        if not beaten and (d[i], a[i]) not in seen:
            kept.append(i)
            seen.add((d[i], a[i]))
    return kept


def knee(points: list[int], d, a) -> int:
    """Nearest to (1, 1) after min–max scaling over all assignments; ties: higher Alignment."""
    lo_d, hi_d, lo_a, hi_a = min(d), max(d), min(a), max(a)

    def dist(i):
        return math.hypot(1 - (d[i] - lo_d) / (hi_d - lo_d), 1 - (a[i] - lo_a) / (hi_a - lo_a))

    return min(points, key=lambda i: (round(dist(i), 12), -a[i]))


def random_system(rng, B, N, K):
    delta = rng.integers(1, 10, K).astype(float)
    delta[0] = 0.0  # an item without information, skipped everywhere
    X = np.stack([[rng.integers(1, delta.astype(int) + 2) for _ in range(N)] for _ in range(B)]).astype(float)
    X[rng.random(X.shape) < 0.1] = np.nan
    X[:, :, 1] = rng.integers(1, 3, (B, N))  # every pair shares an item
    mu = rng.integers(1, delta.astype(int) + 2, size=(N, K)).astype(float)
    mu[rng.random(mu.shape) < 0.1] = np.nan
    return X, mu, delta


@pytest.mark.parametrize("B, N, seed", [(3, 3, 0), (4, 2, 1), (2, 4, 2), (5, 3, 3), (3, 4, 4)])
def test_every_assignment_and_the_knee_match_brute_force(B, N, seed):
    X, mu, delta = random_system(np.random.default_rng(seed), B, N, K=20)
    r = mixed_backbones(X, mu, delta, [f"b{b}" for b in range(B)], [f"c{i}" for i in range(N)], chunk=B)
    d, s, a = brute_force(X, mu, delta)
    np.testing.assert_allclose(r.diversity_p, d, atol=1e-12)
    np.testing.assert_allclose(r.diversity_s, s, atol=1e-12)
    np.testing.assert_allclose(r.alignment, a, atol=1e-12)

    everything = list(range(B**N))
    singles = [b * sum(B**p for p in range(N)) for b in range(B)]
    front, single_front = frontier(everything, d, a), frontier(singles, d, a)
    assert sorted(r.frontier) == sorted(front)
    assert sorted(singles[b] for b in r.single_frontier) == sorted(single_front)

    h = {x.name: x for x in r.highlights}
    mixed_knee, single_knee = knee(front, d, a), knee(single_front, d, a)
    assert (h["balanced"].config, r.single[h["balanced"].reference]) == (mixed_knee, single_knee)
    assert h["balanced"].delta_d == pytest.approx(d[mixed_knee] - d[single_knee], abs=1e-12)
    assert h["balanced"].delta_a == pytest.approx(a[mixed_knee] - a[single_knee], abs=1e-12)
    best_a = max(everything, key=lambda m: (a[m], d[m], -m))
    assert h["alignment-optimal"].config == best_a
    assert h["alignment-optimal"].delta_a == pytest.approx(a[best_a] - max(a[t] for t in singles))
    best_d = max(everything, key=lambda m: (d[m], a[m], -m))
    assert h["diversity-optimal"].config == best_d
    assert h["diversity-optimal"].delta_d == pytest.approx(d[best_d] - max(d[t] for t in singles))


def test_knee_by_hand():
    # One item with four options (Δ = 3): Div = |x − y| / 3, Align = 1 − |x − μ| / 3.
    # Humans: slot 0 answers 1, slot 1 answers 2. Backbone answers (slot 0, slot 1):
    # b0 (1, 2), b1 (2, 4), b2 (4, 1). Assignment (x, y) has D = |p_x − q_y| / 3 and
    # A = (Align_x,0 + Align_y,1) / 2, e.g. (b0, b1): D = 3/3 = 1, A = (1 + 1/3) / 2 = 2/3.
    X = np.array([[[1], [2]], [[2], [4]], [[4], [1]]], float)
    mu, delta = np.array([[1.0], [2.0]]), np.array([3.0])
    r = mixed_backbones(X, mu, delta, ["b0", "b1", "b2"], ["s0", "s1"])
    third = 1 / 3
    np.testing.assert_allclose(r.diversity_p, [third, 1, 0, 0, 2 * third, third, 2 * third, 0, 1])
    np.testing.assert_allclose(r.alignment, [1, 2 / 3, 5 / 6, 5 / 6, 1 / 2, 2 / 3, 1 / 2, 1 / 6, 1 / 3])
    # Mixed frontier: (1/3, 1) and (1, 2/3). Scaled by D ∈ [0, 1], A ∈ [1/6, 1]: (1/3, 1) and
    # (1, 3/5), squared distances to (1, 1) 4/9 and 4/25: the knee is (b0, b1).
    # Singles b0 (1/3, 1), b1 (2/3, 1/2), b2 (1, 1/3) are all on their frontier; scaled, squared
    # distances 4/9, 1/9 + 9/25 = 0.471, 16/25: the single knee is b0.
    assert sorted(r.frontier) == [0, 1] and sorted(r.single_frontier) == [0, 1, 2]
    bal = {h.name: h for h in r.highlights}["balanced"]
    assert (r.assignment(bal.config), bal.reference) == (["b0", "b1"], 0)
    assert (bal.delta_d, bal.delta_a) == pytest.approx((2 / 3, -1 / 3))
    # The two ends: highest Alignment is b0 alone (Δ 0 against itself); highest Diversity_P is
    # (b0, b1) and (b2, b2), the tie going to the higher Alignment, against b2 (1, 1/3).
    h = {x.name: x for x in r.highlights}
    assert (h["alignment-optimal"].config, h["alignment-optimal"].delta_a) == (0, 0)
    assert h["diversity-optimal"].config == 1 and h["diversity-optimal"].reference == 2
    assert (h["diversity-optimal"].delta_d, h["diversity-optimal"].delta_a) == pytest.approx((0, 1 / 3))
