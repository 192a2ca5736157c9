"""What the Beyond-Alignment commands share: printing scores, the published reference points and
exposure dynamics; the systems and culture distances of runs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from culturescope.errors import CulturescopeError
from culturescope.survey import Survey

if TYPE_CHECKING:
    import pandas as pd

    from culturescope.methods.beyond_alignment.score import SystemScore

from culturescope.cli.options import load_runs, run_cultures, split_names
from culturescope.cli.output import Format, emit, note_left_out


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


def print_reading(scores: list[SystemScore], human: SystemScore, cultures: list[str], mode: str, whole: bool) -> None:
    """Under a run's table: for each system, where it lands among the paper's 18 published backbones
    (their range and nearest neighbours; only when comparable: ``whole`` survey, the paper's cultures
    and reading) and one plain sentence reading its scores."""
    import numpy as np
    from rich.markup import escape

    from culturescope.cli.output import out
    from culturescope.methods.beyond_alignment.published import applies, landing, reading

    comparable = whole and applies(cultures, mode)
    if not whole:
        out.print(
            f"a slice of the survey ({human.responses[cultures[0]]} items): the human reference is scored on "
            "the same items; the paper's backbones, scored on all, are left out of the comparison",
            highlight=False,
        )
    for s in scores:
        if np.isnan(s.diversity_p):
            continue
        a, p = 100 * s.alignment, 100 * s.diversity_p
        if comparable:
            out.print(escape(f"{s.label} [{s.mode}]: {landing(a, p)}"), highlight=False)
        sentence = reading(s.label, a, p, 100 * human.diversity_p, comparable)
        out.print(escape(f"reading: {sentence}"), style="bold", highlight=False)


_OWN_VALUE = ("-b", "--backbone", "--out", "--cache", "--config")  # options of this run that another would not share


def print_next_commands(err, argv: list[str] | None = None) -> None:
    """After a run on the embedded model: the same job (this command's options, other backbone) on a
    real model, as commands to copy."""
    import shlex
    import sys

    args, rest = [], list(sys.argv[1:] if argv is None else argv)
    while rest:
        arg = rest.pop(0)
        if arg in _OWN_VALUE:
            rest = rest[1:]
        elif not arg.startswith(tuple(f"{o}=" for o in _OWN_VALUE)):
            args.append(arg)
    same = shlex.join(["culturescope", *args])
    err.print("next: the same job on a real model", highlight=False)
    for backbone, where in [
        ("openai:MODEL@http://127.0.0.1:8000/v1", "your OpenAI-compatible server: vLLM, SGLang, llama.cpp, Ollama"),
        ("openai:gpt-4o-mini", "OPENAI_API_KEY set; add --dry-run to see the cost first"),
    ]:
        err.print(f"  {same} -b {backbone}    # {where}", highlight=False, markup=False)


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
