"""The ``culturescope`` command: a thin layer over the Python API."""

import sys

from rich.console import Console

from culturescope.cli import analyze, core  # noqa: F401 (registers the commands)
from culturescope.cli.common import app
from culturescope.errors import CulturescopeError


def main() -> None:
    try:
        app()
    except CulturescopeError as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
