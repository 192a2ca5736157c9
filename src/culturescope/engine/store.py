"""The run store: one directory per run with ``manifest.json`` and the response table.

Responses are appended to ``responses.jsonl`` one line per response as they arrive, so a run that
stops loses nothing it had written. A writer holds the directory's lock (``engine/lock.py``): one
writer per run. Readers take no lock: an incomplete last line (being written, or its writer died
mid-write) is skipped with a warning; any other bad line is an error naming the line.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from culturescope import __version__
from culturescope.engine import lock
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
    "usage",  # tokens the provider reported: {"input", "output", "via": online|batch}; null where none
    "order",  # {"name", "shown": the item's codes in the order shown} (survey/order.py); null: the survey's order
]
MANIFEST, RESPONSES = "manifest.json", "responses.jsonl"


@dataclass
class Run:
    path: Path
    manifest: dict[str, Any]
    _mended: bool = field(default=False, init=False, repr=False)  # the torn tail looked for, under the lock

    @property
    def name(self) -> str:
        return self.path.name

    @classmethod
    def create(cls, path: str | Path, manifest: dict[str, Any]) -> Run:
        """Start a new run directory, taking its lock; refuses to touch an existing run."""
        path = Path(path)
        lock.acquire(path)
        if (path / MANIFEST).exists():
            raise CulturescopeError(f"{path} already holds a run; choose another directory")
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
        """Append response records (missing columns become null) in one write; returns how many were
        written. Only the holder of the directory's lock writes (taken here if not yet held)."""
        lock.acquire(self.path)
        if not self._mended:  # once: with the lock held, no one else writes here
            self._cut_torn_tail()
            self._mended = True
        lines = [
            json.dumps({col: rec.get(col) for col in COLUMNS} | {"run": self.name}, ensure_ascii=False)
            for rec in records
        ]
        if lines:
            with (self.path / RESPONSES).open("ab") as fh:
                fh.write(("\n".join(lines) + "\n").encode("utf-8"))
        return len(lines)

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
        lines = (path.read_bytes() if path.exists() else b"").split(b"\n")
        torn = lines.pop()  # bytes after the last newline: a line not yet (or never) finished
        rows = []
        for n, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                why = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8"
                raise CulturescopeError(f"{path}: line {n}: invalid JSON ({why})") from None
        if torn.strip():
            warnings.warn(
                f"{path}: skipped an incomplete last line (being written, or its writer stopped mid-line)",
                stacklevel=2,
            )
        return pd.DataFrame(rows, columns=COLUMNS)
