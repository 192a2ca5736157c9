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
from culturescope.survey import Survey, load_survey, wvs7

# Heavy libraries (pandas, numpy, the analyses) are imported inside the functions that use them, so
# that building the command tree (``culturescope --help``) stays fast; see docs/design.md.
if TYPE_CHECKING:
    import pandas as pd

    from culturescope.engine.store import Run
    from culturescope.methods.beyond_alignment.score import SystemScore

out = Console(width=None if sys.stdout.isatty() else 120)  # piped output: wide enough for every column


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
        "--items", help="Your own survey items (JSON or CSV); default: the shipped WVS-7.", rich_help_panel="Survey"
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
ModeOpt = Annotated[
    Mode,
    typer.Option(
        help="faithful: read the human data and the models' \\boxed{n} replies as the paper's reference code "
        "does; strict: fix its quirks (0-based codes, ties, out-of-range answers) and read replies tolerantly "
        "(\\boxed{4.}, \\boxed{$3$}). See docs/data.md."
    ),
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


def load_survey_options(items: Path | None, reference: Path | None, cultures_file: Path | None) -> Survey:
    if items is None and reference is None:
        return wvs7()
    if items is None or reference is None:
        raise CulturescopeError("--items and --reference go together")
    return load_survey(items, reference, cultures_file)


def _fmt(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}"


def print_scores(scores: list[SystemScore], human: SystemScore, fmt: Format, mode: str) -> None:
    from rich.table import Table

    rows = [s.as_row() for s in scores] + [human.as_row()]
    if fmt is Format.json:
        print(
            json.dumps(
                {"mode": mode, "cultures": list(human.answered), "systems": rows[:-1], "human_reference": rows[-1]},
                indent=2,
            )
        )
        return
    if fmt is Format.csv:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        print(buf.getvalue(), end="")
        return
    systems = ", ".join(sorted({s.system for s in scores})) or "none"
    table = Table(title=f"Alignment and diversity (×100; systems: {systems}; data read: {mode})")
    for col in ("backbone", "answers", "samples", "Alignment", "Diversity_P", "Diversity_S"):
        table.add_column(col, justify="left" if col in ("backbone", "answers") else "right")
    for s, row in zip(scores + [human], rows):
        table.add_row(
            escape(s.label),
            s.mode,
            str(s.samples),
            _fmt(row["alignment"]),
            _fmt(row["diversity_p"]),
            _fmt(row["diversity_s"]),
            style="bold" if s is human else None,
        )
    out.print(table)
    counts = Table(title="answers scored / responses, per culture")
    counts.add_column("backbone")
    counts.add_column("answers")
    for c in human.answered:
        counts.add_column(c, justify="right")
    for s in scores + [human]:
        counts.add_row(escape(s.label), s.mode, *(f"{s.answered[c]}/{s.responses[c]}" for c in s.answered))
    out.print(counts)


def print_published(scores: list[SystemScore], cultures: list[str], mode: str) -> None:
    """The paper's 18 published single-backbone systems, marked as such, and where each scored system
    lands among them; only when the scores are comparable (the paper's five cultures, faithful)."""
    import numpy as np
    from rich.table import Table

    from culturescope.methods.beyond_alignment.published import applies, landing, published_systems

    if not applies(cultures, mode):
        return
    table = published_systems()
    paper = {row.backbone: row for row in table.itertuples()}
    shown = Table(title="Published: Beyond Alignment, Table 1 (×100; BRA, CHN, MEX, NGA, NZL) — reference points")
    for col in ("published backbone", "Alignment", "Diversity_P", "Diversity_S"):
        shown.add_column(col, justify="left" if col.startswith("published") else "right")
    for row in table.itertuples():
        shown.add_row(escape(row.backbone), f"{row.alignment:.2f}", f"{row.diversity_p:.2f}", f"{row.diversity_s:.2f}")
    out.print(shown)
    for s in scores:
        a, p, q = (float("nan") if np.isnan(x) else 100 * x for x in (s.alignment, s.diversity_p, s.diversity_s))
        if np.isnan(p):
            continue
        line = f"{s.label} [{s.mode}]: {landing(a, p)}"
        if s.label in paper:
            ref = paper[s.label]
            diffs = (a - ref.alignment, p - ref.diversity_p, q - ref.diversity_s)
            line += "; ours − published: " + " / ".join(f"{x:+.2f}" for x in diffs)
        out.print(escape(line), highlight=False)


RunsArg = Annotated[list[Path], typer.Argument(help="One or more run directories.")]
CulturesOpt = Annotated[
    Optional[str], typer.Option(help="Comma-separated culture codes (default: the cultures every system answered).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


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
    Optional[str], typer.Option(help="Comma-separated culture codes (default: every culture answered).")
]


def load_answers(runs: list[Path], cultures: str | None, items, reference, cultures_file):
    """The survey, the runs' answers (judge verdicts left out) and the chosen cultures, by default
    every culture answered: what the distribution-scored commands (simulate, palette) start from."""
    survey = load_survey_options(items, reference, cultures_file)
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


def emit(rows: list[dict], title: str, as_json: bool, notes: list[str] = ()) -> None:
    if as_json:  # undefined values (NaN) become null: JSON has no NaN
        clean = [{k: None if isinstance(v, float) and v != v else v for k, v in row.items()} for row in rows]
        print(json.dumps({"title": title, "rows": clean, "notes": list(notes)}, indent=2))
        return
    from rich.table import Table

    if not rows:
        out.print(f"{title}: nothing to show", highlight=False)
        return
    table = Table(title=title)
    for col in rows[0]:
        table.add_column(col, justify="right" if isinstance(rows[0][col], (int, float)) else "left")
    for row in rows:
        table.add_row(
            *("—" if v is None else f"{v:.2f}" if isinstance(v, float) else escape(str(v)) for v in row.values())
        )
    out.print(table)
    for note in notes:
        out.print(escape(note), highlight=False)


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
    responses: pd.DataFrame, survey: Survey, cultures: str | None, mode: str, json_: bool, strict: bool = False
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
    emit(rows, f"Social exposure dynamics (×100), cultures {','.join(chosen)}", json_, notes)


def item_selection(survey: Survey, items_arg: str | None, per_dimension: int | None) -> list[str] | None:
    """The item ids of --only (checked) or the first N of each dimension (--per-dimension); None: all."""
    if items_arg and per_dimension:
        raise CulturescopeError("--only and --per-dimension exclude each other")
    if items_arg:
        chosen = split_names(items_arg)
        for i in chosen:
            survey.item_index(i)
        return chosen
    if per_dimension:
        taken: dict[str | None, int] = {}
        chosen = []
        for it in survey.items:
            if taken.get(it.dimension, 0) < per_dimension:
                taken[it.dimension] = taken.get(it.dimension, 0) + 1
                chosen.append(it.id)
        return chosen
    return None
