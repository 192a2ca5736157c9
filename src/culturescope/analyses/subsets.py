"""Culture composition and agent count (Beyond-Alignment §5.3, Fig. 3).

For one set of agents (a backbone answering many cultures, or the human reference), the distances
between all agents are computed once; a subset's Diversity_P and Diversity_S then only select from
them. Every k-subset of C cultures is evaluated (C(19, 5) = 11,628; all sizes 2..19: 524,268),
batched per size and chunked.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np

from culturescope import metrics

CHUNK = 1 << 15


@dataclass(frozen=True)
class Subsets:
    """Every k-subset (indices into the cultures) with its Diversity_P and Diversity_S."""

    k: int
    members: np.ndarray  # (S, k)
    diversity_p: np.ndarray
    diversity_s: np.ndarray


def subsets(D: np.ndarray, k: int, chunk: int = CHUNK) -> Subsets:
    """Diversity of every k-subset of the agents whose pairwise distances are ``D``."""
    members = np.array(list(combinations(range(D.shape[0]), k)), dtype=np.intp)
    iu, ju = np.triu_indices(k, 1)
    dp, ds = np.empty(len(members)), np.empty(len(members))
    for start in range(0, len(members), chunk):
        m = members[start : start + chunk]
        Dm = D[m[:, :, None], m[:, None, :]]
        dp[start : start + chunk] = Dm[:, iu, ju].mean(axis=1)
        ds[start : start + chunk] = metrics.mst_weight(Dm) / (k - 1)
    return Subsets(k, members, dp, ds)


@dataclass(frozen=True)
class MaxBySize:
    """Per agent count k: the maximum Diversity_P and Diversity_S over all k-subsets."""

    k: np.ndarray
    diversity_p: np.ndarray
    diversity_s: np.ndarray


def max_by_size(D: np.ndarray, ks: range | None = None) -> MaxBySize:
    rows = [(k, (s := subsets(D, k)).diversity_p.max(), s.diversity_s.max()) for k in (ks or range(2, D.shape[0] + 1))]
    k, dp, ds = (np.array(col) for col in zip(*rows))
    return MaxBySize(k, dp, ds)


@dataclass(frozen=True)
class AgentCount:
    """A system's and the human reference's maxima per k (§5.3, Fig. 3b)."""

    system: MaxBySize
    human: MaxBySize

    @property
    def k(self) -> np.ndarray:
        return self.system.k

    @property
    def gap_p(self) -> np.ndarray:
        """Relative difference from the human reference, (system − human) / human."""
        return (self.system.diversity_p - self.human.diversity_p) / self.human.diversity_p

    @property
    def gap_s(self) -> np.ndarray:
        return (self.system.diversity_s - self.human.diversity_s) / self.human.diversity_s
