"""From runs to the answer arrays the analyses take, and the diversity–alignment landscape (§5.1,
Fig. 1 and 7)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from culturescope.errors import CulturescopeError
from culturescope.methods.beyond_alignment.coverage import complete, majority_scored
from culturescope.methods.beyond_alignment.score import answer_matrix
from culturescope.metrics import agreement as metrics
from culturescope.survey import Mode, Survey


def system_answers(
    responses: pd.DataFrame,
    survey: Survey,
    cultures: list[str],
    mode: Mode = "faithful",
    round: int = 0,
    strict: bool = False,
) -> tuple[dict[str, np.ndarray], list[str]]:
    """Answer arrays (samples, cultures, items) per single-backbone system of a response table that is
    complete for ``cultures`` in ``round``, and one line for each system left out and why (see
    ``coverage.complete``; also those of which not one answer could be scored).

    Systems are named by backbone, with the answer mode added when a backbone has both modes.
    """
    coverage = complete(majority_scored(responses), survey, cultures, round, strict)
    table = coverage.table
    both = table.groupby("backbone")["mode"].nunique()
    systems, left_out = {}, list(coverage.left_out)
    for (backbone, answer_mode), group in table.groupby(["backbone", "mode"], sort=True):
        agents = [group.loc[group["culture"] == c, "agent"].iloc[0] for c in cultures]
        label = f"{backbone} [{answer_mode}]" if both[backbone] > 1 else str(backbone)
        X = np.stack([answer_matrix(s, survey, agents, mode) for _, s in group.groupby("sample")])
        if np.isfinite(X).any():
            systems[label] = X
        else:
            left_out.append(f"{label}{f' (round {round})' if round else ''}: no answer could be scored")
    if not systems:
        raise CulturescopeError(
            f"no system has scored answers for all of {', '.join(cultures)} in round {round}"
            + "".join(f"; {line}" for line in left_out[:5])
        )
    return systems, left_out


def select_systems(names: list[str], systems: dict[str, np.ndarray]) -> list[str]:
    """``names``, each checked to be one of ``systems``."""
    unknown = [n for n in names if n not in systems]
    if unknown:
        raise CulturescopeError(f"no system {unknown[0]!r}; the runs have: {', '.join(systems)}")
    return names


@dataclass(frozen=True)
class Landscape:
    """One point per single-backbone system (fractions; sample-averaged like ``evaluate``)."""

    labels: list[str]
    alignment: np.ndarray
    diversity_p: np.ndarray
    diversity_s: np.ndarray

    def pearson(self, which: str = "p") -> float:
        """Pearson r between Diversity (P or S) and Alignment across systems (NaN below 3)."""
        d = self.diversity_p if which == "p" else self.diversity_s
        return float(np.corrcoef(d, self.alignment)[0, 1]) if len(d) >= 3 else float("nan")


def landscape(systems: dict[str, np.ndarray], mu: np.ndarray, delta: np.ndarray) -> Landscape:
    rows = []
    for X in systems.values():
        per_sample = []
        for sample in X:
            D = metrics.pairwise_distances(sample, delta)
            per_sample.append((metrics.alignment(sample, mu, delta), metrics.diversity_p(D), metrics.diversity_s(D)))
        rows.append(np.mean(per_sample, axis=0))
    a, dp, ds = (np.array(col) for col in zip(*rows))
    return Landscape(list(systems), a, dp, ds)
