"""The ``culturescope`` command line: a thin layer over the Python API (see :mod:`culturescope.cli.main`)."""

from culturescope.cli.main import main

__all__ = ["main"]
