"""Alignment and diversity of a system of agents (Beyond-Alignment paper, eq. 1–5, Algorithms 1–2).

Inputs are arrays: ``X[agent, item]`` answer codes with NaN for a missing answer, ``mu[agent, item]``
each agent's cultural reference (majority answers, NaN where the culture has no data) and
``delta[item]`` = options − 1. Items with Δ = 0 carry no information and are skipped, as in the
reference implementation. Every function returns fractions in [0, 1]; multiply by 100 to report.
"""

from __future__ import annotations

import numpy as np


def _usable(X: np.ndarray, delta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Answers with missing entries zeroed, and the 0/1 mask of entries that count."""
    mask = np.isfinite(X) & (delta > 0)
    return np.where(mask, X, 0.0), mask.astype(float)


def pairwise_distances(X: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """Div(x_i, x_j) (eq. 3) for all agent pairs, over the items both agents answered.

    Returns an (N, N) matrix; NaN where two agents share no item (Algorithm 1 skips such pairs).
    Sums of squares come from matrix products, exact for integer codes.
    """
    X0, W = _usable(np.asarray(X, float), np.asarray(delta, float))
    sq = X0 * X0
    num = sq @ W.T + W @ sq.T - 2.0 * (X0 @ X0.T)
    den = (W * np.asarray(delta, float) ** 2) @ W.T
    with np.errstate(invalid="ignore", divide="ignore"):
        D = np.sqrt(np.clip(num, 0.0, None)) / np.sqrt(den)
    D[den == 0] = np.nan
    np.fill_diagonal(D, 0.0)
    return D


def diversity_p(D: np.ndarray) -> float:
    """Pairwise diversity (eq. 4): mean Div over agent pairs with a defined distance."""
    iu = np.triu_indices(D.shape[-1], 1)
    vals = D[iu]
    vals = vals[np.isfinite(vals)]
    return float(vals.mean()) if vals.size else float("nan")


def mst_weight(D: np.ndarray) -> np.ndarray:
    """Total weight of the minimum spanning tree of each complete graph in ``D[..., N, N]``.

    Prim's algorithm vectorized over the leading axes. Zero-weight edges are real edges here (two
    agents that answer identically are joined at distance 0); undefined (NaN) distances are absent
    edges, and a graph they disconnect has no spanning tree (NaN).
    """
    D = np.where(np.isfinite(D), D, np.inf)
    n, batch = D.shape[-1], D.shape[:-2]
    flat = D.reshape(-1, n, n)
    rows = np.arange(flat.shape[0])
    done = np.zeros((flat.shape[0], n), bool)
    done[:, 0] = True
    best = np.where(done, np.inf, flat[:, 0])  # distance of each node to the tree
    total = np.zeros(flat.shape[0])
    for _ in range(n - 1):
        j = best.argmin(axis=1)
        total += best[rows, j]
        done[rows, j] = True
        best = np.where(done, np.inf, np.minimum(best, flat[rows, j]))
    return np.where(np.isfinite(total), total, np.nan).reshape(batch)


def diversity_s(D: np.ndarray) -> float:
    """Structural diversity (eq. 5): MST weight over N − 1 (0 for fewer than two agents)."""
    n = D.shape[-1]
    return float(mst_weight(D) / (n - 1)) if n >= 2 else 0.0


def align_scores(X: np.ndarray, mu: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """Align(x_i, μ_i) (eq. 1) per agent, over the items with both an answer and a reference.

    NaN for an agent with no such item (the reference implementation leaves it out of the mean).
    """
    X = np.asarray(X, float)
    mu = np.asarray(mu, float)
    delta = np.asarray(delta, float)
    mask = np.isfinite(X) & np.isfinite(mu) & (delta > 0)
    diff = np.where(mask, X - mu, 0.0)
    den = (mask * delta**2).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, 1.0 - np.sqrt((diff**2).sum(axis=-1)) / np.sqrt(den), np.nan)


def alignment(X: np.ndarray, mu: np.ndarray, delta: np.ndarray) -> float:
    """Alignment(S) (eq. 2): mean Align over the agents that have one."""
    scores = align_scores(X, mu, delta)
    scores = scores[np.isfinite(scores)]
    return float(scores.mean()) if scores.size else float("nan")


def per_item_diversity(X: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """D_q (§5.1): mean |x_iq − x_jq| / Δ_q over agent pairs that both answered q; NaN below two."""
    X = np.asarray(X, float)
    delta = np.asarray(delta, float)
    n = X.shape[0]
    i, j = np.triu_indices(n, 1)
    gaps = np.abs(X[i] - X[j]) / np.where(delta > 0, delta, np.nan)
    with np.errstate(invalid="ignore"):
        counts = np.isfinite(gaps).sum(axis=0)
        return np.where(counts > 0, np.nansum(gaps, axis=0) / np.maximum(counts, 1), np.nan)


def per_item_alignment(X: np.ndarray, mu: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """A_q (§5.1): mean 1 − |x_iq − μ_iq| / Δ_q over agents with an answer and a reference."""
    delta = np.asarray(delta, float)
    sims = 1.0 - np.abs(np.asarray(X, float) - np.asarray(mu, float)) / np.where(delta > 0, delta, np.nan)
    counts = np.isfinite(sims).sum(axis=0)
    return np.where(counts > 0, np.nansum(sims, axis=0) / np.maximum(counts, 1), np.nan)
