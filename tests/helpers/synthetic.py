"""Synthetic backbones with realistic structure, for the analyses' tests and benchmarks.

Backbone b answers culture c with the human majority pulled toward the all-culture mean by a
backbone-specific amount (homogenization) plus noise, rounded and clipped to the item's codes.
"""

import json

import numpy as np

from culturescope.survey import wvs7


def synthetic_answers(n_backbones: int, cultures: list[str], seed: int = 0) -> np.ndarray:
    """(B, N, K) answers on the WVS-7 items."""
    survey = wvs7()
    rng = np.random.default_rng(seed)
    human = survey.majority_matrix(cultures, "strict")
    top = survey.deltas + 1
    known = np.isfinite(human)
    centre = np.where(known.any(axis=0), np.nansum(human, axis=0) / np.maximum(known.sum(axis=0), 1), (top + 1) / 2)
    human = np.where(known, human, centre)
    pull = rng.uniform(0.2, 0.9, n_backbones)[:, None, None]
    noise = rng.normal(0, 1, (n_backbones, len(cultures), len(top))) * rng.uniform(0.3, 1.2, n_backbones)[:, None, None]
    X = np.rint(pull * human + (1 - pull) * centre + noise)
    return np.clip(X, 1, top)


def write_reference_outputs(directory, X: np.ndarray, cultures: list[str], names: list[str]) -> None:
    """Write answers as the reference implementation's {model}_{CULTURE}_system.jsonl files."""
    survey = wvs7()
    for b, name in enumerate(names):
        for i, c in enumerate(cultures):
            with (directory / f"{name}_{c}_system.jsonl").open("w") as fh:
                for k, it in enumerate(survey.items):
                    fh.write(json.dumps({"idx": k, "q_id": it.id, "response": f"\\boxed{{{int(X[b, i, k])}}}"}) + "\n")
