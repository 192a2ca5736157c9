"""Run directories: what identifies a run, resuming it, and records that a rerun must match."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from culturescope.engine import lock
from culturescope.engine.store import MANIFEST, Run
from culturescope.errors import CulturescopeError


def digest(described: dict[str, Any]) -> str:
    """A short hash of what an experiment is: the default run directory of two different ones differs."""
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:8]


def matches_record(path: Path, described: Any, mismatch: str) -> bool:
    """True if the JSON file ``path`` records ``described``, False if there is none; if it records
    something else, the error ``mismatch``: a rerun with other settings never mixes into earlier work."""
    if not path.is_file():
        return False
    if json.loads(path.read_text()) != described:
        raise CulturescopeError(mismatch)
    return True


def open_run(out: Path, described: dict[str, Any]) -> Run:
    """The run directory for this experiment, locked for this process (``engine/lock.py``): new, or
    the same experiment to resume."""
    lock.acquire(out)
    if (out / MANIFEST).exists():
        run = Run.open(out)
        if run.manifest.get("experiment") != described:
            raise CulturescopeError(f"{out} holds a different experiment; choose another --out")
        return run
    return Run.create(out, {"kind": "run", "experiment": described})
