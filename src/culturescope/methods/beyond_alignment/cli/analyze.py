"""The system-level analyses of the Beyond-Alignment paper: ``culturescope analyze ...``."""

from enum import Enum
from typing import Annotated

import typer

from culturescope.cli.options import (
    AnsweredCulturesOpt,
    BackbonesOpt,
    CulturesFileOpt,
    CulturesOpt,
    HumanDataOpt,
    ItemsOpt,
    ModeOpt,
    ReferenceOpt,
    RunsArg,
    StrictCompleteOpt,
    SurveyOpt,
    human_data,
    load_runs,
    load_survey_options,
    run_cultures,
)
from culturescope.cli.output import Format, FormatOpt, JsonOpt, emit, emit_tables, output_format
from culturescope.errors import CulturescopeError
from culturescope.methods.beyond_alignment.cli import analyze_app
from culturescope.methods.beyond_alignment.cli.common import (
    PerItemOpt,
    chosen_systems,
    culture_distances,
    print_dynamics,
    systems_of,
)

# The analyses (numpy, scipy, pandas) are imported in the commands that use them.


@analyze_app.command("landscape")
def analyze_landscape(
    runs: RunsArg,
    per_item: PerItemOpt = None,
    cultures: CulturesOpt = None,
    backbones: BackbonesOpt = None,
    strict_complete: StrictCompleteOpt = False,
    human: HumanDataOpt = None,
    format: FormatOpt = Format.table,
    survey_name: SurveyOpt = None,
    items: ItemsOpt = None,
    reference: ReferenceOpt = None,
    cultures_file: CulturesFileOpt = None,
    mode: ModeOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Alignment vs Diversity_P and Diversity_S across single-backbone systems, with Pearson r (§5.1);
    with --per-item, each question's (D_q, A_q) for the chosen systems."""
    from culturescope.methods.beyond_alignment.analyses.landscape import landscape
    from culturescope.methods.beyond_alignment.published import applies, published_systems
    from culturescope.metrics import agreement as metrics

    reading, fmt = human_data(human, mode), output_format(format, json_)
    survey = load_survey_options(items, reference, cultures_file, survey_name)
    _, chosen, systems = systems_of(runs, cultures, reading, survey, backbones, strict_complete)
    mu = survey.majority_matrix(chosen, reading)
    if per_item:
        columns = {}
        for name in chosen_systems(per_item, systems):
            columns[f"{name} D_q"] = metrics.per_item_diversity(systems[name][0], survey.deltas)
            columns[f"{name} A_q"] = metrics.per_item_alignment(systems[name][0], mu, survey.deltas)
        rows = [{"item": it.id, **{c: float(v[k]) for c, v in columns.items()}} for k, it in enumerate(survey.items)]
        emit(rows, "Per-question diversity D_q and alignment A_q (in [0, 1])", fmt)
        return
    land = landscape(systems, mu, survey.deltas)
    rows = [
        {"system": label, "alignment": 100 * a, "diversity_p": 100 * p, "diversity_s": 100 * q}
        for label, a, p, q in zip(land.labels, land.alignment, land.diversity_p, land.diversity_s)
    ]
    notes = (
        [f"Pearson r (Diversity_{w.upper()}, Alignment) = {land.pearson(w):+.3f}" for w in ("p", "s")]
        if len(rows) >= 3
        else ["Pearson r needs at least 3 systems"]
    )
    published = published_systems().to_dict("records") if applies(chosen, reading) else None
    extra = {"published": published} if published and fmt is Format.json else None  # the paper's, in one document
    emit(rows, f"Diversity–alignment landscape (×100), cultures {','.join(chosen)}", fmt, notes, extra=extra)
    if published and fmt is Format.table:
        emit(
            published,
            "Published reference points: Beyond Alignment, Table 1 (×100; not part of the Pearson r above)",
            fmt,
        )


@analyze_app.command("mixed")
def analyze_mixed(
    runs: RunsArg,
    cultures: CulturesOpt = None,
    backbones: BackbonesOpt = None,
    strict_complete: StrictCompleteOpt = False,
    human: HumanDataOpt = None,
    format: FormatOpt = Format.table,
    survey_name: SurveyOpt = None,
    items: ItemsOpt = None,
    reference: ReferenceOpt = None,
    cultures_file: CulturesFileOpt = None,
    mode: ModeOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Every assignment of the runs' backbones to the culture slots: frontiers and highlights (§5.2)."""
    import numpy as np

    from culturescope.methods.beyond_alignment.analyses.mixed import mixed_backbones

    reading, fmt = human_data(human, mode), output_format(format, json_)
    survey = load_survey_options(items, reference, cultures_file, survey_name)
    _, chosen, systems = systems_of(runs, cultures, reading, survey, backbones, strict_complete)
    if len(systems) < 2:
        raise CulturescopeError("the mixed analysis needs at least two systems (backbones or answer modes)")
    X = np.stack([s[0] for s in systems.values()])
    result = mixed_backbones(X, survey.majority_matrix(chosen, reading), survey.deltas, list(systems), chosen)
    single = result.single
    rows = [
        {
            "configuration": h.name,
            "assignment": " ".join(f"{c}:{b}" for c, b in zip(chosen, result.assignment(h.config))),
            "diversity_p": 100 * result.diversity_p[h.config],
            "alignment": 100 * result.alignment[h.config],
            "reference": result.backbones[h.reference],
            "ΔD": 100 * h.delta_d,
            "ΔA": 100 * h.delta_a,
        }
        for h in result.highlights
    ]
    notes = [
        f"{len(result.diversity_p):,} assignments; mixed frontier {len(result.frontier)} points, "
        f"single-backbone frontier {len(result.single_frontier)} of {len(single)} systems",
        f"best single-backbone: Alignment {100 * result.alignment[single].max():.2f}, "
        f"Diversity_P {100 * result.diversity_p[single].max():.2f}",
        "balanced: the knee of each frontier (nearest to (1, 1) with Diversity_P and Alignment scaled "
        "to [0, 1] over all assignments), as the reference implementation picks it",
    ]
    emit(rows, "Mixed backbones: highlighted configurations (×100)", fmt, notes)


def _cultures_note(system: str, chosen: list[str], survey) -> str:
    unused = [c.code for c in survey.cultures if c.code not in chosen]
    return f"{system}: {len(chosen)} cultures ({','.join(chosen)})" + (
        f"; not in this analysis: {','.join(unused)}" if unused else ""
    )


@analyze_app.command("subsets")
def analyze_subsets(
    runs: RunsArg,
    system: Annotated[str, typer.Option(help="The system (backbone) to analyze.")],
    k: Annotated[int, typer.Option(help="Subset size.")] = 5,
    top: Annotated[int, typer.Option(help="Rows to show.")] = 10,
    cultures: AnsweredCulturesOpt = None,
    human: HumanDataOpt = None,
    format: FormatOpt = Format.table,
    survey_name: SurveyOpt = None,
    items: ItemsOpt = None,
    reference: ReferenceOpt = None,
    cultures_file: CulturesFileOpt = None,
    mode: ModeOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Diversity of every k-culture subset of the cultures the system answered (all 19 in the paper),
    the best subset's and the human reference's best (§5.3, Fig. 3a)."""
    import numpy as np

    from culturescope.methods.beyond_alignment.analyses.subsets import subsets

    reading, fmt = human_data(human, mode), output_format(format, json_)
    survey = load_survey_options(items, reference, cultures_file, survey_name)
    chosen, D_system, D_human = culture_distances(runs, system, cultures, reading, survey)
    if not 2 <= k <= len(chosen):
        raise CulturescopeError(f"k must be between 2 and {len(chosen)} (the number of cultures)")
    res, hum = subsets(D_system, k), subsets(D_human, k)
    named = lambda m: ",".join(chosen[i] for i in m)  # noqa: E731
    rows = [
        {
            "rank": rank,
            "cultures": named(res.members[m]),
            "diversity_p": 100 * res.diversity_p[m],
            "diversity_s": 100 * res.diversity_s[m],
            "human_p": 100 * hum.diversity_p[m],
        }
        for rank, m in enumerate(np.argsort(-res.diversity_p, kind="stable")[:top], start=1)
    ]
    best, human = res.best(), hum.best()
    q = np.nanpercentile(100 * res.diversity_p, [0, 50, 100])
    notes = [
        _cultures_note(system, chosen, survey),
        f"{len(res.members):,} subsets of {k}; Diversity_P min {q[0]:.2f}, median {q[1]:.2f}, max {q[2]:.2f}",
        f"best {k}-culture subset of {system}: Diversity_P {100 * res.diversity_p[best]:.2f} "
        f"(Diversity_S {100 * res.diversity_s[best]:.2f}), {named(res.members[best])}",
        f"human maximum at k = {k}: Diversity_P {100 * hum.diversity_p[human]:.2f}, {named(hum.members[human])}; "
        f"system − human {100 * (res.diversity_p[best] - hum.diversity_p[human]):+.2f} points",
    ]
    emit(rows, f"Most diverse {k}-culture subsets of {system} out of {len(chosen)} cultures (×100)", fmt, notes)


class Gap(str, Enum):
    absolute = "absolute"
    relative = "relative"


@analyze_app.command("agents")
def analyze_agents(
    runs: RunsArg,
    system: Annotated[str, typer.Option(help="The system (backbone) to analyze.")],
    gap: Annotated[
        Gap, typer.Option(help="absolute: system max − human max in points (Fig. 3b); relative: in % of the human max.")
    ] = Gap.absolute,
    cultures: AnsweredCulturesOpt = None,
    human: HumanDataOpt = None,
    format: FormatOpt = Format.table,
    survey_name: SurveyOpt = None,
    items: ItemsOpt = None,
    reference: ReferenceOpt = None,
    cultures_file: CulturesFileOpt = None,
    mode: ModeOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Maximum diversity over all k-subsets of the cultures the system answered, k = 2..C, system vs
    human, and the gap (§5.3, Fig. 3b)."""
    from culturescope.methods.beyond_alignment.analyses.subsets import AgentCount, max_by_size

    reading, fmt = human_data(human, mode), output_format(format, json_)
    survey = load_survey_options(items, reference, cultures_file, survey_name)
    chosen, D_system, D_human = culture_distances(runs, system, cultures, reading, survey)
    if len(chosen) < 2:
        raise CulturescopeError(f"{system} answered one culture ({chosen[0]}); agent counts need at least two")
    ac = AgentCount(max_by_size(D_system), max_by_size(D_human))
    relative = gap is Gap.relative
    unit = "_%" if relative else ""
    columns = {
        "system_p": ac.system.diversity_p,
        "human_p": ac.human.diversity_p,
        f"gap_p{unit}": ac.gap("p", relative),
        "system_s": ac.system.diversity_s,
        "human_s": ac.human.diversity_s,
        f"gap_s{unit}": ac.gap("s", relative),
    }
    rows = [{"k": int(k), **{c: 100 * float(v[n]) for c, v in columns.items()}} for n, k in enumerate(ac.k)]
    notes = [
        _cultures_note(system, chosen, survey),
        "gap = " + ("(system max − human max) / human max, in %" if relative else "system max − human max, in points"),
    ]
    emit(rows, f"Agent count: maximum diversity over all k-subsets, {system} vs human (×100)", fmt, notes)


@analyze_app.command("bootstrap")
def analyze_bootstrap(
    runs: RunsArg,
    replicates: Annotated[int, typer.Option(help="Bootstrap replicates.")] = 1000,
    level: Annotated[float, typer.Option(help="Confidence level.")] = 0.95,
    seed: Annotated[int, typer.Option()] = 0,
    cultures: CulturesOpt = None,
    backbones: BackbonesOpt = None,
    strict_complete: StrictCompleteOpt = False,
    human: HumanDataOpt = None,
    format: FormatOpt = Format.table,
    survey_name: SurveyOpt = None,
    items: ItemsOpt = None,
    reference: ReferenceOpt = None,
    cultures_file: CulturesFileOpt = None,
    mode: ModeOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Confidence intervals over items (and samples) for Alignment, both diversities and the human gaps."""
    from culturescope.methods.beyond_alignment.analyses.uncertainty import bootstrap

    if not 0 < level < 1 or replicates < 10:
        raise CulturescopeError("--level must be between 0 and 1 and --replicates at least 10")
    reading, fmt = human_data(human, mode), output_format(format, json_)
    survey = load_survey_options(items, reference, cultures_file, survey_name)
    _, chosen, systems = systems_of(runs, cultures, reading, survey, backbones, strict_complete)
    mu = survey.majority_matrix(chosen, reading)
    rows = []
    for label, X in systems.items():
        for metric, i in bootstrap(X, mu, survey.deltas, mu, replicates, level, seed).items():
            rows.append(
                {
                    "system": label,
                    "metric": metric,
                    "estimate": 100 * i.estimate,
                    "low": 100 * i.low,
                    "high": 100 * i.high,
                }
            )
    emit(rows, f"{100 * level:.0f}% bootstrap intervals over items, {replicates} replicates (×100)", fmt)


@analyze_app.command("exposure")
def analyze_exposure(
    runs: RunsArg,
    cultures: CulturesOpt = None,
    backbones: BackbonesOpt = None,
    strict_complete: StrictCompleteOpt = False,
    human: HumanDataOpt = None,
    format: FormatOpt = Format.table,
    survey_name: SurveyOpt = None,
    items: ItemsOpt = None,
    reference: ReferenceOpt = None,
    cultures_file: CulturesFileOpt = None,
    mode: ModeOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Social exposure dynamics (§6): scores per round, ΔD and ΔA against round 0, agents' drift."""
    reading, fmt = human_data(human, mode), output_format(format, json_)
    survey = load_survey_options(items, reference, cultures_file, survey_name)
    _, responses = load_runs(runs, backbones)
    print_dynamics(responses, survey, cultures, reading, fmt, strict_complete)


@analyze_app.command("order")
def analyze_order(
    runs: RunsArg,
    cultures: CulturesOpt = None,
    backbones: BackbonesOpt = None,
    human: HumanDataOpt = None,
    format: FormatOpt = Format.table,
    survey_name: SurveyOpt = None,
    items: ItemsOpt = None,
    reference: ReferenceOpt = None,
    cultures_file: CulturesFileOpt = None,
    mode: ModeOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Option-order robustness: runs of one system asked with --option-order original, reversed and
    shuffled:SEED, side by side. Per order, Alignment, Diversity_P and Diversity_S on the items asked
    under every order; per culture, the share of answers naming the same option as under the original
    order and (probs) the mean Jensen–Shannon divergence between the distributions.

    Example: culturescope analyze order runs/original runs/reversed runs/shuffled-1
    """
    from culturescope.methods.beyond_alignment.analyses.orders import compare_orders

    reading, fmt = human_data(human, mode), output_format(format, json_)
    survey = load_survey_options(items, reference, cultures_file, survey_name)
    _, responses = load_runs(runs, backbones, by_order=False)
    chosen = run_cultures(responses, cultures, survey)
    found, notes = compare_orders(responses, survey, chosen, reading)
    pct = lambda x: None if x != x else 100 * x  # noqa: E731
    scores = [
        {
            "backbone": s.backbone,
            "system": s.system,
            "mode": s.mode,
            "order": s.order,
            "items": s.items,
            "alignment": pct(s.alignment),
            "diversity_p": pct(s.diversity_p),
            "diversity_s": pct(s.diversity_s),
            "same_%": pct(s.mean_same),
            "js_bits": s.mean_js,
        }
        for s in found
    ]
    agreement = [
        {"backbone": s.backbone, "mode": s.mode, "order": s.order, "culture": c}
        | {"same_%": pct(s.same[c]), "js_bits": s.js[c]}
        for s in found
        if s.order != s.reference
        for c in chosen
    ]
    emit_tables(
        [
            (f"Scores per option order (×100), cultures {','.join(chosen)}", scores, notes),
            ("Agreement with the reference order per culture (same answer, %; JS divergence, bits)", agreement, []),
        ],
        "Option-order robustness",
        fmt,
    )
