"""Bootstrap confidence intervals (beyond the paper) for Alignment, Diversity_P, Diversity_S and the
system − human diversity gaps.

Items are resampled with replacement; a resample is a weight per item (how often it was drawn), so
every weighted sum of squares for every pair of agents and every replicate is one matrix product.
System and human reference share the resampled items (a paired bootstrap), so the gap's interval
accounts for their correlation. With several samples per agent, each replicate also draws one of
its samples for every agent.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from culturescope.metrics import agreement as metrics


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float


def _weighted_scores(X: np.ndarray, mu: np.ndarray, delta: np.ndarray, W: np.ndarray):
    """Per replicate (rows of the item weights W): Alignment, Diversity_P, Diversity_S.

    ``X`` is (R, N, K): the answer matrix each replicate uses (R = 1 broadcasts)."""
    R, N, K = W.shape[0], X.shape[-2], X.shape[-1]
    X = np.broadcast_to(X, (R, N, K))
    ok = np.isfinite(X) & (delta > 0)
    Xz = np.where(ok, X, 0.0)
    d2 = delta**2
    i, j = np.triu_indices(N, 1)
    both = ok[:, i] & ok[:, j]  # (R, P, K)
    num = np.einsum("rk,rpk->rp", W, np.where(both, (Xz[:, i] - Xz[:, j]) ** 2, 0.0))
    den = np.einsum("rk,rpk->rp", W, both * d2)
    with np.errstate(invalid="ignore", divide="ignore"):
        pair = np.where(den > 0, np.sqrt(num) / np.sqrt(den), np.nan)
    D = np.zeros((R, N, N))
    D[:, i, j] = D[:, j, i] = pair
    has_mu = ok & np.isfinite(mu)
    anum = np.einsum("rk,rnk->rn", W, np.where(has_mu, (Xz - np.nan_to_num(mu)) ** 2, 0.0))
    aden = np.einsum("rk,rnk->rn", W, has_mu * d2)
    with np.errstate(invalid="ignore", divide="ignore"):
        align = np.where(aden > 0, 1 - np.sqrt(anum) / np.sqrt(aden), np.nan)
    with warnings.catch_warnings():  # a replicate may hold no scorable pair: NaN, as intended
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(align, axis=1), np.nanmean(pair, axis=1), metrics.mst_weight(D) / (N - 1)


def bootstrap(
    samples: np.ndarray,
    mu: np.ndarray,
    delta: np.ndarray,
    human: np.ndarray,
    replicates: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, Interval]:
    """Percentile intervals. ``samples``: (S, N, K) answer matrices (S samples per agent; S = 1
    for one answer each); ``human``: (N, K) majority answers of the same cultures."""
    rng = np.random.default_rng(seed)
    S, N, K = samples.shape
    W = rng.multinomial(K, np.full(K, 1 / K), size=replicates).astype(float)
    drawn = samples[rng.integers(0, S, size=(replicates, N)), np.arange(N)]  # (R, N, K)
    a, dp, ds = _weighted_scores(drawn, mu, delta, W)
    _, hp, hs = _weighted_scores(human[None], human, delta, W)
    point_a, point_p, point_s = (float(np.mean(v)) for v in _weighted_scores(samples, mu, delta, np.ones((S, K))))
    _, human_p, human_s = (float(v[0]) for v in _weighted_scores(human[None], human, delta, np.ones((1, K))))
    tail = 100 * (1 - level) / 2

    def interval(point: float, reps: np.ndarray) -> Interval:
        low, high = np.nanpercentile(reps, [tail, 100 - tail])
        return Interval(point, float(low), float(high))

    return {
        "alignment": interval(point_a, a),
        "diversity_p": interval(point_p, dp),
        "diversity_s": interval(point_s, ds),
        "gap_p": interval(point_p - human_p, dp - hp),
        "gap_s": interval(point_s - human_s, ds - hs),
    }
