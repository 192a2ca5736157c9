"""Where an HTTP backend's requests go and how many at once: replicas and adaptive concurrency.

Each replica (one ``base_url``) has its own concurrency level, adapted as TCP adapts its window:
it starts at the configured maximum, halves on an overload answer (429, 529; at most once per
round of requests in flight, so one burst of 429s halves it once), grows back by about one per
round of successes while all its slots are in use, and never leaves [1, maximum]. A
``Retry-After`` pauses the replica's new requests that long. A request goes to the live replica
with the fewest in flight. A replica that fails (refused connection, timeout, 5xx) is set aside
for a cooldown that doubles with each failure in a row (up to ``MAX_COOLDOWN``); the request moves
to another live replica at once, without using its retry budget. After the cooldown one request
may try the replica again: an answer brings it back. With no live replica left, requests go to
the failed ones and retry with backoff within their budget, as a single server's would.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from typing import Awaitable, Callable, TypeVar

from culturescope.backends.base import BackendError

T = TypeVar("T")
FIRST_COOLDOWN, MAX_COOLDOWN = 0.5, 30.0
OVERLOAD = (429, 529)  # too many requests; Anthropic's overloaded


class Overloaded(Exception):
    """The server said it has too much to do (429, 529); ``retry_after`` in seconds where it said."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class Unreachable(Exception):
    """The replica did not answer usefully (connection refused or lost, timeout, 5xx)."""


def overloaded(message: str, headers) -> Overloaded:
    """An overload answer with its ``Retry-After`` in seconds (None where absent or a date)."""
    value = headers.get("retry-after") if headers is not None else None
    try:
        return Overloaded(message, float(value) if value is not None else None)
    except ValueError:
        return Overloaded(message)


def transient(exc: Exception) -> Overloaded | Unreachable:
    """An SDK's retryable error (rate limit, 5xx, connection) as the pool reads it: 429 and 529 are
    overload, anything else unreachable."""
    if getattr(exc, "status_code", None) not in OVERLOAD:
        return Unreachable(str(exc))
    response = getattr(exc, "response", None)
    return overloaded(str(exc), response.headers if response is not None else None)


@dataclass
class Replica:
    url: str | None
    limit: float  # the adapted concurrency level; floor(limit) requests may be in flight
    in_flight: int = 0
    not_before: float = 0.0  # Retry-After: no new request before this time
    down_until: float = 0.0  # set aside after a failure until this time
    failures: int = 0  # failures in a row
    last_cut: float = 0.0  # when the level was last halved

    def slots(self) -> int:
        return max(1, int(self.limit))


class Pool:
    """The replicas of one backend and the requests in flight to each."""

    def __init__(self, urls: list[str | None], concurrency: int, max_retries: int, backoff: float, max_backoff: float):
        self.maximum = max(1, concurrency)
        self.replicas = [Replica(url, float(self.maximum)) for url in urls]
        self.max_retries, self.backoff, self.max_backoff = max_retries, backoff, max_backoff
        self._cond: tuple[asyncio.AbstractEventLoop, asyncio.Condition] | None = None

    @property
    def level(self) -> int:
        """Requests that may be in flight now, over the live replicas (the progress bar shows it)."""
        now = time.monotonic()
        live = [r for r in self.replicas if r.down_until <= now] or self.replicas
        return min(self.maximum, sum(r.slots() for r in live))

    def _condition(self) -> asyncio.Condition:
        loop = asyncio.get_running_loop()
        if self._cond is None or self._cond[0] is not loop:  # one per event loop (a run has one per mode)
            self._cond = (loop, asyncio.Condition())
        return self._cond[1]

    def _pick(self, now: float) -> tuple[Replica | None, float]:
        """The replica to send to now, or None and how long to wait before looking again."""
        live = [r for r in self.replicas if r.down_until <= now] or self.replicas
        ready = [r for r in live if r.not_before <= now and r.in_flight < (1 if r.failures else r.slots())]
        if ready:
            fewest = min(r.in_flight for r in ready)
            return random.choice([r for r in ready if r.in_flight == fewest]), 0.0
        times = [t for r in self.replicas for t in (r.not_before, r.down_until) if t > now]
        return None, min(times) - now if times else 1.0

    async def send(self, attempt: Callable[[str | None], Awaitable[T]], what: str) -> T:
        """``attempt(url)``'s result, retried as the module docstring says; ``what`` names the backend
        in the error of a request that used up its retries."""
        cond = self._condition()
        tries = 0
        while True:
            async with cond:
                while True:
                    replica, wait = self._pick(time.monotonic())
                    if replica is not None:
                        break
                    try:
                        await asyncio.wait_for(cond.wait(), timeout=wait)
                    except asyncio.TimeoutError:
                        pass
                replica.in_flight += 1
            started = time.monotonic()
            try:
                result = await attempt(replica.url)
            except (Overloaded, Unreachable) as exc:
                failure = exc
            else:
                failure = None
            finally:
                async with cond:
                    full = replica.in_flight >= replica.slots()  # the level, not the work, was the bound
                    replica.in_flight -= 1
                    cond.notify_all()
            now = time.monotonic()
            if failure is None:
                replica.failures, replica.down_until = 0, 0.0
                if full:  # grows only while in use: a level never tried is not known to work
                    replica.limit = min(self.maximum, replica.limit + 1 / replica.limit)
                return result
            tries += 1
            wait = None
            if isinstance(failure, Overloaded):
                if started >= replica.last_cut:  # one halving per round of requests in flight
                    replica.limit, replica.last_cut = max(1.0, replica.limit / 2), now
                wait = failure.retry_after
                if wait is not None:
                    replica.not_before = max(replica.not_before, now + wait)
            else:
                replica.failures += 1
                replica.down_until = now + min(MAX_COOLDOWN, FIRST_COOLDOWN * 2 ** (replica.failures - 1))
                if any(r.down_until <= now for r in self.replicas):
                    tries -= 1  # another replica is live: moved there, not a retry
                    continue
            if tries > self.max_retries:
                raise BackendError(f"{what}: gave up after {tries} attempts: {failure}") from None
            await asyncio.sleep(
                wait if wait is not None else random.uniform(0, min(self.max_backoff, self.backoff * 2 ** (tries - 1)))
            )
