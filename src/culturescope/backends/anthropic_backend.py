"""Anthropic's messages API (official SDK): the system prompt goes in ``system``, not in messages.

No sampling parameters are sent: API version 2026-10-21 (the SDK's default) rejects temperature,
top_p and top_k at any value, so answers use the API's own sampling, which is the paper's setting for
API models (temperature 1.0, top_p 1.0). No option probabilities: the API exposes no logprobs, so
Anthropic backbones run in sample mode, or in stated mode (a stated distribution needs no logprobs).
No constrained mode: this backend sends no structured output (the API's JSON outputs are not
used here), so it has no ``choose`` and a constrained run skips it with ``constrain_refusal``.
"""

from __future__ import annotations

import os

from culturescope.backends.base import BackendError, Completion, Decoding, Messages
from culturescope.backends.pool import Pool, transient


def to_anthropic(messages: Messages) -> tuple[str | None, list[dict]]:
    """Split chat messages into Anthropic's (system, messages) shape."""
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system") or None
    return system, [{"role": m["role"], "content": m["content"]} for m in messages if m["role"] != "system"]


class Anthropic:
    supports_probs = False
    knobs: frozenset[str] = frozenset()  # the API rejects every sampling parameter (see above)
    constrain_refusal = (
        "culturescope sends Anthropic's API no structured output, so its replies cannot be restricted to the "
        "valid answers; use stated (a probability per option) or sample"
    )

    def __init__(
        self,
        model: str,
        api_key_env: str = "ANTHROPIC_API_KEY",
        base_url: str | None = None,
        concurrency: int = 4,
        timeout: float = 120.0,
        max_retries: int = 6,
        backoff: float = 1.0,
    ):
        import anthropic

        key = os.environ.get(api_key_env)
        if not key:
            raise BackendError(f"environment variable {api_key_env} is not set (API key for anthropic:{model})")
        self.model = model
        self.id = f"anthropic:{model}" + (f"@{base_url}" if base_url else "")
        self.concurrency, self.max_retries, self.backoff = concurrency, max_retries, backoff
        self._secret = key
        self._anthropic = anthropic
        self._client = anthropic.AsyncAnthropic(api_key=key, base_url=base_url, max_retries=0, timeout=timeout)
        #: Adaptive concurrency (``backends/pool.py``): halved on 429 and 529 (overloaded), grown back on success.
        self.pool = Pool([base_url], concurrency, max_retries, backoff, 60.0)

    @property
    def concurrency_now(self) -> int:
        return self.pool.level

    def request(self, messages: Messages, decoding: Decoding) -> dict:
        """The keyword arguments of ``messages.create`` for these messages."""
        system, turns = to_anthropic(messages)
        params = {"model": self.model, "messages": turns, "max_tokens": decoding.max_tokens}
        if system:
            params["system"] = system
        return params

    async def chat(self, messages: Messages, decoding: Decoding, sample: int) -> Completion:
        a = self._anthropic
        params = self.request(messages, decoding)

        async def attempt(_url):
            try:
                return await self._client.messages.create(**params)
            except (a.RateLimitError, a.InternalServerError, a.APIConnectionError) as exc:
                raise transient(exc) from None  # 529 is Anthropic's "overloaded"
            except a.APIStatusError as exc:
                raise BackendError(f"{self.id}: HTTP {exc.status_code}: {exc.message}") from None

        try:
            msg = await self.pool.send(attempt, self.id)
        except BackendError as exc:
            raise BackendError(str(exc).replace(self._secret, "***")) from None
        text = "".join(block.text for block in msg.content if block.type == "text")
        return Completion(text, msg.usage.input_tokens, msg.usage.output_tokens)

    async def option_probs(self, messages: Messages, prefix: str, n_options: int):
        raise BackendError(f"{self.id} gives no token probabilities; use --answer-mode sample")
