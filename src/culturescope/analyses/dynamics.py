"""Exposure dynamics (Beyond-Alignment §6, Fig. 4, 5 and 8): scores per round, change against round 0,
and each agent's drift toward the group.

Drift of agent i in a round: Div (eq. 3) between its answers and the mean answer of the other agents,
over the items where both exist — how far it stands from the rest of the system.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from culturescope import metrics


@dataclass(frozen=True)
class Dynamics:
    rounds: np.ndarray
    alignment: np.ndarray  # per round (fractions)
    diversity_p: np.ndarray
    diversity_s: np.ndarray
    drift: np.ndarray  # (rounds, agents)

    @property
    def delta_d(self) -> np.ndarray:
        """Diversity_P change against round 0, per round."""
        return self.diversity_p - self.diversity_p[0]

    @property
    def delta_a(self) -> np.ndarray:
        return self.alignment - self.alignment[0]


def drift(X: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """Div between each agent's answers and the mean of the other agents' answers, per agent."""
    n = X.shape[0]
    out = np.full(n, np.nan)
    for i in range(n):
        others = np.delete(X, i, axis=0)
        with warnings.catch_warnings():  # an item none of the others answered: NaN, as intended
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nanmean(others, axis=0)
        out[i] = metrics.pairwise_distances(np.stack([X[i], mean]), delta)[0, 1]
    return out


def dynamics(per_round: list[np.ndarray], mu: np.ndarray, delta: np.ndarray) -> Dynamics:
    """``per_round[r]``: the (agents, items) answers of round r (first sample)."""
    rows = []
    for X in per_round:
        D = metrics.pairwise_distances(X, delta)
        rows.append((metrics.alignment(X, mu, delta), metrics.diversity_p(D), metrics.diversity_s(D)))
    a, dp, ds = (np.array(col) for col in zip(*rows))
    return Dynamics(np.arange(len(per_round)), a, dp, ds, np.stack([drift(X, delta) for X in per_round]))


def exposure_dynamics(responses, survey, cultures: list[str], mode: str = "faithful") -> dict[str, Dynamics]:
    """Dynamics of every system of the exposure responses in a response table (empty without any)."""
    from culturescope.analyses.landscape import system_answers
    from culturescope.systems.exposure import SYSTEM

    table = responses[responses["system"] == SYSTEM]
    if table.empty:
        return {}
    mu = survey.majority_matrix(cultures, mode)
    per_round = [
        system_answers(table, survey, cultures, mode, round=r)[0] for r in range(int(table["round"].max()) + 1)
    ]
    return {
        label: dynamics([systems[label][0] for systems in per_round], mu, survey.deltas)
        for label in per_round[0]
        if all(label in systems for systems in per_round)
    }
