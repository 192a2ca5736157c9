"""Prompt templates: each method ships its paper's prompts, verbatim, in its package's ``prompts.toml``."""

from __future__ import annotations

import tomllib
from functools import cache
from importlib.resources import files


@cache
def _load(package: str) -> dict[str, dict[str, str]]:
    return tomllib.loads((files(package) / "prompts.toml").read_text(encoding="utf-8"))


def prompts(package: str, section: str) -> dict[str, str]:
    """The templates of one ``section`` of ``package``'s ``prompts.toml`` (call with ``__package__``)."""
    return _load(package)[section]
