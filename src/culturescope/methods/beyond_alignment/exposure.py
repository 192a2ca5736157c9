"""Multi-round social exposure (Beyond-Alignment §6, Appendix D.1).

Round 0 is the static system. In round r ≥ 1 every agent answers every item after seeing the other
agents' round r − 1 answers to it. What is shown follows the reference implementation: each other
agent's raw reply text (so a reply that could not be parsed is shown as it was written), or, with
``show="answer"`` (the reference's variant for some models), the parsed code or ``N/A``. Answers
given as option distributions (probs mode) have no text and are shown as their code; a constrained
answer is shown as its answer text, a stated one as the JSON the agent wrote. Each round is asked as
its answer mode asks (``static.mode_messages``).
"""

from __future__ import annotations

from typing import Literal

import pandas as pd

from culturescope.backends.base import Messages
from culturescope.engine.extract import choice_text
from culturescope.engine.prompts import prompts
from culturescope.engine.session import Request
from culturescope.methods.beyond_alignment.static import mode_messages, persona_messages
from culturescope.survey import Item, OptionOrder, Survey
from culturescope.survey.order import stored_codes, to_shown

SYSTEM = "exposure"
Show = Literal["raw", "answer"]


def shown(row: pd.Series | dict, show: Show) -> str:
    """How one previous-round answer is shown to the other agents: a parsed code by the number its
    option was shown under (every agent sees an item's options in the same order)."""
    raw, answer, order = row.get("raw"), row.get("answer"), row.get("order")
    if show == "raw" and isinstance(raw, str):
        return choice_text(raw) if row.get("mode") == "constrained" else raw
    if answer is None or answer != answer:
        return "N/A"
    return str(to_shown(int(answer), stored_codes(order)))


def exposure_messages(survey: Survey, culture: str, item: Item, others: list[tuple[str, str]]) -> Messages:
    """The persona system prompt and the exposure instruction; ``others`` is (culture code, shown)."""
    p = prompts(__package__, "beyond_alignment_exposure")
    lines = "".join(p["other"].format(culture=survey.culture(c).culture, response=text) for c, text in others)
    system = persona_messages(survey.culture(culture), item)[0]
    return [system, {"role": "user", "content": p["user"].format(question=item.question, others=lines)}]


def round_requests(
    survey: Survey,
    cultures: list[str],
    items: list[Item],
    previous: pd.DataFrame,
    round: int,
    samples: int,
    show: Show,
    mode: str = "sample",
    order: OptionOrder = OptionOrder(),
) -> list[Request]:
    """Round ``round`` of every agent, from the previous round's responses of one backbone and ``mode``,
    the items shown in ``order`` as in round 0."""
    by_key = {(r["culture"], r["item"], r["sample"]): r for r in previous.to_dict("records")}
    requests = []
    for c in cultures:
        for item in items:
            it, perm = order.shown(item)
            for s in range(samples):
                others = [(o, shown(by_key[(o, it.id, s)], show)) for o in cultures if o != c]
                messages = mode_messages(exposure_messages(survey, c, it, others), mode, len(it.options))
                requests.append(Request(SYSTEM, c, c, it.id, len(it.options), round, s, messages, order=perm))
    return requests
