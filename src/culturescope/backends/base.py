"""The backend protocol: chat completion, and where the backend can, option probabilities."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Protocol

from culturescope.errors import CulturescopeError

if TYPE_CHECKING:
    import numpy as np

Messages = list[dict[str, str]]


class BackendError(CulturescopeError):
    """A backend failed for good: bad request, missing key, server unreachable after retries."""


@dataclass(frozen=True)
class Decoding:
    """Decoding parameters. Sample ``s`` of a request uses seed ``seed + s`` where seeds exist.
    Temperature 0 is greedy decoding (``do_sample`` off) on a backend that honours ``temperature``.
    A backend uses the knobs it lists in ``Backend.knobs`` and ignores the others."""

    temperature: float = 1.0
    top_p: float | None = 1.0  # None: not sent, the provider's default (OpenAI-compatible backends only)
    max_tokens: int | None = 512  # None: no cap, the model stops by itself or at the provider's limit
    seed: int = 0
    top_k: int | None = None
    num_beams: int = 1
    thinking: bool | None = None  # a chat template's thinking switch (Qwen3); None: the template's default

    def as_dict(self) -> dict:
        """The parameters, leaving out ``top_k``/``num_beams``/``thinking`` at their defaults (keeps older
        cache keys)."""
        out = asdict(self)
        if self.top_k is None:
            del out["top_k"]
        if self.num_beams == 1:
            del out["num_beams"]
        if self.thinking is None:
            del out["thinking"]
        return out


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
    #: The :class:`Decoding` fields the backend honours (besides ``max_tokens``).
    knobs: frozenset[str]

    async def chat(self, messages: Messages, decoding: Decoding, sample: int) -> Completion:
        """The assistant's reply to ``messages``."""

    async def option_probs(
        self, messages: Messages, prefix: str, n_options: int
    ) -> tuple[np.ndarray | None, str | None] | tuple[np.ndarray | None, str | None, dict | None]:
        """P(code) for codes 1..n_options when the reply starts with ``prefix`` (sums to 1), or None with
        the text the backend wrote instead where it could not read a distribution. A third element, where
        given, says how the distribution was read (route, observed mass, codes below the top-k with their
        bound) and is stored in the row's ``trace``."""


def decodes_greedily(backend: Backend, decoding: Decoding) -> bool:
    """Whether the backend really decodes ``decoding`` greedily: temperature 0 on a backend that honours
    ``temperature``. One without that knob (Anthropic's API) samples every request at its own default."""
    return decoding.temperature == 0 and "temperature" in backend.knobs


def applied_decoding(backend: Backend, decoding: Decoding) -> dict:
    """The decoding the backend actually applies, as recorded with an answer: ``do_sample`` and the
    values of the knobs it honours."""
    honoured = {k: v for k, v in decoding.as_dict().items() if k in backend.knobs}
    return {"do_sample": not decodes_greedily(backend, decoding)} | honoured
