"""The ``culturescope`` command: the commands of every registered method, the survey and the report."""

from __future__ import annotations

import sys

import typer

from culturescope import registry
from culturescope.errors import CulturescopeError

app = typer.Typer(
    help="Score LLM agents' answers to value surveys against the human answers of each "
    "country (alignment) and against each other (diversity). Start with: culturescope run --limit 5",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def build() -> typer.Typer:
    """Mount each method's commands (built in, then plugins), the survey commands and the report."""
    from culturescope.cli import report, survey

    for method in registry.methods().values():
        if method.commands is not None:
            app.add_typer(method.part("commands"))
    app.add_typer(survey.commands)
    app.add_typer(report.commands)
    return app


def main() -> None:
    try:
        build()()
    except CulturescopeError as exc:
        from rich.console import Console

        Console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
