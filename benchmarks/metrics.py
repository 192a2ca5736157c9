"""Time Diversity_P and Diversity_S on 19 agents × 223 items: vectorized vs a straightforward loop.

Both run in this process on the same answers (the 19 WVS-7 majority vectors, plus random answer
matrices of the same shape); the script prints times and the loop/vectorized ratio.

    python benchmarks/metrics.py [--repeats 20]
"""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from culturescope.metrics import agreement as metrics  # noqa: E402
from culturescope.survey import wvs7  # noqa: E402
from loop_metrics import as_dicts, loop_diversity  # noqa: E402
from timing import best_time  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()

    survey = wvs7()
    delta = survey.deltas
    rng = np.random.default_rng(0)
    random = rng.integers(1, delta.astype(int) + 2, size=(19, len(delta))).astype(float)
    random[rng.random(random.shape) < 0.05] = np.nan
    cases = {
        "human majority (19 countries)": survey.majority_matrix([c.code for c in survey.cultures]),
        "random answers, 5% missing": random,
    }

    print(f"{'answers':32} {'loop (ms)':>10} {'numpy (ms)':>11} {'speed-up':>9}")
    for name, X in cases.items():

        def vectorized(X=X):
            D = metrics.pairwise_distances(X, delta)
            return metrics.diversity_p(D), metrics.diversity_s(D)

        answers, delta_list = as_dicts(X), list(delta)
        assert np.allclose(vectorized(), loop_diversity(answers, delta_list))
        t_loop = best_time(lambda: loop_diversity(answers, delta_list), args.repeats)
        t_vec = best_time(vectorized, args.repeats)
        print(f"{name:32} {1e3 * t_loop:10.2f} {1e3 * t_vec:11.3f} {t_loop / t_vec:8.0f}x")


if __name__ == "__main__":
    main()
