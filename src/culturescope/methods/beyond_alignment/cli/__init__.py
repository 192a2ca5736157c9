"""The Beyond-Alignment commands: ``run``, ``evaluate``, ``import``, ``exposure``, ``pb`` and ``analyze``."""

import typer

commands = typer.Typer()
analyze_app = typer.Typer(
    help="System-level analyses of the Beyond-Alignment paper (§5) over runs.", no_args_is_help=True
)

# isort: off
from culturescope.methods.beyond_alignment.cli import runs, budgeting, analyze  # noqa: E402, F401  (register)

# isort: on
commands.add_typer(analyze_app, name="analyze", rich_help_panel="Analyses")
