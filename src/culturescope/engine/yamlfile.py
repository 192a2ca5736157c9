"""Reading a user's YAML file (an experiment, a price table) with one clear error for each way it fails."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from culturescope.errors import CulturescopeError


def read_yaml(path: Path, what: str) -> Any:
    """The parsed content of ``path``, a ``what`` (e.g. "price table"), or one CulturescopeError."""
    import yaml

    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CulturescopeError(f"{path}: cannot read {what} ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise CulturescopeError(f"{path}: invalid YAML ({exc})".replace("\n", " ")) from None
