"""The static system (Beyond-Alignment §3): each agent answers every item on its own."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

from culturescope.backends.base import Messages
from culturescope.survey import Culture, Item


@cache
def prompts(paper: str = "beyond_alignment") -> dict[str, str]:
    """The verbatim prompt templates of one paper (``systems/prompts.toml``)."""
    with (Path(__file__).parent / "prompts.toml").open("rb") as fh:
        return tomllib.load(fh)[paper]


def persona_messages(culture: Culture, item: Item) -> Messages:
    """Appendix A.1: the persona system prompt and the item with the \\boxed{number} format."""
    p = prompts()
    return [
        {"role": "system", "content": p["system"].format(country=culture.country, culture=culture.culture)},
        {"role": "user", "content": p["user"].format(question=item.question)},
    ]


def answer_prefix() -> str:
    return prompts()["answer_prefix"].format()
