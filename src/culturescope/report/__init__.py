"""The HTML report: one page assembled from the report parts of the methods present in the runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from culturescope.survey import Mode


@dataclass(frozen=True)
class ReportOptions:
    """What shapes the report. ``mode``: how majority answers and human data are read (faithful or
    strict); ``replicates``: bootstrap replicates of the intervals; ``per_item``: the systems of
    Beyond Alignment's Fig. 1 (right); ``groups``: a demographic human reference (DEF's bias
    profiles); ``case_item``: the item of the case views; ``strict``: a gap in the data is an error;
    ``whole``: the runs asked every item of the survey (set by the report, which otherwise scores the
    slice they asked)."""

    mode: Mode = "faithful"
    replicates: int = 1000
    per_item: list[str] | None = None
    groups: Any = None  # DEF's GroupShares
    case_item: str | None = None
    strict: bool = False
    whole: bool = True
