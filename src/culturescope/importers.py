"""Import runs made elsewhere into the response table.

``reference-jsonl``: the output of the Beyond-Alignment reference implementation, a directory of
``{model}_{CULTURE}_system.jsonl`` files whose lines carry ``idx``, ``q_id``, ``question``,
``system``, ``instruction`` and ``response`` (the raw model text). Backbone = ``{model}``,
culture = ``{CULTURE}``. Lines are matched to items by ``q_id`` (the reference scripts match by
position after sorting on ``idx``, which is the same for complete files and wrong for files with a
missing line).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from culturescope.errors import CulturescopeError
from culturescope.extract import parse_boxed
from culturescope.store import Run
from culturescope.survey import Survey

FILE_PATTERN = re.compile(r"^(?P<model>.+)_(?P<culture>[A-Za-z]{3})_system\.jsonl$")
REQUIRED = ("q_id", "response")


@dataclass
class ImportReport:
    files: int = 0
    responses: int = 0
    statuses: Counter = field(default_factory=Counter)
    bad_lines: list[str] = field(default_factory=list)


def _read_file(path: Path, survey: Survey, report: ImportReport) -> list[dict[str, Any]]:
    model, culture = FILE_PATTERN.match(path.name).group("model", "culture")  # type: ignore[union-attr]
    culture = culture.upper()
    survey.culture(culture)
    rows, seen = [], set()
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
            missing = [k for k in REQUIRED if not isinstance(rec, dict) or k not in rec]
            if missing:
                report.bad_lines.append(f"{where}: missing field(s) {', '.join(missing)}")
                continue
            qid, raw = rec["q_id"], rec["response"]
            if raw is not None and not isinstance(raw, str):
                report.bad_lines.append(f"{where}: 'response' is not text")
                continue
            try:
                item = survey.items[survey.item_index(str(qid))]
            except CulturescopeError:
                report.bad_lines.append(f"{where}: unknown q_id {qid!r}")
                continue
            if item.id in seen:
                report.bad_lines.append(f"{where}: second answer to {item.id}")
                continue
            seen.add(item.id)
            parsed = parse_boxed(raw, len(item.options))
            report.statuses[parsed.status] += 1
            rows.append(
                {
                    "system": "static",
                    "agent": culture,
                    "culture": culture,
                    "backbone": model,
                    "mode": "sample",
                    "round": 0,
                    "item": item.id,
                    "sample": 0,
                    "answer": parsed.answer,
                    "raw": raw,
                    "status": parsed.status,
                }
            )
    return rows


def import_reference_outputs(
    source: str | Path, dest: str | Path, survey: Survey, skip_bad_lines: bool = False
) -> tuple[Run, ImportReport]:
    """Read every ``{model}_{CULTURE}_system.jsonl`` in ``source`` into a new run at ``dest``.

    Any bad line stops the import with one message listing them, unless ``skip_bad_lines``.
    """
    source = Path(source)
    if not source.is_dir():
        raise CulturescopeError(f"{source} is not a directory")
    files = sorted(p for p in source.iterdir() if FILE_PATTERN.match(p.name))
    if not files:
        raise CulturescopeError(f"{source}: no files named {{model}}_{{CULTURE}}_system.jsonl")
    report = ImportReport(files=len(files))
    rows = [row for path in files for row in _read_file(path, survey, report)]
    if report.bad_lines and not skip_bad_lines:
        shown = "; ".join(report.bad_lines[:5])
        more = f" (and {len(report.bad_lines) - 5} more)" if len(report.bad_lines) > 5 else ""
        raise CulturescopeError(
            f"{len(report.bad_lines)} bad line(s): {shown}{more}; nothing imported "
            "(use --skip-bad-lines to import the rest)"
        )
    run = Run.create(
        dest,
        {
            "kind": "import",
            "source": {
                "format": "reference-jsonl",
                "directory": str(source.resolve()),
                "files": [p.name for p in files],
                "skipped_lines": report.bad_lines,
            },
            "survey": survey.name,
            "systems": ["static"],
            "backbones": sorted({r["backbone"] for r in rows}),
            "cultures": sorted({r["culture"] for r in rows}),
        },
    )
    report.responses = run.append(rows)
    return run, report
