"""The Beyond-Alignment commands: ``run``, ``evaluate``, ``exposure`` (runs), ``import`` (importing),
``pb`` (budgeting) and ``analyze``."""

import typer

commands = typer.Typer()
analyze_app = typer.Typer(
    help="System-level analyses of the Beyond-Alignment paper (§5) over runs.", no_args_is_help=True
)

# isort: off
from culturescope.methods.beyond_alignment.cli import runs, importing, budgeting, analyze  # noqa: E402, F401  (register)

# isort: on
commands.add_typer(analyze_app, name="analyze", rich_help_panel="Analyses")
