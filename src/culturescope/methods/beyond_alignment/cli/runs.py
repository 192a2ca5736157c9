"""Commands that make, import and score Beyond-Alignment runs."""

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape

from culturescope.backends import BackboneSpec
from culturescope.backends.presets import apply_preset
from culturescope.cli.options import (
    AnswerModeOldOpt,
    AnswerModeOpt,
    BackboneOpt,
    BackbonesOpt,
    CulturesFileOpt,
    HumanDataOpt,
    ItemsOpt,
    LimitOpt,
    ModeOpt,
    OnlyOpt,
    OptionOrderOpt,
    PaperCulturesOpt,
    PerDimensionOpt,
    ReferenceOpt,
    StrictCompleteOpt,
    SurveyOpt,
    answer_modes,
    human_data,
    item_selection,
    load_runs,
    load_survey_options,
    option_order,
    resumable,
)
from culturescope.cli.output import Format, FormatOpt, JsonOpt, note_left_out, output_format
from culturescope.cli.spending import (
    BatchFallbackOpt,
    BatchOpt,
    DryRunOpt,
    MaxCostOpt,
    PricesOpt,
    print_plan,
    print_usage,
    spending,
)
from culturescope.errors import CulturescopeError
from culturescope.methods.beyond_alignment.cli import commands
from culturescope.methods.beyond_alignment.cli.common import (
    print_dynamics,
    print_next_commands,
    print_published,
    print_reading,
    print_scores,
)
from culturescope.survey import PAPER_CULTURES, Survey

# The method's modules (pandas, numpy, the engine) are imported in the commands that use them.
if TYPE_CHECKING:
    from culturescope.engine.store import Run
    from culturescope.methods.beyond_alignment.run import Experiment
    from culturescope.methods.beyond_alignment.score import SystemScore


def _execute(
    experiment: "Experiment", survey: Survey, out_dir: Path, cache: Path | None, err: Console, spend=None
) -> "Run":
    """Run (or resume) an experiment into ``out_dir``, saying where; Ctrl-C keeps what is done."""
    from culturescope.engine.cache import RequestCache
    from culturescope.methods.beyond_alignment.run import execute

    err.print(escape(f"run directory: {out_dir}"), highlight=False)
    return resumable(
        "response", out_dir, lambda: execute(experiment, survey, out_dir, RequestCache(cache), err, spending=spend)
    )


def _dry_run(experiment: "Experiment", survey: Survey, out_dir: Path, cache: Path | None, prices, fmt) -> None:
    """``--dry-run``: what the run would send and cost; nothing is sent or written."""
    from culturescope.engine.cache import RequestCache
    from culturescope.engine.cost import price_table
    from culturescope.methods.beyond_alignment.run import plan

    print_plan(plan(experiment, survey, out_dir, RequestCache(cache)), price_table(prices), fmt)


@commands.command(rich_help_panel="Runs")
def evaluate(
    run: Annotated[
        Optional[Path], typer.Argument(help="A run directory; omit it to score the human reference only.")
    ] = None,
    cultures: Annotated[
        Optional[str],
        typer.Option(
            help="Comma-separated culture codes (default: the culture set shared by the most backbones of RUN; "
            "without RUN, the paper's five, BRA,CHN,MEX,NGA,NZL)."
        ),
    ] = None,
    backbones: BackbonesOpt = None,
    strict_complete: StrictCompleteOpt = False,
    format: FormatOpt = Format.table,
    human: HumanDataOpt = None,
    round: Annotated[int, typer.Option(help="Interaction round to score (0 = static answers).")] = 0,
    survey_name: SurveyOpt = None,
    items: ItemsOpt = None,
    reference: ReferenceOpt = None,
    cultures_file: CulturesFileOpt = None,
    mode: ModeOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Alignment (eq. 2), Diversity_P (eq. 4) and Diversity_S (eq. 5) per backbone, beside humans.

    The human reference scores each culture's majority answers as an agent, on the same cultures.
    Backbones without every chosen culture are left out, one line each on stderr.

    Example: culturescope evaluate runs/imported --cultures BRA,CHN,MEX,NGA,NZL
    """
    from culturescope.methods.beyond_alignment.coverage import default_cultures
    from culturescope.methods.beyond_alignment.score import evaluate_responses, human_reference

    reading, format = human_data(human, mode), output_format(format, json_)
    survey = load_survey_options(items, reference, cultures_file, survey_name)
    scores: list[SystemScore] = []
    if run is not None:
        opened, responses = load_runs([run], backbones)
        chosen = survey.resolve_cultures(cultures, default_cultures(responses[responses["round"] == round]))
        scores, coverage = evaluate_responses(responses, survey, chosen, reading, round, strict_complete)
        note_left_out(coverage.left_out, coverage.partial)
        if not scores:
            raise CulturescopeError(f"no backbone of {run} has responses for all of the chosen cultures")
    else:
        chosen = survey.resolve_cultures(cultures, PAPER_CULTURES)
    print_scores(scores, human_reference(survey, chosen, reading), format, reading)
    if format is Format.table:
        print_published(scores, chosen, reading)
        if run is not None:
            print_usage(responses, opened[0].manifest)


@commands.command(rich_help_panel="Runs")
def run(
    backbone: Annotated[
        Optional[list[str]],
        typer.Option(
            "--backbone",
            "-b",
            help="Repeatable. embedded (default; no network, no key), embedded:PATH.gguf, "
            "openai:MODEL (key in OPENAI_API_KEY), openai:MODEL@http://127.0.0.1:8000/v1 (a local server), "
            "anthropic:MODEL (key in ANTHROPIC_API_KEY), transformers:PATH (a local HF model directory or GGUF).",
        ),
    ] = None,
    config: Annotated[
        Optional[Path],
        typer.Option(
            help="YAML experiment file (backbones with provider/model/"
            "base_url/api_key_env/decoding; see docs/backends.md)."
        ),
    ] = None,
    cultures: PaperCulturesOpt = None,
    answer_mode: AnswerModeOpt = None,
    order: OptionOrderOpt = None,
    samples: Annotated[Optional[int], typer.Option(help="Samples per agent and item (default: 1).")] = None,
    limit: LimitOpt = None,
    only: OnlyOpt = None,
    per_dimension: PerDimensionOpt = None,
    out_dir: Annotated[
        Optional[Path],
        typer.Option(
            "--out",
            help="Run directory (default: runs/<backbone>-<hash of the experiment>). "
            "Running the same command again resumes it.",
        ),
    ] = None,
    cache: Annotated[
        Optional[Path],
        typer.Option(
            help="Request cache (SQLite) (default: ~/.cache/culturescope/requests.sqlite or $CULTURESCOPE_CACHE)."
        ),
    ] = None,
    temperature: Annotated[
        Optional[float], typer.Option(help="Override: sampling temperature (paper: 1.0 API models, 0.6 open models).")
    ] = None,
    max_tokens: Annotated[
        Optional[int], typer.Option(help="Override: new tokens per answer (default 512; 64 for the embedded model).")
    ] = None,
    seed: Annotated[
        Optional[int], typer.Option(help="Override: base seed; sample s uses seed + s (default 0).")
    ] = None,
    rounds: Annotated[
        Optional[int],
        typer.Option(
            help="Social exposure (§6): rounds after round 0 in which each agent sees the others' "
            "previous answers (paper: 5; default 0 = static system)."
        ),
    ] = None,
    show: Annotated[
        Optional[str],
        typer.Option(
            help="What exposure shows of the others' answers: raw (their reply text, as the paper) "
            "or answer (the parsed code or N/A)."
        ),
    ] = None,
    preset: Annotated[
        Optional[str],
        typer.Option(
            help="paper: the reference runs' decoding per backbone by model family (Qwen/Llama: temperature "
            "0.6, top_p 0.95, thinking off; GPT/Claude/Gemini/Grok: 1.0, 1.0; no output cap). "
            "--temperature, --max-tokens and --seed apply after it. See docs/backends.md."
        ),
    ] = None,
    human: HumanDataOpt = None,
    format: FormatOpt = Format.table,
    survey_name: SurveyOpt = None,
    items: ItemsOpt = None,
    reference: ReferenceOpt = None,
    cultures_file: CulturesFileOpt = None,
    mode: AnswerModeOldOpt = None,
    json_: JsonOpt = False,
    dry_run: DryRunOpt = False,
    max_cost: MaxCostOpt = None,
    prices: PricesOpt = None,
    batch: BatchOpt = False,
    batch_fallback: BatchFallbackOpt = False,
) -> None:
    """Agents of each culture answer every survey item (paper prompt, Appendix A.1); then the scores beside
    the human reference and the paper's published backbones, one sentence reading them, and report.html
    in the run directory.

    Examples:

      culturescope run                                     # embedded model, 5 cultures × 223 items (probs)

      culturescope run --per-dimension 1                   # a quick look: 1 item of each of the 12 sections

      culturescope run -b openai:gpt-4o-mini --limit 20    # a hosted model, first 20 items

      culturescope run -b scripted:culture --only Q1,Q57   # chosen items (or --per-dimension 1)

      culturescope run --config experiment.yaml

      culturescope run --rounds 3 --limit 20              # social exposure: 3 rounds after round 0
    """
    from culturescope.methods.beyond_alignment.run import Experiment, default_modes, load_experiment
    from culturescope.methods.beyond_alignment.score import evaluate_responses, human_reference, status_counts

    modes, format = answer_modes(answer_mode, mode), output_format(format, json_)
    survey = load_survey_options(items, reference, cultures_file, survey_name)
    settings = load_experiment(config) if config else {}
    specs = settings.get("backbones") or [BackboneSpec.parse(b) for b in (backbone or ["embedded"])]
    if config and backbone:
        specs += [BackboneSpec.parse(b) for b in backbone]
    preset = preset or settings.get("preset")
    preset_lines: list[str] = []
    if preset:
        specs, preset_lines = apply_preset(specs, preset)
    overrides = {
        k: v for k, v in {"temperature": temperature, "max_tokens": max_tokens, "seed": seed}.items() if v is not None
    }
    specs = [replace(s, **overrides) for s in specs]
    experiment = Experiment(
        backbones=specs,
        cultures=survey.resolve_cultures(cultures or settings.get("cultures"), PAPER_CULTURES),
        modes=modes or settings.get("modes") or default_modes(specs),
        samples=samples or settings.get("samples", 1),
        limit=limit or settings.get("limit"),
        item_ids=item_selection(survey, only or settings.get("only"), per_dimension or settings.get("per_dimension")),
        rounds=rounds if rounds is not None else settings.get("rounds", 0),
        show=show or settings.get("show", "raw"),
        preset=preset,
        option_order=option_order(order or settings.get("option_order")),
    )
    out_dir = out_dir or experiment.default_dir(survey)
    err = Console(stderr=True, soft_wrap=True)  # never break a path across lines
    for line in preset_lines:
        err.print(escape(f"preset {preset}: {line}"), highlight=False)
    if dry_run:
        return _dry_run(experiment, survey, out_dir, cache, prices, format)
    spend = spending(max_cost, prices, batch, batch_fallback)
    result = _execute(experiment, survey, out_dir, cache, err, spend)
    responses = result.responses()
    reading = human_data(human, None)
    scores = evaluate_responses(responses, survey, experiment.cultures, reading)[0]
    asked = [item.id for item in experiment.items(survey)]
    whole = len(asked) == len(survey.items)
    human_scores = human_reference(survey, experiment.cultures, reading, None if whole else asked)
    print_scores(scores, human_scores, format, reading)
    if format is Format.table:
        print_reading(scores, human_scores, experiment.cultures, reading, whole)
        failures = status_counts(responses)
        failed = [c for c in failures.columns if c not in ("backbone", "mode", "culture", "ok", "out_of_range")]
        if failed:
            totals = failures.groupby(["backbone", "mode"])[failed].sum()
            for (name, answered_as), row in totals.iterrows():
                if row.sum():
                    out_str = ", ".join(f"{k} {v}" for k, v in row.items() if v)
                    err.print(
                        escape(f"unparsed answers, {name} [{answered_as}]: {out_str} (raw text kept in {out_dir})"),
                        highlight=False,
                    )
    from culturescope.cli.report import report_made

    report_made([result], survey, experiment.cultures, err, reading)
    if all(spec.provider == "embedded" for spec in specs):
        print_next_commands(err)


@commands.command(rich_help_panel="Runs")
def exposure(
    backbone: BackboneOpt = None,
    cultures: PaperCulturesOpt = None,
    rounds: Annotated[int, typer.Option(help="Rounds after round 0 (paper: 5).")] = 5,
    answer_mode: AnswerModeOpt = None,
    order: OptionOrderOpt = None,
    show: Annotated[str, typer.Option(help="What agents see of the others: raw (reply text) or answer.")] = "raw",
    limit: LimitOpt = None,
    only: OnlyOpt = None,
    per_dimension: PerDimensionOpt = None,
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="Run directory; rerun to resume.")] = None,
    cache: Annotated[Optional[Path], typer.Option(help="Request cache (SQLite).")] = None,
    human: HumanDataOpt = None,
    format: FormatOpt = Format.table,
    survey_name: SurveyOpt = None,
    items: ItemsOpt = None,
    reference: ReferenceOpt = None,
    cultures_file: CulturesFileOpt = None,
    mode: AnswerModeOldOpt = None,
    json_: JsonOpt = False,
    dry_run: DryRunOpt = False,
    max_cost: MaxCostOpt = None,
    prices: PricesOpt = None,
    batch: BatchOpt = False,
    batch_fallback: BatchFallbackOpt = False,
) -> None:
    """Multi-round social exposure (§6): each round, agents see the others' previous answers.

    Then Alignment and diversity per round, ΔD and ΔA against round 0, and each agent's drift.
    Same as `run --rounds K` followed by `analyze exposure`.
    """
    from culturescope.methods.beyond_alignment.run import Experiment, default_modes

    modes, format = answer_modes(answer_mode, mode), output_format(format, json_)
    survey = load_survey_options(items, reference, cultures_file, survey_name)
    specs = [BackboneSpec.parse(b) for b in (backbone or ["embedded"])]
    experiment = Experiment(
        backbones=specs,
        cultures=survey.resolve_cultures(cultures, PAPER_CULTURES),
        modes=modes or default_modes(specs),
        limit=limit,
        item_ids=item_selection(survey, only, per_dimension),
        rounds=rounds,
        show=show,
        option_order=option_order(order),
    )
    out_dir = out_dir or experiment.default_dir(survey)
    if dry_run:
        return _dry_run(experiment, survey, out_dir, cache, prices, format)
    err = Console(stderr=True, soft_wrap=True)
    result = _execute(experiment, survey, out_dir, cache, err, spending(max_cost, prices, batch, batch_fallback))
    reading = human_data(human, None)
    print_dynamics(result.responses(), survey, None, reading, format)
    from culturescope.cli.report import report_made

    report_made([result], survey, experiment.cultures, err, reading)
