"""What a run costs: the price table, token estimates before a run, the spend meter during it
(``--max-cost``) and the tokens and cost of the responses after it.

Estimates before a run: input tokens are the prompt's characters / 4 (rounded up, per request: the
usual rule of thumb for English text; exact counts need each provider's own tokenizer), output
tokens the answer mode's typical length (``TYPICAL_OUTPUT``), capped at ``max_tokens``, or, where the
run already holds answers of that backbone and mode, their mean. Reasoning models' hidden reasoning
tokens are billed as output and are not in the estimate. After a run, every response carries the
token usage the provider reported (``usage``: input, output, and whether it was bought online or
through a batch); a run's cost is those tokens at the price of how each was bought.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from culturescope.backends import BackboneSpec
from culturescope.backends.base import Decoding, Messages
from culturescope.engine.yamlfile import read_yaml
from culturescope.errors import CulturescopeError

SHIPPED = Path(__file__).with_name("prices.yaml")
PRICES_ENV = "CULTURESCOPE_PRICES"
#: Output tokens of a typical answer per mode: a sample is "Answer: k" with a sentence or two of
#: explanation and \boxed{k}; stated is a JSON object of up to 11 probabilities; constrained is the
#: answer text alone; probs reads one token.
TYPICAL_OUTPUT = {"sample": 120, "stated": 80, "constrained": 8, "probs": 1}
CHARS_PER_TOKEN = 4
_PRICE_KEYS = ("input", "output", "batch_input", "batch_output")


@dataclass(frozen=True)
class Price:
    """USD per million tokens, online and in a batch, with where and when it was read."""

    model: str
    input: float
    output: float
    batch_input: float | None
    batch_output: float | None
    date: str
    source: str

    def cost(self, tokens_in: float, tokens_out: float, batch: bool = False) -> float | None:
        """USD of these tokens; None for a batch price the table does not give."""
        if batch and (self.batch_input is None or self.batch_output is None):
            return None
        rate_in, rate_out = (self.batch_input, self.batch_output) if batch else (self.input, self.output)
        return (tokens_in * rate_in + tokens_out * rate_out) / 1e6


def _read(path: Path) -> dict[str, Price]:
    data = read_yaml(path, "price table")
    models = data.get("models") if isinstance(data, dict) else None
    if not isinstance(models, dict):
        raise CulturescopeError(f"{path}: expected a mapping 'models: {{MODEL: {{input, output, ...}}}}'")
    table = {}
    for name, entry in models.items():
        if not isinstance(entry, dict) or not all(isinstance(entry.get(k), (int, float)) for k in _PRICE_KEYS[:2]):
            raise CulturescopeError(f"{path}: model {name}: 'input' and 'output' (USD per million tokens) are required")
        rates = {k: None if entry.get(k) is None else float(entry[k]) for k in _PRICE_KEYS}
        table[str(name).lower()] = Price(
            str(name), **rates, date=str(entry.get("date", "")), source=str(entry.get("source", path))
        )
    return table


def price_table(path: str | Path | None = None) -> dict[str, Price]:
    """The shipped table, with a user's file (``path``, else ``$CULTURESCOPE_PRICES``) over it, model by model."""
    table = _read(SHIPPED)
    user = path or os.environ.get(PRICES_ENV)
    if user:
        table |= _read(Path(user))
    return table


def price_of(spec: BackboneSpec, table: dict[str, Price]) -> Price | None:
    """The price of a backbone: by its name, its model's name, or that name without a date suffix."""
    model = (spec.model or spec.name).lower().replace("\\", "/").rsplit("/", 1)[-1].removesuffix(".gguf")
    for key in (spec.name.lower(), model, re.sub(r"(-\d{4}-\d{2}-\d{2}|-\d{8}|-\d{4})$", "", model)):
        if key in table:
            return table[key]
    return None


def input_tokens(messages: Messages) -> int:
    """Estimated prompt tokens: characters / 4, rounded up."""
    return math.ceil(sum(len(m["content"]) for m in messages) / CHARS_PER_TOKEN)


def output_tokens(mode: str, decoding: Decoding, observed: float | None = None) -> float:
    """Estimated reply tokens: the mean already observed, else the mode's typical length; at most max_tokens."""
    typical = observed if observed is not None else TYPICAL_OUTPUT.get(mode, TYPICAL_OUTPUT["sample"])
    return typical if decoding.max_tokens is None else min(typical, decoding.max_tokens)


def usage_of(value: dict[str, Any]) -> dict[str, Any] | None:
    """A response's ``usage`` from its cached value: input and output tokens and how it was bought."""
    tokens = value.get("tokens")
    if not tokens:
        return None
    return {"input": int(tokens[0]), "output": int(tokens[1]), "via": value.get("via", "online")}


# -- the spend meter (--max-cost) ---------------------------------------------------------------


class BudgetReached(CulturescopeError):
    """The spend of this command reached ``--max-cost``; every response so far is stored."""


class Meter:
    """Money spent by this command (cache hits cost nothing), against a limit. A request is sent only
    while the spend stays under the limit: at most the requests whose cost bound fits under it are in
    flight at once, or one alone, so the spend stops within one request's cost of the limit. When the
    limit is reached, the requests in flight finish and are stored before the run stops."""

    def __init__(self, limit: float | None) -> None:
        self.limit, self.spent, self.reserved, self.unpriced = limit, 0.0, 0.0, set()
        self._cond: tuple[Any, asyncio.Condition] | None = None

    def _condition(self) -> asyncio.Condition:
        loop = asyncio.get_running_loop()
        if self._cond is None or self._cond[0] is not loop:
            self._cond = (loop, asyncio.Condition())
        return self._cond[1]

    def charge(self, price: Price | None, tokens_in: int, tokens_out: int, batch: bool = False) -> None:
        if price is not None:
            self.spent += price.cost(tokens_in, tokens_out, batch) or 0.0

    def check(self) -> None:
        """Raise ``BudgetReached`` if the spend has reached the limit."""
        if self.limit is not None and self.spent >= self.limit:
            raise BudgetReached(
                f"spent ${self.spent:.4f} of --max-cost ${self.limit:g}: stopped; every response so far is kept; "
                "run the same command again (with a higher --max-cost, or none) to go on"
            )

    @contextlib.asynccontextmanager
    async def admit(self, bound: float):
        """Hold a request until its cost bound fits under the limit (or nothing else is in flight)."""
        cond = self._condition()
        async with cond:
            while True:
                if self.reserved == 0:
                    self.check()
                if self.spent < self.limit and (self.reserved == 0 or self.spent + self.reserved + bound <= self.limit):
                    self.reserved += bound
                    break
                await cond.wait()
        try:
            yield
        finally:
            async with cond:
                self.reserved -= bound
                cond.notify_all()


@dataclass(frozen=True)
class Billing:
    """The meter and the price of the backbone being run (None: unpriced, its tokens are counted only)."""

    meter: Meter
    price: Price | None


_billing: contextvars.ContextVar[Billing | None] = contextvars.ContextVar("culturescope_billing", default=None)


@contextlib.contextmanager
def billing(meter: Meter | None, price: Price | None):
    """Within this block, requests sent online are charged to ``meter`` at ``price``."""
    token = _billing.set(None if meter is None else Billing(meter, price))
    try:
        yield
    finally:
        _billing.reset(token)


@contextlib.asynccontextmanager
async def spending(messages: Messages, mode: str, decoding: Decoding):
    """Around one online request: admitted under ``--max-cost``, then charged with ``bill(in, out)``."""
    current = _billing.get()
    if current is None:
        yield lambda i, o: None
        return
    meter, price = current.meter, current.price
    if price is None or meter.limit is None:
        yield lambda i, o: meter.charge(price, i, o)
        return
    cap = decoding.max_tokens if decoding.max_tokens is not None else output_tokens(mode, decoding)
    async with meter.admit(price.cost(input_tokens(messages), cap) or 0.0):
        yield lambda i, o: meter.charge(price, i, o)


# -- after a run ---------------------------------------------------------------------------------


def usage_rows(responses, specs: list[BackboneSpec], table: dict[str, Price] | None = None) -> list[dict]:
    """Per backbone: responses, those with token usage, input and output tokens, and their cost in USD
    at the price of how each was bought (None where the model has no price)."""
    import pandas as pd

    table = price_table() if table is None else table
    by_name = {s.name: s for s in specs}
    rows = []
    for backbone, part in responses.groupby("backbone", sort=False):
        usage = [u for u in part["usage"] if isinstance(u, dict)] if "usage" in part else []
        u = pd.DataFrame(usage, columns=["input", "output", "via"])
        spec = by_name.get(backbone)
        price = price_of(spec, table) if spec is not None else None
        cost = None
        if price is not None:
            costs = [price.cost(r.input, r.output, r.via == "batch") for r in u.itertuples()]
            cost = None if any(c is None for c in costs) else float(sum(costs))
        rows.append(
            {
                "backbone": backbone,
                "responses": len(part),
                "with_usage": len(u),
                "batch": int((u["via"] == "batch").sum()),
                "input_tokens": int(u["input"].sum()),
                "output_tokens": int(u["output"].sum()),
                "cost_usd": None if cost is None else round(cost, 6),
                "price": None if price is None else f"{price.model} ({price.date})",
            }
        )
    return rows


def specs_of(manifest: dict[str, Any]) -> list[BackboneSpec]:
    """The backbones a run's manifest names (for pricing its responses)."""
    found = (manifest.get("experiment") or manifest).get("backbones") or []
    specs = []
    for b in found if isinstance(found, list) else []:
        if isinstance(b, dict) and b.get("name"):
            specs.append(BackboneSpec(name=str(b["name"]), provider=str(b.get("provider", "")), model=b.get("model")))
    return specs


def record_usage(run, table: dict[str, Price] | None = None) -> list[dict]:
    """Write the tokens and cost per backbone into the run's manifest (``usage``); returns the rows."""
    import json

    from culturescope.engine.store import MANIFEST

    rows = usage_rows(run.responses(), specs_of(run.manifest), table)
    run.manifest["usage"] = rows
    tmp = run.path / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(run.manifest, indent=2, ensure_ascii=False) + "\n")
    os.replace(tmp, run.path / MANIFEST)
    return rows
