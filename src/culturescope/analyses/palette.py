"""Cultural Palette's evaluation (seed 001, §5.2 Task 2, Table 1): S_align between each method's
P_gen and the human answer shares, per item, averaged per country, per continent and overall."""

from __future__ import annotations

import numpy as np
import pandas as pd

from culturescope.analyses.preferences import compared
from culturescope.divergence import s_align
from culturescope.survey import Survey
from culturescope.systems.palette import METHODS

TABLE_ORDER = ("America", "Europe", "Asia", "Africa", "Oceania")  # as in Table 1


def s_align_title(js_as: str = "divergence") -> str:
    """The S_align table's title, naming the Jensen–Shannon reading it uses."""
    which = "eq. 5 as printed: 1 − JS divergence" if js_as == "divergence" else "1 − JS distance, as the text reads"
    return f"S_align ({which}; ×100, higher is closer to the human answer shares)"


def alignment_table(
    responses: pd.DataFrame, survey: Survey, cultures: list[str], js_as: str = "divergence"
) -> list[dict]:
    """One row per (backbone, method): mean S_align (``js_as``: see ``divergence.s_align``) per country,
    per continent (mean of its countries) and "Avg." over countries. Items without a distribution
    (no P_gen and no valid answer) are left out."""
    groups: dict[tuple[str, str], list] = {}
    for c in compared(responses[responses["system"].isin(METHODS)], survey, cultures):
        groups.setdefault((c.backbone, c.system), []).append(c)
    rows = []
    for (backbone, method), group in groups.items():
        per_country = {}
        for c in group:
            scores = s_align(c.model, c.human, js_as)
            per_country[c.culture] = float(np.nanmean(scores)) if np.isfinite(scores).any() else np.nan
        continent_of = {code: survey.culture(code).continent for code in per_country}
        row = {"backbone": backbone, "method": method}
        for continent in TABLE_ORDER:
            members = [v for code, v in per_country.items() if continent_of[code] == continent]
            if members:
                row[continent] = float(np.nanmean(members))
        row |= {code: per_country[code] for code in cultures if code in per_country}
        row["Avg."] = float(np.nanmean(list(per_country.values())))
        rows.append(row)
    order = {m: k for k, m in enumerate(METHODS)}
    return sorted(rows, key=lambda r: (r["backbone"], order[r["method"]]))
