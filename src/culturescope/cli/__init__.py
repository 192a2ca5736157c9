"""The ``culturescope`` command: a thin layer over the Python API."""

import sys

from rich.console import Console

# isort: off
from culturescope.cli import core  # noqa: F401  (registers run, evaluate, import, survey: listed first)
from culturescope.cli import budgeting  # noqa: F401  (registers pb)
from culturescope.cli import analyze  # noqa: F401  (registers the analyses and the report)
from culturescope.cli import simulate  # noqa: F401  (registers simulate)
from culturescope.cli import palette  # noqa: F401  (registers palette)
from culturescope.cli import palette_train  # noqa: F401  (registers palette synthesize, train, merge)

# isort: on
from culturescope.cli.common import app
from culturescope.errors import CulturescopeError


def main() -> None:
    try:
        app()
    except CulturescopeError as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
