"""Load a survey (items, human reference, cultures) from JSON or CSV, validating every row.

Schemas (JSON is the schema of the shipped WVS-7 files; CSV is the flat equivalent):

- items: JSON list of ``{"Q_id", "question", "option": [labels...], "dimension"?}``;
  CSV columns ``Q_id,question,options[,dimension]`` with options separated by ``|``.
- reference: JSON ``{country: {Q_id: {answer_code: share}}}``;
  CSV columns ``country,Q_id,answer,share`` (one row per share).
- cultures: JSON list of ``{"code", "country", "culture", "continent"?}``;
  CSV columns ``code,country,culture[,continent]``.

Every problem raises :class:`CulturescopeError` naming the file, the row or item, and the problem.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

from culturescope.errors import CulturescopeError
from culturescope.survey.model import Culture, Item, Survey


def _fail(path: Path, where: str, problem: str) -> CulturescopeError:
    return CulturescopeError(f"{path}: {where}: {problem}")


def _read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CulturescopeError(f"{path}: cannot read file ({exc.strerror})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail(path, f"line {exc.lineno}, column {exc.colno}", f"invalid JSON ({exc.msg})") from None


def _read_csv(path: Path, required: list[str]) -> list[tuple[int, dict[str, str]]]:
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in required if c not in (reader.fieldnames or [])]
            if missing:
                raise _fail(path, "header", f"missing column(s) {', '.join(missing)}")
            # Row numbers count the header as row 1, as a spreadsheet shows them.
            return [(n, row) for n, row in enumerate(reader, start=2)]
    except OSError as exc:
        raise CulturescopeError(f"{path}: cannot read file ({exc.strerror})") from None


def _text(path: Path, where: str, value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(path, where, f"{name!r} must be a non-empty string")
    return value


def load_items(path: str | Path) -> tuple[Item, ...]:
    path = Path(path)
    if path.suffix.lower() == ".csv":
        records = [
            (
                f"row {n}",
                {
                    "Q_id": r["Q_id"],
                    "question": r["question"],
                    "dimension": r.get("dimension") or None,
                    "option": [o.strip() for o in (r["options"] or "").split("|") if o.strip()],
                },
            )
            for n, r in _read_csv(path, ["Q_id", "question", "options"])
        ]
    else:
        data = _read_json(path)
        if not isinstance(data, list):
            raise _fail(path, "top level", "expected a list of items")
        records = [(f"item {n}", r) for n, r in enumerate(data, start=1)]
    items: list[Item] = []
    seen: set[str] = set()
    for where, rec in records:
        if not isinstance(rec, dict):
            raise _fail(path, where, "expected an object with Q_id, question, option")
        qid = _text(path, where, rec.get("Q_id"), "Q_id")
        where = f"{where} ({qid})"
        if qid in seen:
            raise _fail(path, where, "duplicate Q_id")
        seen.add(qid)
        question = _text(path, where, rec.get("question"), "question")
        options = rec.get("option")
        if not isinstance(options, list) or len(options) < 2 or not all(isinstance(o, str) for o in options):
            raise _fail(path, where, "'option' must be a list of at least two option labels")
        dimension = rec.get("dimension")
        items.append(Item(qid, question, tuple(options), dimension if isinstance(dimension, str) else None))
    if not items:
        raise _fail(path, "top level", "no items")
    return tuple(items)


def load_cultures(path: str | Path) -> tuple[Culture, ...]:
    path = Path(path)
    if path.suffix.lower() == ".csv":
        records = [(f"row {n}", r) for n, r in _read_csv(path, ["code", "country", "culture"])]
    else:
        data = _read_json(path)
        if not isinstance(data, list):
            raise _fail(path, "top level", "expected a list of cultures")
        records = [(f"entry {n}", r) for n, r in enumerate(data, start=1)]
    cultures: list[Culture] = []
    for where, rec in records:
        if not isinstance(rec, dict):
            raise _fail(path, where, "expected an object with code, country, culture")
        code = _text(path, where, rec.get("code"), "code").strip().upper()
        continent = rec.get("continent") or None
        cultures.append(
            Culture(
                code,
                _text(path, where, rec.get("country"), "country"),
                _text(path, where, rec.get("culture"), "culture"),
                continent,
            )
        )
    codes = [c.code for c in cultures]
    dupes = sorted({c for c in codes if codes.count(c) > 1})
    if dupes:
        raise _fail(path, "cultures", f"duplicate code(s) {', '.join(dupes)}")
    return tuple(cultures)


def _share(path: Path, where: str, code: Any, share: Any) -> tuple[int, float]:
    try:
        code_int = int(str(code).strip())
    except ValueError:
        raise _fail(path, where, f"answer code {code!r} is not an integer") from None
    try:
        value = float(share)
    except (TypeError, ValueError):
        raise _fail(path, where, f"share {share!r} is not a number") from None
    if not math.isfinite(value) or not -1e-9 <= value <= 1 + 1e-6:
        raise _fail(path, where, f"share {share!r} is outside [0, 1]")
    return code_int, value


def load_reference(path: str | Path, items: tuple[Item, ...]) -> dict[str, dict[str, dict[int, float]]]:
    """Human answer shares per country and item. Items not in the survey are ignored."""
    path = Path(path)
    wanted = {it.id for it in items}
    shares: dict[str, dict[str, dict[int, float]]] = {}
    if path.suffix.lower() == ".csv":
        for n, r in _read_csv(path, ["country", "Q_id", "answer", "share"]):
            country = _text(path, f"row {n}", r["country"], "country").strip().upper()
            qid = _text(path, f"row {n}", r["Q_id"], "Q_id").strip()
            code, value = _share(path, f"row {n} ({country}, {qid})", r["answer"], r["share"])
            if qid in wanted:
                shares.setdefault(country, {}).setdefault(qid, {})[code] = value
        return shares
    data = _read_json(path)
    if not isinstance(data, dict):
        raise _fail(path, "top level", "expected {country: {Q_id: {answer_code: share}}}")
    for country, per_item in data.items():
        if not isinstance(per_item, dict):
            raise _fail(path, f"country {country}", "expected an object of items")
        out = shares.setdefault(country.strip().upper(), {})
        for qid, dist in per_item.items():
            where = f"country {country}, item {qid}"
            if not isinstance(dist, dict):
                raise _fail(path, where, "expected an object {answer_code: share}")
            parsed = dict(_share(path, where, code, share) for code, share in dist.items())
            if qid in wanted:
                out[qid] = parsed
    return shares


def load_survey(
    items: str | Path, reference: str | Path, cultures: str | Path | None = None, name: str | None = None
) -> Survey:
    """Load a user survey. Without a cultures file, the shipped WVS-7 country table is used."""
    from culturescope.survey.wvs7 import wvs7

    item_list = load_items(items)
    culture_list = load_cultures(cultures) if cultures else wvs7().cultures
    shares = load_reference(reference, item_list)
    known = {c.code for c in culture_list}
    unknown = sorted(set(shares) - known)
    if unknown:
        raise CulturescopeError(
            f"{reference}: countries {', '.join(unknown)} have no entry in the cultures table"
            + ("" if cultures else "; pass a cultures file")
        )
    return Survey(name or Path(items).stem, item_list, tuple(c for c in culture_list if c.code in shares), shares)
