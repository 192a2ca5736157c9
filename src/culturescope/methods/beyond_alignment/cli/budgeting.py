"""Participatory budgeting: run the vote and count it."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape

from culturescope.backends import BackboneSpec
from culturescope.cli.options import (
    BackboneOpt,
    BackbonesOpt,
    CulturesFileOpt,
    ItemsOpt,
    PaperCulturesOpt,
    ReferenceOpt,
    RunsArg,
    SurveyOpt,
    load_runs,
    load_survey_options,
    resumable,
)
from culturescope.cli.output import Format, FormatOpt, JsonOpt, emit_tables, output_format
from culturescope.errors import CulturescopeError
from culturescope.methods.beyond_alignment.cli import analyze_app, commands
from culturescope.methods.beyond_alignment.cli.common import culture_distances
from culturescope.survey import PAPER_CULTURES, budgeting_projects

# The method's modules (pandas, numpy, the engine) are imported in the commands that use them.
if TYPE_CHECKING:
    import pandas as pd


@commands.command(rich_help_panel="Runs")
def pb(
    backbone: BackboneOpt = None,
    cultures: PaperCulturesOpt = None,
    samples: Annotated[int, typer.Option(help="Ballots per agent (paper: 20).")] = 20,
    budget: Annotated[int, typer.Option(help="Budget for the aggregation rules (projects cost 10,000 each).")] = 40000,
    out_dir: Annotated[
        Optional[Path], typer.Option("--out", help="Run directory (default: runs/pb-<cultures>); rerun to resume.")
    ] = None,
    cache: Annotated[Optional[Path], typer.Option(help="Request cache (SQLite).")] = None,
    cultures_from: Annotated[
        Optional[Path],
        typer.Option(
            help="A run in which --system answered the survey: vote with its lowest- and highest-Diversity_P "
            "five-culture systems (the paper's §7 comparison) instead of --cultures."
        ),
    ] = None,
    system: Annotated[
        Optional[str], typer.Option(help="With --cultures-from: the system whose subsets to rank.")
    ] = None,
    format: FormatOpt = Format.table,
    survey_name: SurveyOpt = None,
    items: ItemsOpt = None,
    reference: ReferenceOpt = None,
    cultures_file: CulturesFileOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Participatory budgeting (§7): each agent approves exactly 4 of the 13 WVS projects.

    Every agent votes --samples times; then vote shares, coverage, entropy, invalid ballots and the
    projects funded by greedy approval and the Method of Equal Shares.
    """
    from culturescope.engine.cache import RequestCache
    from culturescope.methods.beyond_alignment.run import execute_budgeting

    fmt = output_format(format, json_)
    survey = load_survey_options(items, reference, cultures_file, survey_name)
    specs = [BackboneSpec.parse(b) for b in (backbone or ["embedded"])]
    if cultures_from:
        picks = diversity_extremes(cultures_from, system, survey)
    else:
        picks = {"": survey.resolve_cultures(cultures, PAPER_CULTURES)}
    err = Console(stderr=True, soft_wrap=True)
    tables = []
    for name, chosen in picks.items():
        target = (out_dir / name if name else out_dir) if out_dir else Path("runs") / f"pb-{'-'.join(chosen)}"
        if name:
            err.print(f"{name}-diversity five-culture system of {escape(system)}: {','.join(chosen)}", highlight=False)
        run = resumable(
            "ballot",
            target,
            lambda: execute_budgeting(specs, survey, chosen, samples, target, RequestCache(cache), err),
        )
        tables += vote_tables(run.responses(), budget, f"{name}-diversity system, " if name else "")
    emit_tables(tables, "Participatory budgeting", fmt)


def diversity_extremes(run: Path, system: str | None, survey) -> dict[str, list[str]]:
    """The lowest- and highest-Diversity_P five-culture systems of ``system``'s answers in ``run``,
    over every culture it answered (the paper's §7 pair)."""
    from culturescope.methods.beyond_alignment.analyses.subsets import subsets

    if not system:
        raise CulturescopeError("--cultures-from needs --system (the backbone whose culture subsets to rank)")
    chosen_all, D_system, _ = culture_distances([run], system, None, "faithful", survey)
    if len(chosen_all) < 6:
        raise CulturescopeError(
            f"{run} has {len(chosen_all)} cultures for {system}; ranking 5-culture systems needs 6+"
        )
    res = subsets(D_system, 5)
    return {
        name: [chosen_all[i] for i in res.members[index]]
        for name, index in (("lowest", res.diversity_p.argmin()), ("highest", res.diversity_p.argmax()))
    }


@analyze_app.command("pb")
def analyze_pb(
    runs: RunsArg,
    budget: Annotated[int, typer.Option(help="Budget for the aggregation rules (projects cost 10,000 each).")] = 40000,
    cultures: Annotated[
        Optional[str],
        typer.Option(
            help="Comma-separated culture codes whose ballots to count (default: every culture with ballots)."
        ),
    ] = None,
    system: Annotated[
        Optional[str], typer.Option(help="The backbone whose ballots to count (default: each backbone apart).")
    ] = None,
    cultures_from: Annotated[
        Optional[Path],
        typer.Option(
            help="A static run in which --system answered the survey: count the ballots of its lowest- and "
            "highest-Diversity_P five-culture systems (the paper's Fig. 6) instead of --cultures."
        ),
    ] = None,
    backbones: BackbonesOpt = None,
    format: FormatOpt = Format.table,
    survey_name: SurveyOpt = None,
    items: ItemsOpt = None,
    reference: ReferenceOpt = None,
    cultures_file: CulturesFileOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Vote shares, coverage, entropy, invalid ballots and funded projects of budgeting runs (§7).

    Example (Fig. 6 from published ballots): culturescope analyze pb runs/pb --system claude-opus-4.7
    --cultures-from runs/static
    """
    from culturescope.methods.beyond_alignment.budgeting import SYSTEM

    fmt = output_format(format, json_)
    survey = load_survey_options(items, reference, cultures_file, survey_name)
    _, table = load_runs(runs, system or backbones)
    table = table[table["system"] == SYSTEM]
    if table.empty:
        raise CulturescopeError("no budgeting ballots in these runs; make them with: culturescope pb")
    if cultures_from:
        picks = diversity_extremes(cultures_from, system, survey)
    else:
        picks = {"": survey.resolve_cultures(cultures, []) if cultures else None}
    err = Console(stderr=True, soft_wrap=True, highlight=False)
    tables = []
    for name, chosen in picks.items():
        rows = table if chosen is None else table[table["culture"].isin(chosen)]
        for backbone, group in rows.groupby("backbone"):
            for line in ballot_gaps(group, chosen):
                err.print(escape(f"{backbone}: {line}"))
        if name:
            err.print(f"{name}-diversity five-culture system of {escape(system)}: {','.join(chosen)}")
        if rows.empty:
            err.print(escape(f"left out: no ballots for {','.join(chosen)}"))
            continue
        tables += vote_tables(rows, budget, f"{name}-diversity system, " if name else "")
    emit_tables(tables, "Participatory budgeting", fmt)


def ballot_gaps(group: "pd.DataFrame", cultures: list[str] | None) -> list[str]:
    """What a backbone's ballots lack: a chosen culture without ballots, or fewer ballots than the most."""
    per = group.groupby("culture").size()
    lines = [f"left out: no ballots for {c}" for c in cultures or [] if c not in per]
    short = [f"{c} {n}" for c, n in per.items() if n < per.max()]
    if short:
        lines.append(f"partial: fewer ballots than {per.max()} for {', '.join(short)}")
    return lines


def vote_tables(table: "pd.DataFrame", budget: int, title: str = "") -> list[tuple[str, list[dict], list[str]]]:
    """One (title, rows, notes) table per backbone: votes per project, then the summary lines."""
    from culturescope.methods.beyond_alignment.budgeting import funded, parse_ballot, summarize

    projects = budgeting_projects()
    tables = []
    ids = {p["id"] for p in projects}
    for name, rows in table.groupby("backbone"):
        chosen = sorted(rows["culture"].unique())
        ballots = [parse_ballot(raw, ids) for raw in rows["raw"]]
        summary = summarize(ballots, projects)
        total = max(1, sum(summary.votes.values()))
        votes = [
            {
                "project": p["id"],
                "name": p["name"],
                "category": p["category"],
                "votes": summary.votes[p["id"]],
                "share %": 100 * summary.votes[p["id"]] / total,
            }
            for p in projects
        ]
        notes = [
            f"valid ballots {summary.ballots} of {len(ballots)}; invalid: "
            + (", ".join(f"{k} {v}" for k, v in sorted(summary.invalid.items())) or "none"),
            f"approvals {sum(summary.votes.values())}; coverage {summary.coverage}/{len(projects)} projects; "
            f"entropy {summary.entropy_nats:.3f} nats (normalized {summary.entropy:.3f})",
        ]
        if summary.ballots:
            notes += [
                f"funded ({rule}, budget {budget:,.0f}): {ids_}"
                for rule, ids_ in funded(ballots, projects, budget).items()
            ]
        tables.append((f"Participatory budgeting, {title}{name}, cultures {','.join(chosen)}", votes, notes))
    return tables
