"""``culturescope simulate``: survey response simulation with the Diversity-Enhanced Framework (DEF)."""

import typer

simulate_app = typer.Typer(
    help="Survey response simulation (DEF paper): simulated respondents, baselines, preference "
    "distributions and their divergence from the human ones. Start with: culturescope simulate run --help",
    no_args_is_help=True,
)
commands = typer.Typer()
commands.add_typer(simulate_app, name="simulate", rich_help_panel="Survey simulation")

# isort: off
from culturescope.methods.def_simulation.cli import core, extras  # noqa: E402, F401  (register, in this order)
