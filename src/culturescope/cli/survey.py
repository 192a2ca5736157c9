"""Survey data commands: ``culturescope survey show`` and ``culturescope cultures``."""

import textwrap
from typing import Annotated, Optional

import typer
from rich.markup import escape

from culturescope.cli.options import (
    CulturesFileOpt,
    HumanDataOpt,
    ItemsOpt,
    ModeOpt,
    ReferenceOpt,
    SurveyOpt,
    human_data,
    load_survey_options,
)
from culturescope.cli.output import Format, FormatOpt, JsonOpt, emit, out, output_format

commands = typer.Typer()
survey_app = typer.Typer(help="Explore the survey: items, options, human answers.", no_args_is_help=True)
commands.add_typer(survey_app, name="survey", rich_help_panel="Survey data")


@survey_app.command("show")
def survey_show(
    item: Annotated[Optional[str], typer.Argument(help="An item id (e.g. Q119) to show in full.")] = None,
    country: Annotated[Optional[str], typer.Option(help="With ITEM: show only this country's answer shares.")] = None,
    human: HumanDataOpt = None,
    format: FormatOpt = Format.table,
    survey_name: SurveyOpt = None,
    items: ItemsOpt = None,
    reference: ReferenceOpt = None,
    cultures_file: CulturesFileOpt = None,
    mode: ModeOpt = None,
    json_: JsonOpt = False,
) -> None:
    """List the items, or show one item with its options and every country's answers."""
    reading, fmt = human_data(human, mode), output_format(format, json_)
    survey = load_survey_options(items, reference, cultures_file, survey_name)
    if item is None:
        rows = [
            {
                "item": it.id,
                "options": len(it.options),
                "dimension": it.dimension or "",
                "question": it.question.split(" Choose only one")[0],
            }
            for it in survey.items
        ]
        shown = [row | {"question": textwrap.shorten(row["question"], 70)} for row in rows]
        emit(rows, f"{survey.name}: {len(survey.items)} items", fmt, shown=shown)
        return
    it = survey.item(item)
    codes = list(range(1, len(it.options) + 1))
    countries = [survey.culture(country.upper()).code] if country else [c.code for c in survey.cultures]
    extra = sorted({k for c in countries for k in survey.human_shares(c, it.id, reading)} - set(codes))
    columns = {code: str(code) for code in codes} | {code: f"code {code}" for code in extra}
    rows = []
    for c in countries:
        dist = survey.human_shares(c, it.id, reading)
        rows.append(
            {"country": c, **{name: 100 * dist[k] if k in dist else None for k, name in columns.items()}}
            | {"majority": survey.majority(c, it.id, reading)}
        )
    shown = [row | {"majority": "no data" if row["majority"] is None else row["majority"]} for row in rows]
    about = {
        "item": it.id,
        "dimension": it.dimension,
        "delta": it.delta,
        "question": it.question,
        "options": list(it.options),
        "human_data": reading,
    }
    if fmt is Format.table:
        out.print(
            f"[bold]{escape(it.id)}[/] ({escape(it.dimension or 'no dimension')}, Δ = {it.delta})", highlight=False
        )
        out.print(escape(it.question), highlight=False)
        options = "  ".join(f"{c}. {label}" for c, label in enumerate(it.options, 1))
        out.print(escape(f"options: {options}\n"), highlight=False)
    emit(rows, f"{it.id}: human answer shares (%) and majority", fmt, shown=shown, extra=about)


@commands.command(rich_help_panel="Survey data")
def cultures(
    format: FormatOpt = Format.table,
    survey_name: SurveyOpt = None,
    items: ItemsOpt = None,
    reference: ReferenceOpt = None,
    cultures_file: CulturesFileOpt = None,
    json_: JsonOpt = False,
) -> None:
    """List the cultures with human answers: code, country, culture adjective, continent."""
    fmt = output_format(format, json_)
    survey = load_survey_options(items, reference, cultures_file, survey_name)
    rows = [
        {
            "code": c.code,
            "country": c.country,
            "culture": c.culture,
            "continent": c.continent or "",
            "items with human data": f"{sum(1 for it in survey.items if survey.shares.get(c.code, {}).get(it.id))}"
            f"/{len(survey.items)}",
        }
        for c in survey.cultures
    ]
    emit(rows, f"{survey.name}: {len(survey.cultures)} cultures", fmt)
