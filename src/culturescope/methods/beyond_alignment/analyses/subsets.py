"""Culture composition and agent count (Beyond-Alignment §5.3, Fig. 3).

A system is analysed over every culture it answered (the paper: all 19), not only the cultures every
system shares. For one set of agents (a backbone answering many cultures, or the human reference),
the distances between all agents are computed once; a subset's Diversity_P and Diversity_S then only
select from them. Every k-subset of C cultures is evaluated (C(19, 5) = 11,628; all sizes 2..19:
524,268), batched per size and chunked.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd

from culturescope.errors import CulturescopeError
from culturescope.methods.beyond_alignment.analyses.landscape import system_answers
from culturescope.methods.beyond_alignment.coverage import majority_scored
from culturescope.metrics import agreement as metrics
from culturescope.survey import Mode, Survey

CHUNK = 1 << 15


def own_cultures(responses: pd.DataFrame, survey: Survey) -> dict[str, tuple[pd.DataFrame, list[str]]]:
    """Per single-backbone system, named as ``system_answers`` names it: its round-0 survey answers
    and every culture it answered."""
    table = responses[(responses["round"] == 0) & (responses["mode"] != "judge")]
    table = majority_scored(table)
    table = table[table["item"].isin(survey.item_ids) & table["culture"].isin([c.code for c in survey.cultures])]
    both = table.groupby("backbone")["mode"].nunique()
    return {
        (f"{b} [{m}]" if both[b] > 1 else str(b)): (rows, sorted(rows["culture"].unique()))
        for (b, m), rows in table.groupby(["backbone", "mode"], sort=True)
    }


def culture_distances(rows: pd.DataFrame, survey: Survey, cultures: list[str], mode: Mode = "faithful"):
    """The distances between one system's culture agents (first sample; ``rows``: its answers, as
    ``own_cultures`` gives them) and between the humans of the same cultures."""
    systems, _ = system_answers(rows, survey, cultures, mode)
    (X,) = systems.values()
    return (
        metrics.pairwise_distances(X[0], survey.deltas),
        metrics.pairwise_distances(survey.majority_matrix(cultures, mode), survey.deltas),
    )


@dataclass(frozen=True)
class Subsets:
    """Every k-subset (indices into the cultures) with its Diversity_P and Diversity_S."""

    k: int
    members: np.ndarray  # (S, k)
    diversity_p: np.ndarray
    diversity_s: np.ndarray

    def best(self, which: str = "p") -> int:
        """The index of the most diverse subset (subsets with an undefined diversity are skipped)."""
        values = getattr(self, f"diversity_{which}")
        if not np.isfinite(values).any():
            raise CulturescopeError(f"no {self.k}-subset has a defined diversity (agents share no item)")
        return int(np.nanargmax(values))


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
    """Per agent count k: the maximum Diversity_P and Diversity_S over all k-subsets, and the subset
    with the largest Diversity_P (the first in lexicographic order on a tie)."""

    k: np.ndarray
    diversity_p: np.ndarray
    diversity_s: np.ndarray
    best_p: list[np.ndarray]


def max_by_size(D: np.ndarray, ks: range | None = None) -> MaxBySize:
    rows = []
    for k in ks or range(2, D.shape[0] + 1):
        s = subsets(D, k)
        best = s.best("p")
        rows.append((k, s.diversity_p[best], s.diversity_s[s.best("s")], s.members[best]))
    k, dp, ds, members = zip(*rows)
    return MaxBySize(np.array(k), np.array(dp), np.array(ds), list(members))


@dataclass(frozen=True)
class AgentCount:
    """A system's and the human reference's maxima per k (§5.3, Fig. 3b)."""

    system: MaxBySize
    human: MaxBySize

    @property
    def k(self) -> np.ndarray:
        return self.system.k

    def gap(self, which: str = "p", relative: bool = False) -> np.ndarray:
        """System maximum − human maximum per k (Diversity_P or _S, fractions); ``relative``: divided
        by the human maximum, the "relative difference" of the paper's text."""
        system, human = getattr(self.system, f"diversity_{which}"), getattr(self.human, f"diversity_{which}")
        return (system - human) / human if relative else system - human
