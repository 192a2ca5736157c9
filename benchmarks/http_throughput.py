"""culturescope's HTTP throughput against a bare asyncio load generator, in one run.

The benchmark starts a real HTTP server on 127.0.0.1 in a process of its own and sends it the same
chat requests (the Beyond-Alignment persona prompt for culture × item, the body culturescope's
OpenAI-compatible backend sends) two ways, at the same concurrency, in alternating rounds:

1. culturescope: ``run_requests`` through the ``openai`` backend, i.e. the whole path of a run: the
   pool (replica choice, adaptive concurrency), its HTTP clients, the request cache (SQLite, one
   committed write per answer; a fresh cache each round, so nothing is answered from it), the
   answer parser and the run store (one appended line per answer);
2. bare: ``httpx2.AsyncClient`` (the HTTP client the OpenAI SDK itself uses) posting the same JSON
   bodies under an ``asyncio.Semaphore``, reading each reply as JSON, nothing else.

The server is by default a stub (``--server stub``): a raw ASGI app under uvicorn that answers every
chat request with one fixed completion at once. The stub is the point: against the embedded model
(``--server llama``: ``llama_cpp.server``, one request at a time, ~0.1-1 s each) both sides wait
on the model and their ratio is 1.00 whatever culturescope's overhead; only a server faster than the
client shows what the client costs. Prints requests/s of each (median of the rounds) and the ratio.

Named ``http_throughput.py``, not ``http.py``: a file ``http.py`` in this folder would shadow the
standard library's ``http`` package for every script run from here (``urllib.request`` fails).

    python benchmarks/http_throughput.py [--requests 600] [--concurrency 16] [--rounds 3] [--server stub|llama]
    python benchmarks/http_throughput.py --latency 0,0.02,0.05,0.2 --rounds 5    # the table of docs/backends.md
"""

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console

from culturescope.backends.embedded import default_model_path
from culturescope.backends.openai_compat import OpenAICompatible
from culturescope.engine import lock
from culturescope.engine.cache import RequestCache
from culturescope.engine.session import Request, run_requests
from culturescope.engine.store import Run
from culturescope.methods.beyond_alignment.static import answer_prefix, persona_messages
from culturescope.survey import wvs7
from servers import free_port, llama_server, start_server

REPLY = json.dumps(
    {
        "id": "c",
        "object": "chat.completion",
        "created": 0,
        "model": "stub",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "logprobs": None,
                "message": {"role": "assistant", "content": "\\boxed{2}"},
            }
        ],
        "usage": {"prompt_tokens": 50, "completion_tokens": 4, "total_tokens": 54},
    }
).encode()


LATENCY = 0.0  # the stub's seconds per reply (--latency), set in the server process


async def stub_app(scope, receive, send):
    """The stub server: any POST gets ``REPLY`` after ``LATENCY`` s; ``GET /v1/models`` says it is up."""
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    if scope["method"] == "POST" and LATENCY:
        await asyncio.sleep(LATENCY)
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": REPLY})


def start_kind(kind: str, port: int, log, latency: float = 0.0) -> subprocess.Popen:
    if kind == "stub":
        cmd = [sys.executable, __file__, "--serve-stub", str(port), "--latency", str(latency)]
    else:
        cmd = llama_server(default_model_path(), port, threads=1)
    return start_server(cmd, port, log, f"the {kind} server")


def culturescope_round(url: str, requests: list[Request], concurrency: int, max_tokens: int) -> float:
    """Seconds for culturescope to answer ``requests`` into a fresh run with a fresh cache."""
    from culturescope.backends.base import Decoding

    backend = OpenAICompatible("smollm2", url, concurrency=concurrency)
    with tempfile.TemporaryDirectory() as tmp:
        run = Run.create(Path(tmp) / "run", {"kind": "benchmark"})
        cache = RequestCache(Path(tmp) / "cache.sqlite")
        started = time.perf_counter()
        n = run_requests(
            backend, "smollm2", requests, "sample", Decoding(temperature=0.6, max_tokens=max_tokens), answer_prefix(),
            cache, run, Console(stderr=True, quiet=True),
        )  # fmt: skip
        took = time.perf_counter() - started
        assert n == len(requests) and len(run.responses()) == n
        lock.release(run.path)
    return took


def bodies(requests: list[Request], max_tokens: int) -> list[bytes]:
    """The JSON bodies culturescope's backend sends for ``requests``."""
    from culturescope.backends.base import Decoding

    fields = OpenAICompatible("smollm2", "http://x").request(Decoding(temperature=0.6, max_tokens=max_tokens), 0)
    return [json.dumps({"messages": r.messages, "model": "smollm2", **fields}).encode() for r in requests]


async def bare_round(url: str, payloads: list[bytes], concurrency: int) -> float:
    """Seconds for a bare httpx2 client to post ``payloads`` at ``concurrency``."""
    import httpx2 as httpx

    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as client:

        async def one(body: bytes) -> None:
            async with gate:
                reply = await client.post(
                    "/chat/completions", content=body, headers={"content-type": "application/json"}
                )
                reply.raise_for_status()
                reply.json()

        started = time.perf_counter()
        await asyncio.gather(*(one(b) for b in payloads))
        return time.perf_counter() - started


def measure(kind: str, latency: float, requests: list[Request], payloads: list[bytes], args) -> None:
    """Alternating rounds of culturescope and bare against one server; prints both rates and the ratio."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    with tempfile.NamedTemporaryFile("wb", suffix=".log", delete=False) as log:
        server = start_kind(kind, port, log, latency)
    ours, bare = [], []
    try:
        for _ in range(args.rounds):
            ours.append(culturescope_round(url, requests, args.concurrency, args.max_tokens))
            bare.append(asyncio.run(bare_round(url, payloads, args.concurrency)))
    finally:
        server.kill()
        server.wait()
    n = len(requests)
    rate_ours, rate_bare = n / statistics.median(ours), n / statistics.median(bare)
    where = f"stub answering in {latency * 1000:.0f} ms" if kind == "stub" else "llama_cpp.server, 1 thread"
    print(f"{n} chat requests, concurrency {args.concurrency}, {where}, {args.rounds} rounds each")
    print(
        f"culturescope run_requests: {rate_ours:8.1f} requests/s  (rounds: {', '.join(f'{n / t:.1f}' for t in ours)})"
    )
    print(
        f"bare httpx2 + asyncio:     {rate_bare:8.1f} requests/s  (rounds: {', '.join(f'{n / t:.1f}' for t in bare)})"
    )
    print(f"culturescope / bare: {rate_ours / rate_bare:.1%}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of each; the median is shown")
    parser.add_argument("--server", choices=["stub", "llama"], default="stub")
    parser.add_argument("--max-tokens", type=int, default=16, help="per reply (matters for --server llama)")
    parser.add_argument(
        "--latency", default="0.05", help="the stub's seconds per reply; a list (0,0.02,0.05,0.2) measures each"
    )
    parser.add_argument("--serve-stub", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    latencies = [float(x) for x in args.latency.split(",")]
    if args.serve_stub:
        import uvicorn

        global LATENCY
        LATENCY = latencies[0]

        uvicorn.run(stub_app, host="127.0.0.1", port=args.serve_stub, log_level="warning", access_log=False)
        return

    survey = wvs7()
    pairs = [(c, it) for it in survey.items for c in survey.cultures][: args.requests]
    requests = [
        Request("static", c.code, c.code, it.id, len(it.options), 0, 0, persona_messages(c, it)) for c, it in pairs
    ]
    payloads = bodies(requests, args.max_tokens)
    for latency in latencies if args.server == "stub" else [0.0]:
        measure(args.server, latency, requests, payloads, args)


if __name__ == "__main__":
    main()
