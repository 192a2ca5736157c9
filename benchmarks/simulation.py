"""Time Table 1 scoring of a paper-sized simulation: ``analyses.preferences`` vs a straightforward loop.

The paper's scale: 11 models × 2 cultures × 20 simulated respondents; here on all 223 WVS-7 items
(random answers, 10% unparsed), i.e. 98,120 responses. Both compute the KL divergence per item (with
the infinity rule) and its mean per value dimension; the script checks they agree and prints the
times and the loop/vectorized ratio, measured in the same run.

    python benchmarks/simulation.py [--repeats 3]
"""

import argparse
from collections import Counter

import numpy as np
import pandas as pd
from scipy import stats

from culturescope.methods.def_simulation.score import preferences
from culturescope.survey import wvs7
from timing import best_time


def responses(survey, models: int, cultures: list[str], respondents: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = np.array([len(it.options) for it in survey.items])
    rows = []
    for m in range(models):
        for c in cultures:
            answers = rng.integers(1, n + 1, size=(respondents, len(n)))
            ok = rng.random(answers.shape) > 0.1
            for r in range(respondents):
                for k, it in enumerate(survey.items):
                    rows.append((f"m{m}", "def", c, f"{c}/{r}", it.id, r, answers[r, k] if ok[r, k] else None))
    t = pd.DataFrame(rows, columns=["backbone", "system", "culture", "agent", "item", "sample", "answer"])
    t["status"] = np.where(t["answer"].notna(), "ok", "no_option")
    t["raw"] = "Answer: " + t["answer"].astype(str)
    return t.assign(mode="sample", round=0, probs=None)


def loop_table(t: pd.DataFrame, survey, cultures: list[str]) -> dict:
    """Per (model, culture): dimension -> mean KL, one item at a time with scipy."""
    out = {}
    for (backbone, culture), rows in t.groupby(["backbone", "culture"]):
        per_item = {}
        for it in survey.items:
            human = survey.human_shares(culture, it.id)
            q = np.array([human.get(c, 0.0) for c in range(1, len(it.options) + 1)])
            if q.sum() == 0:
                continue
            counts = Counter(int(a) for a in rows.loc[(rows["item"] == it.id) & (rows["status"] == "ok"), "answer"])
            p = np.array([counts.get(c, 0) for c in range(1, len(it.options) + 1)], dtype=float)
            per_item[it.id] = (it.dimension, stats.entropy(p, q) if p.sum() else np.nan)
        finite = [v for _, v in per_item.values() if np.isfinite(v)]
        cap = max(finite) + 1
        dims: dict = {}
        for dim, v in per_item.values():
            dims.setdefault(dim, []).append(v if np.isfinite(v) else cap)
        out[(backbone, culture)] = {d: float(np.mean(v)) for d, v in dims.items()}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    survey, cultures = wvs7(), ["USA", "CHN"]
    t = responses(survey, 11, cultures, 20)
    ours = {(p.backbone, p.culture): p.by_dimension for p in preferences(t, survey, cultures)}
    loop = loop_table(t, survey, cultures)
    assert ours.keys() == loop.keys()
    for key in ours:
        assert np.allclose([ours[key][d] for d in loop[key]], list(loop[key].values()))
    t_vec = best_time(lambda: preferences(t, survey, cultures), args.repeats)
    t_loop = best_time(lambda: loop_table(t, survey, cultures), 1)
    print(f"Table 1 scoring, {len(t):,} responses (11 models × 2 cultures × 20 respondents × 223 items)")
    print(f"{'loop (s)':>10} {'vectorized (s)':>15} {'speed-up':>9}")
    print(f"{t_loop:10.2f} {t_vec:15.3f} {t_loop / t_vec:8.0f}x")


if __name__ == "__main__":
    main()
