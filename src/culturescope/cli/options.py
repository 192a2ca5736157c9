"""Options every command shares (one grammar: docs/design.md), loading surveys and runs. Heavy libraries
are imported inside the functions that use them, so that ``culturescope --help`` stays fast."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Callable, Optional

import typer
from rich.console import Console
from rich.markup import escape

from culturescope.errors import CulturescopeError
from culturescope.survey import OptionOrder, Survey, load_survey, open_survey

if TYPE_CHECKING:
    import pandas as pd

    from culturescope.engine.store import Run

from culturescope.cli.output import deprecated


def renamed(new_value, old_value, old: str, new: str, shown: str | None = None):
    """The value of an option given under its new name, or (one deprecation line) under its old one.
    ``shown``: the new spelling as the deprecation line names it (default ``new``)."""
    if old_value is None or old_value is False or old_value == []:
        return new_value
    deprecated(old, shown or new)
    if new_value not in (None, False, []) and new_value != old_value:
        raise CulturescopeError(f"{old} is the old spelling of {new}; give only {new}")
    return old_value


class Mode(str, Enum):
    faithful = "faithful"
    strict = "strict"


ItemsOpt = Annotated[
    Optional[Path],
    typer.Option(
        "--items",
        help="Your own survey items (JSON or CSV), with --reference [and --cultures-file]; the file-by-file "
        "form of --survey.",
        rich_help_panel="Survey",
    ),
]


ReferenceOpt = Annotated[
    Optional[Path],
    typer.Option("--reference", help="Human answer shares for --items (JSON or CSV).", rich_help_panel="Survey"),
]


CulturesFileOpt = Annotated[
    Optional[Path],
    typer.Option(
        "--cultures-file", help="Culture table for --items (default: the WVS-7 countries).", rich_help_panel="Survey"
    ),
]


SurveyOpt = Annotated[
    Optional[str],
    typer.Option(
        "--survey",
        metavar="NAME|DIR",
        help="The survey: wvs7 (default: the shipped World Values Survey wave 7) or a directory holding "
        "items.json and reference.json [and cultures.json], as `simulate rephrase` writes one.",
        rich_help_panel="Survey",
    ),
]


HumanDataOpt = Annotated[
    Optional[Mode],
    typer.Option(
        "--human-data",
        help="How the human data and the models' \\boxed{n} replies are read. faithful (default): as the paper's "
        "reference code does; strict: fix its quirks (0-based codes, ties, out-of-range answers) and read "
        "replies tolerantly (\\boxed{4.}, \\boxed{$3$}). See docs/data.md.",
    ),
]


ModeOpt = Annotated[Optional[Mode], typer.Option("--mode", hidden=True, help="Deprecated: use --human-data.")]


def human_data(value: Mode | None, old: Mode | None) -> str:
    """faithful or strict, from --human-data or the deprecated --mode."""
    chosen = renamed(value, old, "--mode", "--human-data", f"--human-data {old.value if old else ''}")
    return (chosen or Mode.faithful).value


AnswerModeOpt = Annotated[
    Optional[str],
    typer.Option(
        "--answer-mode",
        metavar="MODES",
        help="Answer modes, comma-separated (default: sample; for run and exposure on the embedded model alone, "
        "probs, as its written answers do not parse): sample (free text, answer parsed from it); "
        "probs (option distribution at the answer position, answer = argmax); constrained (sampled, but "
        "only a valid answer can come out); stated (the model states a probability per option as JSON, "
        "our prompt). See docs/backends.md.",
    ),
]


AnswerModeOldOpt = Annotated[Optional[str], typer.Option("--mode", hidden=True, help="Deprecated: use --answer-mode.")]


def answer_modes(value: str | None, old: str | None) -> list[str] | None:
    """The answer modes of --answer-mode (or the deprecated --mode); None: not given."""
    chosen = renamed(value, old, "--mode", "--answer-mode", f"--answer-mode {old}")
    return split_names(chosen) if chosen is not None else None


def one_answer_mode(value: str | None) -> str:
    """The one answer mode of a run that holds one (simulate, palette); default sample."""
    modes = split_names(value) if value else ["sample"]
    if len(modes) != 1:
        raise CulturescopeError(f"--answer-mode takes one mode here (a run holds one), not {value}")
    return modes[0]


OptionOrderOpt = Annotated[
    Optional[str],
    typer.Option(
        "--option-order",
        metavar="ORDER",
        help="The order the options are shown in, renumbered 1..n: original (default), reversed, or shuffled[:SEED] "
        "(one permutation per item from SEED, default 0). Answers are stored as the item's own codes; a run "
        "directory holds one order. See docs/analyses.md.",
    ),
]


def option_order(value: str | None, command: str | None = None) -> str:
    """The --option-order name, checked; ``command``: a command that asks in the survey's order only."""
    name = OptionOrder.parse(value).name
    if command and name != "original":
        raise CulturescopeError(f"{command} asks in the survey's option order only (--option-order: run, exposure)")
    return name


BackboneOpt = Annotated[
    Optional[list[str]],
    typer.Option(
        "--backbone",
        "-b",
        help="Repeatable: each backbone runs in turn. A spec as for `culturescope run` (default: embedded).",
    ),
]


def parse_roles(values: list[str] | None, known: list[str], command: str) -> dict[str, str]:
    """--role NAME=SPEC values, by role (spelled as ``known`` spells it, any case); one clear error for an
    unknown role, a missing SPEC or a role given twice."""
    by_lower = {k.lower(): k for k in known}
    found: dict[str, str] = {}
    for value in values or []:
        name, sep, spec = (part.strip() for part in value.partition("="))
        role = by_lower.get(name.lower())
        if role is None:
            raise CulturescopeError(f"unknown role {name!r} for {command}; its roles: {', '.join(known)}")
        if not sep or not spec:
            raise CulturescopeError(f"--role takes NAME=SPEC, e.g. {known[0]}=openai:gpt-4o-mini; got {value!r}")
        if role in found:
            raise CulturescopeError(f"role {role} is given twice")
        found[role] = spec
    return found


LimitOpt = Annotated[
    Optional[int],
    typer.Option(
        "--limit",
        help="Only the first N items (of the survey, or of --only / --per-dimension).",
        rich_help_panel="Items",
    ),
]


OnlyOpt = Annotated[
    Optional[str],
    typer.Option(
        "--only", metavar="IDS", help="Comma-separated item ids to ask (default: all).", rich_help_panel="Items"
    ),
]


PerDimensionOpt = Annotated[
    Optional[int],
    typer.Option("--per-dimension", help="Only the first N items of each value dimension.", rich_help_panel="Items"),
]


def resumable(what: str, out_dir: Path, start: Callable[[], Run]) -> Run:
    """``start()``; on Ctrl-C, say that every {what} so far is kept and how to resume, and exit 130."""
    try:
        return start()
    except KeyboardInterrupt:
        Console(stderr=True, soft_wrap=True).print(
            escape(f"stopped. Every {what} so far is kept in {out_dir}; run the same command again to resume.")
        )
        raise typer.Exit(130) from None


def load_survey_options(
    items: Path | None, reference: Path | None, cultures_file: Path | None, survey: str | None = None
) -> Survey:
    """The survey of --survey NAME|DIR or of --items/--reference [--cultures-file]; default: WVS-7."""
    if survey is not None:
        if items or reference or cultures_file:
            raise CulturescopeError("--survey and --items/--reference/--cultures-file exclude each other; give one")
        return open_survey(survey)
    if items is None and reference is None:
        if cultures_file is not None:
            raise CulturescopeError("--cultures-file goes with --items and --reference")
        return open_survey()
    if items is None or reference is None:
        raise CulturescopeError("--items and --reference go together")
    return load_survey(items, reference, cultures_file)


RunsArg = Annotated[list[Path], typer.Argument(help="One or more run directories.")]


CulturesOpt = Annotated[
    Optional[str],
    typer.Option(help="Comma-separated culture codes (default: the culture set shared by the most systems of RUNS)."),
]


PaperCulturesOpt = Annotated[
    Optional[str],
    typer.Option(help="Comma-separated culture codes (default: the paper's five, BRA,CHN,MEX,NGA,NZL)."),
]


BackbonesOpt = Annotated[
    Optional[str],
    typer.Option(
        "--backbones",
        help="Comma-separated backbone names or shell-style patterns, e.g. 'gpt-*,claude-opus-4.7' (default: all).",
    ),
]


StrictCompleteOpt = Annotated[
    bool,
    typer.Option(
        "--strict-complete",
        help="Stop with an error when a backbone lacks a chosen culture or round, or lines name unknown items "
        "(default: score what is complete and list what was left out).",
    ),
]


def load_runs(runs: list[Path], backbones: str | None = None, by_order: bool = True) -> tuple[list[Run], pd.DataFrame]:
    """The opened runs and all their responses (of the --backbones asked for) in one table, each file read once.
    ``by_order``: a backbone asked in several option orders is named once per order ("NAME [reversed]")."""
    import pandas as pd

    from culturescope.engine.store import Run
    from culturescope.methods.beyond_alignment.analyses.orders import order_labelled
    from culturescope.methods.beyond_alignment.coverage import select_backbones

    opened = [Run.open(r) for r in runs]
    responses = pd.concat([r.responses() for r in opened], ignore_index=True)
    if responses.empty:
        raise CulturescopeError("the runs hold no responses")
    return opened, select_backbones(order_labelled(responses) if by_order else responses, backbones)


AnsweredCulturesOpt = Annotated[
    Optional[str], typer.Option(help="Comma-separated culture codes (default: every culture RUNS answered).")
]


def load_answers(runs: list[Path], cultures: str | None, items, reference, cultures_file, survey_name=None):
    """The survey, the runs' answers (judge verdicts left out) and the chosen cultures, by default
    every culture answered: what the distribution-scored commands (simulate, palette) start from."""
    survey = load_survey_options(items, reference, cultures_file, survey_name)
    _, responses = load_runs(runs)
    responses = responses[responses["mode"] != "judge"]
    return survey, responses, survey.resolve_cultures(cultures, sorted(responses["culture"].dropna().unique()))


def run_cultures(responses: pd.DataFrame, cultures: str | None, survey: Survey) -> list[str]:
    """The chosen cultures, by default the set shared by the most systems (see ``default_cultures``)."""
    from culturescope.methods.beyond_alignment.coverage import default_cultures

    return survey.resolve_cultures(cultures, default_cultures(responses))


def split_names(text: str) -> list[str]:
    """A comma-separated list of names, blanks dropped."""
    return [n.strip() for n in text.split(",") if n.strip()]


def item_selection(
    survey: Survey, only: str | list[str] | None, per_dimension: int | None, limit: int | None = None
) -> list[str] | None:
    """The item ids of --only (checked) or the first N of each dimension (--per-dimension), then the first
    ``limit`` of them (--limit; of the whole survey without the other two). None: every item."""
    if only and per_dimension:
        raise CulturescopeError("--only and --per-dimension exclude each other")
    for name, n in (("--per-dimension", per_dimension), ("--limit", limit)):
        if n is not None and n < 1:
            raise CulturescopeError(f"{name} must be at least 1, not {n}")
    if only:
        chosen = split_names(only) if isinstance(only, str) else [str(i).strip() for i in only]
        for i in chosen:
            survey.item_index(i)
        if len(set(chosen)) != len(chosen):
            raise CulturescopeError(f"an item is listed twice in --only {','.join(chosen)}")
    elif per_dimension:
        taken: dict[str | None, int] = {}
        chosen = []
        for it in survey.items:
            if taken.get(it.dimension, 0) < per_dimension:
                taken[it.dimension] = taken.get(it.dimension, 0) + 1
                chosen.append(it.id)
    elif limit:
        chosen = [it.id for it in survey.items]
    else:
        return None
    return chosen[:limit] if limit else chosen
