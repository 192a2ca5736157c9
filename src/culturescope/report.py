"""A self-contained HTML report of one or more runs: scores with confidence intervals, the paper's
figures (embedded PNGs), parse failures with examples, and the run manifests.

Every string that comes from a run (model text, backbone names, manifests) is HTML-escaped.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from html import escape
from math import comb
from pathlib import Path

import numpy as np
import pandas as pd

from culturescope import __version__, metrics, plots
from culturescope.analyses.dynamics import exposure_dynamics
from culturescope.analyses.landscape import landscape, select_systems, system_answers
from culturescope.analyses.mixed import mixed_backbones
from culturescope.analyses.profiles import GroupShares
from culturescope.analyses.subsets import AgentCount, culture_distances, max_by_size, own_cultures, subsets
from culturescope.analyses.uncertainty import bootstrap
from culturescope.evaluate import read_answers, usable
from culturescope.htmlparts import figure as _figure
from culturescope.htmlparts import table as _table
from culturescope.palette_report import palette_parts
from culturescope.published import applies, landing, published_systems
from culturescope.simulation_report import simulation_parts
from culturescope.store import Run
from culturescope.survey import Mode, Survey, budgeting_projects
from culturescope.systems.palette import METHODS as PALETTE_METHODS
from culturescope.systems.simulation import DISTRIBUTION_SYSTEMS
from culturescope.tasks import budgeting

MAX_ASSIGNMENTS = 5_000_000  # above this the mixed-backbone figure is left out of the report

CSS = """body{font:14px/1.45 system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f3f3f3}td.t{text-align:left}pre{background:#f7f7f7;padding:8px;overflow:auto;font-size:12px}
figure{display:inline-block;margin:.5em;vertical-align:top}img{max-width:520px}figcaption{font-size:12px;color:#555;max-width:520px}"""


def _budgeting_figures(responses: pd.DataFrame) -> list[str]:
    """Fig. 6: approval shares per category for every (backbone, culture set) that voted."""
    ballots = responses[responses["system"] == budgeting.SYSTEM]
    if ballots.empty:
        return []
    projects = budgeting_projects()
    ids = {p["id"] for p in projects}
    per_system, rows = {}, []
    for (run, backbone), group in ballots.groupby(["run", "backbone"]):
        label = f"{backbone}: {','.join(sorted(group['culture'].unique()))}"
        summary = budgeting.summarize([budgeting.parse_ballot(raw, ids) for raw in group["raw"]], projects)
        per_system[label] = summary.by_category
        rows.append(
            {
                "system": label,
                "valid ballots": f"{summary.ballots}/{len(group)}",
                "coverage": f"{summary.coverage}/{len(projects)}",
                "normalized entropy": summary.entropy,
            }
        )
    if not any(sum(v.values()) for v in per_system.values()):
        return [_table(pd.DataFrame(rows))]
    return [
        _figure(plots.budgeting_figure(per_system), "Fig. 6: participatory budgeting, approvals per category"),
        _table(pd.DataFrame(rows)),
    ]


def _culture_figures(responses: pd.DataFrame, survey: Survey, labels: list[str], mode: Mode) -> list[str]:
    """Fig. 3a and 3b over every culture each system answered (the paper: all 19), not only the
    report's cultures: one pair of figures per culture set, each with the humans of that set."""
    own = own_cultures(responses, survey)
    groups: dict[tuple[str, ...], list[str]] = {}
    for label in labels:
        if label in own and len(own[label][1]) >= 3:
            groups.setdefault(tuple(own[label][1]), []).append(label)
    figs = []
    for cultures, members in sorted(groups.items(), key=lambda g: -len(g[0])):
        distances = {label: culture_distances(own[label][0], survey, list(cultures), mode) for label in members}
        D_h = next(iter(distances.values()))[1]
        C, k = len(cultures), min(5, len(cultures) - 1)
        which = f"the {C} cultures {', '.join(cultures)} answered by {', '.join(members)} (first sample)"
        figs.append(
            _figure(
                plots.subsets_figure({lab: subsets(D, k) for lab, (D, _) in distances.items()}, subsets(D_h, k), C),
                f"Fig. 3a: Diversity_P of all {comb(C, k):,} {k}-culture subsets of {which}, sorted ascending",
            )
        )
        human_max = max_by_size(D_h)
        counts = {label: AgentCount(max_by_size(D), human_max) for label, (D, _) in distances.items()}
        figs.append(
            _figure(
                plots.agent_count_figure(counts),
                f"Fig. 3b: system max − human max of Diversity_P over all k-subsets (points), k = 2..{C}, of {which}",
            )
        )
    return figs


def _alignment_parts(
    responses: pd.DataFrame,
    survey: Survey,
    cultures: list[str],
    mode: Mode,
    replicates: int,
    per_item: list[str] | None,
    strict: bool = False,
) -> tuple[list[str], list[str]]:
    """Scores with intervals and the Beyond-Alignment figures; and the systems left out."""
    systems, empty = system_answers(responses, survey, cultures, mode, strict=strict)
    if per_item:
        select_systems(per_item, systems)
    delta = survey.deltas
    mu = survey.majority_matrix(cultures, mode)
    human = mu
    D_h = metrics.pairwise_distances(human, delta)
    parts = []

    rows = []
    for label, X in systems.items():
        ci = bootstrap(X, mu, delta, human, replicates=replicates)
        rows.append(
            {
                "system": label,
                "samples": len(X),
                **{name: f"{100 * i.estimate:.2f} [{100 * i.low:.2f}, {100 * i.high:.2f}]" for name, i in ci.items()},
            }
        )
    rows.append(
        {
            "system": "human reference",
            "samples": 1,
            "alignment": "100.00",
            "diversity_p": f"{100 * metrics.diversity_p(D_h):.2f}",
            "diversity_s": f"{100 * metrics.diversity_s(D_h):.2f}",
            "gap_p": "",
            "gap_s": "",
        }
    )
    parts.append("<h2>Scores (×100, 95% bootstrap intervals over items)</h2>" + _table(pd.DataFrame(rows)))
    land = landscape(systems, mu, delta)
    if applies(cultures, mode):
        land_lines = "".join(
            f"<li>{escape(label)}: {escape(landing(100 * a, 100 * dp))}</li>"
            for label, a, dp in zip(land.labels, land.alignment, land.diversity_p)
        )
        parts.append(
            "<h3>Published reference points: Beyond Alignment, Table 1 (×100; the paper's numbers, not these runs')"
            f"</h3><ul>{land_lines}</ul>" + _table(published_systems())
        )
    figs = []
    if len(systems) >= 2:
        figs += [
            _figure(plots.landscape_figure(land, "p"), "Fig. 1 (left): Diversity_P vs Alignment per system"),
            _figure(plots.landscape_figure(land, "s"), "Fig. 7: Diversity_S vs Alignment per system"),
        ]
    chosen = per_item or list(
        dict.fromkeys([land.labels[int(np.argmax(land.alignment))], land.labels[int(np.argmax(land.diversity_p))]])
    )
    per_item = {
        label: (
            metrics.per_item_diversity(systems[label][0], delta),
            metrics.per_item_alignment(systems[label][0], mu, delta),
        )
        for label in chosen
    }
    figs.append(
        _figure(
            plots.per_item_figure(per_item),
            "Fig. 1 (right): per-question (D_q, A_q)"
            + ("" if per_item else " of the most aligned and the most diverse system"),
        )
    )
    if 2 <= len(systems) and len(systems) ** len(cultures) <= MAX_ASSIGNMENTS:
        X = np.stack([s[0] for s in systems.values()])
        figs.append(
            _figure(
                plots.mixed_figure(mixed_backbones(X, mu, delta, list(systems), cultures)),
                "Fig. 2: all mixed-backbone assignments (first sample of each system)",
            )
        )
    figs += _culture_figures(responses, survey, list(systems), mode)
    dynamics, exposure_left_out = exposure_dynamics(responses, survey, cultures, mode, strict)
    empty += exposure_left_out
    exposure = {label: d for label, d in dynamics.items() if len(d.rounds) > 1}
    if exposure:
        figs.append(
            _figure(plots.dynamics_figure(exposure), "Fig. 4, 5 and 8: social exposure, change and trajectories")
        )
    figs += _budgeting_figures(responses)
    parts.append("<h2>Figures</h2>" + "".join(figs))
    empty = list(dict.fromkeys(empty))
    if empty:
        parts.insert(0, "<p>Left out:</p><ul>" + "".join(f"<li>{escape(line)}</li>" for line in empty) + "</ul>")
    return parts, empty


def build_report(
    runs: list[Run],
    responses: pd.DataFrame,
    survey: Survey,
    cultures: list[str],
    mode: Mode = "faithful",
    replicates: int = 1000,
    per_item: list[str] | None = None,
    groups: GroupShares | None = None,
    case_item: str | None = None,
    strict: bool = False,
) -> tuple[str, list[str]]:
    """The report as one HTML string, from the runs and their responses, and the systems left out
    because none of their answers could be scored. ``per_item``: the systems of Fig. 1 (right); by
    default the most aligned and the most diverse one. ``groups`` (a demographic human reference)
    and ``case_item`` shape the survey-simulation part, present when the runs hold simulations."""
    judging = responses["mode"] == "judge"
    simulated = responses["system"].isin(DISTRIBUTION_SYSTEMS) & ~judging
    parts = [
        f"<h1>culturescope report</h1><p>{escape(', '.join(r.name for r in runs))} — survey "
        f"{escape(survey.name)}, cultures {escape(', '.join(cultures))}, majority answers read {mode} "
        "(distribution scores compare the human shares option by option); "
        f"culturescope {__version__}, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC.</p>"
    ]
    empty: list[str] = []
    if (~simulated & ~judging).any():
        found, empty = _alignment_parts(
            responses[~simulated & ~judging], survey, cultures, mode, replicates, per_item, strict
        )
        parts += found
    palette = responses["system"].isin(PALETTE_METHODS)
    if (simulated & ~palette).any() or judging.any():
        parts += simulation_parts(
            responses[simulated & ~palette], responses[judging], survey, cultures, groups, case_item
        )
    if palette.any():
        parts += palette_parts(responses[palette], survey, cultures, case_item)
    responses = responses[~judging]

    table = read_answers(responses[responses["culture"].isin(cultures)], survey, mode)
    by = ["backbone", "system", "mode", "status"]
    counts = table.groupby(by).size().unstack("status", fill_value=0).reset_index()
    parts.append("<h2>Parse statuses</h2>" + _table(counts))
    failed = table[~usable(table["status"], mode)]
    if not failed.empty:
        examples = failed.groupby(["backbone", "mode"]).head(3)[
            ["backbone", "mode", "culture", "item", "status", "raw"]
        ]
        parts.append("<h3>Examples of unscored answers (raw model text)</h3>" + _table(examples.fillna("")))
    for run in runs:
        parts.append(
            f"<h2>Manifest of {escape(run.name)}</h2><pre>"
            f"{escape(json.dumps(run.manifest, indent=2, ensure_ascii=False))}</pre>"
        )
    html = (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>culturescope report</title>'
        f"<style>{CSS}</style></head><body>{''.join(parts)}</body></html>"
    )
    return html, empty


def write_report(
    runs: list[Run],
    responses: pd.DataFrame,
    survey: Survey,
    cultures: list[str],
    out: Path,
    mode: Mode = "faithful",
    replicates: int = 1000,
    per_item: list[str] | None = None,
    groups: GroupShares | None = None,
    case_item: str | None = None,
    strict: bool = False,
) -> list[str]:
    """Write the report to ``out``; returns the systems left out (see :func:`build_report`)."""
    html, left_out = build_report(
        runs, responses, survey, cultures, mode, replicates, per_item, groups, case_item, strict
    )
    out.write_text(html, encoding="utf-8")
    return left_out
