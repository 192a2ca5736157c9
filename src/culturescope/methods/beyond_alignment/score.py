"""Score systems of agents: from the response table to Alignment, Diversity_P and Diversity_S."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd

from culturescope import registry
from culturescope.engine.extract import choice_text, parse_boxed, usable
from culturescope.errors import CulturescopeError
from culturescope.methods.beyond_alignment.coverage import GROUP, Coverage, complete, default_cultures, majority_scored
from culturescope.methods.beyond_alignment.exposure import SYSTEM as EXPOSURE
from culturescope.metrics import agreement as metrics
from culturescope.survey import Mode, Survey
from culturescope.survey.order import stored_codes, to_original

HUMAN = "human reference"
BOXED_SYSTEMS = ("static", EXPOSURE)  # answered in text to the \boxed{n} prompt
_parse = lru_cache(maxsize=1 << 18)(parse_boxed)  # scoring reads the same rows more than once


@dataclass(frozen=True)
class SystemScore:
    """Scores of one system (fractions in [0, 1]) and how many answers each culture contributed."""

    label: str
    system: str
    mode: str
    round: int
    samples: int
    alignment: float
    diversity_p: float
    diversity_s: float
    answered: dict[str, int]
    responses: dict[str, int]
    extra: dict[str, float] = field(default_factory=dict)  # registered metrics (registry.register_metric)

    def as_row(self) -> dict:
        """Flat record in the paper's units (×100, two decimals)."""
        return {
            "backbone": self.label,
            "system": self.system,
            "mode": self.mode,
            "round": self.round,
            "samples": self.samples,
            "alignment": _pct(self.alignment),
            "diversity_p": _pct(self.diversity_p),
            "diversity_s": _pct(self.diversity_s),
            **{name: _pct(value) for name, value in self.extra.items()},
            **{f"answered_{c}": f"{self.answered[c]}/{self.responses[c]}" for c in self.answered},
        }


def _pct(x: float) -> float | None:
    return None if np.isnan(x) else round(100 * x, 2)


def read_answers(responses: pd.DataFrame, survey: Survey, mode: Mode) -> pd.DataFrame:
    """The responses with ``answer`` and ``status`` of every text answer to the ``\\boxed{n}`` prompt
    parsed again from ``raw`` under ``mode``'s reading (``extract.parse_boxed``): faithful is the
    reference implementation's parser, strict the tolerant one. A run stores one reading (runs made
    before the two existed, the tolerant one), so any run is scored under either without importing
    or asking again (a constrained reply: its answer text, ``extract.choice_text``). Rows without raw
    text, distributions (and stated replies that gave none) and other prompts keep what they store. An
    answer to options shown in another order is read as the item's own code (``survey.order``)."""
    text = (
        responses["system"].isin(BOXED_SYSTEMS)
        & responses["probs"].isna()
        & (responses["mode"] != "stated")
        & responses["raw"].map(lambda r: isinstance(r, str))
        & responses["item"].isin(survey.item_ids)
    )
    if not text.any():
        return responses
    rows = responses[text]
    raws = [choice_text(r) if m == "constrained" else r for r, m in zip(rows["raw"], rows["mode"])]
    parsed = [_parse(raw, len(survey.item(i).options), mode) for raw, i in zip(raws, rows["item"])]
    orders = [stored_codes(o) for o in rows.get("order", [None] * len(rows))]
    codes = [to_original(p.answer, o) for p, o in zip(parsed, orders)]
    out = responses.copy()
    out["answer"] = out["answer"].astype(float)
    out.loc[text, "answer"] = [np.nan if c is None else float(c) for c in codes]
    out.loc[text, "status"] = [p.status for p in parsed]
    return out


def answer_matrix(responses: pd.DataFrame, survey: Survey, agents: list[str], mode: Mode) -> np.ndarray:
    """``X[agent, item]`` from the responses of one system, round and sample, read under ``mode``
    (:func:`read_answers`); NaN where missing."""
    X = np.full((len(agents), len(survey.items)), np.nan)
    responses = read_answers(responses, survey, mode)
    rows = responses[usable(responses["status"], mode) & responses["agent"].isin(agents)]
    a = rows["agent"].map({ag: i for i, ag in enumerate(agents)}).to_numpy(int)
    k = rows["item"].map(survey.item_index).to_numpy(int)
    X[a, k] = rows["answer"].to_numpy(float)
    return X


def score(X: np.ndarray, mu: np.ndarray, delta: np.ndarray) -> tuple[float, float, float]:
    """(Alignment, Diversity_P, Diversity_S) of one answer matrix."""
    D = metrics.pairwise_distances(X, delta)
    return metrics.alignment(X, mu, delta), metrics.diversity_p(D), metrics.diversity_s(D)


def human_reference(
    survey: Survey, cultures: list[str], mode: Mode = "faithful", items: list[str] | None = None
) -> SystemScore:
    """The human reference: each culture's majority answers as one agent (§3.4), on ``items`` (ids;
    default: every item of the survey)."""
    X, deltas = survey.majority_matrix(cultures, mode), survey.deltas
    if items is not None:
        columns = [survey.item_index(i) for i in items]
        X, deltas = X[:, columns], deltas[columns]
    a, dp, ds = score(X, X, deltas)
    counts = {c: int(np.isfinite(X[i]).sum()) for i, c in enumerate(cultures)}
    return SystemScore(HUMAN, "human", "-", 0, 1, a, dp, ds, counts, {c: X.shape[1] for c in cultures})


def evaluate_responses(
    responses: pd.DataFrame,
    survey: Survey,
    cultures: list[str] | None = None,
    mode: Mode = "faithful",
    round: int = 0,
    strict: bool = False,
) -> tuple[list[SystemScore], Coverage]:
    """Score every (system, backbone) of a response table that is complete for the chosen cultures
    (default: the set most backbones share) in one round, and account for what was left out.

    Each agent is scored against its own culture's majority answers. With several samples per
    agent, the metrics are computed per sample and averaged. ``strict``: a gap is an error.
    """
    table = majority_scored(responses)
    if not (table["round"] == round).any():
        raise CulturescopeError(f"no responses in round {round}")
    if cultures is None:
        cultures = default_cultures(table[table["round"] == round])
    for c in cultures:
        survey.culture(c)
    coverage = complete(table, survey, cultures, round, strict)
    delta = survey.deltas
    out = []
    for (system, backbone, answer_mode), group in coverage.table.groupby(GROUP[:3], sort=True):
        agents = group.drop_duplicates("agent").sort_values("culture")[["agent", "culture"]]
        mu = survey.majority_matrix(list(agents["culture"]), mode)
        matrices = [answer_matrix(sample, survey, list(agents["agent"]), mode) for _, sample in group.groupby("sample")]
        scores = [score(X, mu, delta) for X in matrices]
        a, dp, ds = (float(np.mean(col)) for col in zip(*scores))
        extra = {name: float(np.mean([fn(X, mu, delta) for X in matrices])) for name, fn in registry.metrics().items()}
        ok = group[usable(read_answers(group, survey, mode)["status"], mode)]
        out.append(
            SystemScore(
                str(backbone),
                str(system),
                str(answer_mode),
                round,
                len(scores),
                a,
                dp,
                ds,
                {c: int((ok["culture"] == c).sum()) for c in cultures},
                {c: int((group["culture"] == c).sum()) for c in cultures},
                extra,
            )
        )
    return out, coverage


def status_counts(responses: pd.DataFrame) -> pd.DataFrame:
    """Parse statuses per backbone and culture: how many answers failed, and how."""
    return (
        responses.groupby(["backbone", "mode", "culture", "status"])
        .size()
        .unstack("status", fill_value=0)
        .reset_index()
    )


def scores(responses: pd.DataFrame, survey: Survey, cultures: list[str] | None = None) -> pd.DataFrame:
    """Long scores (fractions) of every majority-scored system in every round it has: Alignment,
    Diversity_P, Diversity_S and each registered metric, for the cultures chosen as ``evaluate`` does."""
    from culturescope.methods.beyond_alignment.budgeting import SYSTEM as BALLOTS

    answers = responses[responses["system"] != BALLOTS]
    rows = []
    for round in sorted(answers["round"].unique()):
        found, _ = evaluate_responses(answers, survey, cultures, round=int(round))
        for s in found:
            values = {"alignment": s.alignment, "diversity_p": s.diversity_p, "diversity_s": s.diversity_s}
            for metric, value in (values | s.extra).items():
                rows.append([s.system, s.label, s.mode, s.round, "", metric, value])
    return pd.DataFrame(rows, columns=["system", "backbone", "mode", "round", "culture", "metric", "value"])
