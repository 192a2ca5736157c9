"""Distances between answer distributions (DEF §4.2.1, §5.2.1), vectorized over items.

Distributions are rows of an array ``(..., n)`` over answer codes 1..n; items with fewer options are
padded with zeros, which changes nothing below. All logarithms are natural except JS (base 2, so
JS lies in [0, 1]).
"""

from __future__ import annotations

import numpy as np

from culturescope.errors import CulturescopeError
from culturescope.metrics import DIVERGENCES, S_ALIGN_JS


def normalize(counts: np.ndarray) -> np.ndarray:
    """Rows scaled to sum 1; an all-zero row becomes NaN (no distribution)."""
    counts = np.asarray(counts, dtype=float)
    total = counts.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, counts / total, np.nan)


def _weighted_log_ratio(weights: np.ndarray, num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """Σ w · ln(num / den) over the last axis, with 0 · ln(·) = 0 and w > 0 over den = 0 giving +inf;
    NaN where a distribution is missing (a NaN row)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(weights > 0, weights * (np.log(num) - np.log(den)), 0.0)
    undefined = np.isnan(weights).any(axis=-1) | np.isnan(den).any(axis=-1)  # a missing distribution
    return np.where(undefined, np.nan, terms.sum(axis=-1))


def kl(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """KL(p ‖ q) = Σ p(i) ln(p(i) / q(i)): what the reference implementation computes
    (``scipy.stats.entropy(p_model, p_human)``); +inf where q(i) = 0 < p(i)."""
    return _weighted_log_ratio(p, p, q)


def kl_eq1(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Eq. 1 exactly as printed: Σ p(i) ln(P(i) / Q(i)), with P, Q the cumulative distributions.

    Read literally it weighs the log-ratio of the CDFs by the model's probabilities. It is 0 when
    p = q, but unlike KL it can be negative (when the model's mass sits where its CDF is below the
    human one), so it is offered for comparison only; the standard KL is the default."""
    return _weighted_log_ratio(p, np.cumsum(p, axis=-1), np.cumsum(q, axis=-1))


def js(p: np.ndarray, q: np.ndarray, bits: bool = True) -> np.ndarray:
    """Jensen–Shannon divergence ½ KL(p‖m) + ½ KL(q‖m), m = (p + q) / 2: in bits (in [0, 1]) or,
    with ``bits=False``, in nats (in [0, ln 2])."""
    m = (p + q) / 2
    nats = (_weighted_log_ratio(p, p, m) + _weighted_log_ratio(q, q, m)) / 2
    return nats / np.log(2) if bits else nats


def s_align(p_gen: np.ndarray, p_gold: np.ndarray, js_as: str = "divergence") -> np.ndarray:
    """Cultural Palette's alignment score (Cultural Palette, eq. 5): (1 − ½KL(P_gen‖M) − ½KL(P_gold‖M)) × 100,
    the KL in nats as written: identical distributions score 100, disjoint ones (1 − ln 2) × 100 = 30.69.
    The paper's text calls the measure the Jensen–Shannon *distance*; ``js_as="distance"`` takes the
    square root of the divergence (``scipy.spatial.distance.jensenshannon``), bound (1 − √ln 2) × 100 = 16.74."""
    if js_as not in S_ALIGN_JS:
        raise CulturescopeError(f"unknown Jensen–Shannon reading {js_as!r}; use {' or '.join(S_ALIGN_JS)}")
    value = js(p_gen, p_gold, bits=False)
    return (1 - (np.sqrt(np.maximum(value, 0)) if js_as == "distance" else value)) * 100  # rounding can make 0 negative


def check_divergence(name: str) -> None:
    """A clear error unless ``name`` is one of :data:`DIVERGENCES`."""
    if name not in DIVERGENCES:
        raise CulturescopeError(f"unknown divergence {name!r}; use {', '.join(DIVERGENCES)}")


def divergence(name: str, p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """The divergence called ``name`` (one of :data:`DIVERGENCES`)."""
    check_divergence(name)
    return {"kl": kl, "kl-eq1": kl_eq1, "js": js}[name](p, q)


def cap_infinite(values: np.ndarray) -> np.ndarray:
    """§4.2.1: an infinite divergence is recorded as the largest finite one + 1. As in the reference
    implementation, the maximum is over all the values given (one model on one survey), and an
    undefined value (NaN: the model gave no valid answer to the item) is recorded the same way. When
    no value is finite the rule has nothing to go by and all stay undefined (NaN)."""
    values = np.asarray(values, dtype=float)
    finite = values[np.isfinite(values)]
    cap = finite.max() + 1.0 if finite.size else np.nan  # nothing finite: the rule has no maximum
    return np.where(np.isfinite(values), values, cap)


def diversity_score(n_diff: int, n_ques: int, n_test: int) -> float:
    """Eq. 6: D = (n_diff − n_ques) / (n_test · n_ques), with n_diff the number of different
    responses summed over the questions; 0 when every test repeats one response per question."""
    return (n_diff - n_ques) / (n_test * n_ques)
