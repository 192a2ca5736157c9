"""The shipped World Values Survey wave 7 data (223 items, 19 countries, 13 budgeting projects)."""

from __future__ import annotations

import json
from dataclasses import replace
from functools import cache
from importlib.resources import files
from pathlib import Path

from culturescope.survey.load import load_cultures, load_items, load_reference
from culturescope.survey.model import Survey

#: The five cultures of the Beyond-Alignment main experiments.
PAPER_CULTURES = ["BRA", "CHN", "MEX", "NGA", "NZL"]


def data_dir() -> Path:
    return Path(str(files("culturescope.survey") / "data" / "wvs7"))


@cache
def wvs7() -> Survey:
    """The WVS-7 survey with each item's thematic section as its dimension."""
    root = data_dir()
    dimension_of = {
        qid: section["dimension"]
        for section in json.loads((root / "dimensions.json").read_text())["dimensions"]
        for qid in section["items"]
    }
    items = tuple(replace(it, dimension=dimension_of.get(it.id)) for it in load_items(root / "wvs.json"))
    return Survey(
        "wvs7",
        items,
        load_cultures(root / "countries.json"),
        load_reference(root / "proportions_group_by_country.json", items),
    )


@cache
def budgeting_projects() -> list[dict]:
    """The 13 participatory-budgeting projects (id, dimension, name, category, cost, description)."""
    return json.loads((data_dir() / "wvs_project.json").read_text())
