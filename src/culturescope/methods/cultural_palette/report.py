"""The Cultural Palette part of the HTML report: Table 1 (S_align), a per-continent plot and
a draft-to-decision case (Table 5). Every string from a run is escaped."""

from __future__ import annotations

from html import escape

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from culturescope.methods.cultural_palette.agents import label
from culturescope.methods.cultural_palette.score import TABLE_ORDER, alignment_table, s_align_title, shown
from culturescope.methods.def_simulation.score import human_distributions
from culturescope.report import ReportOptions
from culturescope.report.html import figure, table
from culturescope.report.plotkit import series_color
from culturescope.survey import Survey


def _continent_figure(rows: list[dict]):
    """S_align per continent for every method (Table 1's continent columns); ± sd over repeats as error bars."""
    continents = [c for c in TABLE_ORDER if any(c in r for r in rows)]
    fig, ax = plt.subplots(figsize=(6.0, 3.0))
    width = 0.8 / max(len(rows), 1)
    for n, row in enumerate(rows):
        values = [row.get(c, np.nan) for c in continents]
        sd = row.get("sd", {})
        errors = [sd.get(c) if sd.get(c) is not None else 0.0 for c in continents]
        x = np.arange(len(continents)) + n * width
        ax.bar(x, values, width, yerr=errors if sd else None, color=series_color(n), label=row["method"])
    ax.set_xticks(np.arange(len(continents)) + width * (len(rows) - 1) / 2, continents)
    low = min(v for r in rows for c in continents if np.isfinite(v := r.get(c, np.nan)))
    ax.set_ylim(max(0, low - 5), 100)
    ax.set_ylabel("S_align (×100)")
    ax.legend(fontsize=6, frameon=False, ncol=2)
    fig.tight_layout()
    return fig


def _case(responses: pd.DataFrame, survey: Survey, item_id: str) -> str:
    rows = responses[(responses["system"] == "palette") & (responses["item"] == item_id)]
    if rows.empty:
        return ""
    row = rows.iloc[0]
    trace = row.trace if isinstance(row.trace, dict) else {}
    item = survey.item(item_id)
    gold = human_distributions(survey, row.culture, [item_id])[0][: len(item.options)]
    steps = [{"step": "Question", "text": f"{row.culture}: {item.question}"}]
    steps += [{"step": f"Draft · {c}", "text": d} for c, d in trace.get("drafts", {}).items()]
    steps += [{"step": "Regulate", "text": trace.get("memory", "")}, {"step": "Answer", "text": row.raw or ""}]
    steps.append({"step": "Gold distribution", "text": ", ".join(f"{v:.3f}" for v in gold)})
    if isinstance(row.probs, list):
        steps.append({"step": "P_gen", "text": ", ".join(f"{v:.3f}" for v in row.probs)})
    shown_as = label("palette", trace.get("meta"))
    return f"<h3>Case: {escape(item_id)} (Table 5), {escape(shown_as)}</h3>" + table(pd.DataFrame(steps))


def palette_parts(
    responses: pd.DataFrame, survey: Survey, cultures: list[str], case_item: str | None = None
) -> list[str]:
    """Table 1 with the default reading of S_align (eq. 5 as printed), which its title names."""
    rows = alignment_table(responses, survey, cultures)
    if not rows:
        return []
    parts = [
        f"<h2>Cultural Palette</h2><h3>{escape(s_align_title())} per country, continent and on average (Table 1)</h3>",
        table(pd.DataFrame(shown(rows)).astype(object).fillna("—")),
        figure(_continent_figure(rows), "S_align per continent and method (×100, higher is closer to the humans)"),
    ]
    asked = set(responses["item"].unique())
    first = next((i for i in survey.item_ids if i in asked), None)
    return parts + [_case(responses, survey, case_item or first)]


def report_parts(
    responses: pd.DataFrame, survey: Survey, cultures: list[str], options: ReportOptions
) -> tuple[list[str], list[str]]:
    return palette_parts(responses[responses["mode"] != "judge"], survey, cultures, options.case_item), []
