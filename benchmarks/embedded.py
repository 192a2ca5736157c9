"""Embedded model throughput, measured in one process on the same prompts.

1. raw: the engine alone — one forward pass over each full prompt (chat template + "\\boxed{"),
   from an empty context. This is the floor for any scoring of a fresh prompt.
2. probs: culturescope's probs mode (block prefix reuse + continuation scoring), in run order.
3. sample: culturescope's sample mode (generation, up to 64 new tokens).

Prints prompts/s and the ratios probs/raw (goal: within 1.5×) and sample/probs wall time.
No request cache is involved. Full run: 5 cultures × 223 items (--items 223).

    python benchmarks/embedded.py [--items 40] [--cultures BRA,CHN,MEX,NGA,NZL]
"""

import argparse
import asyncio
import time

from culturescope.backends.base import Decoding
from culturescope.backends.embedded import Embedded
from culturescope.methods.beyond_alignment.static import answer_prefix, persona_messages
from culturescope.survey import PAPER_CULTURES, wvs7


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=40, help="first N items (223 = all)")
    parser.add_argument("--cultures", default=",".join(PAPER_CULTURES))
    args = parser.parse_args()

    survey = wvs7()
    items = survey.items[: args.items]
    jobs = [
        (persona_messages(survey.culture(c), it), len(it.options)) for c in args.cultures.split(",") for it in items
    ]
    backend = Embedded()
    llm, prefix = backend._llm, answer_prefix()

    start = time.perf_counter()
    for messages, _ in jobs:
        llm.reset()
        llm.eval(backend._tokens(backend.prompt_text(messages) + prefix))
    raw = time.perf_counter() - start

    llm.reset()
    start = time.perf_counter()
    for messages, n in jobs:
        asyncio.run(backend.option_probs(messages, prefix, n))
    probs = time.perf_counter() - start

    decoding = Decoding(temperature=0.6, max_tokens=64)
    start = time.perf_counter()
    for messages, _ in jobs:
        asyncio.run(backend.chat(messages, decoding, 0))
    sample = time.perf_counter() - start

    n = len(jobs)
    print(f"{n} prompts ({len(items)} items × {n // len(items)} cultures), model {backend.path.name}")
    print(f"{'':24} {'seconds':>8} {'prompts/s':>10}")
    for name, t in (("raw forward pass", raw), ("probs mode", probs), ("sample mode", sample)):
        print(f"{name:24} {t:8.1f} {n / t:10.1f}")
    print(f"probs / raw time:   {probs / raw:.2f}x  (goal ≤ 1.5x)")
    print(f"sample / probs time: {sample / probs:.2f}x")


if __name__ == "__main__":
    main()
