"""Time the exhaustive analyses against a plain-Python loop over the same inputs, in one run.

- mixed backbones: 18 synthetic backbones × 5 cultures × 223 items, all 18^5 = 1,889,568
  assignments (Diversity_P, Diversity_S, Alignment, both Pareto frontiers, highlights);
- culture subsets: every subset of size 2..19 of 19 cultures (524,268), system and human reference.

The loop baseline (one assignment or subset at a time: Algorithms 1–2 with a Kruskal MST) runs on a
random sample of the same inputs; its time per item is scaled to the full count for the ratio.
Times are wall clock and, in brackets, this process's CPU time (the honest figure on a shared machine).

    python benchmarks/analyses.py [--loop-sample 2000]
"""

import argparse
import sys
import time
from itertools import product
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from culturescope.methods.beyond_alignment.analyses.mixed import digits, mixed_backbones  # noqa: E402
from culturescope.methods.beyond_alignment.analyses.subsets import max_by_size  # noqa: E402
from culturescope.metrics import agreement as metrics  # noqa: E402
from culturescope.survey import PAPER_CULTURES, wvs7  # noqa: E402
from loop_metrics import as_dicts, loop_diversity  # noqa: E402
from synthetic import synthetic_answers  # noqa: E402


def timed(fn):
    start, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - start, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--loop-sample", type=int, default=2000, help="assignments/subsets the loop runs")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    survey = wvs7()
    delta, dl = survey.deltas, list(survey.deltas)

    X = synthetic_answers(18, PAPER_CULTURES, seed=1)
    mu = survey.majority_matrix(PAPER_CULTURES)
    names = [f"m{b}" for b in range(18)]
    result, t_mixed, c_mixed = timed(lambda: mixed_backbones(X, mu, delta, names, PAPER_CULTURES))
    total = len(result.diversity_p)
    sample = rng.choice(total, args.loop_sample, replace=False)
    rows = [[X[b, i] for i, b in enumerate(combo)] for combo in digits(sample, 18, 5)]

    def loop_mixed():
        for row in rows:
            S = np.stack(row)
            loop_diversity(as_dicts(S), dl)
            metrics.align_scores(S, mu, delta)

    _, _, c_loop = timed(loop_mixed)
    loop_full = c_loop / len(sample) * total
    print(
        f"mixed backbones, {total:,} assignments: {t_mixed:.2f} s [{c_mixed:.2f} s CPU] (goal < 1 s); "
        f"loop ≈ {loop_full:,.0f} s CPU (from {len(sample):,}); ratio {loop_full / c_mixed:,.0f}x"
    )

    all19 = [c.code for c in survey.cultures]
    system = synthetic_answers(1, all19, seed=2)[0]
    human = survey.majority_matrix(all19)

    def vectorized_subsets():
        return (
            max_by_size(metrics.pairwise_distances(system, delta)),
            max_by_size(metrics.pairwise_distances(human, delta)),
        )

    _, t_sub, c_sub = timed(vectorized_subsets)
    n_sub = 2 * sum(1 for _ in product((0, 1), repeat=19)) - 2 * 20  # subsets of size ≥ 2, both systems
    picks = [np.flatnonzero(rng.random(19) < 0.5) for _ in range(args.loop_sample)]
    picks = [p for p in picks if len(p) >= 2]
    sd, hd = as_dicts(system), as_dicts(human)
    _, _, c_loop = timed(lambda: [loop_diversity([src[i] for i in p], dl) for p in picks for src in (sd, hd)])
    loop_full = c_loop / (2 * len(picks)) * n_sub
    print(
        f"culture subsets k=2..19, {n_sub:,} subsets: {t_sub:.2f} s [{c_sub:.2f} s CPU] (goal < 10 s); "
        f"loop ≈ {loop_full:,.0f} s CPU (from {2 * len(picks):,}); ratio {loop_full / c_sub:,.0f}x"
    )


if __name__ == "__main__":
    main()
