"""The survey-simulation part of the HTML report (DEF): Table 1, the divergence heatmap, the
cultural variation map, one item's distributions with example responses and their steps, bias
profiles and the insensitivity judge. Every string from a run is escaped."""

from __future__ import annotations

import json
from html import escape

import pandas as pd

from culturescope.methods.def_simulation import figures as plots
from culturescope.methods.def_simulation.judging import insensitivity
from culturescope.methods.def_simulation.profiles import GroupShares, system_profile
from culturescope.methods.def_simulation.respondents import baselines_decoded
from culturescope.methods.def_simulation.score import compared, score_compared, survey_dimensions, table1
from culturescope.methods.def_simulation.variation import subject_scores, variation_map
from culturescope.report import ReportOptions
from culturescope.report.html import figure, table
from culturescope.survey import Survey


def _table1(prefs) -> str:
    rows = table1(prefs)
    dims = [
        k for k in rows[0] if k not in ("backbone", "system", "culture", "n_test", "valid %", "Diversity %", "Avg.")
    ]
    frame = pd.DataFrame(rows).rename(columns={d: plots.short(d) for d in dims}).astype(object)
    legend = "; ".join(f"{plots.short(d)} = {d}" for d in dims if plots.short(d) != d)
    return table(frame.where(frame.notna(), "—")) + (f"<p>{escape(legend)}</p>" if legend else "")


def _case(responses: pd.DataFrame, survey: Survey, comps, item_id: str) -> list[str]:
    """Fig. 4 for one item, and one respondent's response (with its steps) per system."""
    item = survey.item(item_id)
    dists = {
        f"{c.backbone} · {c.system} · {c.culture}": c.model[c.item_ids.index(item_id)]
        for c in comps
        if item_id in c.item_ids
    }
    human = {c.culture: c.human[c.item_ids.index(item_id)] for c in comps if item_id in c.item_ids}
    if not human:
        return []
    parts = [
        f"<h3>Case: {escape(item_id)}</h3><p>{escape(item.question)}</p>",
        figure(plots.distribution_figure(item.options, dists, human), f"Fig. 4: answer distributions on {item_id}"),
    ]
    first = responses[responses["item"] == item_id].groupby(["backbone", "system", "culture"], sort=True).head(1)
    rows = [
        {
            "system": f"{r.backbone} · {r.system}",
            "respondent": r.agent,
            "answer": "" if pd.isna(r.answer) else int(r.answer),
            "response": r.raw or "",
            "respondent / steps": json.dumps(r.trace, ensure_ascii=False) if isinstance(r.trace, dict) else "",
        }
        for r in first.itertuples()
    ]
    return parts + [table(pd.DataFrame(rows))]


def simulation_parts(
    responses: pd.DataFrame,
    judged: pd.DataFrame,
    survey: Survey,
    cultures: list[str],
    groups: GroupShares | None = None,
    case_item: str | None = None,
) -> list[str]:
    """The HTML sections for simulated responses (systems of ``simulate``) and judge verdicts."""
    parts = ["<h2>Survey simulation (DEF)</h2>"]
    comps = compared(responses, survey, cultures)
    prefs = score_compared(comps, "kl", survey_dimensions(survey))
    if prefs:
        decoded = baselines_decoded(responses)
        parts += [
            "<h3>Diversity and KL divergence per value dimension (Table 1)</h3>",
            f"<p>Baseline decoding: {escape(decoded)}.</p>" if decoded else "",
            _table1(prefs),
            figure(plots.divergence_figure(prefs, "kl"), "Tables 1–2 as a heatmap: KL(model ‖ human), lower is closer"),
        ]
    subjects = subject_scores(comps, survey, survey_dimensions(survey))
    if len(subjects.labels) >= 3 and len(subjects.dimensions) >= 2:
        parts.append(
            figure(
                plots.variation_figure(subjects, variation_map(subjects.scores)),
                f"Fig. 7: cultural variation map over {len(subjects.dimensions)} value dimensions",
            )
        )
        if subjects.dropped:
            left_out = escape(", ".join(subjects.dropped))
            parts.append(f"<p>Left out of the map (no valid answer on some dimension): {left_out}.</p>")
    asked = set(responses["item"].unique())
    items = [i for i in survey.item_ids if i in asked]
    if case_item or items:
        parts += _case(responses, survey, comps, case_item or items[0])
    parts.append("<h3>Preference-bias profiles</h3>")
    profiles = {}
    for c in comps:
        if groups and c.culture in groups:
            found = system_profile(c, survey, groups[c.culture])
            profiles[f"{c.backbone} · {c.system} · {c.culture}"] = found.shares
    if profiles:
        parts.append(figure(plots.profile_figure(profiles), "Figs. 11–12: groups answering like each system"))
    else:
        parts.append(
            "<p>No demographic split of the human answers is available for these cultures (the shipped WVS-7 "
            "data are country aggregates); give one with <code>--groups</code> (see docs/simulation.md).</p>"
        )
    parts.append("<h3>Insensitivity (judge)</h3>")
    rows = insensitivity(judged) if not judged.empty else []
    if rows:
        parts += [
            table(pd.DataFrame(rows)),
            figure(plots.insensitivity_figure(rows), "Fig. 9: problems found by the judge"),
        ]
    else:
        parts.append(
            "<p>No judge verdicts in these runs; make them with <code>culturescope simulate judge RUN</code>.</p>"
        )
    return parts


def report_parts(
    responses: pd.DataFrame, survey: Survey, cultures: list[str], options: ReportOptions
) -> tuple[list[str], list[str]]:
    """The simulation's sections: its systems' answers and the judge's verdicts (rows of mode judge)."""
    judged = responses["mode"] == "judge"
    parts = simulation_parts(responses[~judged], responses[judged], survey, cultures, options.groups, options.case_item)
    return parts, []
