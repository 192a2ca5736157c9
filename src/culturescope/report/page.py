"""A self-contained HTML report of one or more runs of any method: each method present adds its part
(scores, the paper's tables and figures), then parse statuses with examples and the run manifests.

Every string that comes from a run (model text, backbone names, manifests) is HTML-escaped.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timezone
from html import escape
from pathlib import Path

import pandas as pd

from culturescope import __version__, registry
from culturescope.engine.extract import usable
from culturescope.engine.store import Run
from culturescope.report import ReportOptions
from culturescope.report.html import table as _table
from culturescope.survey import Survey

CSS = """body{font:14px/1.45 system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f3f3f3}td.t{text-align:left}pre{background:#f7f7f7;padding:8px;overflow:auto;font-size:12px}
figure{display:inline-block;margin:.5em;vertical-align:top}img{max-width:520px}figcaption{font-size:12px;color:#555;max-width:520px}"""


def build_report(
    runs: list[Run], responses: pd.DataFrame, survey: Survey, cultures: list[str], options: ReportOptions
) -> tuple[str, list[str]]:
    """The report as one HTML string, and a line for each system left out because none of its
    answers could be scored. Each method's rows go to its part (rows of a system no method claims
    are scored by the majority, as Beyond Alignment's agents). Runs that asked a slice of the survey
    are scored, humans included, on that slice."""
    asked = set(responses.loc[responses["mode"] != "judge", "item"])
    whole, kept = len(survey.items), [i for i in survey.item_ids if i in asked]
    if 0 < len(kept) < whole:
        survey, options = survey.restricted(kept), replace(options, whole=False)
    parts = [
        f"<h1>culturescope report</h1><p>{escape(', '.join(r.name for r in runs))} — survey "
        f"{escape(survey.name)}, cultures {escape(', '.join(cultures))}, majority answers read {options.mode} "
        "(distribution scores compare the human shares option by option); "
        f"culturescope {__version__}, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC.</p>"
    ]
    if not options.whole:
        parts.append(
            f"<p>A slice of the survey ({len(survey.items)} of {whole} items): every score, the human reference's "
            "too, is on these items; the paper's published points, scored on all, are left out.</p>"
        )
    empty: list[str] = []
    owner = responses["system"].map(lambda s: registry.method_for(s).name)
    read = []
    for method in registry.methods().values():
        rows = responses[owner == method.name]
        if rows.empty:
            continue
        found, left_out = method.part("report")(rows, survey, cultures, options)
        parts += found
        empty += left_out
        answers = rows[(rows["mode"] != "judge") & rows["culture"].isin(cultures)]
        read.append(method.part("read")(answers, survey, options.mode) if method.read else answers)
    empty = list(dict.fromkeys(empty))
    if empty:
        parts.insert(1, "<p>Left out:</p><ul>" + "".join(f"<li>{escape(line)}</li>" for line in empty) + "</ul>")
    table = pd.concat(read) if read else responses.iloc[:0]
    by = ["backbone", "system", "mode", "status"]
    counts = table.groupby(by).size().unstack("status", fill_value=0).reset_index()
    parts.append("<h2>Parse statuses</h2>" + _table(counts))
    failed = table[~usable(table["status"], options.mode)]
    if not failed.empty:
        examples = failed.groupby(["backbone", "mode"]).head(3)[
            ["backbone", "mode", "culture", "item", "status", "raw"]
        ]
        parts.append("<h3>Examples of unscored answers (raw model text)</h3>" + _table(examples.fillna("")))
    for run in runs:
        parts.append(
            f"<h2>Manifest of {escape(run.name)}</h2><pre>"
            f"{escape(json.dumps(run.manifest, indent=2, ensure_ascii=False))}</pre>"
        )
    html = (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>culturescope report</title>'
        f"<style>{CSS}</style></head><body>{''.join(parts)}</body></html>"
    )
    return html, empty


def write_report(
    runs: list[Run], responses: pd.DataFrame, survey: Survey, cultures: list[str], out: Path, options: ReportOptions
) -> list[str]:
    """Write the report to ``out``; returns the lines of what was left out (see :func:`build_report`)."""
    html, left_out = build_report(runs, responses, survey, cultures, options)
    out.write_text(html, encoding="utf-8")
    return left_out
