"""Run requests against a backend: bounded concurrency, the request cache, the run store, progress.

Every response is appended to the run store the moment it arrives. Requests whose response is
already in the store are skipped, and every backend call goes through the request cache, so a run
stopped at any point (Ctrl-C, kill -9, a dead server) and started again ends with each response
exactly once and redoes no finished request.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeRemainingColumn

from culturescope.backends.base import Backend, Decoding, Messages, decodes_greedily
from culturescope.engine.cache import RequestCache
from culturescope.engine.extract import OK, parse_answer, parse_boxed
from culturescope.engine.store import Run
from culturescope.survey import Item
from culturescope.survey.order import Shown, probs_to_original, to_original

MODES = ("sample", "probs")


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
    """The progress display of every long run: count, rate and time left (shown on a terminal)."""
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), _Rate(), TimeRemainingColumn()]
    return Progress(*columns, console=console, disable=not console.is_terminal)


class _Rate(ProgressColumn):
    def render(self, task) -> str:  # type: ignore[override]
        return f"{task.speed:.1f}/s" if task.speed else "  -  /s"


def chat_key(backend: Backend, messages: Messages, decoding: Decoding, sample: int) -> str:
    """The cache key of a chat completion. Greedy decoding does not depend on the seed, so where the
    backend really decodes greedily its key leaves seed and sample out: identical greedy requests
    (e.g. simulated respondents that differ only in their seed) share one answer. A backend that
    samples whatever the temperature (Anthropic) gets a key per sample: each is its own draw."""
    payload = {"backend": backend.id, "mode": "sample", "messages": messages}
    if decodes_greedily(backend, decoding):
        payload["decoding"] = {k: v for k, v in decoding.as_dict().items() if k != "seed"}
    else:
        payload |= {"decoding": decoding.as_dict(), "sample": sample}
    return RequestCache.key(payload)


async def cached_chat(
    backend: Backend, messages: Messages, decoding: Decoding, sample: int, cache: RequestCache
) -> dict[str, Any]:
    """``{"text", "tokens"}`` of one chat completion, from the cache or the backend."""
    key = chat_key(backend, messages, decoding, sample)
    value = cache.get(key)
    if value is None:
        done = await backend.chat(messages, decoding, sample)
        value = {"text": done.text, "tokens": [done.prompt_tokens, done.completion_tokens]}
        cache.put(key, value)
    return value


async def cached_probs(
    backend: Backend, messages: Messages, prefix: str, n_options: int, cache: RequestCache
) -> dict[str, Any]:
    """``{"probs", "text"}`` of one option scoring (and ``"trace"``, how it was read, where the backend
    says), from the cache or the backend. A backend whose scoring is more than its ``id`` names it in
    ``probs_id`` (the chat template an HTTP backend renders with), which joins the key."""
    payload = {"backend": backend.id, "mode": "probs", "messages": messages, "prefix": prefix, "n_options": n_options}
    if getattr(backend, "probs_id", None):
        payload["scoring"] = backend.probs_id
    key = cache.key(payload)
    value = cache.get(key)
    if value is None:
        probs, text, *how = await backend.option_probs(messages, prefix, n_options)
        value = {"probs": None if probs is None else [float(p) for p in probs], "text": text}
        if how and how[0]:
            value["trace"] = how[0]
        cache.put(key, value)
    return value


async def _answer(
    backend: Backend, req: Request, mode: str, decoding: Decoding, prefix: str, cache: RequestCache
) -> dict[str, Any]:
    """The response record for one request, from the cache or the backend."""
    if mode == "sample":
        value = await cached_chat(backend, req.messages, decoding, req.sample, cache)
    else:
        value = await cached_probs(backend, req.messages, prefix, req.n_options, cache)
    if req.status_of is not None:
        answer, status, probs = None, req.status_of(value["text"], req.n_options), None
    elif mode == "sample":
        parsed = parse_boxed(value["text"], req.n_options)
        answer, status, probs = parsed.answer, parsed.status, None
    elif value["probs"] is None:
        parsed = parse_boxed(value["text"], req.n_options)  # no readable distribution: keep the text
        answer, status, probs = parsed.answer, parsed.status, None
    else:
        probs = value["probs"]
        answer, status = int(np.argmax(probs)) + 1, OK
    return {
        "system": req.system,
        "agent": req.agent,
        "culture": req.culture,
        "round": req.round,
        "item": req.item,
        "sample": req.sample,
        "answer": answer,
        "probs": probs,
        "raw": value["text"],
        "status": status,
        "mode": mode,
        "trace": value.get("trace") if mode == "probs" else None,
    }


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
) -> None:
    task = progress.add_task(f"{backbone} [{mode}]", total=len(requests))
    gate = asyncio.Semaphore(max(1, backend.concurrency))

    async def one(req: Request) -> None:
        async with gate:
            record = await _answer(backend, req, mode, decoding, prefix, cache)
        run.append([in_item_codes(record, req.order) | {"backbone": backbone}])
        progress.advance(task)

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
) -> int:
    """Answer every request not yet in ``run``; returns how many were answered now."""
    done = done_keys(run)
    todo = [r for r in requests if r.row_key(backbone, mode) not in done]
    with progress_bar(console or Console(stderr=True)) as progress:
        asyncio.run(_run(backend, backbone, todo, mode, decoding, prefix, cache, run, progress))
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

    async def chat(self, messages: Messages, decoding: Decoding, sample: int = 0) -> str:
        key = chat_key(self.backend, messages, decoding, sample)
        if key in self.pending:
            return await asyncio.shield(self.pending[key])
        self.pending[key] = asyncio.get_running_loop().create_future()
        try:
            async with self.gate:
                text = (await cached_chat(self.backend, messages, decoding, sample, self.cache))["text"]
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
        parsed = parse_answer(text, item.options)
        record = {
            "system": system,
            "agent": agent,
            "culture": culture,
            "backbone": self.backbone,
            "mode": "sample",
            "round": 0,
            "item": item.id,
            "sample": sample,
            "answer": parsed.answer,
            "raw": text,
            "status": parsed.status,
        }
        self.run.append([record | extra])
        self.stored[(system, agent, item.id, sample)] = text
