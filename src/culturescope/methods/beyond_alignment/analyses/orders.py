"""Option-order robustness (beyond the papers): the same system asked with its options in other orders
(``--option-order``, ``survey/order.py``), side by side.

Per (system, backbone, answer mode) and order: Alignment, Diversity_P and Diversity_S as ``evaluate``
computes them, on the items asked under every order, so that the orders are scored on the same
items; and per culture, against the reference order (``original`` where present): the share of
answers (matched by item and sample) that name the same option, and in probs mode the mean
Jensen–Shannon divergence (bits) between the two option distributions. Answers are compared in the
item's own codes, as they are stored.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from culturescope.engine.extract import usable
from culturescope.errors import CulturescopeError
from culturescope.methods.beyond_alignment.coverage import majority_scored
from culturescope.methods.beyond_alignment.score import evaluate_responses, read_answers
from culturescope.metrics.distribution import js
from culturescope.survey import Mode, Survey
from culturescope.survey.order import stored_name

REFERENCE = "original"
KEY = ["system", "backbone", "mode"]


@dataclass(frozen=True)
class OrderScores:
    """One order of one system: its scores (fractions) and its agreement with the reference order."""

    system: str
    backbone: str
    mode: str
    order: str
    reference: str
    items: int
    alignment: float
    diversity_p: float
    diversity_s: float
    same: dict[str, float]  # per culture: share of answers naming the same option as under the reference
    js: dict[str, float]  # per culture: mean JS divergence (bits) from the reference's distributions; NaN in text

    @property
    def mean_same(self) -> float:
        return _mean(self.same.values())

    @property
    def mean_js(self) -> float:
        return _mean(self.js.values())


def _mean(values) -> float:
    """The mean of the defined values; NaN when none is."""
    x = np.array(list(values), dtype=float)
    return float(x[np.isfinite(x)].mean()) if np.isfinite(x).any() else float("nan")


def with_order(responses: pd.DataFrame) -> pd.DataFrame:
    """The responses with the name of the order each was asked in (``original`` for rows without one)."""
    column = responses["order"] if "order" in responses else pd.Series(None, index=responses.index, dtype=object)
    return responses.assign(option_order=column.map(stored_name))


def order_labelled(responses: pd.DataFrame) -> pd.DataFrame:
    """The responses with a backbone asked in several orders named once per order ("NAME [reversed]"),
    so that analyses that know nothing of orders score them as separate systems, never as one."""
    t = with_order(responses)
    several = t.groupby(KEY)["option_order"].transform("nunique") > 1
    other = several & (t["option_order"] != REFERENCE)
    out = responses.copy()
    out.loc[other, "backbone"] = t.loc[other, "backbone"] + " [" + t.loc[other, "option_order"] + "]"
    return out


def _common_items(group: pd.DataFrame, cultures: list[str]) -> list[str]:
    """The items that every culture answered under every order of the group."""
    cells = group.drop_duplicates(["option_order", "culture", "item"]).groupby("item").size()
    return sorted(cells.index[cells == group["option_order"].nunique() * len(cultures)])


def _js_rows(a: pd.Series, b: pd.Series) -> np.ndarray:
    """JS divergence (bits) of each pair of distributions (lists), NaN where either is missing."""
    has = np.array([isinstance(p, list) and isinstance(q, list) for p, q in zip(a, b)], dtype=bool)
    out = np.full(len(a), np.nan)
    if has.any():
        width = max(len(p) for p in a[has])
        pad = lambda s: np.array([p + [0.0] * (width - len(p)) for p in s[has]])  # noqa: E731
        out[has] = js(pad(a), pad(b))
    return out


def _agreement(ref: pd.DataFrame, other: pd.DataFrame, reading: Mode) -> pd.DataFrame:
    """Per culture: share of matched answers that agree, and the mean JS divergence (NaN without probs)."""
    cols = ["culture", "item", "sample", "answer", "probs", "status"]
    both = ref[cols].merge(other[cols], on=["culture", "item", "sample"], suffixes=("_r", "_o"))
    ok = usable(both["status_r"], reading) & usable(both["status_o"], reading)
    both = both.assign(same=np.where(ok, both["answer_r"] == both["answer_o"], np.nan))
    both["js"] = _js_rows(both["probs_r"], both["probs_o"])
    return both.groupby("culture")[["same", "js"]].mean()


def compare_orders(
    responses: pd.DataFrame, survey: Survey, cultures: list[str], reading: Mode = "faithful"
) -> tuple[list[OrderScores], list[str]]:
    """Every order of every majority-scored system in round 0, scored on the items common to its
    orders and compared with the reference order; and notes (what was left out, items in common)."""
    t = with_order(majority_scored(responses))
    t = t[(t["round"] == 0) & t["culture"].isin(cultures) & t["item"].isin(survey.item_ids)]
    if t.empty:
        raise CulturescopeError(f"no round-0 answers of {','.join(cultures)} in these runs")
    out, notes = [], []
    for key, group in t.groupby(KEY, sort=True):
        orders = sorted(group["option_order"].unique(), key=lambda o: (o != REFERENCE, o))
        name = f"{key[1]} ({key[0]}, {key[2]})"
        if len(orders) < 2:
            notes.append(f"{name}: asked in one order only ({orders[0]}); nothing to compare")
        common = _common_items(group, cultures)
        if not common:
            notes.append(f"{name}: no item answered by every culture under every order; left out")
            continue
        notes.append(f"{name}: {len(common)} items answered under every order ({', '.join(orders)})")
        group = read_answers(group[group["item"].isin(common)], survey, reading)
        ref = group[group["option_order"] == orders[0]]
        for order in orders:
            rows = group[group["option_order"] == order]
            (score,), _ = evaluate_responses(rows.drop(columns="option_order"), survey, cultures, reading)
            agree = _agreement(ref, rows, reading).reindex(cultures)
            out.append(
                OrderScores(
                    *key,
                    order,
                    orders[0],
                    len(common),
                    score.alignment,
                    score.diversity_p,
                    score.diversity_s,
                    {c: float(v) for c, v in agree["same"].items()},
                    {c: float(v) for c, v in agree["js"].items()},
                )
            )
    return out, notes
