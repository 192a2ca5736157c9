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


def stated_instruction(templates: dict[str, str], n_options: int) -> str:
    """A method's request for a stated distribution (``stated`` answer mode) for an item of ``n_options``:
    its ``stated`` template with an example object of every code (``stated_entry``)."""
    entries = ", ".join(templates["stated_entry"].format(code=k) for k in range(1, n_options + 1))
    return templates["stated"].format(example="{" + entries + "}")


def restate(messages: list[dict[str, str]], format_line: str, instruction: str) -> list[dict[str, str]]:
    """``messages`` with the output-format line of the last user message replaced by ``instruction``:
    the same question, another answer format."""
    *before, last = messages
    if last["role"] != "user" or format_line not in last["content"]:
        raise ValueError(f"the last message asks for no {format_line!r}")
    return [*before, last | {"content": last["content"].replace(format_line, instruction)}]
