"""Survey data commands: ``culturescope survey show`` and ``culturescope cultures``."""

import textwrap
from typing import Annotated, Optional

import typer
from rich.markup import escape

from culturescope.cli.options import CulturesFileOpt, ItemsOpt, Mode, ModeOpt, ReferenceOpt, load_survey_options, out

commands = typer.Typer()
survey_app = typer.Typer(help="Explore the survey: items, options, human answers.", no_args_is_help=True)
commands.add_typer(survey_app, name="survey", rich_help_panel="Survey data")


@survey_app.command("show")
def survey_show(
    item: Annotated[Optional[str], typer.Argument(help="An item id (e.g. Q119) to show in full.")] = None,
    country: Annotated[Optional[str], typer.Option(help="With ITEM: show only this country's answer shares.")] = None,
    mode: ModeOpt = Mode.faithful,
    items: ItemsOpt = None,
    reference: ReferenceOpt = None,
    cultures_file: CulturesFileOpt = None,
) -> None:
    """List the items, or show one item with its options and every country's answers."""
    from rich.table import Table

    survey = load_survey_options(items, reference, cultures_file)
    if item is None:
        table = Table(title=f"{survey.name}: {len(survey.items)} items")
        for col in ("item", "options", "dimension", "question"):
            table.add_column(col)
        for it in survey.items:
            table.add_row(
                it.id,
                str(len(it.options)),
                it.dimension or "",
                escape(textwrap.shorten(it.question.split(" Choose only one")[0], 70)),
            )
        out.print(table)
        return
    it = survey.item(item)
    out.print(f"[bold]{escape(it.id)}[/] ({escape(it.dimension or 'no dimension')}, Δ = {it.delta})", highlight=False)
    out.print(escape(it.question), highlight=False)
    options = "  ".join(f"{c}. {label}" for c, label in enumerate(it.options, 1))
    out.print(escape(f"options: {options}\n"), highlight=False)
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


@commands.command(rich_help_panel="Survey data")
def cultures(items: ItemsOpt = None, reference: ReferenceOpt = None, cultures_file: CulturesFileOpt = None) -> None:
    """List the cultures with human answers: code, country, culture adjective, continent."""
    from rich.table import Table

    survey = load_survey_options(items, reference, cultures_file)
    table = Table(title=f"{survey.name}: {len(survey.cultures)} cultures")
    for col in ("code", "country", "culture", "continent", "items with human data"):
        table.add_column(col)
    for c in survey.cultures:
        n = sum(1 for it in survey.items if survey.shares.get(c.code, {}).get(it.id))
        table.add_row(c.code, c.country, c.culture, c.continent or "", f"{n}/{len(survey.items)}")
    out.print(table)
