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
