"""How a local model's option distribution is defined, for every backend that scores locally.

After the answer prefix (``\\boxed{``), each code c has the continuation text ``c}``. When every code
starts with its own token, the first token decides: one forward pass gives P(first token) for every
code. When codes share a prefix (``1`` for 1, 10 and 11), each code's whole continuation is scored,
``1}`` vs ``10}`` vs ``11}``. Either way the result is normalized over the item's codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Continuations:
    """Token sequences ``prompt + prefix + "c}"`` per code, split where they start to differ."""

    seqs: list[list[int]]
    shared: int  # tokens common to every sequence (the prompt and the prefix, as tokenized)
    whole: bool  # score whole continuations (codes share a first token) or the first token only

    def scored(self, code: int) -> list[int]:
        """The tokens of code ``code`` (0-based) whose log-probabilities are summed."""
        tail = self.seqs[code][self.shared :]
        return tail if self.whole else tail[:1]


def continuations(tokenize: Callable[[str], list[int]], base: str, n_options: int) -> Continuations:
    seqs = [tokenize(base + f"{c}}}") for c in range(1, n_options + 1)]
    shared = min(len(s) for s in seqs)
    for s in seqs[1:]:
        shared = min(shared, next((i for i, (a, b) in enumerate(zip(seqs[0], s)) if a != b), shared))
    whole = len({s[shared] for s in seqs}) < n_options
    return Continuations(seqs, shared, whole)


def log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def normalize(logp: np.ndarray) -> np.ndarray:
    p = np.exp(logp - logp.max())
    return p / p.sum()
