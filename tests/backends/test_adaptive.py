"""Adaptive concurrency against real local HTTP servers: a server that answers 429 above N requests in
flight, Retry-After, and Anthropic's 529 "overloaded"."""

import asyncio
import time
from collections import Counter

from culturescope.backends.base import Decoding
from culturescope.backends.openai_compat import OpenAICompatible
from culturescope.engine import lock
from culturescope.engine.cache import RequestCache
from culturescope.engine.session import Request, run_requests
from culturescope.engine.store import Run
from helpers.servers import CapacityServer, ScriptedServer, chat_completion

KEY = ["system", "backbone", "mode", "agent", "item", "round", "sample"]


def requests(n):
    return [
        Request("static", "BRA", "BRA", f"Q{i}", 4, 0, 0, [{"role": "user", "content": f"question {i}"}])
        for i in range(n)
    ]


def test_level_converges_near_the_server_capacity_within_the_retry_budget(tmp_path):
    capacity, total, retries = 4, 100, 6
    server = CapacityServer(capacity, delay=0.15, retry_after="0.05")
    try:
        backend = OpenAICompatible("m", server.url, concurrency=16, max_retries=retries, backoff=0.05)
        run = Run.create(tmp_path / "run", {"kind": "test"})
        n = run_requests(
            backend, "m", requests(total), "sample", Decoding(), "", RequestCache(tmp_path / "cache.sqlite"), run
        )
    finally:
        server.close()
    assert n == total
    table = run.responses()
    assert len(table) == total and not table.duplicated(KEY).any() and (table["answer"] == 1).all()

    log = server.log
    refused = Counter(prompt for _, prompt, status, _ in log if status == 429)
    answered = Counter(prompt for _, prompt, status, _ in log if status == 200)
    assert answered == Counter(f"question {i}" for i in range(total))  # each answered exactly once
    assert max(refused.values()) <= retries  # no request sent more than 1 + max_retries times
    assert len(log) == total + sum(refused.values())
    assert refused  # it did start above the capacity (16 at once) and was told so

    # Converged: over the second half of the run few refusals, and the level near the capacity
    # (a sawtooth: halved on a 429, + 1 per round while all its slots are used).
    late = log[len(log) // 2 :]
    assert sum(status == 429 for *_, status, _ in late) / len(late) < 0.2
    assert capacity / 2 <= backend.pool.replicas[0].limit <= capacity + 2
    answered_late = [busy for *_, status, busy in late if status == 200]
    assert sum(answered_late) / len(answered_late) >= capacity / 2 - 1  # the capacity was used, not left idle
    lock.release(run.path)


def test_retry_after_is_honoured_and_the_level_halves_then_grows_back(tmp_path):
    server = ScriptedServer(
        [(429, {"error": {"message": "slow down"}}, {"retry-after": "0.4"}), (200, chat_completion("\\boxed{2}"), {})]
    )
    try:
        backend = OpenAICompatible("m", server.url + "/v1", concurrency=8, max_retries=2, backoff=5.0)
        stamps = []

        async def go():
            started = time.monotonic()
            done = await backend.chat([{"role": "user", "content": "hi"}], Decoding(), 0)
            stamps.append(time.monotonic() - started)
            return done

        assert asyncio.run(go()).text == "\\boxed{2}"
    finally:
        server.close()
    assert len(server.requests) == 2
    assert 0.4 <= stamps[0] < 2.0  # waited the server's 0.4 s, not the 5 s backoff
    assert backend.pool.replicas[0].limit == 4  # 8 halved; one request in flight of 4 slots: no growth


def test_anthropic_overloaded_529_halves_its_level(tmp_path, monkeypatch):
    from culturescope.backends.anthropic_backend import Anthropic

    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude",
        "content": [{"type": "text", "text": "\\boxed{3}"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 5, "output_tokens": 2},
    }
    overloaded = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    server = ScriptedServer([(529, overloaded, {"retry-after": "0"}), (529, overloaded, {}), (200, message, {})])
    monkeypatch.setenv("CS_TEST_KEY", "k")
    try:
        backend = Anthropic("claude", "CS_TEST_KEY", server.url, concurrency=4, max_retries=2, backoff=0.01)
        done = asyncio.run(backend.chat([{"role": "user", "content": "hi"}], Decoding(max_tokens=8), 0))
    finally:
        server.close()
    assert done.text == "\\boxed{3}" and len(server.requests) == 3
    # 4 → 2 → 1 (the second 529 came from a request sent after the first halving), then + 1/1
    assert backend.pool.replicas[0].limit == 2.0
    assert backend.concurrency_now == 2
