"""A survey by name or by directory: what ``--survey`` and the Python API's ``survey=`` take."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from culturescope.errors import CulturescopeError
from culturescope.survey.load import load_survey
from culturescope.survey.model import Survey
from culturescope.survey.wvs7 import wvs7

#: The surveys known by name (``--survey wvs7``).
NAMED: dict[str, Callable[[], Survey]] = {"wvs7": wvs7}

#: The files of a survey directory, as ``simulate rephrase`` writes them; cultures.json is optional.
ITEMS, REFERENCE, CULTURES = "items.json", "reference.json", "cultures.json"


def open_survey(survey: str | Path | Survey | None = None) -> Survey:
    """``None`` or ``"wvs7"``: the shipped WVS-7; a :class:`Survey`: itself; otherwise a directory
    holding items.json and reference.json, and optionally cultures.json (default: the WVS-7 countries)."""
    if survey is None:
        return wvs7()
    if isinstance(survey, Survey):
        return survey
    if isinstance(survey, str) and survey in NAMED:
        return NAMED[survey]()
    folder = Path(survey)
    if not (folder / ITEMS).is_file() or not (folder / REFERENCE).is_file():
        raise CulturescopeError(
            f"survey {str(survey)!r}: give {' or '.join(repr(n) for n in NAMED)} or a directory with "
            f"{ITEMS} and {REFERENCE} (and optionally {CULTURES})"
        )
    cultures = folder / CULTURES
    return load_survey(folder / ITEMS, folder / REFERENCE, cultures if cultures.is_file() else None)
