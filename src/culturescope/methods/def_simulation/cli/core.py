"""``simulate run``, ``score``, ``map`` and ``profiles``: respondents and the paper's scores. The method's
modules (numpy, pandas, scipy, the engine) are imported in the commands that use them."""

from dataclasses import replace
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape

from culturescope.backends import BackboneSpec
from culturescope.cli.options import (
    AnsweredCulturesOpt,
    AnswerModeOpt,
    BackboneOpt,
    CulturesFileOpt,
    ItemsOpt,
    LimitOpt,
    OnlyOpt,
    OptionOrderOpt,
    PerDimensionOpt,
    ReferenceOpt,
    RunsArg,
    SurveyOpt,
    item_selection,
    load_answers,
    load_survey_options,
    one_answer_mode,
    option_order,
    resumable,
    split_names,
)
from culturescope.cli.output import Format, FormatOpt, JsonOpt, emit, output_format
from culturescope.errors import CulturescopeError
from culturescope.methods.def_simulation.cli import simulate_app

DimensionsOpt = Annotated[
    Optional[Path],
    typer.Option(
        "--dimensions",
        help="Item → value dimension table (JSON object or CSV item,dimension), e.g. the paper's nine "
        "(EVI, IDV, IVR, LTO, MAS, PDI, TDI, UAI, USI); default: the survey's own (WVS-7: its 13 sections).",
    ),
]


def _choices(**lists: str | None) -> dict[str, list]:
    """Comma-separated decoding values per knob, checked: numbers, top_k whole."""
    out = {}
    for knob, text in lists.items():
        if not text:
            continue
        try:
            values = [int(v) if knob == "top_k" else float(v) for v in split_names(text)]
        except ValueError:
            raise CulturescopeError(
                f"{knob} values must be {'whole ' if knob == 'top_k' else ''}numbers: {text!r}"
            ) from None
        if not values or any(v < 0 for v in values):
            raise CulturescopeError(f"{knob} values must be 0 or more: {text!r}")
        out[knob] = values
    return out


@simulate_app.command("run")
def run(
    backbone: BackboneOpt = None,
    cultures: Annotated[
        Optional[str],
        typer.Option(help="Comma-separated culture codes (default: the paper's U.S. and China, USA,CHN)."),
    ] = None,
    variant: Annotated[
        str,
        typer.Option(
            help="Comma-separated: def (all three modifications), def-no-prompt, def-no-config, def-no-memory "
            "(ablations, Table 4), none (no modification), cao (Cao et al. 2023), ccsv-single, ccsv-list "
            "(Lahoti et al. 2023), probs (one agent's option distribution; beyond the paper)."
        ),
    ] = "def",
    respondents: Annotated[int, typer.Option(help="n_test: simulated respondents per culture (paper: 20).")] = 20,
    max_beams: Annotated[int, typer.Option(help="B_m: num_beams drawn in 1..B_m where the backend has beams.")] = 5,
    max_memory: Annotated[int, typer.Option(help="L_m: each respondent keeps at most l ≤ L_m earlier turns.")] = 15,
    decodes: Annotated[int, typer.Option(help="CCSV: critiques and rewrites per answer (paper: 5).")] = 5,
    limit: LimitOpt = None,
    only: OnlyOpt = None,
    per_dimension: PerDimensionOpt = None,
    seed: Annotated[int, typer.Option(help="Seed of every draw: locations, configurations, memories.")] = 0,
    temperatures: Annotated[
        Optional[str],
        typer.Option(help="Beyond the paper: comma-separated temperatures to draw per respondent (default: 1)."),
    ] = None,
    top_ps: Annotated[Optional[str], typer.Option(help="Beyond the paper: top_p values to draw from.")] = None,
    top_ks: Annotated[
        Optional[str], typer.Option(help="Beyond the paper: top_k values to draw from (llama.cpp, transformers).")
    ] = None,
    max_tokens: Annotated[
        Optional[int], typer.Option(help="New tokens per answer (paper: 512; embedded default 64).")
    ] = None,
    order: OptionOrderOpt = None,
    baseline_decoding: Annotated[
        str,
        typer.Option(
            help="How respondents without a drawn configuration decode (none, cao, ccsv-single, ccsv-list, "
            "def-no-config): greedy (default; the zero diversity of Tables 1 and 4) or sampled (§5.1: "
            "do_sample on, temperature 1)."
        ),
    ] = "greedy",
    out_dir: Annotated[
        Optional[Path],
        typer.Option("--out", help="Run directory (default: runs/simulate-<cultures>-<hash>); rerun to resume."),
    ] = None,
    cache: Annotated[Optional[Path], typer.Option(help="Request cache (SQLite).")] = None,
    measure: Annotated[str, typer.Option(help="Divergence in the final table: kl, kl-eq1 or js.")] = "kl",
    format: FormatOpt = Format.table,
    survey_name: SurveyOpt = None,
    items: ItemsOpt = None,
    reference: ReferenceOpt = None,
    cultures_file: CulturesFileOpt = None,
    answer_mode: AnswerModeOpt = None,
) -> None:
    """Simulated citizens of each culture answer the survey (DEF, Algorithm 1); then Table 1.

    Examples:

      culturescope simulate run --per-dimension 1                     # DEF, U.S. and China, 12 items

      culturescope simulate run --variant def,def-no-prompt,def-no-config,def-no-memory,none --only Q1,Q57

      culturescope simulate run --variant cao,ccsv-single,ccsv-list -b openai:gpt-4o-mini

      culturescope simulate run --variant none,cao,ccsv-single --baseline-decoding sampled --per-dimension 1
    """
    from culturescope.engine.cache import RequestCache
    from culturescope.methods.def_simulation.run import Simulation, default_dir, execute_simulation
    from culturescope.metrics.distribution import check_divergence

    check_divergence(measure)
    option_order(order, "simulate run")
    survey = load_survey_options(items, reference, cultures_file, survey_name)
    specs = [BackboneSpec.parse(b) for b in (backbone or ["embedded"])]
    if max_tokens:
        specs = [replace(s, max_tokens=max_tokens) for s in specs]
    codes = survey.resolve_cultures(cultures, ["USA", "CHN"])
    sim = Simulation(
        backbones=specs,
        cultures=codes,
        variants=split_names(variant),
        respondents=respondents,
        max_beams=max_beams,
        max_memory=max_memory,
        decodes=decodes,
        items=item_selection(survey, only, per_dimension, limit),
        seed=seed,
        choices=_choices(temperature=temperatures, top_p=top_ps, top_k=top_ks),
        baseline_decoding=baseline_decoding,
        answer_mode=one_answer_mode(answer_mode),
    )
    out_dir = out_dir or default_dir(sim, survey)
    err = Console(stderr=True, soft_wrap=True)
    err.print(escape(f"run directory: {out_dir}"), highlight=False)
    result = resumable("response", out_dir, lambda: execute_simulation(sim, survey, out_dir, RequestCache(cache), err))
    _print_table(result.responses(), survey, codes, measure, None, format)
    from culturescope.cli.report import report_made

    report_made([result], survey, codes, err)


def _print_table(responses, survey, cultures, measure, dimension_of, fmt: Format) -> None:
    from culturescope.methods.def_simulation.respondents import baselines_decoded
    from culturescope.methods.def_simulation.score import preferences, table1
    from culturescope.metrics.distribution import check_divergence

    check_divergence(measure)
    found = preferences(responses, survey, cultures, measure, dimension_of)
    if not found:
        raise CulturescopeError("no item of these runs has human answers for the chosen cultures")
    rows = table1(found)
    decoded = baselines_decoded(responses)
    emit(
        rows,
        f"Diversity and {measure.upper()} divergence per value dimension (model ‖ human, option by option)"
        + (f"; baseline decoding: {decoded}" if decoded else ""),
        fmt,
        ["infinite divergences recorded as the largest finite one + 1 (§4.2.1); lower is closer to the humans"],
    )


def scored(runs, cultures, items, reference, cultures_file, dimensions, survey_name=None):
    """The survey, the runs' answers, the chosen cultures and the item → dimension table."""
    from culturescope.methods.def_simulation.score import load_dimensions, survey_dimensions

    survey, responses, chosen = load_answers(runs, cultures, items, reference, cultures_file, survey_name)
    return survey, responses, chosen, load_dimensions(dimensions) if dimensions else survey_dimensions(survey)


@simulate_app.command("score")
def score(
    runs: RunsArg,
    cultures: AnsweredCulturesOpt = None,
    measure: Annotated[
        str, typer.Option(help="kl (default; as the reference code), kl-eq1 (eq. 1 as printed) or js (bits).")
    ] = "kl",
    dimensions: DimensionsOpt = None,
    format: FormatOpt = Format.table,
    survey_name: SurveyOpt = None,
    items: ItemsOpt = None,
    reference: ReferenceOpt = None,
    cultures_file: CulturesFileOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Table 1/4: Diversity % (eq. 6) and the divergence per value dimension of every system in RUNS."""
    survey, responses, chosen, dimension_of = scored(
        runs, cultures, items, reference, cultures_file, dimensions, survey_name
    )
    _print_table(responses, survey, chosen, measure, dimension_of, output_format(format, json_))


@simulate_app.command("map")
def map_(
    runs: RunsArg,
    cultures: AnsweredCulturesOpt = None,
    dimensions: DimensionsOpt = None,
    format: FormatOpt = Format.table,
    survey_name: SurveyOpt = None,
    items: ItemsOpt = None,
    reference: ReferenceOpt = None,
    cultures_file: CulturesFileOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Cultural variation map (§4.2.2, Fig. 7): every system and the humans of each culture on the
    first two principal components of their average value-dimension scores."""
    from culturescope.methods.def_simulation.score import compared
    from culturescope.methods.def_simulation.variation import subject_scores, variation_map

    survey, responses, chosen, dimension_of = scored(
        runs, cultures, items, reference, cultures_file, dimensions, survey_name
    )
    subjects = subject_scores(compared(responses, survey, chosen), survey, dimension_of)
    if len(subjects.labels) < 3 or len(subjects.dimensions) < 2:
        raise CulturescopeError("the map needs at least 3 subjects scored on at least 2 value dimensions")
    result = variation_map(subjects.scores)
    rows = [
        {"subject": label, "PC1": float(x), "PC2": float(y)} for label, (x, y) in zip(subjects.labels, result.coords)
    ]
    notes = [f"variance explained: PC1 {100 * result.explained[0]:.1f}%, PC2 {100 * result.explained[1]:.1f}%"]
    if subjects.dropped:
        notes.append(f"left out, no valid answer on some dimension: {', '.join(subjects.dropped)}")
    emit(
        rows,
        f"Cultural variation map over {len(subjects.dimensions)} value dimensions",
        output_format(format, json_),
        notes,
    )


@simulate_app.command("profiles")
def profiles(
    runs: RunsArg,
    groups: Annotated[
        Path,
        typer.Option(
            help="Human answer shares by demographic group: JSON {country: {group: {item: {code: share}}}} "
            "or CSV country,group,item,code,share; groups named factor:level (gender:male, age:<=29, ...)."
        ),
    ],
    cultures: AnsweredCulturesOpt = None,
    format: FormatOpt = Format.table,
    survey_name: SurveyOpt = None,
    items: ItemsOpt = None,
    reference: ReferenceOpt = None,
    cultures_file: CulturesFileOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Preference-bias profiles (§4.2.3, Figs. 8, 11, 12): on the items where a system's top option
    matches the humans' and where it does not, which gender and age groups answer like it."""
    from culturescope.methods.def_simulation.profiles import load_group_reference, system_profile
    from culturescope.methods.def_simulation.score import compared

    survey, responses, chosen, _ = scored(runs, cultures, items, reference, cultures_file, None, survey_name)
    by_group = load_group_reference(groups)
    rows = []
    for c in compared(responses, survey, chosen):
        if c.culture not in by_group:
            continue
        found = system_profile(c, survey, by_group[c.culture])
        for (which, factor), (n, shares) in found.shares.items():
            for group, share in shares.items():
                rows.append(
                    {
                        "backbone": c.backbone,
                        "system": c.system,
                        "culture": c.culture,
                        "items": f"{which} ({n} with {factor} data)",
                        "group": group,
                        "share %": 100 * share,
                    }
                )
    if not rows:
        raise CulturescopeError(f"{groups} has no group shares for the runs' cultures ({', '.join(chosen)})")
    emit(
        rows,
        "Preference-bias profiles: share of items on which each group answers like the system",
        output_format(format, json_),
    )
