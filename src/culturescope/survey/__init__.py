"""Surveys: items with ordered options, cultures, and the human reference answers."""

from culturescope.survey.load import load_survey
from culturescope.survey.model import MODES, Culture, Item, Mode, Survey
from culturescope.survey.named import open_survey
from culturescope.survey.order import OptionOrder
from culturescope.survey.wvs7 import PAPER_CULTURES, budgeting_projects, wvs7

__all__ = [
    "MODES",
    "PAPER_CULTURES",
    "Culture",
    "Item",
    "Mode",
    "OptionOrder",
    "Survey",
    "budgeting_projects",
    "load_survey",
    "open_survey",
    "wvs7",
]
