"""``culturescope import``: the outputs of the Beyond-Alignment reference implementation as a run."""

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape

from culturescope.cli.options import (
    CulturesFileOpt,
    ItemsOpt,
    ReferenceOpt,
    SurveyOpt,
    load_survey_options,
    renamed,
)
from culturescope.cli.output import out
from culturescope.errors import CulturescopeError
from culturescope.methods.beyond_alignment.cli import commands


@commands.command("import", rich_help_panel="Runs")
def import_(
    source: Annotated[Path, typer.Argument(help="Directory of the reference implementation's outputs (see --kind).")],
    dest: Annotated[
        Optional[Path], typer.Argument(hidden=True, help="Deprecated: the run directory; use --out.")
    ] = None,
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="The new run directory to create.")] = None,
    strict_complete: Annotated[
        bool,
        typer.Option(
            "--strict-complete",
            help="Stop at the first bad line or file, importing nothing (default: import the "
            "rest and list each one left out).",
        ),
    ] = False,
    skip_bad_lines: Annotated[
        bool, typer.Option(hidden=True, help="Deprecated: importing the good lines is now the default.")
    ] = False,
    kind: Annotated[
        str,
        typer.Option(
            help="static: {model}_{CULTURE}_system.jsonl files; exposure: a directory of round directories "
            "(wvs_evaluation, wvs_evaluation_interaction, ..._roundK); budgeting: {model}_{CULTURE}.jsonl "
            "ballot files."
        ),
    ] = "static",
    survey_name: SurveyOpt = None,
    items: ItemsOpt = None,
    reference: ReferenceOpt = None,
    cultures_file: CulturesFileOpt = None,
) -> None:
    """Import the outputs of the Beyond-Alignment reference implementation into a run.

    Backbone = {model}, culture = {CULTURE}; each line's raw 'response' is kept and parsed
    (\\boxed{n}). Then score it with: culturescope evaluate OUT

    Example: culturescope import outputs/wvs_evaluation --out runs/static
    """
    from culturescope.methods.beyond_alignment.importers import import_reference_outputs

    dest = renamed(out_dir, dest, "import SOURCE DEST", "--out", "import SOURCE --out DEST")
    if dest is None:
        raise CulturescopeError("give the run directory to create: culturescope import SOURCE --out DIR")
    survey = load_survey_options(items, reference, cultures_file, survey_name)
    if skip_bad_lines:
        Console(stderr=True).print("--skip-bad-lines is deprecated: importing the good lines is now the default")
    run, report = import_reference_outputs(source, dest, survey, strict_complete, kind)
    statuses = ", ".join(f"{k} {v}" for k, v in sorted(report.statuses.items()))
    out.print(escape(f"imported {report.responses} responses from {report.files} files into {run.path} ({statuses})"))
    for line in report.bad_lines:
        out.print(f"[yellow]left out[/] {escape(line)}", highlight=False)
    for line in report.ignored:
        out.print(f"[dim]ignored[/] {escape(line)}", highlight=False)
