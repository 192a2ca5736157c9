"""A deterministic stand-in model for fast tests and dry runs (as Inspect's mockllm, lm-eval's DummyLM).

It reads nothing but the messages: each reply is "Answer: k" followed by ``\\boxed{k}``, so every
method's parser reads k. Policies (``scripted:POLICY``): ``first`` answers option 1, ``last`` the last
option (probs only; in text, option 2), ``uniform`` gives equal probabilities and answers a code drawn
from a hash of the messages, ``culture`` answers by a hash of the system prompt alone, so agents of
one culture agree and agents of different cultures differ. Same messages, same answer: every run is
reproducible and nothing is downloaded or computed.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np

from culturescope.backends.base import Completion, Decoding, Messages
from culturescope.errors import CulturescopeError

POLICIES = ("first", "last", "uniform", "culture")
TEXT_OPTIONS = 2  # a chat request does not say how many options the item has; every item has at least 2


def _digest(value: object) -> int:
    return int.from_bytes(hashlib.sha256(json.dumps(value, sort_keys=True).encode()).digest()[:8], "big")


class Scripted:
    knobs = frozenset({"temperature", "seed"})
    supports_probs = True
    concurrency = 64

    def __init__(self, policy: str = "uniform", seed: int = 0):
        if policy not in POLICIES:
            raise CulturescopeError(f"scripted backend: unknown policy {policy!r}; use one of {', '.join(POLICIES)}")
        self.policy, self.seed = policy, seed
        self.id = f"scripted:{policy}"

    def _code(self, messages: Messages, n_options: int, sample: int = 0) -> int:
        if self.policy == "first":
            return 1
        if self.policy == "last":
            return n_options
        system = [m["content"] for m in messages if m["role"] == "system"]
        key = system if self.policy == "culture" else [messages, self.seed + sample]
        return 1 + _digest(key) % n_options

    async def chat(self, messages: Messages, decoding: Decoding, sample: int) -> Completion:
        k = self._code(messages, TEXT_OPTIONS, 0 if decoding.temperature == 0 else sample)
        text = f"Answer: {k}\nExplanation: a scripted reply.\n\\boxed{{{k}}}"
        return Completion(text, sum(len(m["content"]) for m in messages) // 4, len(text) // 4)

    async def choose(self, messages: Messages, decoding: Decoding, sample: int, choices: list[str]) -> Completion:
        """One of ``choices``, by the policy (``last``: the last choice)."""
        k = self._code(messages, len(choices), 0 if decoding.temperature == 0 else sample)
        return Completion(choices[k - 1], sum(len(m["content"]) for m in messages) // 4, 1)

    async def option_probs(self, messages: Messages, prefix: str, n_options: int) -> tuple[np.ndarray, None]:
        if self.policy == "uniform":
            return np.full(n_options, 1 / n_options), None
        probs = np.zeros(n_options)
        probs[self._code(messages, n_options) - 1] = 1.0
        return probs, None
