"""The ``culturescope`` command: a thin layer over the Python API."""

from __future__ import annotations

import csv
import io
import json
import sys
import textwrap
from dataclasses import replace
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from culturescope import metrics
from culturescope.analyses.landscape import landscape, system_answers
from culturescope.analyses.mixed import mixed_backbones
from culturescope.analyses.subsets import AgentCount, max_by_size, subsets
from culturescope.analyses.uncertainty import bootstrap
from culturescope.backends import BackboneSpec
from culturescope.cache import RequestCache
from culturescope.errors import CulturescopeError
from culturescope.evaluate import SystemScore, evaluate_responses, human_reference, status_counts
from culturescope.experiment import Experiment, execute, load_experiment
from culturescope.importers import import_reference_outputs
from culturescope.store import Run
from culturescope.survey import PAPER_CULTURES, Survey, load_survey, wvs7

app = typer.Typer(help="Score LLM agents' answers to value surveys against the human answers of each "
                  "country (alignment) and against each other (diversity). Start with: culturescope evaluate",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
survey_app = typer.Typer(help="Explore the survey: items, options, human answers.", no_args_is_help=True)
app.add_typer(survey_app, name="survey")
analyze_app = typer.Typer(help="System-level analyses of the Beyond-Alignment paper (§5) over runs.",
                          no_args_is_help=True)
app.add_typer(analyze_app, name="analyze")
out = Console(width=None if sys.stdout.isatty() else 120)  # piped output: wide enough for every column


class Mode(str, Enum):
    faithful = "faithful"
    strict = "strict"


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


ItemsOpt = Annotated[Optional[Path], typer.Option(
    "--items", help="Your own survey items (JSON or CSV); default: the shipped WVS-7.", rich_help_panel="Survey")]
ReferenceOpt = Annotated[Optional[Path], typer.Option(
    "--reference", help="Human answer shares for --items (JSON or CSV).", rich_help_panel="Survey")]
CulturesFileOpt = Annotated[Optional[Path], typer.Option(
    "--cultures-file", help="Culture table for --items (default: the WVS-7 countries).", rich_help_panel="Survey")]
ModeOpt = Annotated[Mode, typer.Option(
    help="faithful: read the human data as the paper's reference code does; strict: fix its quirks "
         "(0-based codes, ties, out-of-range answers). See docs/data.md.")]


def _survey(items: Path | None, reference: Path | None, cultures_file: Path | None) -> Survey:
    if items is None and reference is None:
        return wvs7()
    if items is None or reference is None:
        raise CulturescopeError("--items and --reference go together")
    return load_survey(items, reference, cultures_file)


def _fmt(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}"


def _print_scores(scores: list[SystemScore], human: SystemScore, fmt: Format, mode: str) -> None:
    rows = [s.as_row() for s in scores] + [human.as_row()]
    if fmt is Format.json:
        print(json.dumps({"mode": mode, "cultures": list(human.answered),
                          "systems": rows[:-1], "human_reference": rows[-1]}, indent=2))
        return
    if fmt is Format.csv:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        print(buf.getvalue(), end="")
        return
    systems = ", ".join(sorted({s.system for s in scores})) or "none"
    table = Table(title=f"Alignment and diversity (×100; systems: {systems}; data read: {mode})")
    for col in ("backbone", "answers", "samples", "Alignment", "Diversity_P", "Diversity_S"):
        table.add_column(col, justify="left" if col in ("backbone", "answers") else "right")
    for s, row in zip(scores + [human], rows):
        table.add_row(s.label, s.mode, str(s.samples), _fmt(row["alignment"]), _fmt(row["diversity_p"]),
                      _fmt(row["diversity_s"]), style="bold" if s is human else None)
    out.print(table)
    counts = Table(title="answers scored / responses, per culture")
    counts.add_column("backbone")
    counts.add_column("answers")
    for c in human.answered:
        counts.add_column(c, justify="right")
    for s in scores + [human]:
        counts.add_row(s.label, s.mode, *(f"{s.answered[c]}/{s.responses[c]}" for c in s.answered))
    out.print(counts)


@app.command()
def evaluate(
    run: Annotated[Optional[Path], typer.Argument(help="A run directory; omit it to score the human reference only.")] = None,
    cultures: Annotated[Optional[str], typer.Option(help="Comma-separated culture codes (default: the run's cultures, or BRA,CHN,MEX,NGA,NZL).")] = None,
    format: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.table,
    mode: ModeOpt = Mode.faithful,
    round: Annotated[int, typer.Option(help="Interaction round to score (0 = static answers).")] = 0,
    items: ItemsOpt = None, reference: ReferenceOpt = None, cultures_file: CulturesFileOpt = None,
) -> None:
    """Alignment (eq. 2), Diversity_P (eq. 4) and Diversity_S (eq. 5) per backbone, beside humans.

    The human reference scores each culture's majority answers as an agent, on the same cultures.

    Example: culturescope evaluate runs/imported --cultures BRA,CHN,MEX,NGA,NZL
    """
    survey = _survey(items, reference, cultures_file)
    scores: list[SystemScore] = []
    if run is not None:
        responses = Run.open(run).responses()
        if responses.empty:
            raise CulturescopeError(f"{run} has no responses yet")
        chosen = survey.resolve_cultures(cultures, sorted(responses["culture"].unique()))
        scores = evaluate_responses(responses, survey, chosen, mode.value, round)
    else:
        chosen = survey.resolve_cultures(cultures, PAPER_CULTURES)
    _print_scores(scores, human_reference(survey, chosen, mode.value), format, mode.value)


@app.command()
def run(
    backbone: Annotated[Optional[list[str]], typer.Option(
        "--backbone", "-b", help="Repeatable. embedded (default; no network, no key), embedded:PATH.gguf, "
        "openai:MODEL (key in OPENAI_API_KEY), openai:MODEL@http://127.0.0.1:8000/v1 (a local server), "
        "anthropic:MODEL (key in ANTHROPIC_API_KEY).")] = None,
    config: Annotated[Optional[Path], typer.Option(help="YAML experiment file (backbones with provider/model/"
                                                   "base_url/api_key_env/decoding; see docs/backends.md).")] = None,
    cultures: Annotated[Optional[str], typer.Option(help="Comma-separated culture codes (default: BRA,CHN,MEX,NGA,NZL).")] = None,
    mode: Annotated[Optional[str], typer.Option(help="Answer modes, comma-separated: sample (text, parsed \\boxed{n}) "
                                                "and/or probs (option distribution, answer = argmax) (default: sample).")] = None,
    samples: Annotated[Optional[int], typer.Option(help="Samples per agent and item (default: 1).")] = None,
    limit: Annotated[Optional[int], typer.Option(help="Only the first N items, for a quick look.")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Run directory (default: runs/<backbone>-<hash of the experiment>). "
                                                "Running the same command again resumes it.")] = None,
    cache: Annotated[Optional[Path], typer.Option(help="Request cache (SQLite) [default: ~/.cache/culturescope/requests.sqlite "
                                                  "or $CULTURESCOPE_CACHE].")] = None,
    temperature: Annotated[Optional[float], typer.Option(help="Override: sampling temperature (paper: 1.0 API models, 0.6 open models).")] = None,
    max_tokens: Annotated[Optional[int], typer.Option(help="Override: new tokens per answer (default 512; 64 for the embedded model).")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Override: base seed; sample s uses seed + s (default 0).")] = None,
    format: Annotated[Format, typer.Option("--format", help="Format of the final table.")] = Format.table,
    items: ItemsOpt = None, reference: ReferenceOpt = None, cultures_file: CulturesFileOpt = None,
) -> None:
    """Agents of each culture answer every survey item (paper prompt, Appendix A.1); then the scores.

    Examples:

      culturescope run --mode sample,probs                 # embedded model, 5 cultures × 223 items

      culturescope run -b openai:gpt-4o-mini --limit 20    # a hosted model, first 20 items

      culturescope run --config experiment.yaml
    """
    survey = _survey(items, reference, cultures_file)
    settings = load_experiment(config) if config else {}
    specs = settings.get("backbones") or [BackboneSpec.parse(b) for b in (backbone or ["embedded"])]
    if config and backbone:
        specs += [BackboneSpec.parse(b) for b in backbone]
    overrides = {k: v for k, v in {"temperature": temperature, "max_tokens": max_tokens, "seed": seed}.items()
                 if v is not None}
    specs = [replace(s, **overrides) for s in specs]
    experiment = Experiment(
        backbones=specs,
        cultures=survey.resolve_cultures(cultures or settings.get("cultures"), PAPER_CULTURES),
        modes=[m.strip() for m in mode.split(",")] if mode else settings.get("modes", ["sample"]),
        samples=samples or settings.get("samples", 1),
        limit=limit or settings.get("limit"),
    )
    out = out or experiment.default_dir(survey)
    err = Console(stderr=True, soft_wrap=True)  # never break a path across lines
    err.print(f"run directory: {out}", highlight=False)
    try:
        result = execute(experiment, survey, out, RequestCache(cache), err)
    except KeyboardInterrupt:
        err.print(f"stopped. Every response so far is kept in {out}; run the same command again to resume.")
        raise typer.Exit(130) from None
    responses = result.responses()
    _print_scores(evaluate_responses(responses, survey, experiment.cultures), human_reference(survey, experiment.cultures),
                  format, "faithful")
    if format is Format.table:
        failures = status_counts(responses)
        failed = [c for c in failures.columns if c not in ("backbone", "mode", "culture", "ok", "out_of_range")]
        if failed:
            totals = failures.groupby(["backbone", "mode"])[failed].sum()
            for (name, answer_mode), row in totals.iterrows():
                if row.sum():
                    out_str = ", ".join(f"{k} {v}" for k, v in row.items() if v)
                    err.print(escape(f"unparsed answers, {name} [{answer_mode}]: {out_str} (raw text kept in {out})"),
                              highlight=False)


@app.command("import")
def import_(
    source: Annotated[Path, typer.Argument(help="Directory of {model}_{CULTURE}_system.jsonl files.")],
    dest: Annotated[Path, typer.Argument(help="New run directory to create.")],
    skip_bad_lines: Annotated[bool, typer.Option(help="Import the good lines and list the bad ones, instead of stopping.")] = False,
    items: ItemsOpt = None, reference: ReferenceOpt = None, cultures_file: CulturesFileOpt = None,
) -> None:
    """Import the outputs of the Beyond-Alignment reference implementation into a run.

    Backbone = {model}, culture = {CULTURE}; each line's raw 'response' is kept and parsed
    (\\boxed{n}). Then score it with: culturescope evaluate DEST
    """
    survey = _survey(items, reference, cultures_file)
    run, report = import_reference_outputs(source, dest, survey, skip_bad_lines)
    statuses = ", ".join(f"{k} {v}" for k, v in sorted(report.statuses.items()))
    out.print(f"imported {report.responses} responses from {report.files} files into {run.path} ({statuses})")
    for line in report.bad_lines:
        out.print(f"[yellow]skipped[/] {line}", highlight=False)


@survey_app.command("show")
def survey_show(
    item: Annotated[Optional[str], typer.Argument(help="An item id (e.g. Q119) to show in full.")] = None,
    country: Annotated[Optional[str], typer.Option(help="With ITEM: show only this country's answer shares.")] = None,
    mode: ModeOpt = Mode.faithful,
    items: ItemsOpt = None, reference: ReferenceOpt = None, cultures_file: CulturesFileOpt = None,
) -> None:
    """List the items, or show one item with its options and every country's answers."""
    survey = _survey(items, reference, cultures_file)
    if item is None:
        table = Table(title=f"{survey.name}: {len(survey.items)} items")
        for col in ("item", "options", "dimension", "question"):
            table.add_column(col)
        for it in survey.items:
            table.add_row(it.id, str(len(it.options)), it.dimension or "",
                          textwrap.shorten(it.question.split(" Choose only one")[0], 70))
        out.print(table)
        return
    it = survey.items[survey.item_index(item)]
    out.print(f"[bold]{it.id}[/] ({it.dimension or 'no dimension'}, Δ = {it.delta})\n{it.question}", highlight=False)
    out.print("options: " + "  ".join(f"{c}. {label}" for c, label in enumerate(it.options, 1)) + "\n", highlight=False)
    codes = list(range(1, len(it.options) + 1))
    table = Table(title="human answer shares (%) and majority")
    table.add_column("country")
    for code in codes:
        table.add_column(str(code), justify="right")
    countries = [survey.culture(country.upper()).code] if country else [c.code for c in survey.cultures]
    extra = sorted({k for c in countries for k in survey.human_shares(c, it.id, mode.value)} - set(codes))
    for code in extra:
        table.add_column(f"code {code}", justify="right", style="yellow")
    table.add_column("majority", justify="right")
    for c in countries:
        dist = survey.human_shares(c, it.id, mode.value)
        cells = [f"{100 * dist[k]:.1f}" if k in dist else "" for k in codes + extra]
        majority = survey.majority(c, it.id, mode.value)
        table.add_row(c, *cells, "no data" if majority is None else str(majority))
    out.print(table)


@app.command()
def cultures(items: ItemsOpt = None, reference: ReferenceOpt = None, cultures_file: CulturesFileOpt = None) -> None:
    """List the cultures with human answers: code, country, culture adjective, continent."""
    survey = _survey(items, reference, cultures_file)
    table = Table(title=f"{survey.name}: {len(survey.cultures)} cultures")
    for col in ("code", "country", "culture", "continent", "items with human data"):
        table.add_column(col)
    for c in survey.cultures:
        n = sum(1 for it in survey.items if survey.shares.get(c.code, {}).get(it.id))
        table.add_row(c.code, c.country, c.culture, c.continent or "", f"{n}/{len(survey.items)}")
    out.print(table)


RunsArg = Annotated[list[Path], typer.Argument(help="One or more run directories.")]
CulturesOpt = Annotated[Optional[str], typer.Option(help="Comma-separated culture codes (default: the cultures every system answered).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _systems(runs: list[Path], cultures: str | None, mode: str, survey: Survey):
    """The runs, their cultures and their single-backbone systems' answer arrays."""
    opened = [Run.open(r) for r in runs]
    responses = pd.concat([r.responses() for r in opened], ignore_index=True)
    if responses.empty:
        raise CulturescopeError("the runs hold no responses")
    common = set.intersection(*(set(g["culture"]) for _, g in responses.groupby(["backbone", "mode"])))
    chosen = survey.resolve_cultures(cultures, sorted(common))
    systems, empty = system_answers(responses, survey, chosen, mode)
    if empty:
        Console(stderr=True, soft_wrap=True).print(escape(f"left out, no answer could be scored: {', '.join(empty)}"))
    return opened, chosen, systems


def _emit(rows: list[dict], title: str, as_json: bool, notes: list[str] = ()) -> None:
    if as_json:  # undefined values (NaN) become null: JSON has no NaN
        clean = [{k: None if isinstance(v, float) and v != v else v for k, v in row.items()} for row in rows]
        print(json.dumps({"title": title, "rows": clean, "notes": list(notes)}, indent=2))
        return
    table = Table(title=title)
    for col in rows[0]:
        table.add_column(col, justify="right" if isinstance(rows[0][col], (int, float)) else "left")
    for row in rows:
        table.add_row(*(f"{v:.2f}" if isinstance(v, float) else escape(str(v)) for v in row.values()))
    out.print(table)
    for note in notes:
        out.print(escape(note), highlight=False)


PerItemOpt = Annotated[Optional[str], typer.Option(
    "--per-item", help="Comma-separated systems whose per-question (D_q, A_q) to show (Fig. 1 right).")]


def _chosen_systems(names: str, systems: dict) -> list[str]:
    chosen = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in chosen if n not in systems]
    if unknown:
        raise CulturescopeError(f"no system {unknown[0]!r}; the runs have: {', '.join(systems)}")
    return chosen


@analyze_app.command("landscape")
def analyze_landscape(runs: RunsArg, per_item: PerItemOpt = None, cultures: CulturesOpt = None,
                      mode: ModeOpt = Mode.faithful, json_: JsonOpt = False,
                      items: ItemsOpt = None, reference: ReferenceOpt = None, cultures_file: CulturesFileOpt = None) -> None:
    """Alignment vs Diversity_P and Diversity_S across single-backbone systems, with Pearson r (§5.1);
    with --per-item, each question's (D_q, A_q) for the chosen systems."""
    survey = _survey(items, reference, cultures_file)
    _, chosen, systems = _systems(runs, cultures, mode.value, survey)
    mu = survey.majority_matrix(chosen, mode.value)
    if per_item:
        names = _chosen_systems(per_item, systems)
        rows = [{"item": it.id, **{f"{n} {q}": float(v[k]) for n in names
                                   for q, v in (("D_q", metrics.per_item_diversity(systems[n][0], survey.deltas)),
                                                ("A_q", metrics.per_item_alignment(systems[n][0], mu, survey.deltas)))}}
                for k, it in enumerate(survey.items)]
        _emit(rows, "Per-question diversity D_q and alignment A_q (in [0, 1])", json_)
        return
    land = landscape(systems, mu, survey.deltas)
    rows = [{"system": l, "alignment": 100 * a, "diversity_p": 100 * p, "diversity_s": 100 * q}
            for l, a, p, q in zip(land.labels, land.alignment, land.diversity_p, land.diversity_s)]
    notes = [f"Pearson r (Diversity_{w.upper()}, Alignment) = {land.pearson(w):+.3f}" if len(rows) >= 3
             else "Pearson r needs at least 3 systems" for w in ("p", "s")][: 2 if len(rows) >= 3 else 1]
    _emit(rows, f"Diversity–alignment landscape (×100), cultures {','.join(chosen)}", json_, notes)


@analyze_app.command("mixed")
def analyze_mixed(runs: RunsArg, cultures: CulturesOpt = None, mode: ModeOpt = Mode.faithful, json_: JsonOpt = False,
                  items: ItemsOpt = None, reference: ReferenceOpt = None, cultures_file: CulturesFileOpt = None) -> None:
    """Every assignment of the runs' backbones to the culture slots: frontiers and highlights (§5.2)."""
    survey = _survey(items, reference, cultures_file)
    _, chosen, systems = _systems(runs, cultures, mode.value, survey)
    if len(systems) < 2:
        raise CulturescopeError("the mixed analysis needs at least two systems (backbones or answer modes)")
    X = np.stack([s[0] for s in systems.values()])
    result = mixed_backbones(X, survey.majority_matrix(chosen, mode.value), survey.deltas, list(systems), chosen)
    single = result.single
    rows = [{"configuration": h.name, "assignment": " ".join(f"{c}:{b}" for c, b in zip(chosen, result.assignment(h.config))),
             "diversity_p": 100 * result.diversity_p[h.config], "alignment": 100 * result.alignment[h.config],
             "reference": result.backbones[h.reference], "ΔD": 100 * h.delta_d, "ΔA": 100 * h.delta_a}
            for h in result.highlights]
    notes = [f"{len(result.diversity_p):,} assignments; mixed frontier {len(result.frontier)} points, "
             f"single-backbone frontier {len(result.single_frontier)} of {len(single)} systems",
             f"best single-backbone: Alignment {100 * result.alignment[single].max():.2f}, "
             f"Diversity_P {100 * result.diversity_p[single].max():.2f}"]
    _emit(rows, "Mixed backbones: highlighted configurations (×100)", json_, notes)


@analyze_app.command("subsets")
def analyze_subsets(runs: RunsArg, system: Annotated[str, typer.Option(help="The system (backbone) to analyze.")],
                    k: Annotated[int, typer.Option(help="Subset size.")] = 5, top: Annotated[int, typer.Option(help="Rows to show.")] = 10,
                    cultures: CulturesOpt = None, mode: ModeOpt = Mode.faithful, json_: JsonOpt = False,
                    items: ItemsOpt = None, reference: ReferenceOpt = None, cultures_file: CulturesFileOpt = None) -> None:
    """Diversity of every k-culture subset for one system, beside the human reference (§5.3, Fig. 3a)."""
    survey = _survey(items, reference, cultures_file)
    _, chosen, systems = _systems(runs, cultures, mode.value, survey)
    if system not in systems:
        raise CulturescopeError(f"no system {system!r}; the runs have: {', '.join(systems)}")
    if not 2 <= k <= len(chosen):
        raise CulturescopeError(f"k must be between 2 and {len(chosen)} (the number of cultures)")
    res = subsets(metrics.pairwise_distances(systems[system][0], survey.deltas), k)
    hum = subsets(metrics.pairwise_distances(survey.majority_matrix(chosen, mode.value), survey.deltas), k)
    order = np.argsort(-res.diversity_p)[:top]
    rows = [{"cultures": ",".join(chosen[i] for i in res.members[m]), "diversity_p": 100 * res.diversity_p[m],
             "diversity_s": 100 * res.diversity_s[m], "human_p": 100 * hum.diversity_p[m]} for m in order]
    q = np.percentile(100 * res.diversity_p, [0, 50, 100])
    notes = [f"{len(res.members):,} subsets; Diversity_P min {q[0]:.2f}, median {q[1]:.2f}, max {q[2]:.2f} "
             f"(human max {100 * hum.diversity_p.max():.2f})"]
    _emit(rows, f"Most diverse {k}-culture subsets of {system} (×100)", json_, notes)


@analyze_app.command("agents")
def analyze_agents(runs: RunsArg, system: Annotated[str, typer.Option(help="The system (backbone) to analyze.")],
                   cultures: CulturesOpt = None, mode: ModeOpt = Mode.faithful, json_: JsonOpt = False,
                   items: ItemsOpt = None, reference: ReferenceOpt = None, cultures_file: CulturesFileOpt = None) -> None:
    """Maximum diversity over all k-subsets for k = 2..C, system vs human, and the relative gap (Fig. 3b)."""
    survey = _survey(items, reference, cultures_file)
    _, chosen, systems = _systems(runs, cultures, mode.value, survey)
    if system not in systems:
        raise CulturescopeError(f"no system {system!r}; the runs have: {', '.join(systems)}")
    ac = AgentCount(max_by_size(metrics.pairwise_distances(systems[system][0], survey.deltas)),
                    max_by_size(metrics.pairwise_distances(survey.majority_matrix(chosen, mode.value), survey.deltas)))
    rows = [{"k": int(k), "system_p": 100 * sp, "human_p": 100 * hp, "gap_p_%": 100 * gp,
             "system_s": 100 * ss, "human_s": 100 * hs, "gap_s_%": 100 * gs}
            for k, sp, hp, gp, ss, hs, gs in zip(ac.k, ac.system.diversity_p, ac.human.diversity_p, ac.gap_p,
                                                 ac.system.diversity_s, ac.human.diversity_s, ac.gap_s)]
    _emit(rows, f"Agent count: maximum diversity over all k-subsets, {system} vs human (×100)", json_)


@analyze_app.command("bootstrap")
def analyze_bootstrap(runs: RunsArg, replicates: Annotated[int, typer.Option(help="Bootstrap replicates.")] = 1000,
                      level: Annotated[float, typer.Option(help="Confidence level.")] = 0.95, seed: Annotated[int, typer.Option()] = 0,
                      cultures: CulturesOpt = None, mode: ModeOpt = Mode.faithful, json_: JsonOpt = False,
                      items: ItemsOpt = None, reference: ReferenceOpt = None, cultures_file: CulturesFileOpt = None) -> None:
    """Confidence intervals over items (and samples) for Alignment, both diversities and the human gaps."""
    survey = _survey(items, reference, cultures_file)
    _, chosen, systems = _systems(runs, cultures, mode.value, survey)
    mu = survey.majority_matrix(chosen, mode.value)
    rows = []
    for label, X in systems.items():
        for metric, i in bootstrap(X, mu, survey.deltas, mu, replicates, level, seed).items():
            rows.append({"system": label, "metric": metric, "estimate": 100 * i.estimate, "low": 100 * i.low,
                         "high": 100 * i.high})
    _emit(rows, f"{100 * level:.0f}% bootstrap intervals over items, {replicates} replicates (×100)", json_)


@app.command()
def report(
    runs: RunsArg,
    output: Annotated[Path, typer.Option("-o", "--output", help="The HTML file to write.")] = Path("report.html"),
    per_item: PerItemOpt = None, cultures: CulturesOpt = None, mode: ModeOpt = Mode.faithful,
    replicates: Annotated[int, typer.Option(help="Bootstrap replicates for the intervals.")] = 1000,
    items: ItemsOpt = None, reference: ReferenceOpt = None, cultures_file: CulturesFileOpt = None,
) -> None:
    """One self-contained HTML file: scores with intervals, the paper's figures, parse failures, manifests."""
    from culturescope.report import write_report

    survey = _survey(items, reference, cultures_file)
    opened, chosen, systems = _systems(runs, cultures, mode.value, survey)
    path = write_report(opened, survey, chosen, output, mode.value, replicates,
                        _chosen_systems(per_item, systems) if per_item else None)
    out.print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)", highlight=False)


def main() -> None:
    try:
        app()
    except CulturescopeError as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
