"""Any OpenAI-compatible chat server: vLLM, SGLang, llama.cpp server, Ollama, OpenAI, Gemini, xAI.

Transient failures (429, 5xx, timeouts, refused connections) are retried with exponential backoff
and full jitter, honouring ``Retry-After``; any other 4xx ends the run with the server's message.
The API key is read from the environment variable named in the config and never leaves this object.

Option probabilities use the server's ``logprobs``/``top_logprobs``: at the token right after
``\\boxed{`` in the reply, each code's probability is read from the top alternatives; a code of two
digits whose first digit was generated (``1`` for 10 or 11) takes its second digit from the next
position. Codes outside the top alternatives get probability 0.
"""

from __future__ import annotations

import asyncio
import math
import os
import random

import numpy as np

from culturescope.backends.base import BackendError, Completion, Decoding, Messages

TOP_LOGPROBS = 20


class OpenAICompatible:
    supports_probs = True
    knobs = frozenset({"temperature", "top_p", "seed", "thinking"})

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        api_key_env: str | None = None,
        concurrency: int = 8,
        timeout: float = 120.0,
        max_retries: int = 6,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
    ):
        import openai

        self.model = model
        self.base_url = base_url
        self.id = f"openai:{model}@{base_url or 'https://api.openai.com/v1'}"
        self.concurrency = concurrency
        self.max_retries, self.backoff, self.max_backoff = max_retries, backoff, max_backoff
        if api_key_env:
            key = os.environ.get(api_key_env)
            if not key:
                raise BackendError(f"environment variable {api_key_env} is not set (API key for {self.id})")
        else:
            key = "not-needed"  # local servers ignore it
        self._secret = key
        self._client = openai.AsyncOpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=timeout)
        self._openai = openai

    def _redact(self, text: str) -> str:
        return text.replace(self._secret, "***") if len(self._secret) > 3 else text

    def _retry_after(self, exc: Exception) -> float | None:
        response = getattr(exc, "response", None)
        value = response.headers.get("retry-after") if response is not None else None
        try:
            return float(value) if value is not None else None
        except ValueError:
            return None

    async def _create(self, **kwargs):
        oa = self._openai
        for attempt in range(self.max_retries + 1):
            try:
                return await self._client.chat.completions.create(model=self.model, **kwargs)
            except (oa.RateLimitError, oa.InternalServerError, oa.APIConnectionError) as exc:
                if attempt == self.max_retries:
                    raise BackendError(
                        self._redact(f"{self.id}: gave up after {attempt + 1} attempts: {exc}")
                    ) from None
                wait = self._retry_after(exc) or random.uniform(0, min(self.max_backoff, self.backoff * 2**attempt))
                await asyncio.sleep(wait)
            except oa.APIStatusError as exc:
                raise BackendError(self._redact(f"{self.id}: HTTP {exc.status_code}: {exc.message}")) from None

    def request(self, decoding: Decoding, sample: int) -> dict:
        """The sampling fields of a chat request. ``top_p`` None and ``max_tokens`` None are not sent
        (the provider's default; OpenAI's reasoning models reject both); ``thinking`` goes in
        ``chat_template_kwargs.enable_thinking``, the switch vLLM and SGLang pass to the chat template."""
        fields = {"temperature": decoding.temperature, "seed": decoding.seed + sample}
        if decoding.top_p is not None:
            fields["top_p"] = decoding.top_p
        if decoding.max_tokens is not None:
            fields["max_tokens"] = decoding.max_tokens
        if decoding.thinking is not None:
            fields["extra_body"] = {"chat_template_kwargs": {"enable_thinking": decoding.thinking}}
        return fields

    async def chat(self, messages: Messages, decoding: Decoding, sample: int) -> Completion:
        resp = await self._create(messages=messages, **self.request(decoding, sample))
        usage = resp.usage
        return Completion(
            resp.choices[0].message.content or "",
            usage.prompt_tokens if usage else 0,
            usage.completion_tokens if usage else 0,
        )

    async def option_probs(self, messages: Messages, prefix: str, n_options: int) -> tuple[np.ndarray | None, str]:
        """(distribution or None when the reply has no readable answer position, reply text)."""
        resp = await self._create(
            messages=messages, temperature=0.0, max_tokens=64, logprobs=True, top_logprobs=TOP_LOGPROBS, seed=0
        )
        choice = resp.choices[0]
        tokens = choice.logprobs.content if choice.logprobs and choice.logprobs.content else []
        return codes_from_logprobs(tokens, prefix, n_options), choice.message.content or ""


def codes_from_logprobs(tokens, prefix: str, n_options: int) -> np.ndarray | None:
    """Distribution over codes 1..n from the token logprobs of a reply (see module docstring)."""
    text = ""
    for i, tok in enumerate(tokens):
        if text.endswith(prefix):
            break
        text += tok.token
    else:
        return None
    codes = {str(c): c for c in range(1, n_options + 1)}
    probs = np.zeros(n_options)
    for alt in tokens[i].top_logprobs:
        token = alt.token.strip()
        if token in codes:
            probs[codes[token] - 1] += math.exp(alt.logprob)
    first = tokens[i].token.strip()
    longer = [c for c in codes if c.startswith(first) and c != first]
    if longer and first in codes and i + 1 < len(tokens):
        # Split P(first digit) between "1}" (code 1) and "10", "11" by the next token.
        p_first = probs[codes[first] - 1]
        nxt = {alt.token.strip(): math.exp(alt.logprob) for alt in tokens[i + 1].top_logprobs}
        probs[codes[first] - 1] = p_first * sum(p for t, p in nxt.items() if t.startswith("}"))
        for code in longer:
            probs[codes[code] - 1] += p_first * sum(p for t, p in nxt.items() if t.rstrip("}") == code[len(first) :])
    total = probs.sum()
    return probs / total if total > 0 else None
