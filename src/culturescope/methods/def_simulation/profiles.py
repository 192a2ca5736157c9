"""Preference-bias profiles (DEF §4.2.3, Figs. 8, 11, 12): which human groups a model answers like.

Needs a human reference split by demographic group: shares per country × group × item, groups
named ``factor:level`` (the paper's ``gender:male``, ``gender:female``, ``age:<=29``, ``age:30-49``,
``age:50+``). JSON ``{country: {group: {item: {code: share}}}}`` or CSV ``country,group,item,code,share``.

For each item, the model's most preferred option is compared with the country's (matching or
mismatch item), and for each factor the group(s) giving that option the highest share form the
model's profile on the item (ties count for every tied group, as in the reference implementation).
The profile of a set of items is the share of those items on which each group is in the profile.
The group shares use the codes of the survey's reference and, like it, are read per option (a
zero-coded item's code 0 is option 1).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from culturescope.errors import CulturescopeError
from culturescope.methods.def_simulation.score import Compared
from culturescope.survey import Survey

GroupShares = dict[str, dict[str, dict[str, dict[int, float]]]]  # country -> group -> item -> code -> share


def load_group_reference(path: Path) -> GroupShares:
    """A demographic human reference; one clear error for a malformed file."""
    out: GroupShares = {}
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
            rows = [
                (country, group, item, code, share)
                for country, groups in data.items()
                for group, items in groups.items()
                for item, shares in items.items()
                for code, share in shares.items()
            ]
        else:
            table = pd.read_csv(path, dtype={"country": str, "group": str, "item": str})
            missing = {"country", "group", "item", "code", "share"} - set(table.columns)
            if missing:
                raise CulturescopeError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
            rows = list(table[["country", "group", "item", "code", "share"]].itertuples(index=False, name=None))
    except OSError as exc:
        raise CulturescopeError(f"{path}: cannot read file ({exc.strerror})") from None
    except (json.JSONDecodeError, AttributeError, pd.errors.ParserError) as exc:
        raise CulturescopeError(f"{path}: expected {{country: {{group: {{item: {{code: share}}}}}}}} ({exc})") from None
    for n, (country, group, item, code, share) in enumerate(rows, start=1):
        if ":" not in str(group):
            raise CulturescopeError(f"{path}: entry {n}: group {group!r} is not named factor:level (e.g. gender:male)")
        try:
            code, share = int(code), float(share)
        except (TypeError, ValueError):
            raise CulturescopeError(f"{path}: entry {n}: code and share must be numbers") from None
        if not 0 <= share <= 1:
            raise CulturescopeError(f"{path}: entry {n}: share {share} is not in [0, 1]")
        out.setdefault(str(country), {}).setdefault(str(group), {}).setdefault(str(item), {})[code] = share
    return out


def _top(dist: dict[int, float] | np.ndarray) -> int:
    """The most preferred code (the lowest on a tie)."""
    if isinstance(dist, dict):
        best = max(dist.values())
        return min(c for c, s in dist.items() if s == best)
    return int(np.argmax(dist)) + 1


@dataclass(frozen=True)
class Profile:
    matched: int  # items where the model's top option is the country's
    mismatched: int
    #: (set, factor) -> (items of the set with data for the factor, group -> share of those items)
    shares: dict[tuple[str, str], tuple[int, dict[str, float]]]


def system_profile(c: Compared, survey: Survey, groups: dict[str, dict[str, dict[int, float]]]) -> Profile:
    """:func:`profile` of one system compared with a culture's humans (``analyses.preferences.Compared``),
    the human and group shares read per option as every distribution score reads them."""
    human = {i: survey.human_shares(c.culture, i, "strict") for i in c.item_ids}
    by_option = {g: {i: survey.on_options(i, shares) for i, shares in items.items()} for g, items in groups.items()}
    return profile(dict(zip(c.item_ids, c.model)), human, by_option)


def profile(
    model: dict[str, np.ndarray], human: dict[str, dict[int, float]], groups: dict[str, dict[str, dict[int, float]]]
) -> Profile:
    """``model``: item -> option distribution (codes 1..n); ``human``: item -> the country's shares;
    ``groups``: group -> item -> shares. Items without a model or human distribution are left out."""
    counts: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    covered: dict[tuple[str, str], int] = defaultdict(int)
    sizes = {"matching": 0, "mismatch": 0}
    factors: dict[str, list[str]] = defaultdict(list)
    for g in groups:
        factors[g.split(":", 1)[0]].append(g)
    for item, dist in model.items():
        if not human.get(item) or np.isnan(dist).any():
            continue
        choice = _top(dist)
        which = "matching" if choice == _top(human[item]) else "mismatch"
        sizes[which] += 1
        for factor, members in factors.items():
            shares = {g: groups[g][item].get(choice, 0.0) for g in members if groups[g].get(item)}
            if not shares:
                continue
            covered[(which, factor)] += 1
            best = max(shares.values())
            for g, s in shares.items():
                counts[(which, factor)][g] += s == best
    shares = {key: (n, {g: counts[key][g] / n for g in sorted(factors[key[1]])}) for key, n in sorted(covered.items())}
    return Profile(sizes["matching"], sizes["mismatch"], shares)
