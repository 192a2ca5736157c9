"""One SQLite request cache for every backend, so no finished request is ever made twice.

Keys hash everything that determines a response: backend id, request kind, messages, decoding
parameters and sample index. Values are the backend's answer as JSON. WAL mode lets a second
process read while a run writes; each put is its own committed transaction, synced to disk at WAL
checkpoints rather than at each commit (``synchronous=NORMAL``): a killed process loses nothing,
a power cut at most the last answers, which are then asked again. A sync per commit held up
every request in flight (``benchmarks/http_throughput.py``).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from pathlib import Path
from typing import Any


def default_cache_path() -> Path:
    if os.environ.get("CULTURESCOPE_CACHE"):
        return Path(os.environ["CULTURESCOPE_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "culturescope" / "requests.sqlite"


class RequestCache:
    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else default_cache_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS requests (key TEXT PRIMARY KEY, value TEXT NOT NULL)")

    @staticmethod
    def key(payload: dict[str, Any]) -> str:
        return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()

    def get(self, key: str) -> Any | None:
        row = self._db.execute("SELECT value FROM requests WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def put(self, key: str, value: Any) -> None:
        self._db.execute("INSERT OR REPLACE INTO requests VALUES (?, ?)", (key, json.dumps(value)))

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM requests").fetchone()[0]
