"""The run store: one directory per run with ``manifest.json`` and the response table.

Responses are appended to ``responses.jsonl`` one line per response as they arrive, so a run that
stops loses nothing it had written. A torn last line (the process died mid-write) is skipped with a
warning; any other bad line is an error naming the line.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from culturescope import __version__
from culturescope.errors import CulturescopeError

#: The response table: one row per answer of one agent to one item in one round and sample.
COLUMNS = [
    "run",
    "system",
    "agent",
    "culture",
    "backbone",
    "mode",
    "round",
    "item",
    "sample",
    "answer",
    "probs",
    "raw",
    "status",
    "trace",  # what led to the answer where a system has intermediate steps (respondent, drafts, votes)
    "order",  # {"name", "shown": the item's codes in the order shown} (survey/order.py); null: the survey's order
]
MANIFEST, RESPONSES = "manifest.json", "responses.jsonl"


@dataclass
class Run:
    path: Path
    manifest: dict[str, Any]

    @property
    def name(self) -> str:
        return self.path.name

    @classmethod
    def create(cls, path: str | Path, manifest: dict[str, Any]) -> Run:
        """Start a new run directory; refuses to touch an existing run."""
        path = Path(path)
        if (path / MANIFEST).exists():
            raise CulturescopeError(f"{path} already holds a run; choose another directory")
        path.mkdir(parents=True, exist_ok=True)
        full = {
            "culturescope_version": __version__,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            **manifest,
        }
        (path / MANIFEST).write_text(json.dumps(full, indent=2, ensure_ascii=False) + "\n")
        (path / RESPONSES).touch()
        return cls(path, full)

    @classmethod
    def open(cls, path: str | Path) -> Run:
        path = Path(path)
        if not (path / MANIFEST).is_file():
            raise CulturescopeError(f"{path} is not a culturescope run (no {MANIFEST})")
        try:
            return cls(path, json.loads((path / MANIFEST).read_text()))
        except json.JSONDecodeError as exc:
            raise CulturescopeError(f"{path / MANIFEST}: invalid JSON ({exc.msg})") from None

    def append(self, records: Iterable[dict[str, Any]]) -> int:
        """Append response records (missing columns become null); returns how many were written."""
        self._cut_torn_tail()
        n = 0
        with (self.path / RESPONSES).open("a", encoding="utf-8") as fh:
            for rec in records:
                row = {col: rec.get(col) for col in COLUMNS}
                row["run"] = self.name
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
                n += 1
        return n

    def _cut_torn_tail(self) -> None:
        """Remove a last line left incomplete by a writer that died mid-line."""
        with (self.path / RESPONSES).open("rb+") as fh:
            if fh.seek(0, 2) == 0 or (fh.seek(-1, 2), fh.read(1))[1] == b"\n":
                return
            fh.seek(0)
            fh.truncate(fh.read().rfind(b"\n") + 1)

    def responses(self) -> pd.DataFrame:
        """The response table of this run."""
        path = self.path / RESPONSES
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        lines = text.split("\n")
        torn = lines.pop() if lines else ""
        rows = []
        for n, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise CulturescopeError(f"{path}: line {n}: invalid JSON ({exc.msg})") from None
        if torn.strip():
            warnings.warn(f"{path}: skipped an incomplete last line (the writer stopped mid-line)", stacklevel=2)
        return pd.DataFrame(rows, columns=COLUMNS)
