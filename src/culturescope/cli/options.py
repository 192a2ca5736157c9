"""What every command shares: the apps, options, survey loading, output."""

from __future__ import annotations

import csv
import io
import json
import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Callable, Optional

import typer
from rich.console import Console
from rich.markup import escape

from culturescope.errors import CulturescopeError
from culturescope.survey import Survey, load_survey, open_survey

# Heavy libraries (pandas, numpy, the analyses) are imported inside the functions that use them, so
# that building the command tree (``culturescope --help``) stays fast; see docs/design.md.
if TYPE_CHECKING:
    import pandas as pd

    from culturescope.engine.store import Run
    from culturescope.methods.beyond_alignment.score import SystemScore

out = Console(width=None if sys.stdout.isatty() else 120)  # piped output: wide enough for every column


def deprecated(old: str, new: str) -> None:
    """One stderr line: the old spelling still works for this release; ``new`` is the one to use."""
    typer.echo(f"{old} is deprecated; use {new}", err=True)


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


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


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
        help="Answer modes, comma-separated: sample (text, parsed \\boxed{n}) and/or probs (option "
        "distribution, answer = argmax) (default: sample).",
    ),
]
AnswerModeOldOpt = Annotated[Optional[str], typer.Option("--mode", hidden=True, help="Deprecated: use --answer-mode.")]


def answer_modes(value: str | None, old: str | None) -> list[str] | None:
    """The answer modes of --answer-mode (or the deprecated --mode); None: not given."""
    chosen = renamed(value, old, "--mode", "--answer-mode", f"--answer-mode {old}")
    return split_names(chosen) if chosen is not None else None


FormatOpt = Annotated[Format, typer.Option("--format", help="How results are printed: table, json or csv.")]
JsonOpt = Annotated[bool, typer.Option("--json", hidden=True, help="Deprecated: use --format json.")]


def output_format(fmt: Format, json_: bool) -> Format:
    """--format, or json from the deprecated --json."""
    if json_:
        deprecated("--json", "--format json")
        return Format.json
    return fmt


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


def print_scores(scores: list[SystemScore], human: SystemScore, fmt: Format, mode: str) -> None:
    """The scores of ``evaluate`` and ``run``, the human reference last. JSON keeps ``systems`` and
    ``human_reference`` (the rows split as before) beside the common title, rows and notes."""
    rows = [s.as_row() for s in scores] + [human.as_row()]
    systems = ", ".join(sorted({s.system for s in scores})) or "none"
    title = f"Alignment and diversity (×100; systems: {systems}; human data: {mode})"
    extra = {"mode": mode, "cultures": list(human.answered), "systems": rows[:-1], "human_reference": rows[-1]}
    shown = [
        {
            "backbone": s.label,
            "answers": s.mode,
            "samples": s.samples,
            "Alignment": row["alignment"],
            "Diversity_P": row["diversity_p"],
            "Diversity_S": row["diversity_s"],
        }
        for s, row in zip(scores + [human], rows)
    ]
    emit(rows, title, fmt, shown=shown, extra=extra)
    if fmt is Format.table:
        counts = [
            {"backbone": s.label, "answers": s.mode, **{c: f"{s.answered[c]}/{s.responses[c]}" for c in s.answered}}
            for s in scores + [human]
        ]
        emit(counts, "answers scored / responses, per culture", fmt)


def print_published(scores: list[SystemScore], cultures: list[str], mode: str) -> None:
    """The paper's 18 published single-backbone systems, marked as such, and where each scored system
    lands among them; only when the scores are comparable (the paper's five cultures, faithful)."""
    import numpy as np

    from culturescope.methods.beyond_alignment.published import applies, landing, published_systems

    if not applies(cultures, mode):
        return
    table = published_systems()
    paper = {row.backbone: row for row in table.itertuples()}
    rows = [
        {
            "published backbone": row.backbone,
            "Alignment": row.alignment,
            "Diversity_P": row.diversity_p,
            "Diversity_S": row.diversity_s,
        }
        for row in table.itertuples()
    ]
    lines = []
    for s in scores:
        a, p, q = (float("nan") if np.isnan(x) else 100 * x for x in (s.alignment, s.diversity_p, s.diversity_s))
        if np.isnan(p):
            continue
        line = f"{s.label} [{s.mode}]: {landing(a, p)}"
        if s.label in paper:
            ref = paper[s.label]
            diffs = (a - ref.alignment, p - ref.diversity_p, q - ref.diversity_s)
            line += "; ours − published: " + " / ".join(f"{x:+.2f}" for x in diffs)
        lines.append(line)
    emit(
        rows,
        "Published: Beyond Alignment, Table 1 (×100; BRA, CHN, MEX, NGA, NZL) — reference points",
        Format.table,
        lines,
    )


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


def load_runs(runs: list[Path], backbones: str | None = None) -> tuple[list[Run], pd.DataFrame]:
    """The opened runs and all their responses (of the --backbones asked for) in one table, each file read once."""
    import pandas as pd

    from culturescope.engine.store import Run
    from culturescope.methods.beyond_alignment.coverage import select_backbones

    opened = [Run.open(r) for r in runs]
    responses = pd.concat([r.responses() for r in opened], ignore_index=True)
    if responses.empty:
        raise CulturescopeError("the runs hold no responses")
    return opened, select_backbones(responses, backbones)


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


def systems_of(
    runs: list[Path],
    cultures: str | None,
    mode: str,
    survey: Survey,
    backbones: str | None = None,
    strict: bool = False,
):
    """The runs, their cultures and the answer arrays of the single-backbone systems complete for them."""
    from culturescope.methods.beyond_alignment.analyses.landscape import system_answers

    opened, responses = load_runs(runs, backbones)
    chosen = run_cultures(responses, cultures, survey)
    systems, left_out = system_answers(responses, survey, chosen, mode, strict=strict)
    note_left_out(left_out)
    return opened, chosen, systems


def note_left_out(lines: list[str], partial: list[str] = ()) -> None:
    """One stderr line for each system or round left out, and for each scored on fewer items."""
    err = Console(stderr=True, soft_wrap=True, highlight=False)
    for line in dict.fromkeys(lines):  # a system of several runs is named once
        err.print(escape(f"left out: {line}"))
    for line in dict.fromkeys(partial):
        err.print(escape(f"partial: {line}"))


def split_names(text: str) -> list[str]:
    """A comma-separated list of names, blanks dropped."""
    return [n.strip() for n in text.split(",") if n.strip()]


def _plain(value):
    """A value as JSON has it: NaN becomes null, nested lists and dicts likewise."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _cell(value) -> str:
    """A CSV cell: empty for a missing value, JSON for a nested one."""
    value = _plain(value)
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else str(value)


def emit(
    rows: list[dict],
    title: str,
    fmt: Format | bool,
    notes: list[str] = (),
    *,
    shown: list[dict] | None = None,
    extra: dict | None = None,
) -> None:
    """The one way a command prints results (``--format``). table: a rich table of ``shown`` (the rows as
    people read them; default ``rows``), numbers to two decimals and a missing value as —, the notes under
    it; json: one document ``{"title", "rows", "notes", **extra}`` with NaN as null; csv: a header (every
    column any row has) and one line per row, nested values as JSON, and the notes on stderr so that
    stdout holds the table alone. A bool ``fmt`` (this function's former ``as_json``) means json or table."""
    if isinstance(fmt, bool):
        fmt = Format.json if fmt else Format.table
    if fmt is Format.json:
        document = {"title": title, "rows": rows, "notes": list(notes), **(extra or {})}
        print(json.dumps(_plain(document), indent=2))
        return
    if fmt is Format.csv:
        columns = list(dict.fromkeys(k for row in rows for k in row))
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        if columns:
            writer.writerow(columns)
        writer.writerows([_cell(row.get(k)) for k in columns] for row in rows)
        print(buf.getvalue(), end="")
        for note in notes:
            typer.echo(f"note: {note}", err=True)
        return
    from rich.table import Table

    shown = rows if shown is None else shown
    if not shown:
        out.print(escape(f"{title}: nothing to show"), highlight=False)
    else:
        table = Table(title=escape(title))
        columns = list(dict.fromkeys(k for row in shown for k in row))
        first = {k: next((row[k] for row in shown if row.get(k) is not None), None) for k in columns}
        for col in columns:
            numeric = isinstance(first[col], (int, float)) and not isinstance(first[col], bool)
            table.add_column(escape(str(col)), justify="right" if numeric else "left")
        for row in shown:
            table.add_row(*(_shown(row.get(k)) for k in columns))
        out.print(table)
    for note in notes:
        out.print(escape(note), highlight=False)


def emit_tables(tables: list[tuple[str, list[dict], list[str]]], title: str, fmt: Format) -> None:
    """Several (title, rows, notes) tables of one command: as tables, one after another; as JSON or CSV,
    one document, so that it parses: a single table as ``emit`` prints it, several as one whose rows
    start with ``table`` (the title of theirs) and whose notes are prefixed with it."""
    if fmt is Format.table or len(tables) == 1:
        for name, rows, notes in tables:
            emit(rows, name, fmt, notes)
        return
    rows = [{"table": name, **row} for name, part, _ in tables for row in part]
    emit(rows, title, fmt, [f"{name}: {note}" for name, _, notes in tables for note in notes])


def _shown(value) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    return f"{value:.2f}" if isinstance(value, float) else escape(str(value))


PerItemOpt = Annotated[
    Optional[str],
    typer.Option("--per-item", help="Comma-separated systems whose per-question (D_q, A_q) to show (Fig. 1 right)."),
]


def chosen_systems(names: str, systems: dict) -> list[str]:
    from culturescope.methods.beyond_alignment.analyses.landscape import select_systems

    return select_systems(split_names(names), systems)


def culture_distances(runs: list[Path], system: str, cultures: str | None, mode: str, survey: Survey):
    """One system's cultures, by default every culture it answered (the paper's §5.3 uses all 19, not
    only those every system answered), and the distances between its culture agents and the humans'."""
    from culturescope.methods.beyond_alignment.analyses.landscape import select_systems
    from culturescope.methods.beyond_alignment.analyses.subsets import culture_distances as subset_distances
    from culturescope.methods.beyond_alignment.analyses.subsets import own_cultures

    _, responses = load_runs(runs)
    own = own_cultures(responses, survey)
    (name,) = select_systems([system], own)
    rows, answered = own[name]
    chosen = survey.resolve_cultures(cultures, answered)
    return (chosen, *subset_distances(rows, survey, chosen, mode))


def print_dynamics(
    responses: pd.DataFrame, survey: Survey, cultures: str | None, mode: str, fmt: Format, strict: bool = False
) -> None:
    import numpy as np

    from culturescope.methods.beyond_alignment.analyses.dynamics import exposure_dynamics, round_one_change
    from culturescope.methods.beyond_alignment.exposure import SYSTEM as EXPOSURE

    exposed = responses[responses["system"] == EXPOSURE]
    if exposed.empty:
        raise CulturescopeError("no exposure responses in these runs; make them with: culturescope run --rounds 5")
    chosen = run_cultures(exposed, cultures, survey)
    result, left_out = exposure_dynamics(responses, survey, chosen, mode, strict)
    note_left_out(left_out)
    rows = [
        {
            "system": label,
            "round": int(r),
            "alignment": 100 * a,
            "diversity_p": 100 * p,
            "diversity_s": 100 * q,
            "ΔD": 100 * dd,
            "ΔA": 100 * da,
            "mean drift": 100 * float(np.nanmean(dr)),
        }
        for label, dyn in result.items()
        for r, a, p, q, dd, da, dr in zip(
            dyn.rounds, dyn.alignment, dyn.diversity_p, dyn.diversity_s, dyn.delta_d, dyn.delta_a, dyn.drift
        )
    ]
    notes = []
    fig4 = round_one_change(result)
    if fig4:
        change, full = fig4
        last = int(result[full[0]].rounds.max())
        notes.append(
            f"Fig. 4: mean round-1 ΔD_P over the {len(full)} systems with rounds 0–{last} = {100 * change:+.2f} "
            f"({', '.join(full)})"
        )
    emit(rows, f"Social exposure dynamics (×100), cultures {','.join(chosen)}", fmt, notes)


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
