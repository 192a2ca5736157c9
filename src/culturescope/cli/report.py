"""``culturescope report``: one HTML page over runs of any method."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.markup import escape

from culturescope.cli.options import (
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
    renamed,
    run_cultures,
    split_names,
)
from culturescope.cli.output import note_left_out, out
from culturescope.methods.beyond_alignment.cli.common import PerItemOpt

if TYPE_CHECKING:
    from rich.console import Console

    from culturescope.engine.store import Run
    from culturescope.survey import Mode, Survey

commands = typer.Typer()


def report_made(
    made: list["Run"], survey: "Survey", cultures: list[str], err: "Console", reading: "Mode" = "faithful", into=None
) -> None:
    """The last step of every command that makes runs: their report, written without asking as
    ``report.html`` into the directory ``into`` (default: the first run's), and one line saying where."""
    import pandas as pd

    from culturescope.report import ReportOptions
    from culturescope.report.page import write_report

    target = Path(into or made[0].path) / "report.html"
    responses = pd.concat([r.responses() for r in made], ignore_index=True)
    write_report(made, responses, survey, cultures, target, ReportOptions(reading))
    err.print(escape(f"report: {target}"), highlight=False)


@commands.command(rich_help_panel="Analyses")
def report(
    runs: RunsArg,
    out_file: Annotated[
        Optional[Path], typer.Option("--out", help="The HTML file to write (default: report.html).")
    ] = None,
    per_item: PerItemOpt = None,
    cultures: CulturesOpt = None,
    backbones: BackbonesOpt = None,
    strict_complete: StrictCompleteOpt = False,
    human: HumanDataOpt = None,
    replicates: Annotated[int, typer.Option(help="Bootstrap replicates for the intervals.")] = 1000,
    groups: Annotated[
        Optional[Path],
        typer.Option(help="Simulation: human answer shares by demographic group, for the bias profiles."),
    ] = None,
    case_item: Annotated[
        Optional[str], typer.Option(help="Simulation: the item shown in the case view (default: the first).")
    ] = None,
    survey_name: SurveyOpt = None,
    items: ItemsOpt = None,
    reference: ReferenceOpt = None,
    cultures_file: CulturesFileOpt = None,
    output: Annotated[
        Optional[Path], typer.Option("-o", "--output", hidden=True, help="Deprecated: use --out.")
    ] = None,
    mode: ModeOpt = None,
) -> None:
    """One self-contained HTML file: scores with intervals, the paper's figures, parse failures, manifests.
    Simulation runs (and judge runs) add Table 1, the variation map, a case view and the judge's findings;
    palette runs add S_align (Table 1), a per-continent plot and a draft-to-decision case."""
    from culturescope.methods.def_simulation.profiles import load_group_reference
    from culturescope.report import ReportOptions
    from culturescope.report.page import write_report

    output = renamed(out_file, output, "-o/--output", "--out") or Path("report.html")
    reading = human_data(human, mode)
    survey = load_survey_options(items, reference, cultures_file, survey_name)
    opened, responses = load_runs(runs, backbones, by_order=False)  # the report keeps option orders apart itself
    if case_item:
        survey.item_index(case_item)
    options = ReportOptions(
        reading,
        replicates,
        split_names(per_item) if per_item else None,
        load_group_reference(groups) if groups else None,
        case_item,
        strict_complete,
    )
    chosen = run_cultures(responses[responses["mode"] != "judge"], cultures, survey)
    note_left_out(write_report(opened, responses, survey, chosen, output, options))
    out.print(escape(f"wrote {output} ({output.stat().st_size / 1e6:.1f} MB)"), highlight=False)
