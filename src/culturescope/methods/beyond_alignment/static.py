"""The static system (Beyond-Alignment §3): each agent answers every item on its own."""

from __future__ import annotations

from culturescope.backends.base import Messages
from culturescope.engine.prompts import prompts
from culturescope.survey import Culture, Item


def persona_messages(culture: Culture, item: Item) -> Messages:
    """Appendix A.1: the persona system prompt and the item with the \\boxed{number} format."""
    p = prompts(__package__, "beyond_alignment")
    return [
        {"role": "system", "content": p["system"].format(country=culture.country, culture=culture.culture)},
        {"role": "user", "content": p["user"].format(question=item.question)},
    ]


def answer_prefix() -> str:
    return prompts(__package__, "beyond_alignment")["answer_prefix"].format()
