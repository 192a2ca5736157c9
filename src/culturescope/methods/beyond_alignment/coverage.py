"""What of a response table can be scored: the backbones asked for, the default cultures, and one line
for every gap left out (a backbone without some culture, a round it lacks, lines naming unknown items).

Published outputs are partial as a rule (a backbone with one culture, another with rounds 0–1 only),
so every scoring path scores what is complete and says what it left out; ``strict`` turns a gap into
an error for those who want it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

import pandas as pd

from culturescope.errors import CulturescopeError
from culturescope.methods.beyond_alignment.budgeting import SYSTEM as BALLOTS
from culturescope.registry import systems_scored_by
from culturescope.survey import Survey

GROUP = ["system", "backbone", "mode", "round"]


@dataclass
class Coverage:
    """The rows to score and, one line each, what was left out and why."""

    table: pd.DataFrame
    left_out: list[str] = field(default_factory=list)
    partial: list[str] = field(default_factory=list)  # scored, on fewer items than the survey has


def select_backbones(responses: pd.DataFrame, patterns: str | list[str] | None) -> pd.DataFrame:
    """The rows of the backbones named by ``patterns`` (names or shell-style patterns, comma-separated
    or a list); all rows when None. A pattern that matches no backbone is an error."""
    if not patterns:
        return responses
    if isinstance(patterns, str):
        patterns = [p.strip() for p in patterns.split(",") if p.strip()]
    names = sorted(responses["backbone"].dropna().unique())
    chosen: set[str] = set()
    for pattern in patterns:
        hits = [n for n in names if fnmatchcase(n, pattern)]
        if not hits:
            raise CulturescopeError(f"no backbone matches {pattern!r}; the runs have: {', '.join(names)}")
        chosen.update(hits)
    return responses[responses["backbone"].isin(chosen)]


def default_cultures(responses: pd.DataFrame) -> list[str]:
    """The culture set of two or more cultures shared by the most systems ((system, backbone, mode) in
    the earliest round present), the larger set on a tie: the paper's five cultures for its published
    outputs, where four backbones have 19 cultures and three have one. Candidates are each system's
    own set and the set all share."""
    first = responses[responses["round"] == responses["round"].min()]
    sets = [frozenset(g["culture"].dropna()) for _, g in first.groupby(GROUP[:3])]
    if not sets:
        return []
    candidates = {s for s in sets if len(s) >= 2} | {frozenset.intersection(*sets)}
    candidates = {s for s in candidates if len(s) >= 2} or set(sets)
    best = max(candidates, key=lambda s: (sum(s <= other for other in sets), len(s), sorted(s)))
    return sorted(best)


def _describe(key: tuple) -> str:
    system, backbone, mode, round_ = key
    extra = [system] + ([mode] if mode != "sample" else []) + ([f"round {round_}"] if round_ else [])
    return f"{backbone} ({', '.join(map(str, extra))})"


def complete(
    responses: pd.DataFrame, survey: Survey, cultures: list[str], round: int | None = None, strict: bool = False
) -> Coverage:
    """The rows of ``cultures`` of every (system, backbone, mode, round) that has all of them; with
    ``round``, of that round only, and a system without it is left out.

    Ballots are not survey answers and are left aside. Left out, one line each: lines whose item
    the survey does not have, and each group missing a culture. Noted as partial: cultures answered
    on fewer items than the survey has. With ``strict``, anything left out is an error.
    """
    left_out = []
    responses = responses[responses["system"] != BALLOTS]
    if round is not None:
        systems = responses[GROUP[:3]].drop_duplicates()
        responses = responses[responses["round"] == round]
        absent = systems.merge(responses[GROUP[:3]].drop_duplicates(), how="left", indicator=True)
        for system, backbone, mode in absent.loc[absent["_merge"] == "left_only", GROUP[:3]].to_numpy():
            left_out.append(f"{_describe((system, backbone, mode, 0))}: no round {round}")
    known = responses["item"].isin(survey.item_ids)
    unknown = responses[~known]
    for backbone, rows in unknown.groupby("backbone"):
        shown = ", ".join(sorted(map(str, rows["item"].unique()))[:5])
        left_out.append(f"{backbone}: {len(rows)} line(s) name items not in survey {survey.name} ({shown})")
    table = responses[known & responses["culture"].isin(cultures)]
    keep, partial = [], []
    for key, group in table.groupby(GROUP, sort=True):
        missing = [c for c in cultures if c not in set(group["culture"])]
        if missing:
            left_out.append(f"{_describe(key)}: no responses for {', '.join(missing)}")
            continue
        keep.append(group)
        counts = Counter(group.drop_duplicates(["culture", "item"])["culture"])
        short = [f"{c} {counts[c]}/{len(survey.items)}" for c in cultures if 0 < counts[c] < len(survey.items)]
        if short:
            partial.append(f"{_describe(key)}: items answered {', '.join(short)}")
    for key, group in responses[known].groupby(GROUP, sort=True):
        if not group["culture"].isin(cultures).any():
            left_out.append(f"{_describe(key)}: none of the cultures {','.join(cultures)}")
    if strict and left_out:
        raise CulturescopeError(f"incomplete data (--strict-complete): {'; '.join(left_out)}")
    kept = pd.concat(keep) if keep else table.iloc[:0]
    return Coverage(kept, left_out, partial)


def majority_scored(responses: pd.DataFrame) -> pd.DataFrame:
    """The responses scored against the human majority (every system no distribution-scored method
    claims); a table of nothing else is an error that names the commands that score it."""
    distribution = responses["system"].isin(systems_scored_by("distribution"))
    if distribution.all() and len(responses):
        raise CulturescopeError(
            "these runs hold survey simulations or palette answers; score them with: "
            "culturescope simulate score RUN or culturescope palette score RUN"
        )
    return responses[~distribution]
