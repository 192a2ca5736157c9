"""The backend protocol: chat completion, and where the backend can, option probabilities."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Protocol

import numpy as np

from culturescope.errors import CulturescopeError

Messages = list[dict[str, str]]


class BackendError(CulturescopeError):
    """A backend failed for good: bad request, missing key, server unreachable after retries."""


@dataclass(frozen=True)
class Decoding:
    """Decoding parameters. Sample ``s`` of a request uses seed ``seed + s`` where seeds exist."""

    temperature: float = 1.0
    top_p: float = 1.0
    max_tokens: int = 512
    seed: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0


class Backend(Protocol):
    #: Identifies the model behind the backend (provider, model, endpoint); part of every cache key.
    #: Never holds a secret.
    id: str
    #: How many requests may be in flight at once.
    concurrency: int
    #: Whether :meth:`option_probs` is available.
    supports_probs: bool

    async def chat(self, messages: Messages, decoding: Decoding, sample: int) -> Completion:
        """The assistant's reply to ``messages``."""

    async def option_probs(self, messages: Messages, prefix: str, n_options: int) -> np.ndarray:
        """P(code) for codes 1..n_options when the reply starts with ``prefix`` (sums to 1)."""
