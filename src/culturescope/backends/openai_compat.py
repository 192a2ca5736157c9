"""Any OpenAI-compatible chat server: vLLM, SGLang, llama.cpp server, Ollama, OpenAI, Gemini, xAI.

Requests are sent through a ``backends/pool.py`` pool: ``base_url`` may be a list of replicas of one
model (the least busy live one gets each request; one that fails is set aside and tried again later),
and each replica's concurrency adapts to its 429s. Transient failures (429, 5xx, timeouts, refused
connections) are retried with exponential backoff and full jitter, honouring ``Retry-After``; any
other 4xx ends the run with the server's message.
The API key is read from the environment variable named in the config and never leaves this object.

Option probabilities (``backends/http_probs.py`` reads them from the server's top log-probabilities,
by the definition of ``backends/scoring.py``) come by the first of three routes that works:

- ``completions``: with a ``chat_template`` (a GGUF file or a Jinja file), culturescope renders the
  prompt itself (messages, the assistant's header, the answer prefix) and asks ``/v1/completions`` for
  one token with ``logprobs`` (vLLM, SGLang, llama.cpp's servers);
- ``prefill``: the messages end with an assistant message holding the answer prefix, which the server
  continues (``continue_final_message: true, add_generation_prompt: false``: vLLM, SGLang). Whether a
  server does is found by one probe request per backend (a count to continue, ``1,2,3,4,5,6,``: a
  server that continues answers ``7``; one that opens a new assistant turn does not);
- ``reply`` (neither available, with a notice): read at the token after ``\\boxed{`` in the model's
  own reply, inexact, and nothing where the reply has no box.

Constrained answers (``choose``) use the server's structured output, of the kind the backbone names in
``constrain`` (``backends/constrain.py``; default ``json_schema``, OpenAI's). A reply outside the
choices means the server ignored the constraint: the run stops with a message naming the key.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
from pathlib import Path

import httpx2
import numpy as np

from culturescope.backends.base import BackendError, Completion, Decoding, Messages
from culturescope.backends.constrain import KINDS, structured_output
from culturescope.backends.http_probs import TOP_LOGPROBS, WIDE_LOGPROBS, Scored, read_reply, score_codes
from culturescope.backends.pool import OVERLOAD, Pool, Unreachable, overloaded
from culturescope.engine.extract import choice_text

#: The prefill probe: a count the server continues with "7" when it continues the final message.
PROBE = ([{"role": "user", "content": "Count from 1 to 10, separated by commas."}], "1,2,3,4,5,6,", "7")
DEFAULT_URL = "https://api.openai.com/v1"
REPLY_NOTICE = "inexact: read from the model's own reply (no prefill, no chat_template)"


class ClientError(BackendError):
    """The server refused the request (a 4xx other than 429)."""


class OpenAICompatible:
    supports_probs = True
    knobs = frozenset({"temperature", "top_p", "seed", "thinking"})

    def __init__(
        self,
        model: str,
        base_url: str | list[str] | tuple[str, ...] | None = None,
        api_key_env: str | None = None,
        concurrency: int = 8,
        timeout: float = 120.0,
        max_retries: int = 6,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        chat_template: str | Path | None = None,
        constrain: str = "json_schema",
    ):
        if constrain not in KINDS:
            raise BackendError(f"unknown constrain {constrain!r}; use one of {', '.join(KINDS)}")
        urls = [base_url] if base_url is None or isinstance(base_url, str) else list(base_url)
        if not urls:
            raise BackendError(f"openai:{model}: base_url is an empty list")
        self.model = model
        self.base_url = base_url
        #: How constrained answers are asked for (part of their cache key).
        self.constrain_id = constrain
        # Replicas serve one model: the key names them all, in a fixed order (a single URL as before).
        self.id = f"openai:{model}@{','.join(sorted(u for u in urls if u)) or DEFAULT_URL}"
        self.concurrency = concurrency
        self.max_retries, self.backoff, self.max_backoff = max_retries, backoff, max_backoff
        self.pool = Pool(urls, concurrency, max_retries, backoff, max_backoff)
        if api_key_env:
            key = os.environ.get(api_key_env)
            if not key:
                raise BackendError(f"environment variable {api_key_env} is not set (API key for {self.id})")
        else:
            key = "not-needed"  # local servers ignore it
        self._secret = key
        self.timeout = timeout
        self.template = None
        if chat_template is not None:
            from culturescope.backends.chat_template import ChatTemplate

            self.template = ChatTemplate.load(chat_template)
        #: How option probabilities are read: "completions", "prefill" or "reply"; None until probed.
        self.probs_route: str | None = "completions" if self.template else None
        #: Part of every probs cache key: the scoring definition and the rendering.
        self.probs_id = "top-logprobs-v2" + (f":template:{self.template.digest}" if self.template else "")
        self._loop = None
        self._wide_refused = False

    def _redact(self, text: str) -> str:
        return text.replace(self._secret, "***") if len(self._secret) > 3 else text

    @property
    def concurrency_now(self) -> int:
        """How many requests may be in flight now (adapted to the servers' 429s)."""
        return self.pool.level

    async def _call(self, path: str, **fields) -> dict:
        """POST ``fields`` (with ``model``; ``extra_body`` merged in) to ``path`` on a replica the pool
        chooses, retried there; the reply's JSON. Sent with httpx2, the HTTP client of the OpenAI SDK,
        in the SDK's request and reply shapes (the tests check them against its types), but not
        through the SDK: its request building and typed replies took half of culturescope's time per
        request (``benchmarks/http_throughput.py``)."""
        clients = self._per_loop()[2]
        body = json.dumps(self.body(**fields)).encode()

        async def attempt(url):
            try:
                reply = await clients[url].post(path, content=body)
            except httpx2.TransportError as exc:  # refused, lost, timed out
                raise Unreachable(f"{type(exc).__name__}: {exc}") from None
            status = reply.status_code
            if status in OVERLOAD:
                raise overloaded(f"HTTP {status}: {_error_text(reply)}", reply.headers)
            if status >= 500 or status == 408:
                raise Unreachable(f"HTTP {status}: {_error_text(reply)}")
            if status >= 400:
                raise ClientError(self._redact(f"{self.id}: HTTP {status}: {_error_text(reply)}"))
            try:
                answer = reply.json()
            except ValueError:
                answer = None
            if not isinstance(answer, dict):
                raise BackendError(f"{self.id}: HTTP {status}, a reply that is no JSON object: {reply.text[:200]!r}")
            return answer

        try:
            return await self.pool.send(attempt, self.id)
        except ClientError:
            raise
        except BackendError as exc:
            raise BackendError(self._redact(str(exc))) from None

    def body(self, **fields) -> dict:
        """The JSON body of a request: ``model`` and ``fields``, with ``extra_body`` merged in as the
        SDK merges it (online requests and batch lines alike)."""
        extra = fields.pop("extra_body", None) or {}
        return {"model": self.model, **fields, **extra}

    async def _create(self, **fields) -> dict:
        return await self._call("/chat/completions", **fields)

    def _choice(self, resp: dict) -> dict:
        """The first choice of a chat or completions reply."""
        try:
            return resp["choices"][0]
        except (KeyError, IndexError, TypeError):
            raise BackendError(f"{self.id}: a reply without choices: {json.dumps(resp)[:200]}") from None

    def completion(self, resp: dict) -> Completion:
        """A chat reply's text and token usage (online replies and batch results alike)."""
        text = (self._choice(resp).get("message") or {}).get("content") or ""
        usage = resp.get("usage") or {}
        return Completion(text, usage.get("prompt_tokens") or 0, usage.get("completion_tokens") or 0)

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
        return self.completion(await self._create(messages=messages, **self.request(decoding, sample)))

    async def choose(self, messages: Messages, decoding: Decoding, sample: int, choices: list[str]) -> Completion:
        """A sampled reply restricted to ``choices`` by the server's structured output."""
        fields = self.request(decoding, sample)
        extra = structured_output(self.constrain_id, choices)
        if "extra_body" in extra:
            extra["extra_body"] = fields.pop("extra_body", {}) | extra["extra_body"]
        done = self.completion(await self._create(messages=messages, **fields, **extra))
        if choice_text(done.text).strip() not in choices:
            raise BackendError(
                f"{self.id}: the reply {done.text[:80]!r} is none of the allowed answers: the server ignored the "
                f"structured output '{self.constrain_id}'; set the backbone's constrain to what it supports "
                f"({', '.join(KINDS)}; docs/backends.md)"
            )
        return done

    # -- option probabilities ------------------------------------------------------------------

    def _per_loop(self) -> tuple[asyncio.Lock, asyncio.Semaphore, dict]:
        """The probe's lock, the bound on option-scoring requests in flight and the HTTP client of each
        replica, made anew for each event loop: a run calls ``asyncio.run`` once per mode, and a client's
        kept-alive connections belong to the loop that opened them."""
        loop = asyncio.get_running_loop()
        if self._loop is None or self._loop[0] is not loop:
            clients = {r.url: self._client(r.url) for r in self.pool.replicas}
            self._loop = (loop, asyncio.Lock(), asyncio.Semaphore(max(1, self.concurrency)), clients)
        return self._loop[1:]

    def _client(self, url: str | None):
        """An HTTP client for one replica, as many connections as requests may be in flight."""
        return httpx2.AsyncClient(
            base_url=url or DEFAULT_URL,
            headers={"Authorization": f"Bearer {self._secret}", "Content-Type": "application/json"},
            timeout=self.timeout,
            verify=_tls(),
            limits=httpx2.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency),
            follow_redirects=True,
        )

    def _gates(self) -> tuple[asyncio.Lock, asyncio.Semaphore]:
        return self._per_loop()[:2]

    async def _top(self, ask) -> dict[str, float]:
        """``ask(k)``'s alternatives: ``WIDE_LOGPROBS`` of them while the server allows it, else
        ``TOP_LOGPROBS`` (a 4xx to the wide request says it does not: vLLM's ``--max-logprobs``, 20 by
        default; OpenAI's limit is 20)."""
        if not self._wide_refused:
            try:
                return await ask(WIDE_LOGPROBS)
            except ClientError:
                self._wide_refused = True
        return await ask(TOP_LOGPROBS)

    async def completion_top(self, prompt: str, k: int = TOP_LOGPROBS) -> dict[str, float]:
        """Top ``k`` log-probabilities of the token after a raw ``prompt`` (``/v1/completions``)."""
        async with self._gates()[1]:
            resp = await self._call("/completions", prompt=prompt, max_tokens=1, logprobs=k, temperature=0.0)
        lp = _logprobs(resp)
        if lp.get("top_logprobs") and lp["top_logprobs"][0] is not None:  # the legacy shape
            top = dict(lp["top_logprobs"][0])
            if lp.get("tokens") and lp.get("token_logprobs") and lp["token_logprobs"][0] is not None:
                top.setdefault(lp["tokens"][0], lp["token_logprobs"][0])
            return top
        if lp.get("content"):  # the chat shape, which llama.cpp's llama-server also gives for completions
            return _top_of(lp["content"][0])
        raise BackendError(
            f"{self.id}: /completions returned no logprobs; the completions route needs a server that "
            "returns them for a raw prompt (vLLM, SGLang, llama.cpp)"
        )

    async def prefill_top(self, messages: Messages, prefill: str, k: int = TOP_LOGPROBS) -> dict[str, float]:
        """Top ``k`` log-probabilities of the token that continues an assistant message ``prefill``
        (``/v1/chat/completions`` with vLLM's and SGLang's ``continue_final_message``); empty when the
        reply carries no logprobs."""
        async with self._gates()[1]:
            resp = await self._create(
                messages=[*messages, {"role": "assistant", "content": prefill}],
                max_tokens=1,
                logprobs=True,
                top_logprobs=k,
                temperature=0.0,
                extra_body={"continue_final_message": True, "add_generation_prompt": False},
            )
        content = _logprobs(resp).get("content")
        return _top_of(content[0]) if content else {}

    async def route(self) -> str:
        """The probs route of this server, probed once (see the module docstring)."""
        if self.probs_route is None:
            async with self._gates()[0]:
                if self.probs_route is None:
                    messages, prefill, expected = PROBE
                    try:
                        top = await self.prefill_top(messages, prefill)
                    except ClientError:  # the server refuses the extra fields (OpenAI) or logprobs
                        top = {}
                    best = max(top, key=top.get) if top else None
                    self.probs_route = "prefill" if best is not None and best.strip() == expected else "reply"
        return self.probs_route

    @property
    def probs_notice(self) -> str | None:
        """Said once per run when option probabilities are read the inexact way."""
        if self.probs_route != "reply":
            return None
        return (
            f"{self.id}: probs are read from the model's own reply (inexact; no distribution where it writes no "
            "\\boxed{): the server did not continue a prefilled assistant message and the backbone has no "
            "chat_template (docs/backends.md)"
        )

    async def option_probs(
        self, messages: Messages, prefix: str, n_options: int
    ) -> tuple[np.ndarray | None, str | None, dict]:
        """(distribution or None, reply text or None, how it was read: the row's trace)."""
        route = await self.route()
        if route in ("completions", "prefill"):
            if route == "completions":
                prompt = self.template.render(messages) + prefix
                scored = await score_codes(
                    lambda done: self._top(lambda k: self.completion_top(prompt + done, k)), n_options
                )
            else:
                scored = await score_codes(
                    lambda done: self._top(lambda k: self.prefill_top(messages, prefix + done, k)), n_options
                )
            top_k = TOP_LOGPROBS if self._wide_refused else WIDE_LOGPROBS
            return scored.probs, None, scored.trace(route) | {"top_k": top_k}
        async with self._gates()[1]:
            resp = await self._create(
                messages=messages, temperature=0.0, max_tokens=64, logprobs=True, top_logprobs=TOP_LOGPROBS, seed=0
            )
        choice = self._choice(resp)
        scored = read_reply((choice.get("logprobs") or {}).get("content") or [], prefix, n_options)
        trace = {"probs_route": "reply", "notice": REPLY_NOTICE}
        if scored is not None:
            trace |= scored.trace("reply")
        return None if scored is None else scored.probs, (choice.get("message") or {}).get("content") or "", trace


def codes_from_logprobs(tokens, prefix: str, n_options: int) -> np.ndarray | None:
    """Distribution over codes 1..n read from the token logprobs of a reply (``http_probs.read_reply``)."""
    scored: Scored | None = read_reply(tokens, prefix, n_options)
    return None if scored is None else scored.probs


@functools.cache
def _tls():
    """One TLS context for every client: making one reads the CA bundle, 25 ms."""
    return httpx2.create_ssl_context()


def _logprobs(resp: dict) -> dict:
    """The ``logprobs`` of a reply's first choice; empty where it has none."""
    return ((resp.get("choices") or [{}])[0] or {}).get("logprobs") or {}


def _top_of(position: dict) -> dict[str, float]:
    """{token: log-probability} at one position of a chat-shaped ``logprobs.content``: its top
    alternatives and the token itself (two tokens of one text: the likelier one)."""
    top: dict[str, float] = {}
    for alt in position.get("top_logprobs") or []:
        top.setdefault(alt["token"], alt["logprob"])
    top.setdefault(position["token"], position["logprob"])
    return top


def _error_text(reply) -> str:
    """The message of an error reply: OpenAI's ``error.message`` (vLLM, llama.cpp alike), else its text."""
    try:
        body = reply.json()
    except ValueError:
        return reply.text[:500] or reply.reason_phrase
    if not isinstance(body, dict):
        return json.dumps(body)[:500]
    error = body.get("error")
    message = error.get("message") if isinstance(error, dict) else error or body.get("message")
    return str(message) if message else json.dumps(body)[:500]
