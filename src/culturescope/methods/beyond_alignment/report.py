"""The Beyond-Alignment part of the report: scores with bootstrap intervals, the published reference
points and the paper's figures (Figs. 1–8)."""

from __future__ import annotations

from html import escape
from math import comb

import numpy as np
import pandas as pd

from culturescope.errors import CulturescopeError
from culturescope.methods.beyond_alignment import budgeting
from culturescope.methods.beyond_alignment import figures as plots
from culturescope.methods.beyond_alignment.analyses.dynamics import exposure_dynamics
from culturescope.methods.beyond_alignment.analyses.landscape import landscape, select_systems, system_answers
from culturescope.methods.beyond_alignment.analyses.mixed import mixed_backbones
from culturescope.methods.beyond_alignment.analyses.orders import compare_orders, order_labelled, with_order
from culturescope.methods.beyond_alignment.analyses.subsets import (
    AgentCount,
    culture_distances,
    max_by_size,
    own_cultures,
    subsets,
)
from culturescope.methods.beyond_alignment.analyses.uncertainty import bootstrap
from culturescope.methods.beyond_alignment.published import applies, landing, published_systems, reading
from culturescope.metrics import agreement as metrics
from culturescope.report import ReportOptions
from culturescope.report.html import figure as _figure
from culturescope.report.html import table as _table
from culturescope.survey import Mode, Survey, budgeting_projects

MAX_ASSIGNMENTS = 5_000_000  # above this the mixed-backbone figure is left out of the report


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
    responses: pd.DataFrame, survey: Survey, cultures: list[str], options: ReportOptions
) -> tuple[list[str], list[str]]:
    """Scores with intervals and the Beyond-Alignment figures; and the systems left out. Runs in which
    no answer could be scored get a line saying so (unless ``options.strict``), the rest of the page still shows."""
    mode, strict, per_item = options.mode, options.strict, options.per_item
    try:
        systems, empty = system_answers(responses, survey, cultures, mode, strict=strict)
    except CulturescopeError as error:
        if strict:
            raise
        return [f"<h2>Scores</h2><p>{escape(str(error))}</p>"], []
    if per_item:
        select_systems(per_item, systems)
    delta = survey.deltas
    mu = survey.majority_matrix(cultures, mode)
    human = mu
    D_h = metrics.pairwise_distances(human, delta)
    human_dp, comparable = metrics.diversity_p(D_h), options.whole and applies(cultures, mode)
    parts = []

    rows = []
    for label, X in systems.items():
        ci = bootstrap(X, mu, delta, human, replicates=options.replicates)
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
            "diversity_p": f"{100 * human_dp:.2f}",
            "diversity_s": f"{100 * metrics.diversity_s(D_h):.2f}",
            "gap_p": "",
            "gap_s": "",
        }
    )
    parts.append("<h2>Scores (×100, 95% bootstrap intervals over items)</h2>" + _table(pd.DataFrame(rows)))
    land = landscape(systems, mu, delta)
    sentences = [
        reading(label, 100 * a, 100 * dp, 100 * human_dp, comparable)
        for label, a, dp in zip(land.labels, land.alignment, land.diversity_p)
        if np.isfinite(dp)
    ]
    parts.append("<ul>" + "".join(f"<li><b>Reading:</b> {escape(s)}</li>" for s in sentences) + "</ul>")
    if comparable:
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
    return parts, list(dict.fromkeys(empty))


def _order_parts(responses: pd.DataFrame, survey: Survey, cultures: list[str], mode: Mode) -> list[str]:
    """Option-order robustness, where a system was asked in more than one option order."""
    if with_order(responses)["option_order"].nunique() < 2:
        return []
    found, notes = compare_orders(responses, survey, cultures, mode)
    if not found:
        return []
    rows = [
        {
            "backbone": s.backbone,
            "mode": s.mode,
            "order": s.order,
            "items": s.items,
            "alignment": 100 * s.alignment,
            "diversity_p": 100 * s.diversity_p,
            "diversity_s": 100 * s.diversity_s,
            **{f"same {c} (%)": 100 * s.same[c] for c in cultures},
            "mean JS (bits)": s.mean_js,
        }
        for s in found
    ]
    return [
        "<h2>Option-order robustness (beyond the paper)</h2><p>The same system asked with its options reordered "
        "and renumbered (<code>--option-order</code>), answers mapped back to the item's codes; scores on the "
        f"items asked under every order; same = answers naming the same option as under {escape(found[0].reference)}."
        "</p><ul>" + "".join(f"<li>{escape(n)}</li>" for n in notes) + "</ul>" + _table(pd.DataFrame(rows).round(4)),
        _figure(plots.order_figure(found), "Option order: scores per order and agreement with the reference order"),
    ]


def report_parts(
    responses: pd.DataFrame, survey: Survey, cultures: list[str], options: ReportOptions
) -> tuple[list[str], list[str]]:
    """The HTML sections of the Beyond-Alignment systems, and a line for each system left out. A system
    asked in several option orders is one system per order, and the orders are compared side by side."""
    parts, left_out = _alignment_parts(order_labelled(responses), survey, cultures, options)
    return parts + _order_parts(responses, survey, cultures, options.mode) + _usage_part(responses), left_out


def _usage_part(responses: pd.DataFrame) -> list[str]:
    """Tokens and cost per backbone (priced by backbone name, ``engine/cost.py``), where responses have usage."""
    from culturescope.backends import BackboneSpec
    from culturescope.engine.cost import usage_rows

    if "usage" not in responses or not responses["usage"].map(lambda u: isinstance(u, dict)).any():
        return []
    specs = [BackboneSpec(name=str(b), provider="") for b in responses["backbone"].dropna().unique()]
    rows = pd.DataFrame(usage_rows(responses, specs))
    note = "<p>Tokens as the providers reported them; cost at the price of how each was bought (online or batch).</p>"
    return ["<h2>Tokens and cost</h2>" + note + _table(rows)]
