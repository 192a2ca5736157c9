"""The Beyond-Alignment paper's own numbers as reference points: its 18 single-backbone systems
(Table 1: Alignment, Diversity_P, Diversity_S ×100 for BRA, CHN, MEX, NGA, NZL) and the human
reference. They are shown beside a user's systems, marked as published, never mixed into their
scores. Provenance: ``data/published/PROVENANCE.md``.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

import numpy as np
import pandas as pd

#: The cultures the published points were scored on.
CULTURES = ["BRA", "CHN", "MEX", "NGA", "NZL"]


@cache
def _table() -> pd.DataFrame:
    return pd.read_csv(str(files(__package__) / "data" / "published" / "beyond_alignment_table1.csv"))


def published_systems() -> pd.DataFrame:
    """The 18 published single-backbone systems: backbone, family, alignment, diversity_p, diversity_s (×100)."""
    table = _table()
    return table[table["family"] != "human"].reset_index(drop=True)


def applies(cultures: list[str], mode: str = "faithful") -> bool:
    """Whether a score is comparable with the published points: the same five cultures, read faithfully."""
    return sorted(cultures) == CULTURES and mode == "faithful"


def landing(alignment: float, diversity_p: float, neighbours: int = 2) -> str:
    """Where a system (×100) lands among the published ones: its Diversity_P rank and range, and
    its nearest published systems in the (Diversity_P, Alignment) plane."""
    table = published_systems()
    d = table["diversity_p"].to_numpy()
    rank = int((d > diversity_p).sum()) + 1
    if np.isnan(alignment):
        dist = np.abs(d - diversity_p)
    else:
        dist = np.hypot(d - diversity_p, table["alignment"].to_numpy() - alignment)
    near = ", ".join(
        f"{table['backbone'][i]} ({table['alignment'][i]:.2f} / {d[i]:.2f})" for i in np.argsort(dist)[:neighbours]
    )
    return (
        f"Diversity_P {diversity_p:.2f} ranks {rank} of {len(table) + 1} beside the {len(table)} published backbones "
        f"({d.min():.2f}–{d.max():.2f}); nearest (Alignment / Diversity_P): {near}"
    )


def reading(label: str, alignment: float, diversity_p: float, human_diversity_p: float, published: bool) -> str:
    """One plain sentence on what a system's scores (×100) say: how much its cultural agents differ,
    against humans and (``published``: the scores are comparable) the paper's backbones."""
    if published:
        table = published_systems()
        d, a = table["diversity_p"], table["alignment"]
        span = (
            f"the paper's {len(table)} backbones score {d.min():.2f}–{d.max():.2f} and humans {human_diversity_p:.2f}"
        )
    else:
        span = f"humans score {human_diversity_p:.2f} on the same cultures and items"
    measured = f"(Diversity_P {diversity_p:.2f}, where {span})"
    if round(diversity_p, 2) == 0:
        same = f"{label} gives the same answer for every culture {measured}"
        return f"{same}, so this run checks the pipeline, not a culture."
    if not published:
        share = diversity_p / human_diversity_p
        return f"{label}'s agents differ from culture to culture {share:.0%} as much as the countries do {measured}."
    if diversity_p < d.min():
        verdict = "less than any of the paper's backbones"
    elif diversity_p > d.max():
        verdict = "more than any of the paper's backbones"
    else:
        verdict = f"about as much as the paper's backbones (rank {int((d > diversity_p).sum()) + 1} of {len(d) + 1})"
    where = "below" if alignment < a.min() else "above" if alignment > a.max() else "within"
    return (
        f"{label}'s agents differ from culture to culture {verdict} {measured}, and its Alignment "
        f"{alignment:.2f} is {where} their {a.min():.2f}–{a.max():.2f}."
    )
