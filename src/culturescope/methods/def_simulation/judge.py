"""The insensitivity judge (DEF §4.2.4, Fig. 9): an LLM labels a response with six problem categories."""

from __future__ import annotations

import re

from culturescope.backends.base import Messages
from culturescope.engine.prompts import prompts
from culturescope.survey import Culture, Item

#: Guilford's operations (qc, rp), contents (iu) and products (cv, ir, ff), as §4.2.4 names them.
CATEGORIES = {
    "qc": "question capture",
    "rp": "role-play failure",
    "iu": "instruction understanding",
    "cv": "conflict in value expression",
    "ir": "irrelevant expression",
    "ff": "false facts",
}
_PROBLEMS = re.compile(r"Problems\s*:(.*)", re.IGNORECASE | re.DOTALL)
_CODE = re.compile(r"\b(" + "|".join(CATEGORIES) + r")\b", re.IGNORECASE)


def judge_messages(culture: Culture, item: Item, response: str) -> Messages:
    text = prompts(__package__, "judge")["user"].format(
        country=culture.country, question=item.question, response=response
    )
    return [{"role": "user", "content": text}]


def read_judgement(text: str | None) -> list[str] | None:
    """The codes after the last "Problems:" ([] for "none"), or None when the judge gave no verdict."""
    found = list(_PROBLEMS.finditer(text or ""))
    if not found:
        return None
    verdict = found[-1].group(1)
    codes = sorted({m.group(1).lower() for m in _CODE.finditer(verdict)})
    if codes or re.search(r"\bnone\b", verdict, re.IGNORECASE):
        return codes
    return None
