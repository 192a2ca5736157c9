"""Requests/s of one backbone over two llama.cpp replicas against one replica alone, in one run.

Starts two ``python -m llama_cpp.server`` with the embedded model's GGUF on 127.0.0.1, one thread
each, and answers chat requests (the Beyond-Alignment persona prompt, sample mode, 16 new tokens)
through ``run_requests`` with the ``openai`` backend at the same concurrency: once with
``base_url`` the first server, once with both (``base_url`` a list: the pool sends each request to
the replica with fewest in flight). Alternating rounds with disjoint, equally long sets of requests
and a fresh request cache each, so nothing is answered from a cache; the two servers' own prompt
caches see each prompt once. Prints requests/s of each and the ratio (target: two replicas ≥ 1.6×
one). Each server is single-threaded, so the ratio also needs two free cores.

``--server serial``: instead of llama.cpp, two stub servers in this process that, like
``llama_cpp.server``, answer one request at a time (``--latency`` s each) and use no CPU while they
wait: the ratio the pool gives when the servers, not the machine's cores, are the bound.

    python benchmarks/replicas.py [--requests 24] [--rounds 2] [--concurrency 4] [--server llama|serial]
"""

import argparse
import json
import statistics
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from rich.console import Console

from culturescope.backends.base import Decoding
from culturescope.backends.embedded import default_model_path
from culturescope.backends.openai_compat import OpenAICompatible
from culturescope.engine import lock
from culturescope.engine.cache import RequestCache
from culturescope.engine.session import Request, run_requests
from culturescope.engine.store import Run
from culturescope.methods.beyond_alignment.static import answer_prefix, persona_messages
from culturescope.survey import wvs7
from servers import free_port, llama_server, start_server


def serial_server(latency: float) -> ThreadingHTTPServer:
    """A chat server that answers one request at a time, each after ``latency`` seconds."""
    turn = threading.Lock()
    reply = json.dumps(
        {
            "id": "c",
            "object": "chat.completion",
            "created": 0,
            "model": "stub",
            "choices": [
                {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "\\boxed{2}"}}
            ],
        }
    ).encode()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            with turn:
                time.sleep(latency)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def timed(urls: list[str], requests: list[Request], concurrency: int) -> float:
    """Seconds to answer ``requests`` over ``urls`` into a fresh run with a fresh cache."""
    backend = OpenAICompatible("smollm2", urls, concurrency=concurrency)
    with tempfile.TemporaryDirectory() as tmp:
        run = Run.create(Path(tmp) / "run", {"kind": "benchmark"})
        started = time.perf_counter()
        n = run_requests(
            backend, "smollm2", requests, "sample", Decoding(temperature=0.6, max_tokens=16), answer_prefix(),
            RequestCache(Path(tmp) / "cache.sqlite"), run, Console(stderr=True, quiet=True),
        )  # fmt: skip
        took = time.perf_counter() - started
        assert n == len(requests) == len(run.responses())
        lock.release(run.path)
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=24, help="per round and setting")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--server", choices=["llama", "serial"], default="llama")
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per reply of --server serial")
    args = parser.parse_args()

    survey = wvs7()
    pairs = [(c, it) for it in survey.items for c in survey.cultures]
    requests = [
        Request("static", c.code, c.code, it.id, len(it.options), 0, 0, persona_messages(c, it)) for c, it in pairs
    ]
    sets = [requests[i * args.requests : (i + 1) * args.requests] for i in range(2 * args.rounds)]
    if args.server == "serial":
        stubs = [serial_server(args.latency) for _ in range(2)]
        urls = [f"http://127.0.0.1:{s.server_address[1]}/v1" for s in stubs]
        servers = []
    else:
        ports = [free_port(), free_port()]
        urls = [f"http://127.0.0.1:{p}/v1" for p in ports]
        with tempfile.NamedTemporaryFile("wb", suffix=".log", delete=False) as log:
            servers = [start_server(llama_server(default_model_path(), p, threads=1), p, log) for p in ports]
    one, two = [], []
    try:
        for r in range(args.rounds):  # alternate which set and which setting goes first
            a, b = sets[2 * r], sets[2 * r + 1]
            one.append(timed(urls[:1], a if r % 2 == 0 else b, args.concurrency))
            two.append(timed(urls, b if r % 2 == 0 else a, args.concurrency))
    finally:
        for s in servers:
            s.kill()
            s.wait()
    n = args.requests
    rate_one, rate_two = n / statistics.median(one), n / statistics.median(two)
    where = "llama_cpp.server, 1 thread, 16 new tokens" if args.server == "llama" else f"serial stub, {args.latency} s"
    print(f"{n} chat requests per round, {args.rounds} rounds, concurrency {args.concurrency}, {where} each")
    print(f"one replica:  {rate_one:6.2f} requests/s  (rounds: {', '.join(f'{n / t:.2f}' for t in one)})")
    print(f"two replicas: {rate_two:6.2f} requests/s  (rounds: {', '.join(f'{n / t:.2f}' for t in two)})")
    print(f"two / one: {rate_two / rate_one:.2f}x")


if __name__ == "__main__":
    main()
