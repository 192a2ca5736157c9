"""Participatory budgeting (Beyond-Alignment §7, Appendix E): each agent approves exactly 4 of the 13
WVS projects; the ballots are counted, summarized, and aggregated with standard PB rules.

Ballots are parsed strictly: the last ``\\boxed{...}`` must hold exactly four distinct known project
ids. Anything else is an invalid ballot, counted with its reason and kept with its raw text; unlike
the reference implementation (which takes the first box, drops unknown ids and duplicates, and falls
back to any integers in the text), nothing is repaired.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from culturescope.backends.base import Messages
from culturescope.engine.extract import NO_BOX, NOT_INTEGER, OK, clean_latex, last_boxed
from culturescope.engine.prompts import prompts
from culturescope.survey import Culture

SYSTEM, ITEM, BALLOT_SIZE = "budgeting", "PB", 4
WRONG_COUNT, DUPLICATE, UNKNOWN_ID = "wrong_count", "duplicate", "unknown_id"


def ballot_messages(culture: Culture, projects: list[dict]) -> Messages:
    p = prompts(__package__, "budgeting")
    listing = "\n\n".join(p["project"].format(**{**q, "description": q["description"].strip()}) for q in projects)
    return [
        {"role": "system", "content": p["system"].format(country=culture.country, culture=culture.culture)},
        {"role": "user", "content": p["user"].format(n_projects=len(projects), project_list=listing)},
    ]


@dataclass(frozen=True)
class Ballot:
    projects: tuple[int, ...] | None
    status: str


def parse_ballot(text: str | None, project_ids: set[int], size: int = BALLOT_SIZE) -> Ballot:
    content = last_boxed(text or "")
    if content is None:
        return Ballot(None, NO_BOX)
    tokens = [t for t in re.split(r"[,;\s]+", clean_latex(content)) if t]
    if not tokens or not all(t.lstrip("#").isdigit() for t in tokens):
        return Ballot(None, NOT_INTEGER)
    ids = tuple(int(t.lstrip("#")) for t in tokens)
    if len(set(ids)) != len(ids):
        return Ballot(None, DUPLICATE)
    if len(ids) != size:
        return Ballot(None, WRONG_COUNT)
    if not set(ids) <= project_ids:
        return Ballot(None, UNKNOWN_ID)
    return Ballot(ids, OK)


@dataclass(frozen=True)
class VoteSummary:
    votes: dict[int, int]  # approvals per project id (every project, zeros included)
    by_category: dict[str, int]
    ballots: int
    invalid: dict[str, int]

    @property
    def coverage(self) -> int:
        """How many projects received at least one approval."""
        return sum(1 for v in self.votes.values() if v)

    @property
    def entropy_nats(self) -> float:
        """Shannon entropy of the approval shares over projects, in nats (as the paper reports it)."""
        total = sum(self.votes.values())
        shares = [v / total for v in self.votes.values() if v]
        return -sum(s * math.log(s) for s in shares) if total else float("nan")

    @property
    def entropy(self) -> float:
        """The entropy normalized to [0, 1] by log(#projects)."""
        return self.entropy_nats / math.log(len(self.votes))


def ballot_status(text: str, n_projects: int) -> str:
    """The parse status of a ballot over projects 1..n_projects (what a run stores per response)."""
    return parse_ballot(text, set(range(1, n_projects + 1))).status


def summarize(ballots: list[Ballot], projects: list[dict]) -> VoteSummary:
    counts = Counter(pid for b in ballots if b.projects for pid in b.projects)
    category = {p["id"]: p["category"] for p in projects}
    by_category = Counter()
    for pid, n in counts.items():
        by_category[category[pid]] += n
    return VoteSummary(
        {p["id"]: counts.get(p["id"], 0) for p in projects},
        {p["category"]: by_category.get(p["category"], 0) for p in projects},
        sum(1 for b in ballots if b.projects),
        dict(Counter(b.status for b in ballots if not b.projects)),
    )


def funded(ballots: list[Ballot], projects: list[dict], budget: int) -> dict[str, list[int]]:
    """Funded project ids under greedy approval (most approvals per cost first) and the Method of Equal
    Shares (cost satisfaction, without completion), with pabutools."""
    from pabutools.election import ApprovalBallot, ApprovalProfile, Cardinality_Sat, Cost_Sat, Instance, Project
    from pabutools.rules import greedy_utilitarian_welfare, method_of_equal_shares

    by_id = {p["id"]: Project(str(p["id"]), cost=p["cost"]) for p in projects}
    instance = Instance(by_id.values(), budget_limit=budget)
    profile = ApprovalProfile([ApprovalBallot([by_id[i] for i in b.projects]) for b in ballots if b.projects])
    rules = {
        "greedy approval": (greedy_utilitarian_welfare, Cardinality_Sat),
        "method of equal shares": (method_of_equal_shares, Cost_Sat),
    }
    return {
        name: sorted(int(p.name) for p in rule(instance, profile, sat_class=sat)) for name, (rule, sat) in rules.items()
    }
