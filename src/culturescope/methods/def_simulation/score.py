"""Preference distributions and their distance to the human ones, per value dimension (DEF §4.2.1,
§5.2.1, Tables 1, 2 and 4).

A simulated system's distribution on an item is the share of its respondents' valid answers per
option (sample mode) or the mean option distribution of its agents (probs mode). The human one is
the country's answer shares per option, a missing share counting 0, both normalized (as
``scipy.stats.entropy`` does in the reference implementation). Option k is always compared with
option k: a zero-coded item's human code 0 is option 1 (``Survey.on_options``, the strict reading) —
the faithful reading exists to reproduce the Beyond-Alignment reference's majority answers, and no
distribution score has such a reference, so these scores have no reading to choose.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from culturescope.errors import CulturescopeError
from culturescope.metrics.distribution import cap_infinite, divergence, diversity_score, normalize
from culturescope.survey import Survey

NO_DIMENSION = "(none)"


def model_distributions(rows: pd.DataFrame, survey: Survey, item_ids: list[str]) -> np.ndarray:
    """(K, n_max) answer distributions of one system on one culture; NaN rows where nothing is valid."""
    width = max(len(it.options) for it in survey.items)
    counts = np.zeros((len(item_ids), width))
    index = {i: k for k, i in enumerate(item_ids)}
    rows = rows[rows["item"].isin(index)]
    with_probs = rows[rows["probs"].notna()]
    for item, probs in zip(with_probs["item"], with_probs["probs"]):
        counts[index[item], : len(probs)] += probs
    valid = rows[rows["probs"].isna() & (rows["status"] == "ok")]
    k = valid["item"].map(index).to_numpy(int)
    np.add.at(counts, (k, valid["answer"].to_numpy(float).astype(int) - 1), 1)
    return normalize(counts)


def human_distributions(survey: Survey, country: str, item_ids: list[str]) -> np.ndarray:
    """(K, n_max) human answer shares per option 1..n (zero-coded items shifted onto the options;
    a code outside them is not an option); NaN without data."""
    width = max(len(it.options) for it in survey.items)
    out = np.zeros((len(item_ids), width))
    for k, item_id in enumerate(item_ids):
        n = len(survey.item(item_id).options)
        for code, share in survey.human_shares(country, item_id, "strict").items():
            if 1 <= code <= n:
                out[k, code - 1] = share
    return normalize(out)


def survey_dimensions(survey: Survey) -> dict[str, str]:
    """Item → value dimension as the survey gives it (WVS-7: its questionnaire sections)."""
    return {it.id: it.dimension or NO_DIMENSION for it in survey.items}


def load_dimensions(path: Path) -> dict[str, str]:
    """An item → value dimension table: JSON ``{"Q1": "IDV", ...}`` or CSV with columns item,dimension."""
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
                raise CulturescopeError(f"{path}: expected a JSON object mapping item ids to dimension names")
            return {str(k): v for k, v in data.items()}
        table = pd.read_csv(path, dtype=str)
    except OSError as exc:
        raise CulturescopeError(f"{path}: cannot read file ({exc.strerror})") from None
    except (json.JSONDecodeError, pd.errors.ParserError) as exc:
        raise CulturescopeError(f"{path}: cannot parse ({exc})".replace("\n", " ")) from None
    if not {"item", "dimension"} <= set(table.columns):
        raise CulturescopeError(f"{path}: a dimension table needs the columns item,dimension")
    blank = table[table["item"].isna() | table["dimension"].isna()]
    if not blank.empty:
        raise CulturescopeError(f"{path}: row {blank.index[0] + 2}: item or dimension is empty")
    return dict(zip(table["item"], table["dimension"]))


@dataclass(frozen=True)
class Preferences:
    """One system (backbone × variant) on one culture, compared with that culture's human answers."""

    backbone: str
    system: str
    culture: str
    n_test: int
    valid: float  # share of responses with a valid answer
    diversity: float | None  # eq. 6 over raw responses; None for probs (one agent, no responses to count)
    by_dimension: dict[str, float]  # mean divergence over the dimension's items
    items: dict[str, float]  # per item, infinities capped

    @property
    def average(self) -> float:
        return float(np.mean(list(self.by_dimension.values())))


@dataclass(frozen=True)
class Compared:
    """One system on one culture: its distributions and the humans' on the items both have."""

    backbone: str
    system: str
    culture: str
    item_ids: list[str]
    model: np.ndarray  # (K, n_max), NaN rows where the system gave no valid answer
    human: np.ndarray  # (K, n_max)
    rows: pd.DataFrame  # the system's responses on these items


#: Answer modes a system's label names, so that their rows are never pooled with sample/probs rows.
LABELLED_MODES = ("constrained", "stated")


def mode_labelled(responses: pd.DataFrame) -> pd.Series:
    """Each row's system as the tables name it: ``def [constrained]``, ``def [stated]``; else the system
    (a system already labelled stays as it is)."""
    suffix = " [" + responses["mode"] + "]"
    labelled = responses["mode"].isin(LABELLED_MODES) & ~pd.Series(
        [s.endswith(x) for s, x in zip(responses["system"], suffix)], index=responses.index, dtype=bool
    )
    return responses["system"].where(~labelled, responses["system"] + suffix)


def answer_mode_of(system: str, distributions: bool) -> str:
    """The answer mode of a system label (:func:`mode_labelled`); unlabelled: probs or sample."""
    return next((m for m in LABELLED_MODES if system.endswith(f" [{m}]")), "probs" if distributions else "sample")


def compared(responses: pd.DataFrame, survey: Survey, cultures: list[str]) -> list[Compared]:
    """Every (backbone, system, culture) of the responses with the items that have human answers; a
    system answered in constrained or stated mode is its own system (:func:`mode_labelled`)."""
    found = []
    responses = responses.assign(system=mode_labelled(responses)) if not responses.empty else responses
    for (backbone, system, culture), rows in responses.groupby(["backbone", "system", "culture"], sort=True):
        if culture not in cultures:
            continue
        asked = set(rows["item"].unique())
        item_ids = [i for i in survey.item_ids if i in asked]
        human = human_distributions(survey, culture, item_ids)
        keep = ~np.isnan(human).any(axis=1)
        item_ids = [i for i, k in zip(item_ids, keep) if k]
        if item_ids:
            rows = rows[rows["item"].isin(item_ids)]
            model = model_distributions(rows, survey, item_ids)
            found.append(Compared(backbone, system, culture, item_ids, model, human[keep], rows))
    return found


def preferences(
    responses: pd.DataFrame,
    survey: Survey,
    cultures: list[str],
    measure: str = "kl",
    dimension_of: dict[str, str] | None = None,
) -> list[Preferences]:
    """Table 1 per culture: diversity, validity and divergence per value dimension of every system."""
    return score_compared(compared(responses, survey, cultures), measure, dimension_of or survey_dimensions(survey))


def score_compared(comps: list[Compared], measure: str, dimension_of: dict[str, str]) -> list[Preferences]:
    """:func:`preferences` from systems already compared with the humans (see :func:`compared`)."""
    found: list[Preferences] = []
    for c in comps:
        keep = [k for k, i in enumerate(c.item_ids) if i in dimension_of]
        if not keep:
            continue
        item_ids = [c.item_ids[k] for k in keep]
        values = cap_infinite(divergence(measure, c.model[keep], c.human[keep]))
        per_item = dict(zip(item_ids, values.tolist()))
        by_dimension = pd.Series(per_item).groupby(lambda i: dimension_of[i]).mean().to_dict()
        rows = c.rows[c.rows["item"].isin(item_ids)]
        n_test = rows["sample"].nunique()
        diversity = None
        if rows["probs"].isna().all():
            n_diff = int(rows.groupby("item")["raw"].nunique(dropna=False).sum())
            diversity = diversity_score(n_diff, len(item_ids), n_test)
        valid = float((rows["status"] == "ok").mean())
        found.append(Preferences(c.backbone, c.system, c.culture, n_test, valid, diversity, by_dimension, per_item))
    return found


def table1(found: list[Preferences]) -> list[dict]:
    """Table 1 rows: one per system and culture (dimensions in name order; undefined values None),
    then, for systems with several cultures, their mean across countries (culture "all")."""
    dimensions = sorted({d for p in found for d in p.by_dimension})
    rows = [
        {
            "backbone": p.backbone,
            "system": p.system,
            "culture": p.culture,
            "n_test": p.n_test,
            "valid %": 100 * p.valid,
            "Diversity %": None if p.diversity is None else 100 * p.diversity,
            **{d: p.by_dimension.get(d) for d in dimensions},
            "Avg.": p.average,
        }
        for p in found
    ]
    rows = [{k: None if isinstance(v, float) and np.isnan(v) else v for k, v in row.items()} for row in rows]
    for (backbone, system), group in pd.DataFrame(rows).groupby(["backbone", "system"], sort=False):
        if len(group) > 1:
            mean = group.drop(columns=["backbone", "system", "culture"]).mean(numeric_only=True)
            rows.append(
                {"backbone": backbone, "system": system, "culture": "all"}
                | {k: (None if pd.isna(v) else int(v) if k == "n_test" else float(v)) for k, v in mean.items()}
            )
    return sorted(rows, key=lambda r: (r["backbone"], r["system"], r["culture"] == "all"))


def scores(responses: pd.DataFrame, survey: Survey, cultures: list[str] | None = None) -> pd.DataFrame:
    """Long scores of every simulated system per culture (Table 1): KL per value dimension
    (``kl:<dimension>``) and on average (``kl``), Diversity (eq. 6, a fraction) and the valid share."""
    chosen = cultures or sorted(responses["culture"].unique())
    rows = []
    for p in preferences(responses[responses["mode"] != "judge"], survey, chosen):
        mode = answer_mode_of(p.system, p.diversity is None)
        values = {f"kl:{d}": v for d, v in p.by_dimension.items()} | {"kl": p.average, "valid": p.valid}
        if p.diversity is not None:
            values["diversity"] = p.diversity
        rows += [[p.system, p.backbone, mode, 0, p.culture, metric, value] for metric, value in values.items()]
    return pd.DataFrame(rows, columns=["system", "backbone", "mode", "round", "culture", "metric", "value"])
