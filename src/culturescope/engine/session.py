"""Run requests against a backend: bounded concurrency, the request cache, the run store, progress.

Every response is appended to the run store the moment it arrives. Requests whose response is
already in the store are skipped, and every backend call goes through the request cache, so a run
stopped at any point (Ctrl-C, kill -9, a dead server) and started again ends with each response
exactly once and redoes no finished request.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeRemainingColumn

from culturescope.backends.base import Backend, Decoding, Messages, decodes_greedily
from culturescope.engine import cost
from culturescope.engine.cache import RequestCache
from culturescope.engine.extract import OK, choice_text, parse_answer, parse_boxed, parse_stated
from culturescope.engine.store import Run
from culturescope.survey import Item
from culturescope.survey.order import Shown, probs_to_original, to_original

#: The answer modes, each with one phrase (``--answer-mode``'s help and docs/backends.md say more).
MODES = {
    "sample": "the model writes freely; the answer is parsed from its text",
    "probs": "the option distribution at the answer position; answer = its argmax",
    "constrained": "sampled as sample, but only a valid answer can come out",
    "stated": "the model states a probability per option as JSON (our prompt); answer = its argmax",
}
#: A stated distribution needs room for a JSON object of up to 11 codes and what precedes it.
STATED_MIN_TOKENS = 256


def mode_refusal(backend: Backend, mode: str) -> str | None:
    """Why ``backend`` cannot answer in ``mode`` (None: it can)."""
    if mode == "probs" and not backend.supports_probs:
        return "the backend gives no probabilities"
    if mode == "constrained" and not hasattr(backend, "choose"):
        return getattr(backend, "constrain_refusal", "the backend cannot restrict its replies to the valid answers")
    return None


def mode_decoding(mode: str, decoding: Decoding) -> Decoding:
    """The decoding of ``mode``: ``stated`` gets at least ``STATED_MIN_TOKENS`` new tokens."""
    if mode == "stated" and decoding.max_tokens is not None and decoding.max_tokens < STATED_MIN_TOKENS:
        return replace(decoding, max_tokens=STATED_MIN_TOKENS)
    return decoding


def choices_of(template: str, n_options: int) -> list[str]:
    """The answer texts a constrained reply may be: ``template`` (e.g. ``\\boxed{{{code}}}``) for codes 1..n."""
    return [template.format(code=k) for k in range(1, n_options + 1)]


@dataclass(frozen=True)
class Request:
    """One question to one agent: where its answer goes in the response table, and the messages."""

    system: str
    agent: str
    culture: str
    item: str
    n_options: int
    round: int
    sample: int
    messages: Messages
    # Free-form answers (a budgeting ballot): the parse status of the raw text; the answer is left empty
    # and re-read from the raw text by the method that asked. None: an answer code read from \boxed{n}.
    status_of: Callable[[str, int], str] | None = None
    # The item's codes in the order its options were shown (survey/order.py); None: as in the survey.
    order: Shown | None = None

    def row_key(self, backbone: str, mode: str) -> tuple:
        return (self.system, backbone, mode, self.agent, self.item, self.round, self.sample)


def done_keys(run: Run) -> set[tuple]:
    """Keys of the responses a run already holds."""
    t = run.responses()
    cols = ["system", "backbone", "mode", "agent", "item", "round", "sample"]
    return set(t[cols].itertuples(index=False, name=None)) if not t.empty else set()


def progress_bar(console: Console) -> Progress:
    """The progress display of every long run: count, rate, time left and, for a backend that adapts
    it, how many requests may be in flight now (shown on a terminal)."""
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), _Rate(), TimeRemainingColumn()]
    return Progress(*columns, _Level(), console=console, disable=not console.is_terminal)


def level(backend: Backend) -> str:
    """The progress bar's concurrency column: now / configured, where the backend adapts it."""
    now = getattr(backend, "concurrency_now", None)
    return f"in flight ≤ {now}/{backend.concurrency}" if now is not None else ""


class _Rate(ProgressColumn):
    def render(self, task) -> str:  # type: ignore[override]
        return f"{task.speed:.1f}/s" if task.speed else "  -  /s"


class _Level(ProgressColumn):
    def render(self, task) -> str:  # type: ignore[override]
        return task.fields.get("level", "")


def chat_key(
    backend: Backend, messages: Messages, decoding: Decoding, sample: int, mode: str = "sample", choices=None
) -> str:
    """The cache key of a chat completion. Greedy decoding does not depend on the seed, so where the
    backend really decodes greedily its key leaves seed and sample out: identical greedy requests
    (e.g. simulated respondents that differ only in their seed) share one answer. A backend that
    samples whatever the temperature (Anthropic) gets a key per sample: each is its own draw. A
    constrained reply's key holds its choices and how the backend constrains (``constrain_id``)."""
    payload = {"backend": backend.id, "mode": mode, "messages": messages}
    if choices is not None:
        payload |= {"choices": list(choices), "constrain": getattr(backend, "constrain_id", None)}
    if decodes_greedily(backend, decoding):
        payload["decoding"] = {k: v for k, v in decoding.as_dict().items() if k != "seed"}
    else:
        payload |= {"decoding": decoding.as_dict(), "sample": sample}
    return RequestCache.key(payload)


async def cached_chat(
    backend: Backend,
    messages: Messages,
    decoding: Decoding,
    sample: int,
    cache: RequestCache,
    mode: str = "sample",
    choices: list[str] | None = None,
) -> dict[str, Any]:
    """``{"text", "tokens"}`` of one chat completion (``choose`` among ``choices`` in constrained mode),
    from the cache or the backend."""
    key = chat_key(backend, messages, decoding, sample, mode, choices)
    value = cache.get(key)
    if value is None:
        async with cost.spending(messages, mode, decoding) as bill:  # --max-cost
            if choices is not None:
                done = await backend.choose(messages, decoding, sample, choices)
            else:
                done = await backend.chat(messages, decoding, sample)
            bill(done.prompt_tokens, done.completion_tokens)
        value = {"text": done.text, "tokens": [done.prompt_tokens, done.completion_tokens], "via": "online"}
        cache.put(key, value)
    return value


def read_text(mode: str, text: str | None, n_options: int, parse=parse_boxed) -> dict[str, Any]:
    """The answer fields of a text reply in ``mode``: ``answer``, ``status`` and, in stated mode, the
    distribution (``probs``) and why it was not read (``trace``). ``parse``: the method's answer parser."""
    if mode == "stated":
        stated = parse_stated(text, n_options)
        answer = None if stated.probs is None else int(np.argmax(stated.probs)) + 1
        trace = {"unparsed": stated.reason} if stated.reason else None
        return {"answer": answer, "status": stated.status, "probs": stated.probs, "trace": trace}
    parsed = parse(choice_text(text) if mode == "constrained" else text, n_options)
    return {"answer": parsed.answer, "status": parsed.status, "probs": None, "trace": None}


def probs_key(backend: Backend, messages: Messages, prefix: str, n_options: int) -> str:
    """The cache key of one option scoring."""
    payload = {"backend": backend.id, "mode": "probs", "messages": messages, "prefix": prefix, "n_options": n_options}
    if getattr(backend, "probs_id", None):
        payload["scoring"] = backend.probs_id
    return RequestCache.key(payload)


async def cached_probs(
    backend: Backend, messages: Messages, prefix: str, n_options: int, cache: RequestCache
) -> dict[str, Any]:
    """``{"probs", "text"}`` of one option scoring (and ``"trace"``, how it was read, where the backend
    says), from the cache or the backend. A backend whose scoring is more than its ``id`` names it in
    ``probs_id`` (the chat template an HTTP backend renders with), which joins the key."""
    key = probs_key(backend, messages, prefix, n_options)
    value = cache.get(key)
    if value is None:
        probs, text, *how = await backend.option_probs(messages, prefix, n_options)
        value = {"probs": None if probs is None else [float(p) for p in probs], "text": text}
        if how and how[0]:
            value["trace"] = how[0]
        cache.put(key, value)
    return value


async def _answer(
    backend: Backend, req: Request, mode: str, decoding: Decoding, prefix: str, cache: RequestCache, choice: str
) -> dict[str, Any]:
    """The response record for one request, from the cache or the backend."""
    if mode == "probs":
        value = await cached_probs(backend, req.messages, prefix, req.n_options, cache)
    else:
        choices = choices_of(choice, req.n_options) if mode == "constrained" else None
        value = await cached_chat(backend, req.messages, decoding, req.sample, cache, mode, choices)
    read: dict[str, Any] = {"probs": None, "trace": value.get("trace")}
    if req.status_of is not None:
        read |= {"answer": None, "status": req.status_of(value["text"], req.n_options)}
    elif mode == "probs" and value["probs"] is not None:
        read |= {"answer": int(np.argmax(value["probs"])) + 1, "status": OK, "probs": value["probs"]}
    elif mode == "probs":  # no readable distribution: keep the text, and how the backend tried
        read = read_text("sample", value["text"], req.n_options) | {"trace": value.get("trace")}
    else:
        read = read_text(mode, value["text"], req.n_options)
    return {
        "system": req.system,
        "agent": req.agent,
        "culture": req.culture,
        "round": req.round,
        "item": req.item,
        "sample": req.sample,
        "raw": value["text"],
        "mode": mode,
        "usage": cost.usage_of(value),
    } | read


def in_item_codes(record: dict[str, Any], order: Shown | None) -> dict[str, Any]:
    """A response record to a reordered item with its answer and distribution in the item's own codes
    (the raw text stays as written) and the order it was shown in."""
    if order is None:
        return record
    answer = record["answer"] if record["answer"] is None else to_original(int(record["answer"]), order.codes)
    probs = probs_to_original(record["probs"], order.codes)
    return record | {"answer": answer, "probs": probs, "order": order.as_dict()}


async def gather_all(coroutines: Iterable) -> list:
    """Run the coroutines concurrently; their results in order. When one fails (or Ctrl-C cancels the
    wait), the others are cancelled before the error goes on."""
    tasks = [asyncio.ensure_future(c) for c in coroutines]
    try:
        return await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()


async def _run(
    backend: Backend,
    backbone: str,
    requests: list[Request],
    mode: str,
    decoding: Decoding,
    prefix: str,
    cache: RequestCache,
    run: Run,
    progress: Progress,
    choice: str,
) -> None:
    task = progress.add_task(f"{backbone} [{mode}]", total=len(requests), level=level(backend))
    gate = asyncio.Semaphore(max(1, backend.concurrency))

    async def one(req: Request) -> None:
        async with gate:
            record = await _answer(backend, req, mode, decoding, prefix, cache, choice)
        run.append([in_item_codes(record, req.order) | {"backbone": backbone}])
        progress.update(task, advance=1, level=level(backend))

    await gather_all(one(r) for r in requests)


def run_requests(
    backend: Backend,
    backbone: str,
    requests: Iterable[Request],
    mode: str,
    decoding: Decoding,
    prefix: str,
    cache: RequestCache,
    run: Run,
    console: Console | None = None,
    choice: str = "{code}",
) -> int:
    """Answer every request not yet in ``run`` in ``mode``; returns how many were answered now.
    ``prefix``: what a probs answer starts with; ``choice``: a constrained answer's text, e.g.
    ``\\boxed{{{code}}}``."""
    done = done_keys(run)
    todo = [r for r in requests if r.row_key(backbone, mode) not in done]
    decoding = mode_decoding(mode, decoding)
    with progress_bar(console or Console(stderr=True)) as progress:
        asyncio.run(_run(backend, backbone, todo, mode, decoding, prefix, cache, run, progress, choice))
    return len(todo)


class Session:
    """One backbone's calls for a multi-step system (simulated respondents, the palette): bounded
    concurrency, the cache (identical requests in flight are sent once), the run store, progress."""

    def __init__(self, backend: Backend, backbone: str, cache: RequestCache, run: Run, progress) -> None:
        self.backend, self.backbone, self.cache, self.run, self.progress = backend, backbone, cache, run, progress
        self.gate = asyncio.Semaphore(max(1, backend.concurrency))
        self.pending: dict[str, asyncio.Future] = {}  # identical requests in flight are sent once
        t = run.responses()
        t = t[t["backbone"] == backbone]
        self.stored = {
            (r.system, r.agent, r.item, int(r.sample)): r.raw
            for r in t[["system", "agent", "item", "sample", "raw"]].itertuples(index=False)
        }

    async def chat(
        self, messages: Messages, decoding: Decoding, sample: int = 0, mode: str = "sample", choices=None
    ) -> str:
        """A reply (in ``mode``; constrained to ``choices`` where given)."""
        decoding = mode_decoding(mode, decoding)
        key = chat_key(self.backend, messages, decoding, sample, mode, choices)
        if key in self.pending:
            return await asyncio.shield(self.pending[key])
        self.pending[key] = asyncio.get_running_loop().create_future()
        try:
            async with self.gate:
                value = await cached_chat(self.backend, messages, decoding, sample, self.cache, mode, choices)
                text = value["text"]
        except BaseException as exc:
            future = self.pending.pop(key)
            if isinstance(exc, asyncio.CancelledError):
                future.cancel()
            else:
                future.set_exception(exc)
                future.exception()  # marked retrieved: the waiters, if any, re-raise it
            raise
        self.pending.pop(key).set_result(text)
        return text

    async def probs(self, messages: Messages, prefix: str, n_options: int) -> dict[str, Any]:
        async with self.gate:
            return await cached_probs(self.backend, messages, prefix, n_options, self.cache)

    def store(self, system: str, agent: str, culture: str, item: Item, sample: int, text: str, **extra) -> None:
        """One row; its answer read from ``text`` in the row's ``mode`` (default sample) by the
        "Answer: ..." parser, unless ``extra`` gives it."""
        mode = extra.get("mode", "sample")
        read = read_text(mode, text, len(item.options), lambda t, _: parse_answer(t, item.options))
        record = {
            "system": system,
            "agent": agent,
            "culture": culture,
            "backbone": self.backbone,
            "mode": mode,
            "round": 0,
            "item": item.id,
            "sample": sample,
            "raw": text,
            "answer": read["answer"],
            "status": read["status"],
        }
        if read["probs"] is not None:
            record["probs"] = read["probs"]
        if read["trace"]:
            extra = extra | {"trace": (extra.get("trace") or {}) | read["trace"]}
        self.run.append([record | extra])
        self.stored[(system, agent, item.id, sample)] = text
