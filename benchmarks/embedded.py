"""Embedded model throughput, measured in one process on the same prompts, for the weights as
shipped (Q4_1) and as the embedded backend runs them (their F16 copy, ``default_model_path``).

1. raw: the engine alone — one forward pass over each full prompt (chat template + "\\boxed{"),
   from an empty context. This is the floor for any scoring of a fresh prompt.
2. probs: culturescope's probs mode (block prefix reuse + continuation scoring), in run order.
3. sample: culturescope's sample mode (generation, up to 64 new tokens).

Prints prompts/s per model, the ratios probs/raw (goal: within 1.5×) and sample/probs wall time,
and each mode's speed-up of F16 over Q4_1. No request cache is involved. Full run: 5 cultures ×
223 items (--items 223).

    python benchmarks/embedded.py [--items 40] [--cultures BRA,CHN,MEX,NGA,NZL]
"""

import argparse
import asyncio
import time

from culturescope.backends.base import Decoding
from culturescope.backends.embedded import Embedded, default_model_path, shipped_model_path
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
    n, timings = len(jobs), {}
    print(f"{n} prompts ({len(items)} items × {n // len(items)} cultures)")
    print(f"{'':32} {'seconds':>8} {'prompts/s':>10}")
    for label, path in (("Q4_1 (shipped)", shipped_model_path()), ("F16 (embedded backend)", default_model_path())):
        timings[label] = t = measure(Embedded(path), jobs)
        for name, seconds in t.items():
            print(f"{label:22} {name:9} {seconds:8.1f} {n / seconds:10.1f}")
        print(f"{label:22} probs / raw time: {t['probs'] / t['raw']:.2f}x (goal ≤ 1.5x)")
        print(f"{label:22} sample / probs time: {t['sample'] / t['probs']:.2f}x")
    q41, f16 = timings.values()
    print("F16 speed-up over Q4_1: " + ", ".join(f"{name} {q41[name] / f16[name]:.2f}x" for name in q41))


def measure(backend: Embedded, jobs: list) -> dict[str, float]:
    """Seconds for the raw forward passes, probs mode and sample mode over ``jobs``."""
    llm, prefix, out = backend._llm, answer_prefix(), {}
    start = time.perf_counter()
    for messages, _ in jobs:
        llm.reset()
        llm.eval(backend._tokens(backend.prompt_text(messages) + prefix))
    out["raw"] = time.perf_counter() - start

    llm.reset()
    start = time.perf_counter()
    for messages, n in jobs:
        asyncio.run(backend.option_probs(messages, prefix, n))
    out["probs"] = time.perf_counter() - start

    decoding = Decoding(temperature=0.6, max_tokens=64)
    start = time.perf_counter()
    for messages, _ in jobs:
        asyncio.run(backend.chat(messages, decoding, 0))
    out["sample"] = time.perf_counter() - start
    return out


if __name__ == "__main__":
    main()
