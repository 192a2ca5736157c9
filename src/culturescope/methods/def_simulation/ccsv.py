"""Collective critiques and self-voting (CCSV; Lahoti et al., 2023), the DEF paper's baseline (DEF
§2, §5.1): an initial answer, ``decodes`` sampled critiques of it, ``decodes`` rewrites that address
all critiques, then a vote among the rewrites. CCSV-single runs it once per simulated respondent on
the citizen prompt; CCSV-list runs it once per item on a prompt asking for all n_test answers.
"""

from __future__ import annotations

import re

from culturescope.backends.base import Messages
from culturescope.engine.prompts import prompts
from culturescope.survey import Culture, Item

_NUMBER = re.compile(r"\d+")
_ANSWER = re.compile(r"Answer\s*:", re.IGNORECASE)


def list_prompt(culture: Culture, item: Item, n_test: int) -> str:
    p = prompts(__package__, "ccsv")["list"]
    return p.format(n_test=n_test, country=culture.country, n_options=len(item.options), question=item.question)


def critique_messages(request: str, response: str, culture: Culture) -> Messages:
    text = prompts(__package__, "ccsv")["critique"].format(request=request, response=response, country=culture.country)
    return [{"role": "user", "content": text}]


def rewrite_messages(request: str, response: str, critiques: list[str]) -> Messages:
    text = prompts(__package__, "ccsv")["rewrite"].format(
        request=request, response=response, critiques="\n".join(critiques)
    )
    return [{"role": "user", "content": text}]


def vote_messages(request: str, candidates: list[str], culture: Culture) -> Messages:
    p = prompts(__package__, "ccsv")
    listed = "\n".join(p["candidate"].format(number=n, response=c) for n, c in enumerate(candidates, start=1))
    text = p["vote"].format(request=request, n_candidates=len(candidates), candidates=listed, country=culture.country)
    return [{"role": "user", "content": text}]


def read_vote(text: str, n_candidates: int) -> int | None:
    """The 0-based candidate the vote names (its first number), or None when it names none."""
    match = _NUMBER.search(text)
    if match and 1 <= int(match.group()) <= n_candidates:
        return int(match.group()) - 1
    return None


def split_list(text: str, n_test: int) -> list[str]:
    """The answers of a CCSV-list response: each "Answer:" starts one, up to ``n_test``."""
    starts = [m.start() for m in _ANSWER.finditer(text)]
    return [text[a:b].strip() for a, b in zip(starts, starts[1:] + [len(text)])][:n_test]
