"""Option probabilities from a server's top log-probabilities, by the definition of ``backends/scoring.py``.

A server gives, at one position, the log-probabilities of its ``TOP_LOGPROBS`` most likely next
tokens, as token texts. ``score_codes`` asks for the position right after the answer prefix
(``\\boxed{``) and, where needed, the positions after a part of a code, and reads each code's
continuation ``c}`` token by token:

- a code's token at a position is the longest returned token its remaining text starts with (``10``
  where a tokenizer has whole numbers, ``1`` where it splits digits);
- when every code starts with its own token, that first token decides, as in-process;
- when codes share a first token (``1`` of 1, 10 and 11), the whole continuation of every code is
  scored, ``1}`` vs ``10}`` vs ``11}`` vs ``2}``…: one more position per distinct partial code (12
  positions for an 11-option item whose tokenizer splits digits), asked depth first.

Nothing is invented: a code whose token is not among the returned ones is *below the top-k*, and its
probability is bounded (at most the last returned token's probability, times its path so far) rather
than set to 0. The distribution is normalized over the codes read; ``observed_mass`` is how much of the
model's probability they hold, and the bounds say how much the others could hold at most.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Awaitable, Callable

import numpy as np

TOP_LOGPROBS = 20  # what OpenAI and vLLM (by default: ``--max-logprobs``) return at most
WIDE_LOGPROBS = 1000  # asked first where the server allows it, so that fewer codes fall below the top-k

#: text after the answer prefix -> {token text: log-probability} of the next token's top alternatives
NextTop = Callable[[str], Awaitable[dict[str, float]]]


@dataclass
class Scored:
    """Absolute log P of each code read (NaN: below the top-k) and an upper bound for the others."""

    logp: np.ndarray
    bounds: dict[int, float] = field(default_factory=dict)  # code -> at most this probability
    positions: int = 0  # next-token distributions read

    @property
    def probs(self) -> np.ndarray | None:
        """Normalized over the codes read (the others enter as 0 and keep their bound); None if none was."""
        seen = ~np.isnan(self.logp)
        if not seen.any():
            return None
        p = np.zeros(len(self.logp))
        p[seen] = np.exp(self.logp[seen] - self.logp[seen].max())
        return p / p.sum()

    @property
    def observed_mass(self) -> float:
        seen = ~np.isnan(self.logp)
        return float(np.exp(self.logp[seen]).sum())

    def trace(self, route: str) -> dict:
        """What the stored row says about how its distribution was read."""
        out: dict = {"probs_route": route, "observed_mass": round(self.observed_mass, 6)}
        if self.bounds:
            out["below_top_k"] = {str(c): b for c, b in sorted(self.bounds.items())}
        return out


def longest_token(top: dict[str, float], rest: str) -> str | None:
    """The longest returned token that ``rest`` starts with."""
    return max((t for t in top if t and rest.startswith(t)), key=len, default=None)


def floor(top: dict[str, float]) -> float:
    """The smallest returned log-probability: a token not returned has at most this."""
    return min(top.values()) if top else 0.0


async def score_codes(next_top: NextTop, n_options: int) -> Scored:
    """Log P of each code 1..n's continuation (see the module docstring). Positions are asked one at a
    time, depth first, as the in-process scorer evaluates them: a server that reuses its cached prefix
    (llama.cpp) then evaluates each continuation token alone after its parent, as in-process, and
    llama.cpp's logits depend on how tokens are batched."""
    texts = [f"{c}}}" for c in range(1, n_options + 1)]
    scored = Scored(np.full(n_options, np.nan))

    async def ask(done: str) -> dict[str, float]:
        scored.positions += 1
        return await next_top(done)

    async def descend(done: str, codes: dict[int, float], here: dict[str, float]) -> None:
        """Codes (with their log P so far) whose text read so far is ``done``; ``here``: what follows."""
        groups: dict[str, dict[int, float]] = {}
        for i, lp in codes.items():
            token = longest_token(here, texts[i][len(done) :])
            if token is None:
                scored.bounds[i + 1] = math.exp(lp + floor(here))
            else:
                groups.setdefault(token, {})[i] = lp + here[token]
        for token, group in groups.items():
            deeper = {}
            for i, lp in group.items():
                if done + token == texts[i]:
                    scored.logp[i] = lp
                else:
                    deeper[i] = lp
            if deeper:
                await descend(done + token, deeper, await ask(done + token))

    root = await ask("")
    first = [longest_token(root, t) for t in texts]
    found = [t for t in first if t is not None]
    if len(set(found)) == len(found):  # every code read starts with its own token: it decides
        for i, token in enumerate(first):
            if token is None:
                scored.bounds[i + 1] = math.exp(floor(root))
            else:
                scored.logp[i] = root[token]
    else:  # codes share a first token: every code's whole continuation
        await descend("", dict.fromkeys(range(n_options), 0.0), root)
    return scored


def read_reply(tokens, prefix: str, n_options: int) -> Scored | None:
    """The legacy reading, from the token logprobs of the model's own reply (``tokens``: a chat reply's
    ``logprobs.content``, one ``{"token", "logprob", "top_logprobs"}`` per token): at the token right after
    ``prefix`` each code's probability is read from the top alternatives; a code of two digits whose
    first digit was generated (``1`` for 10 or 11) takes its second digit from the next position. None
    when the reply never writes ``prefix``."""
    text = ""
    for i, tok in enumerate(tokens):
        if text.endswith(prefix):
            break
        text += tok["token"]
    else:
        return None
    codes = {str(c): c for c in range(1, n_options + 1)}
    here = {alt["token"].strip(): alt["logprob"] for alt in tokens[i]["top_logprobs"] or []}
    probs, seen = np.zeros(n_options), np.zeros(n_options, bool)
    for token, lp in here.items():
        if token in codes:
            probs[codes[token] - 1] += math.exp(lp)
            seen[codes[token] - 1] = True
    bounds = {c: math.exp(floor(here)) for c in range(1, n_options + 1) if not seen[c - 1]}
    first = tokens[i]["token"].strip()
    longer = [c for c in codes if c.startswith(first) and c != first]
    if longer and first in codes and i + 1 < len(tokens):
        # Split P(first digit) between "1}" (code 1) and "10", "11" by the next token.
        f, p_first = codes[first] - 1, probs[codes[first] - 1]
        nxt = {alt["token"].strip(): math.exp(alt["logprob"]) for alt in tokens[i + 1]["top_logprobs"] or []}
        closing = [p for t, p in nxt.items() if t.startswith("}")]
        probs[f], seen[f] = p_first * sum(closing), seen[f] and bool(closing)
        for code in longer:
            tail = [p for t, p in nxt.items() if t.rstrip("}") == code[len(first) :]]
            probs[codes[code] - 1] += p_first * sum(tail)
            seen[codes[code] - 1] |= bool(tail)
        for c in (codes[first], *(codes[code] for code in longer)):
            if not seen[c - 1]:
                bounds[c] = p_first * min(nxt.values(), default=0.0)
            else:
                bounds.pop(c, None)
    logp = np.where(seen & (probs > 0), np.log(np.where(probs > 0, probs, 1.0)), np.nan)
    return Scored(logp, bounds, positions=1 + bool(longer and first in codes and i + 1 < len(tokens)))
