"""The static system (Beyond-Alignment §3): each agent answers every item on its own."""

from __future__ import annotations

from culturescope.backends.base import Messages
from culturescope.engine.prompts import prompts, restate, stated_instruction
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


#: The output-format line of the paper's prompts (static and exposure), replaced in stated mode.
FORMAT_LINE = "Output format MUST be exactly: \\boxed{number}"


def mode_messages(messages: Messages, mode: str, n_options: int) -> Messages:
    """The paper's ``messages`` as asked in answer ``mode``: unchanged, or in stated mode with the
    output-format line replaced by culturescope's request for a probability per option."""
    if mode != "stated":
        return messages
    return restate(messages, FORMAT_LINE, stated_instruction(mode_prompts(), n_options))


def mode_prompts() -> dict[str, str]:
    """The templates of the constrained and stated answer modes (culturescope's, not the paper's)."""
    return prompts(__package__, "beyond_alignment_modes")
