"""Cultural Palette's evaluation (Cultural Palette, §5.2 Task 2, Table 1): S_align between each method's
P_gen and the human answer shares, per item, averaged per country, per continent and overall."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from culturescope.methods.cultural_palette.agents import METHODS, label
from culturescope.methods.def_simulation.score import compared, mode_labelled
from culturescope.metrics.distribution import s_align
from culturescope.survey import Survey

TABLE_ORDER = ("America", "Europe", "Asia", "Africa", "Oceania")  # as in Table 1


def labelled(responses: pd.DataFrame) -> pd.DataFrame:
    """The palette's rows with ``system`` = the method as shown: the meta agent a stage-3 method's
    trace records is part of its name ("palette (meta = Cultural MoErges)"), and a constrained or stated
    answer mode too ("palette [stated]")."""
    rows = responses[responses["system"].isin(METHODS)].copy()
    traces = rows["trace"] if "trace" in rows else [None] * len(rows)
    metas = [t.get("meta") if isinstance(t, dict) else None for t in traces]
    rows["method"] = rows["system"]
    rows["system"] = [label(m, meta) for m, meta in zip(rows["system"], metas)]
    if not rows.empty:
        rows["system"] = mode_labelled(rows)  # constrained and stated decisions: their own rows
    return rows


def s_align_title(js_as: str = "divergence") -> str:
    """The S_align table's title, naming the Jensen–Shannon reading it uses."""
    which = "eq. 5 as printed: 1 − JS divergence" if js_as == "divergence" else "1 − JS distance, as the text reads"
    return f"S_align ({which}; ×100, higher is closer to the human answer shares)"


def alignment_table(
    responses: pd.DataFrame, survey: Survey, cultures: list[str], js_as: str = "divergence"
) -> list[dict]:
    """One row per (backbone, method as shown): mean S_align (``js_as``: see ``divergence.s_align``)
    per country, per continent (mean of its countries) and "Avg." over countries. Items without a
    distribution (no P_gen and no valid answer) are left out. A method run several times (``sample`` =
    the repeat) shows the mean over repeats, with ``repeats``, ``sd`` (the sample standard deviation
    per column) and ``per_repeat`` (the values)."""
    rows = labelled(responses)
    method_of = dict(zip(rows["system"], rows["method"]))
    by_repeat: dict[tuple[str, str], dict[int, dict]] = {}
    for repeat, part in rows.groupby("sample", sort=True):
        for c in compared(part, survey, cultures):
            scores = s_align(c.model, c.human, js_as)
            value = float(np.nanmean(scores)) if np.isfinite(scores).any() else np.nan
            by_repeat.setdefault((c.backbone, c.system), {}).setdefault(int(repeat), {})[c.culture] = value
    table = []
    for (backbone, shown), repeats in by_repeat.items():
        columns = [_columns(per_country, survey, cultures) for per_country in repeats.values()]
        names = list(dict.fromkeys(k for cols in columns for k in cols))
        values = np.array([[cols.get(k, np.nan) for k in names] for cols in columns])  # repeats × columns
        row = {"backbone": backbone, "method": shown}
        with warnings.catch_warnings():  # a column no repeat has stays NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            row |= dict(zip(names, np.nanmean(values, axis=0).tolist()))
            if len(columns) > 1:
                sd = np.nanstd(values, axis=0, ddof=1)
                row |= {
                    "repeats": len(columns),
                    "sd": dict(zip(names, _nulls(sd))),
                    "per_repeat": {k: _nulls(values[:, j]) for j, k in enumerate(names)},
                }
        table.append(row)
    order = {m: k for k, m in enumerate(METHODS)}
    return sorted(table, key=lambda r: (r["backbone"], order[method_of[r["method"]]], r["method"]))


def _columns(per_country: dict[str, float], survey: Survey, cultures: list[str]) -> dict[str, float]:
    """Table 1's columns of one run: continents (mean of their countries), countries, "Avg."."""
    continent_of = {code: survey.culture(code).continent for code in per_country}
    out = {}
    for continent in TABLE_ORDER:
        members = [v for code, v in per_country.items() if continent_of[code] == continent]
        if members:
            out[continent] = float(np.nanmean(members))
    out |= {code: per_country[code] for code in cultures if code in per_country}
    out["Avg."] = float(np.nanmean(list(per_country.values())))
    return out


def _nulls(values) -> list[float | None]:
    return [None if not np.isfinite(v) else float(v) for v in values]


def shown(rows: list[dict]) -> list[dict]:
    """The table as people read it: every row with the same columns (None where a method has no value)
    and, for repeated methods, "mean ± sd" in each cell."""
    skip = {"sd", "per_repeat", "repeats"}
    names = list(dict.fromkeys(k for r in rows for k in r if k not in skip))
    out = []
    for r in rows:
        sd = r.get("sd", {})
        cells = {}
        for k in names:
            v = r.get(k)
            if isinstance(v, float) and not np.isfinite(v):
                v = None
            elif k in sd and v is not None:
                v = f"{v:.2f} ± {sd[k]:.2f}" if sd[k] is not None else f"{v:.2f}"
            cells[k] = v
        if any("repeats" in x for x in rows):
            cells["repeats"] = r.get("repeats", 1)
        out.append(cells)
    return out


def scores(responses: pd.DataFrame, survey: Survey, cultures: list[str] | None = None) -> pd.DataFrame:
    """Long scores of Table 1: S_align (eq. 5 as printed) of every method per country, per continent
    and on average ("Avg."), in the ``culture`` column; ``system`` is the method as shown."""
    chosen = cultures or sorted(responses["culture"].unique())
    rows = []
    for row in alignment_table(responses[responses["mode"] != "judge"], survey, chosen):
        for column, value in row.items():
            if column not in ("backbone", "method", "repeats", "sd", "per_repeat"):
                rows.append([row["method"], row["backbone"], "", 0, column, "s_align", value])
    return pd.DataFrame(rows, columns=["system", "backbone", "mode", "round", "culture", "metric", "value"])
