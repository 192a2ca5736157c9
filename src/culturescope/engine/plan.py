"""``--dry-run``: what a run would send, per backbone, before it sends anything.

A request is *in the run* when its row is already stored, *cached* when the request cache holds its
answer (it costs nothing), and *to send* otherwise; identical requests (the same cache key) count
once. Tokens and cost follow ``engine/cost.py``. Probs answers are counted as one request each,
though reading a distribution over HTTP may take a few (a probe, multi-token codes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from culturescope.backends import BackboneSpec, Backend
from culturescope.backends.base import BackendError, Decoding
from culturescope.engine import cost
from culturescope.engine.cache import RequestCache
from culturescope.engine.session import Request, chat_key, choices_of, mode_decoding, probs_key

#: Providers whose backend is cheap to make (no model is loaded): only these are checked against the cache.
LIGHT = ("openai", "anthropic", "scripted")


@dataclass
class Tally:
    """One backbone's counts and estimates."""

    spec: BackboneSpec
    backend: Backend | None
    note: str | None = None
    requests: int = 0
    in_run: int = 0
    cached: int = 0
    to_send: int = 0
    input_tokens: float = 0.0
    output_tokens: float = 0.0
    batch_ok: bool = True
    seen: set = field(default_factory=set)

    def add(
        self,
        requests: Iterable[Request],
        mode: str,
        decoding: Decoding,
        prefix: str,
        cache: RequestCache,
        done: set[tuple],
        observed: float | None = None,
        choice: str = "{code}",
        known: bool = True,
    ) -> None:
        """Count ``requests`` in ``mode``; ``known``: their messages are final (a later exposure round's
        depend on answers not yet given, so its cache is not checked)."""
        decoding = mode_decoding(mode, decoding)
        out = cost.output_tokens(mode, decoding, observed)
        for r in requests:
            self.requests += 1
            if r.row_key(self.spec.name, mode) in done:
                self.in_run += 1
                continue
            key = None
            if self.backend is not None and known:
                if mode == "probs":
                    key = probs_key(self.backend, r.messages, prefix, r.n_options)
                else:
                    choices = choices_of(choice, r.n_options) if mode == "constrained" else None
                    key = chat_key(self.backend, r.messages, decoding, r.sample, mode, choices)
                if key in self.seen or cache.get(key) is not None:
                    self.cached += 1
                    continue
                self.seen.add(key)
            self.to_send += 1
            self.input_tokens += cost.input_tokens(r.messages)
            self.output_tokens += out

    def row(self, table: dict[str, cost.Price]) -> dict:
        price = cost.price_of(self.spec, table)
        online = batch = None
        if price is not None:
            online = price.cost(self.input_tokens, self.output_tokens)
            batch = price.cost(self.input_tokens, self.output_tokens, batch=True)
        return {
            "backbone": self.spec.name,
            "requests": self.requests,
            "in_run": self.in_run,
            "cached": None if self.backend is None else self.cached,
            "to_send": self.to_send,
            "input_tokens": round(self.input_tokens),
            "output_tokens": round(self.output_tokens),
            "online_usd": None if online is None else round(online, 4),
            "batch_usd": None if batch is None else round(batch, 4),
            "price": None if price is None else f"{price.model} ({price.date}; {price.source.split(' ')[0]})",
        }


def tally_for(spec: BackboneSpec, made: Backend | None = None) -> Tally:
    """A tally for ``spec``, with its backend where it is cheap to make (to check the cache)."""
    if made is not None or spec.provider not in LIGHT:
        note = None if made is not None else f"{spec.name}: the cache is not checked for a local model"
        return Tally(spec, made, note)
    try:
        return Tally(spec, spec.make())
    except BackendError as exc:
        return Tally(spec, None, f"{spec.name}: the cache is not checked ({exc})")


def summary(tallies: list[Tally], table: dict[str, cost.Price]) -> tuple[list[dict], list[str]]:
    """The rows (one per backbone, then the total) and the notes of a dry run."""
    rows = [t.row(table) for t in tallies]
    if len(rows) > 1:
        total = {"backbone": "total"}
        for k in ("requests", "in_run", "cached", "to_send", "input_tokens", "output_tokens"):
            total[k] = sum(r[k] or 0 for r in rows)
        for k in ("online_usd", "batch_usd"):
            priced = [r[k] for r in rows if r[k] is not None]
            total[k] = round(sum(priced), 4) if priced else None
        rows.append(total)
    notes = [t.note for t in tallies if t.note]
    unpriced = [r["backbone"] for r in rows[: len(tallies)] if r["price"] is None]
    if unpriced:
        notes.append(f"no price for {', '.join(unpriced)}: tokens only (add it with --prices FILE; docs/backends.md)")
    notes.append(
        f"estimates: input = prompt characters / {cost.CHARS_PER_TOKEN}; output = the mode's typical length "
        f"({', '.join(f'{k} {v}' for k, v in cost.TYPICAL_OUTPUT.items())} tokens) capped at max_tokens, or the "
        "mean already observed in the run; reasoning tokens are not included"
    )
    return rows, notes
