"""Exposure dynamics (Beyond-Alignment §6, Fig. 4, 5 and 8): scores per round, change against round 0,
and each agent's drift toward the group.

Drift of agent i in a round: Div (eq. 3) between its answers and the mean answer of the other agents,
over the items where both exist — how far it stands from the rest of the system.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from culturescope.errors import CulturescopeError
from culturescope.metrics import agreement as metrics


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


def dynamics(per_round: dict[int, np.ndarray], mu: np.ndarray, delta: np.ndarray) -> Dynamics:
    """``per_round[r]``: the (agents, items) answers of round r (first sample); round 0 first."""
    rows = []
    for X in per_round.values():
        D = metrics.pairwise_distances(X, delta)
        rows.append((metrics.alignment(X, mu, delta), metrics.diversity_p(D), metrics.diversity_s(D)))
    a, dp, ds = (np.array(col) for col in zip(*rows))
    drifts = np.stack([drift(X, delta) for X in per_round.values()])
    return Dynamics(np.array(list(per_round)), a, dp, ds, drifts)


def exposure_dynamics(
    responses, survey, cultures: list[str], mode: str = "faithful", strict: bool = False
) -> tuple[dict[str, Dynamics], list[str]]:
    """Dynamics of every exposure system over the rounds it has (ΔD, ΔA against its own round 0),
    and one line for each round or system left out (a system without a scored round 0 is left out)."""
    from culturescope.methods.beyond_alignment.analyses.landscape import system_answers
    from culturescope.methods.beyond_alignment.exposure import SYSTEM

    table = responses[responses["system"] == SYSTEM]
    if table.empty:
        return {}, []
    mu = survey.majority_matrix(cultures, mode)
    per_label: dict[str, dict[int, np.ndarray]] = {}
    left_out = []
    all_rounds = sorted(int(r) for r in table["round"].unique())
    for r in all_rounds:
        try:
            systems, gaps = system_answers(table[table["round"] == r], survey, cultures, mode, round=r, strict=strict)
        except CulturescopeError as exc:
            if strict:
                raise
            systems, gaps = {}, [f"round {r}: {exc}"]
        left_out += gaps
        for label, X in systems.items():
            per_label.setdefault(label, {})[r] = X[0]
    out = {}
    for label, rounds in per_label.items():
        if 0 not in rounds:
            left_out.append(f"{label}: no scored round 0, so no change to measure")
            continue
        out[label] = dynamics(rounds, mu, survey.deltas)
        lacking = [r for r in all_rounds if r not in rounds]
        if lacking:
            left_out.append(f"{label}: scored in round(s) {_span(list(rounds))} only, not {_span(lacking)}")
    return out, left_out


def _span(rounds: list[int]) -> str:
    """1, 2, 3, 5 → '1–3, 5'."""
    parts, start = [], rounds[0]
    for i, r in enumerate(rounds):
        if i + 1 == len(rounds) or rounds[i + 1] != r + 1:
            parts.append(f"{start}–{r}" if r > start else str(r))
            start = rounds[i + 1] if i + 1 < len(rounds) else r
    return ", ".join(parts)


def round_one_change(result: dict[str, Dynamics]) -> tuple[float, list[str]] | None:
    """The paper's Fig. 4 statistic: mean round-1 ΔD_P over the systems that have every round from 0
    to the last round any system has (the paper's six backbones with rounds 0–5); None without any."""
    last = max((int(d.rounds.max()) for d in result.values()), default=0)
    full = [label for label, d in result.items() if last >= 1 and list(d.rounds) == list(range(last + 1))]
    if not full:
        return None
    return float(np.mean([result[label].delta_d[1] for label in full])), full
