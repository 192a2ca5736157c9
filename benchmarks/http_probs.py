"""probs over HTTP vs in-process, on the same weights, measured in one run.

Starts llama-cpp-python's OpenAI-compatible server (``python -m llama_cpp.server``) on 127.0.0.1 with
the embedded model's GGUF and scores every (culture, item) prompt twice:

1. in-process: the embedded backend (``backends/embedded.py``), the baseline;
2. over HTTP: the OpenAI-compatible backend with ``chat_template`` set to the same GGUF, i.e. the
   completions route (culturescope renders the prompt, ``/v1/completions`` gives the top
   log-probabilities, codes sharing a first token take one more request per partial code).

Prints items/s for both, HTTP requests/s, the ratio of the two times, and the agreement: the largest
difference per option between the two distributions, over how many items and options, and how many
items got no distribution over HTTP. No request cache is involved. The prefill probe's verdict for
this server is printed too. Full comparison: ``--items 223 --cultures BRA,NZL``.

With ``--concurrency`` above 1, requests of different items interleave at the server, which then
batches tokens differently from the in-process scorer; llama.cpp's logits depend on that batching, so
the agreement is only expected within 1e-3 at concurrency 1 (the server runs one request at a time
anyway).

    python benchmarks/http_probs.py [--items 40] [--cultures BRA,NZL] [--concurrency 1] [--port 0]
"""

import argparse
import asyncio
import os
import tempfile
import time
from collections import Counter

import numpy as np

from culturescope.backends.embedded import Embedded, default_model_path
from culturescope.backends.openai_compat import OpenAICompatible
from culturescope.methods.beyond_alignment.static import answer_prefix, persona_messages
from culturescope.survey import wvs7
from servers import free_port, llama_server, start_server


async def over_http(backend: OpenAICompatible, jobs, concurrency: int) -> list:
    gate = asyncio.Semaphore(concurrency)

    async def one(messages, n):
        async with gate:
            return await backend.option_probs(messages, answer_prefix(), n)

    return await asyncio.gather(*(one(m, n) for m, n in jobs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=40, help="first N items (223 = all)")
    parser.add_argument("--cultures", default="BRA,NZL")
    parser.add_argument("--concurrency", type=int, default=1, help="option scorings in flight over HTTP")
    parser.add_argument("--port", type=int, default=0, help="0: a free port")
    args = parser.parse_args()

    import llama_cpp

    survey = wvs7()
    items = survey.items[: args.items]
    cultures = args.cultures.split(",")
    jobs = [(persona_messages(survey.culture(c), it), len(it.options)) for c in cultures for it in items]
    model, threads, port = default_model_path(), os.cpu_count() or 1, args.port or free_port()

    local = Embedded(n_threads=threads)
    start = time.perf_counter()
    baseline = [asyncio.run(local.option_probs(m, answer_prefix(), n))[0] for m, n in jobs]
    t_local = time.perf_counter() - start
    del local

    with tempfile.NamedTemporaryFile("wb", suffix=".log", delete=False) as log:
        server = start_server(llama_server(model, port, threads), port, log)
    try:
        url = f"http://127.0.0.1:{port}/v1"
        probe = OpenAICompatible("smollm2", url)
        asyncio.run(probe.route())
        backend = OpenAICompatible("smollm2", url, chat_template=model, concurrency=args.concurrency)
        requests = Counter()
        ask = backend.completion_top

        async def counted(prompt, k=20):
            requests["n"] += 1
            return await ask(prompt, k)

        backend.completion_top = counted
        start = time.perf_counter()
        remote = asyncio.run(over_http(backend, jobs, args.concurrency))
        t_http = time.perf_counter() - start
    finally:
        server.kill()
        server.wait()

    missing = sum(p is None for p, _, _ in remote)
    diffs = np.array(
        [np.nan if p is None else np.abs(np.asarray(p) - q).max() for (p, _, _), q in zip(remote, baseline)]
    )
    compared = int((~np.isnan(diffs)).sum())
    options = sum(n for (p, _, _), (_, n) in zip(remote, jobs) if p is not None)
    below = sum(bool(trace.get("below_top_k")) for _, _, trace in remote)
    counts = Counter(n for _, n in jobs)
    worst = int(np.nanargmax(diffs)) if compared else None
    n = len(jobs)
    print(f"{n} prompts ({len(items)} items × {len(cultures)} cultures), model {model.name}")
    print(f"options per item: {', '.join(f'{k}: {v}' for k, v in sorted(counts.items()))}")
    print(
        f"server: llama-cpp-python {llama_cpp.__version__} (--n_ctx 2048 --n_threads {threads}); "
        f"in-process: {threads} threads"
    )
    print(f"prefill probe on this server: route {probe.probs_route!r}")
    print(f"{'':28} {'seconds':>8} {'items/s':>8} {'requests/s':>11}")
    print(f"{'in-process (embedded)':28} {t_local:8.1f} {n / t_local:8.2f} {'':>11}")
    print(
        f"{'HTTP, completions route':28} {t_http:8.1f} {n / t_http:8.2f} {requests['n'] / t_http:11.2f}"
        f"   ({requests['n']} requests, concurrency {args.concurrency})"
    )
    print(f"HTTP / in-process time: {t_http / t_local:.2f}x")
    print(
        f"agreement: max |Δp| per option {np.nanmax(diffs) if compared else np.nan:.2e} over {compared} items "
        f"({options} options); {missing} items without a distribution over HTTP; {below} with a code below the top-k"
    )
    if worst is not None:
        c, it = divmod(worst, len(items))
        print(f"largest difference: {cultures[c]} {items[it].id} ({jobs[worst][1]} options)")


if __name__ == "__main__":
    main()
