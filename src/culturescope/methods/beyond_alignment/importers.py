"""Import runs made elsewhere into the response table: the outputs of the Beyond-Alignment reference
implementation, so published runs can be re-analyzed.

- ``static``: a directory of ``{model}_{CULTURE}_system.jsonl`` files whose lines carry ``idx``,
  ``q_id``, ``question``, ``system``, ``instruction`` and ``response`` (the raw model text).
- ``exposure``: a directory holding one such directory per round: ``wvs_evaluation`` (round 0),
  ``wvs_evaluation_interaction`` (round 1), ``wvs_evaluation_interaction_round{K}`` (round K).
- ``budgeting``: a directory of ``{model}_{CULTURE}.jsonl`` files whose lines carry ``run_idx``,
  ``culture``, ``system``, ``instruction``, ``response``, ``parsed_projects``, ``parse_ok``. Ballots are
  re-read strictly from ``response`` (see ``tasks/budgeting.py``); the reference's repaired reading
  is not used.

Backbone = ``{model}``, culture = ``{CULTURE}``. Survey lines are matched to items by ``q_id`` (the
reference scripts match by position after sorting on ``idx``, which is the same for complete files
and wrong for files with a missing line).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from culturescope.engine.extract import parse_boxed
from culturescope.engine.store import Run
from culturescope.errors import CulturescopeError
from culturescope.methods.beyond_alignment import budgeting
from culturescope.methods.beyond_alignment.exposure import SYSTEM as EXPOSURE
from culturescope.survey import Survey, budgeting_projects

KINDS = ("static", "exposure", "budgeting")
SURVEY_FILE = re.compile(r"^(?P<model>.+)_(?P<culture>[A-Za-z]{3})_system\.jsonl$")
BALLOT_FILE = re.compile(r"^(?P<model>.+)_(?P<culture>[A-Za-z]{3})\.jsonl$")
ROUND_DIR = re.compile(r"^wvs_evaluation(?:_interaction(?:_round(?P<k>\d+))?)?$")


@dataclass
class ImportReport:
    files: int = 0
    responses: int = 0
    statuses: Counter = field(default_factory=Counter)
    bad_lines: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


def _records(path: Path, required: tuple[str, ...], report: ImportReport) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, record) for each well-formed line; bad lines go to the report."""
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            where = f"{path}: line {n}"
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                report.bad_lines.append(f"{where}: invalid JSON ({exc.msg}; truncated file?)")
                continue
            missing = [k for k in required if not isinstance(rec, dict) or k not in rec]
            if missing:
                report.bad_lines.append(f"{where}: missing field(s) {', '.join(missing)}")
            elif rec["response"] is not None and not isinstance(rec["response"], str):
                report.bad_lines.append(f"{where}: 'response' is not text")
            else:
                yield where, rec


def _file_culture(path: Path, pattern: re.Pattern, survey: Survey, report: ImportReport) -> tuple[str, str] | None:
    """(model, culture) named by a file, or None (with a line in the report) for a culture the survey lacks."""
    model, code = pattern.match(path.name).group("model", "culture")  # type: ignore[union-attr]
    try:
        return model, survey.culture(code.upper()).code
    except CulturescopeError:
        report.bad_lines.append(f"{path}: culture {code!r} is not in survey {survey.name}; file skipped")
        return None


def _survey_rows(path: Path, survey: Survey, report: ImportReport, system: str, round: int) -> list[dict]:
    named = _file_culture(path, SURVEY_FILE, survey, report)
    if named is None:
        return []
    model, culture = named
    rows, seen = [], set()
    for where, rec in _records(path, ("q_id", "response"), report):
        try:
            item = survey.item(str(rec["q_id"]))
        except CulturescopeError:
            report.bad_lines.append(f"{where}: unknown q_id {rec['q_id']!r}")
            continue
        if item.id in seen:
            report.bad_lines.append(f"{where}: second answer to {item.id}")
            continue
        seen.add(item.id)
        parsed = parse_boxed(rec["response"], len(item.options))
        report.statuses[parsed.status] += 1
        rows.append(
            {
                "system": system,
                "agent": culture,
                "culture": culture,
                "backbone": model,
                "mode": "sample",
                "round": round,
                "item": item.id,
                "sample": 0,
                "answer": parsed.answer,
                "raw": rec["response"],
                "status": parsed.status,
            }
        )
    return rows


def _ballot_rows(path: Path, survey: Survey, report: ImportReport) -> list[dict]:
    named = _file_culture(path, BALLOT_FILE, survey, report)
    if named is None:
        return []
    model, culture = named
    ids = {p["id"] for p in budgeting_projects()}
    rows, seen = [], set()
    for where, rec in _records(path, ("run_idx", "response"), report):
        if not isinstance(rec["run_idx"], int) or rec["run_idx"] in seen:
            report.bad_lines.append(f"{where}: run_idx {rec['run_idx']!r} is not a new integer")
            continue
        seen.add(rec["run_idx"])
        status = budgeting.parse_ballot(rec["response"], ids).status
        report.statuses[status] += 1
        rows.append(
            {
                "system": budgeting.SYSTEM,
                "agent": culture,
                "culture": culture,
                "backbone": model,
                "mode": "sample",
                "round": 0,
                "item": budgeting.ITEM,
                "sample": rec["run_idx"],
                "raw": rec["response"],
                "status": status,
            }
        )
    return rows


def _round_dirs(source: Path) -> list[tuple[int, Path]]:
    """(round, directory): wvs_evaluation is round 0, wvs_evaluation_interaction round 1, ..._roundK round K."""
    found = []
    for d in source.iterdir():
        m = ROUND_DIR.match(d.name)
        if not (d.is_dir() and m):
            continue
        if m.group("k"):
            found.append((int(m.group("k")), d))
        else:
            found.append((1 if d.name.endswith("interaction") else 0, d))
    return sorted(found)


def import_reference_outputs(
    source: str | Path, dest: str | Path, survey: Survey, strict: bool = False, kind: str = "static"
) -> tuple[Run, ImportReport]:
    """Read the reference implementation's outputs in ``source`` into a new run at ``dest``.

    Bad lines (invalid JSON, missing fields, unknown items, a second answer) and files of cultures
    the survey lacks are left out, each named in ``report.bad_lines`` and the manifest; files in the
    directories that are not outputs (such as ``*_system_bk.jsonl`` backups) are listed in
    ``report.ignored``. With ``strict``, any bad line stops the import and nothing is written.
    """
    source = Path(source)
    if kind not in KINDS:
        raise CulturescopeError(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")
    if not source.is_dir():
        raise CulturescopeError(f"{source} is not a directory")
    report = ImportReport()
    if kind == "budgeting":
        jobs = [
            (p, lambda p: _ballot_rows(p, survey, report))
            for p in sorted(source.iterdir())
            if BALLOT_FILE.match(p.name)
        ]
        expected = "{model}_{CULTURE}.jsonl"
    else:
        dirs = _round_dirs(source) if kind == "exposure" else [(0, source)]
        system = EXPOSURE if kind == "exposure" else "static"
        jobs = [
            (p, lambda p, r=r: _survey_rows(p, survey, report, system, r))
            for r, d in dirs
            for p in sorted(d.iterdir())
            if SURVEY_FILE.match(p.name)
        ]
        report.ignored = [
            f"{p}: not a {{model}}_{{CULTURE}}_system.jsonl file"
            for _, d in dirs
            for p in sorted(d.iterdir())
            if p.is_file() and not SURVEY_FILE.match(p.name)
        ]
        expected = (
            "round directories (wvs_evaluation, wvs_evaluation_interaction...)"
            if kind == "exposure"
            else "{model}_{CULTURE}_system.jsonl"
        )
    if not jobs:
        raise CulturescopeError(f"{source}: no {expected} found")
    report.files = len(jobs)
    rows = [row for path, read in jobs for row in read(path)]
    if report.bad_lines and strict:
        shown = "; ".join(report.bad_lines[:5])
        more = f" (and {len(report.bad_lines) - 5} more)" if len(report.bad_lines) > 5 else ""
        raise CulturescopeError(
            f"{len(report.bad_lines)} bad line(s): {shown}{more}; nothing imported "
            "(without --strict-complete the good lines are imported and the bad ones listed)"
        )
    run = Run.create(
        dest,
        {
            "kind": "import",
            "source": {
                "format": f"reference-{kind}",
                "directory": str(source.resolve()),
                "files": [str(p.relative_to(source)) for p, _ in jobs],
                "skipped_lines": report.bad_lines,
                "ignored_files": report.ignored,
            },
            "survey": survey.name,
            "systems": sorted({r["system"] for r in rows}),
            "backbones": sorted({r["backbone"] for r in rows}),
            "cultures": sorted({r["culture"] for r in rows}),
        },
    )
    report.responses = run.append(rows)
    return run, report
