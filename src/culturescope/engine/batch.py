"""Provider batch APIs (``--batch``, or ``batch: true`` per backbone): OpenAI's Batch API and
Anthropic's Message Batches, at the providers' batch price.

Before the online pass over a round of requests, those neither in the run nor in the cache are sent
as batches, in chunks within the provider's limits (OpenAI 50,000 requests and 200 MB per input
file, Anthropic 100,000 requests and 256 MB per batch; ``batch_size`` per backbone asks for smaller
ones). Each request's ``custom_id`` is its cache key. ``RUN/batches.jsonl`` records every step the
moment it happens: the chunk's custom ids (before upload), the uploaded file, the batch id, and the
collected result; the same command run again (after Ctrl-C, a reboot, days later) polls and collects
the open batches instead of resubmitting them. Answers go into the request cache, and the online
pass then stores them, parses them and writes them to the run as any cached answer. Failed, expired
or cancelled items are sent again as a new batch (up to ``MAX_TRIES`` per command), or, with
``--batch-fallback``, online. Only sample and stated answers are batched; probs and constrained
answers go online.

One gap remains: a process killed after the provider created a batch and before its id was written
(a few milliseconds). For OpenAI the batch is found again by its input file; an Anthropic batch has
no such handle, and its chunk is submitted again (the answers are still stored once).
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from culturescope.backends import BackboneSpec, Backend
from culturescope.backends.base import Decoding
from culturescope.engine import cost
from culturescope.engine.cache import RequestCache
from culturescope.engine.session import Request, chat_key, done_keys, mode_decoding, run_requests
from culturescope.engine.store import Run
from culturescope.errors import CulturescopeError

#: Per provider: requests and bytes per batch.
LIMITS = {"openai": (50_000, 200 * 2**20), "anthropic": (100_000, 256 * 2**20)}
BATCHED_MODES = ("sample", "stated")
MAX_TRIES = 3
STATE = "batches.jsonl"
POLL_ENV = "CULTURESCOPE_BATCH_POLL"  # seconds between polls (default 30)
OPENAI_ENDED = ("completed", "failed", "expired", "cancelled")


@dataclass
class Spending:
    """How a command spends: its meter (``--max-cost``), price table, and batch settings."""

    meter: cost.Meter = field(default_factory=lambda: cost.Meter(None))
    prices: dict[str, cost.Price] | None = None
    batch: bool = False  # --batch: every backbone whose provider has a batch API
    fallback: bool = False  # --batch-fallback: failed batch items go online

    def table(self) -> dict[str, cost.Price]:
        if self.prices is None:
            self.prices = cost.price_table()
        return self.prices


def batched(spec: BackboneSpec, spending: Spending) -> bool:
    return (spending.batch or bool(spec.batch)) and spec.provider in LIMITS


def answer(
    spec: BackboneSpec,
    backend: Backend,
    requests: list[Request],
    mode: str,
    decoding: Decoding,
    prefix: str,
    cache: RequestCache,
    run: Run,
    console: Console,
    choice: str,
    spending: Spending,
) -> int:
    """``run_requests``, charged to the meter, with the pending requests first sent as batches where
    asked. Raises ``BudgetReached`` or a ``CulturescopeError`` naming what is left, after storing
    everything that was answered."""
    price = cost.price_of(spec, spending.table())
    if spending.meter.limit is not None and price is None and spec.name not in spending.meter.unpriced:
        spending.meter.unpriced.add(spec.name)
        console.print(escape(f"--max-cost: {spec.name} has no price; its spend is not counted"), highlight=False)
    left, held = [], False
    with cost.billing(spending.meter, price):
        if batched(spec, spending) and mode not in BATCHED_MODES:
            console.print(escape(f"{spec.name} [{mode}]: not batched (only sample and stated are); sent online"))
        elif batched(spec, spending):
            keyed = _pending(backend, spec.name, requests, mode, decoding, cache, run)
            if keyed:
                left, held = asyncio.run(
                    _batches(spec, backend, keyed, mode, decoding, cache, run, console, spending, price)
                )
                skip = set(left)
                requests = [r for r in requests if _key(backend, r, mode, decoding) not in skip]
        n = run_requests(backend, spec.name, requests, mode, decoding, prefix, cache, run, console, choice)
    if held:
        raise cost.BudgetReached(
            f"spent ${spending.meter.spent:.4f} of --max-cost ${spending.meter.limit:g}: {len(left)} requests of "
            f"{spec.name} [{mode}] were not batched, as their estimated cost would pass it; every response so far "
            "is kept; run the same command again (with a higher --max-cost, or none) to go on"
        )
    if left:
        raise CulturescopeError(
            f"{spec.name} [{mode}]: {len(left)} requests got no answer from {MAX_TRIES} batches (see {STATE} in "
            f"{run.path}); every other response is stored; run the same command again to retry them, or add "
            "--batch-fallback to send them online"
        )
    return n


def _key(backend: Backend, r: Request, mode: str, decoding: Decoding) -> str:
    return chat_key(backend, r.messages, mode_decoding(mode, decoding), r.sample, mode)


def _pending(backend, backbone, requests, mode, decoding, cache, run) -> dict[str, Request]:
    """The requests neither in the run nor in the cache, by cache key (identical ones once)."""
    done = done_keys(run)
    keyed = {}
    for r in requests:
        if r.row_key(backbone, mode) not in done:
            key = _key(backend, r, mode, decoding)
            if cache.get(key) is None:
                keyed.setdefault(key, r)
    return keyed


class State:
    """``RUN/batches.jsonl``: one JSON line per event, flushed to disk before the next step."""

    def __init__(self, path: Path, backbone: str) -> None:
        self.path, self.backbone = path, backbone
        self.chunks: dict[str, dict[str, Any]] = {}
        self.failed: set[str] = set()  # custom ids that failed in a collected batch
        lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
        for line in lines:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line torn by a kill: its step is redone
            if event.get("backbone") == backbone:
                self._apply(event)

    def _apply(self, event: dict[str, Any]) -> None:
        kind, chunk = event["event"], event["chunk"]
        if kind == "planned":
            self.chunks[chunk] = {"ids": event["ids"], "file": None, "batch": None}
        elif kind in ("uploaded", "submitted"):
            self.chunks[chunk][{"uploaded": "file", "submitted": "batch"}[kind]] = event[
                "file" if kind == "uploaded" else "batch"
            ]
        elif kind in ("collected", "abandoned"):
            self.failed |= set(event.get("failed", {}))
            self.failed -= set(event.get("succeeded", []))
            self.chunks.pop(chunk, None)

    def write(self, kind: str, chunk: str, **fields) -> None:
        event = {
            "event": kind,
            "backbone": self.backbone,
            "chunk": chunk,
            "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        } | fields
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(event) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        self._apply(event)


def _chunks(lines: list[tuple[str, bytes]], max_n: int, max_bytes: int) -> list[list[tuple[str, bytes]]]:
    """Consecutive chunks of (custom id, JSON line) within ``max_n`` lines and ``max_bytes`` bytes."""
    out, size = [[]], 0
    for line in lines:
        if out[-1] and (len(out[-1]) >= max_n or size + len(line[1]) + 1 > max_bytes):
            out.append([])
            size = 0
        out[-1].append(line)
        size += len(line[1]) + 1
    return [c for c in out if c]


async def _batches(
    spec, backend, keyed, mode, decoding, cache, run, console, spending: Spending, price
) -> tuple[list[str], bool]:
    """Collect the open batches, submit the pending requests, repeat for failures. Returns the custom
    ids left unanswered (not those that go online under ``--batch-fallback``), and whether some were
    held back by ``--max-cost``."""
    api = OpenAIBatches(spec, backend) if spec.provider == "openai" else AnthropicBatches(spec, backend)
    state = State(run.path / STATE, spec.name)
    decoding = mode_decoding(mode, decoding)
    max_n, max_bytes = LIMITS[spec.provider]
    max_n = min(max_n, spec.batch_size or max_n)
    tries: Counter = Counter()
    while True:
        await _collect_open(api, state, cache, console, spending.meter, price, spec.name)
        missing = [k for k in keyed if cache.get(k) is None]
        if spending.fallback:
            send = [k for k in missing if k not in state.failed]
        else:
            send = [k for k in missing if tries[k] < MAX_TRIES]
        if not send:
            return ([] if spending.fallback else missing), False
        send, over = _within_budget(send, keyed, mode, decoding, spending.meter, price)
        lines = [(k, json.dumps(api.line(k, keyed[k], decoding)).encode()) for k in send]
        for chunk in _chunks(lines, max_n, max_bytes):
            name = uuid.uuid4().hex[:12]
            state.write("planned", name, mode=mode, ids=[k for k, _ in chunk])
            batch_id = await api.submit(name, [line for _, line in chunk], state)
            state.write("submitted", name, batch=batch_id)
            console.print(escape(f"{spec.name}: submitted batch {batch_id} ({len(chunk)} requests)"), highlight=False)
        tries.update(send)
        if over:
            await _collect_open(api, state, cache, console, spending.meter, price, spec.name)
            return over + [k for k in send if cache.get(k) is None], True


def _within_budget(send, keyed, mode, decoding, meter: cost.Meter, price) -> tuple[list[str], list[str]]:
    """Under ``--max-cost``, the requests whose estimated batch cost fits in what is left (at least one
    while anything is); the others are held back."""
    if meter.limit is None or price is None:
        return send, []
    cap = decoding.max_tokens if decoding.max_tokens is not None else cost.output_tokens(mode, decoding)
    left, n = meter.limit - meter.spent, 0
    for k in send:
        bound = price.cost(cost.input_tokens(keyed[k].messages), cap, batch=True) or 0.0
        if n and bound > left:
            break
        left -= bound
        n += 1
    return (send[:n], send[n:]) if meter.spent < meter.limit else ([], send)


async def _collect_open(api, state: State, cache, console, meter, price, backbone) -> None:
    """Poll every open batch of this backbone until it ends; its answers go into the cache."""
    for name, chunk in list(state.chunks.items()):
        if chunk["batch"] is None:
            found = await api.find(chunk["file"]) if chunk["file"] else None
            if found is None:
                state.write("abandoned", name)
                continue
            state.write("submitted", name, batch=found)
    await asyncio.gather(
        *(_collect(api, state, n, c, cache, console, meter, price, backbone) for n, c in list(state.chunks.items()))
    )


async def _collect(api, state, name, chunk, cache, console, meter, price, backbone) -> None:
    poll, shown = float(os.environ.get(POLL_ENV, "30")), None
    while True:
        status, counts, ended = await api.status(chunk["batch"])
        said = f"{backbone}: batch {chunk['batch']} {status} " + ", ".join(f"{k} {v}" for k, v in counts.items())
        if said != shown:
            console.print(escape(said), highlight=False)
            shown = said
        if ended:
            break
        await asyncio.sleep(poll)
    ids, succeeded, failed = set(chunk["ids"]), [], {}
    async for custom_id, text, tokens, reason in api.results(chunk["batch"]):
        if custom_id not in ids:
            continue
        if text is None:
            failed[custom_id] = reason
            continue
        cache.put(custom_id, {"text": text, "tokens": list(tokens), "via": "batch"})
        meter.charge(price, tokens[0], tokens[1], batch=True)
        succeeded.append(custom_id)
    failed |= {k: "no result in the batch's files" for k in ids - set(succeeded) - set(failed)}
    state.write("collected", name, batch=chunk["batch"], status=status, succeeded=succeeded, failed=failed)
    if failed:
        console.print(escape(f"{backbone}: batch {chunk['batch']}: {len(failed)} failed, to retry"), highlight=False)


# -- the providers --------------------------------------------------------------------------------


class OpenAIBatches:
    """OpenAI's Batch API: JSONL file (purpose "batch") → batch on /v1/chat/completions, 24 h window →
    output and error files."""

    def __init__(self, spec: BackboneSpec, backend) -> None:
        import openai

        key = os.environ.get(spec.api_key_env) if spec.api_key_env else "not-needed"
        self.backend = backend
        self.client = openai.AsyncOpenAI(base_url=spec.base_url, api_key=key, max_retries=5, timeout=600)

    def line(self, custom_id: str, r: Request, decoding: Decoding) -> dict:
        body = self.backend.body(messages=r.messages, **self.backend.request(decoding, r.sample))
        return {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": body}

    async def submit(self, name: str, lines: list[bytes], state: State) -> str:
        data = b"\n".join(lines) + b"\n"
        f = await self.client.files.create(file=(f"culturescope-{name}.jsonl", data), purpose="batch")
        state.write("uploaded", name, file=f.id)
        b = await self.client.batches.create(
            input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        return b.id

    async def find(self, file_id: str) -> str | None:
        """The batch made from ``file_id``, if one was (the process may have died before recording it)."""
        async for b in self.client.batches.list(limit=100):
            if b.input_file_id == file_id:
                return b.id
        return None

    async def status(self, batch_id: str) -> tuple[str, dict, bool]:
        b = await self.client.batches.retrieve(batch_id)
        counts = b.request_counts.model_dump() if b.request_counts else {}
        return b.status, counts, b.status in OPENAI_ENDED

    async def results(self, batch_id: str):
        b = await self.client.batches.retrieve(batch_id)
        for file_id in (b.output_file_id, b.error_file_id):
            if not file_id:
                continue
            content = await self.client.files.content(file_id)
            for line in content.text.splitlines():
                if not line.strip():
                    continue
                item = json.loads(line)
                response = item.get("response") or {}
                body = response.get("body") or {}
                if response.get("status_code") == 200 and body.get("choices"):
                    done = self.backend.completion(body)
                    yield item["custom_id"], done.text, (done.prompt_tokens, done.completion_tokens), None
                else:
                    error = item.get("error") or body.get("error") or {}
                    reason = f"{response.get('status_code', '')} {error.get('code', '')} {error.get('message', '')}"
                    yield item["custom_id"], None, None, reason.strip()


class AnthropicBatches:
    """Anthropic's Message Batches: requests [{custom_id, params}] → poll → results JSONL."""

    def __init__(self, spec: BackboneSpec, backend) -> None:
        import anthropic

        key = os.environ.get(spec.api_key_env or "ANTHROPIC_API_KEY")
        self.backend = backend
        self.client = anthropic.AsyncAnthropic(api_key=key, base_url=spec.base_url, max_retries=5, timeout=600)

    def line(self, custom_id: str, r: Request, decoding: Decoding) -> dict:
        return {"custom_id": custom_id, "params": self.backend.request(r.messages, decoding)}

    async def submit(self, name: str, lines: list[bytes], state: State) -> str:
        b = await self.client.messages.batches.create(requests=[json.loads(line) for line in lines])
        return b.id

    async def find(self, file_id: str) -> str | None:
        return None

    async def status(self, batch_id: str) -> tuple[str, dict, bool]:
        b = await self.client.messages.batches.retrieve(batch_id)
        return b.processing_status, b.request_counts.model_dump(), b.processing_status == "ended"

    async def results(self, batch_id: str):
        async for item in await self.client.messages.batches.results(batch_id):
            result = item.result
            if result.type == "succeeded":
                msg = result.message
                text = "".join(block.text for block in msg.content if block.type == "text")
                yield item.custom_id, text, (msg.usage.input_tokens, msg.usage.output_tokens), None
            else:
                error = getattr(result, "error", None)
                detail = getattr(getattr(error, "error", None), "message", "") if error is not None else ""
                yield item.custom_id, None, None, f"{result.type} {detail}".strip()
