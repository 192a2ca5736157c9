"""Pull the answer code out of a model's text: the ``\\boxed{n}`` format of the Beyond-Alignment
prompt, the "Answer: ... Explanation: ..." format of the DEF citizen prompt, and the JSON of
probabilities of the ``stated`` answer mode (``parse_stated``).

``\\boxed{n}`` has two readings (``docs/data.md``):

- ``faithful`` (the default), the reference implementation's parser: the last ``\\boxed{`` and its
  brace-matched content, lowercased, ``\\text{...}`` wrappers and then every backslash removed, read
  by Python's ``int()`` (surrounding whitespace, a sign and ``_`` between digits pass, as there);
  anything else is no answer.
- ``strict``, the tolerant human reading: the last *complete* box wins; ``\\text{}``-style wrappers,
  math delimiters (``$``, ``\\(``) and spacing commands are removed and one trailing period is
  allowed; what remains must be a plain integer.

Failures keep their status and the raw text stays in the response table, so nothing is dropped
silently; a run can be read again under the other reading without asking the model again.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import pandas as pd

#: Parse statuses. ``ok`` and ``out_of_range`` carry an integer; the others carry none.
OK, OUT_OF_RANGE, NO_BOX, NOT_INTEGER, EMPTY = "ok", "out_of_range", "no_box", "not_integer", "empty"
NO_OPTION = "no_option"
#: Why a stated distribution was not read (``parse_stated``).
NO_JSON, MISSING_CODE, UNKNOWN_CODE, NOT_NUMBER, NOT_PROBABILITY, BAD_SUM = (
    "no_json",
    "missing_code",
    "unknown_code",
    "not_number",
    "not_probability",
    "bad_sum",
)
#: How far from 1 the stated probabilities may sum (after rounding to 6 decimals).
SUM_TOLERANCE = 0.02

Reading = Literal["faithful", "strict"]

_BOX = re.compile(r"\\boxed\s*\{")
_WRAPPER = re.compile(r"\\(?:text|textbf|textit|mathrm|mathbf|mbox|emph)\s*\{([^{}]*)\}")
_NOISE = re.compile(r"\$|\\[()\[\]]|\\[,;:! ]|\\quad|\\qquad|~")
_INTEGER = re.compile(r"[+-]?[0-9]+")
_TEXT = re.compile(r"\\text\{([^{}]*)\}")
_ANSWER = re.compile(r"Answer\s*:", re.IGNORECASE)
_EXPLANATION = re.compile(r"Explanation\s*:", re.IGNORECASE)


@dataclass(frozen=True)
class Parsed:
    answer: int | None
    status: str


def _braced(text: str, start: int) -> str | None:
    """The text from ``start`` to the brace that closes an already open one, or None if none does."""
    depth = 1
    for pos in range(start, len(text)):
        if text[pos] == "{":
            depth += 1
        elif text[pos] == "}":
            depth -= 1
            if depth == 0:
                return text[start:pos]
    return None


def last_boxed(text: str) -> str | None:
    """Content of the last complete ``\\boxed{...}`` (balanced braces), or None when there is none."""
    for match in reversed(list(_BOX.finditer(text))):
        content = _braced(text, match.end())
        if content is not None:
            return content
    return None


def clean_latex(content: str) -> str:
    """Strip ``\\text{}``-like wrappers (nested too), math delimiters and LaTeX spacing."""
    previous = None
    while previous != content:
        previous, content = content, _WRAPPER.sub(r"\1", content)
    content = _NOISE.sub("", content).strip()
    return content.rstrip(".").strip()


def _strict(text: str) -> tuple[int | None, str]:
    content = last_boxed(text)
    if content is None:
        return None, NO_BOX
    content = clean_latex(content)
    if not content:
        return None, EMPTY
    if not _INTEGER.fullmatch(content):
        return None, NOT_INTEGER
    return int(content), OK


def _faithful(text: str) -> tuple[int | None, str]:
    start = text.rfind("\\boxed{")
    content = None if start < 0 else _braced(text, start + len("\\boxed{"))
    if content is None:
        return None, NO_BOX
    content = content.lower()
    previous = None
    while previous != content:
        previous, content = content, _TEXT.sub(r"\1", content)
    content = content.replace("\\", "")
    if not content.strip():
        return None, EMPTY
    try:
        return int(content), OK
    except ValueError:
        return None, NOT_INTEGER


def parse_boxed(text: str | None, n_options: int | None = None, reading: Reading = "faithful") -> Parsed:
    """Parse one response under ``reading``. With ``n_options``, an integer outside 1..n_options is
    ``out_of_range`` (kept: the reference implementation scores it as-is; strict evaluation drops it)."""
    value, status = (_faithful if reading == "faithful" else _strict)(text if isinstance(text, str) else "")
    if value is not None and n_options is not None and not 1 <= value <= n_options:
        return Parsed(value, OUT_OF_RANGE)
    return Parsed(value, status)


def parse_answer(text: str | None, options: tuple[str, ...]) -> Parsed:
    """Parse the "Answer: ... Explanation: ..." format as the DEF reference implementation reads it:
    the text after the first "Answer:" (the whole text when there is none), cut at "Explanation:".
    One integer in it is the code (``out_of_range`` outside 1..n). With several integers or none, the
    longest option label it contains is the answer (case-insensitive, so "Not very important" is not
    read as "Very important"); when none is found the status is ``no_option``."""
    text = text or ""
    start = _ANSWER.search(text)
    body = text[start.end() :] if start else text
    stop = _EXPLANATION.search(body)
    body = (body[: stop.start()] if stop else body).strip()
    if not body:
        return Parsed(None, EMPTY)
    numbers = re.findall(r"[0-9]+", body)
    if len(numbers) == 1:
        value = int(numbers[0])
        return Parsed(value, OK if 1 <= value <= len(options) else OUT_OF_RANGE)
    lowered = body.lower()
    for code, label in sorted(enumerate(options, start=1), key=lambda kv: -len(kv[1])):
        if label.lower() in lowered:
            return Parsed(code, OK)
    return Parsed(None, NO_OPTION)


def usable(status: pd.Series, mode: str) -> pd.Series:
    """Which parsed answers count: ``faithful`` keeps out-of-range integers, as the Beyond-Alignment
    reference does; ``strict`` only valid codes."""
    return status.isin([OK, OUT_OF_RANGE] if mode == "faithful" else [OK])


def choice_text(text: str | None) -> str:
    """The answer text of a constrained reply: a JSON-schema reply ``{"answer": "..."}`` (an HTTP
    server's structured output) gives its ``answer``; any other text is itself."""
    text = text or ""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value["answer"] if isinstance(value, dict) and isinstance(value.get("answer"), str) else text


@dataclass(frozen=True)
class Stated:
    probs: list[float] | None  # normalized to sum 1; None when the reply was not read
    status: str
    reason: str | None = None  # what was wrong, for the row's trace


def _last_object(text: str) -> dict | None:
    """The last JSON object in ``text`` (code fences and prose around it allowed)."""
    decoder = json.JSONDecoder()
    found = None
    for start in [m.start() for m in re.finditer(r"\{", text)]:
        try:
            value, _ = decoder.raw_decode(text, start)
        except ValueError:
            continue
        if isinstance(value, dict):
            found = value
    return found


def parse_stated(text: str | None, n_options: int) -> Stated:
    """A stated distribution, read strictly: the last JSON object of the reply must map every code
    "1".."n" (no other key) to a number in [0, 1], and the numbers must sum to 1 ± ``SUM_TOLERANCE``
    (the sum rounded to 6 decimals); they are then normalized to sum exactly 1. Anything else is no
    distribution, with the reason."""
    obj = _last_object(text or "")
    if obj is None:
        return Stated(None, NO_JSON, "no JSON object in the reply")
    codes = [str(c) for c in range(1, n_options + 1)]
    keys = {str(k).strip() for k in obj}
    if missing := [c for c in codes if c not in keys]:
        return Stated(None, MISSING_CODE, f"no probability for option(s) {', '.join(missing)}")
    if extra := sorted(keys - set(codes)):
        return Stated(None, UNKNOWN_CODE, f"unknown option(s) {', '.join(extra)} (options are 1..{n_options})")
    values = {str(k).strip(): v for k, v in obj.items()}
    probs = [values[c] for c in codes]
    for c, p in zip(codes, probs):
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not math.isfinite(p):
            return Stated(None, NOT_NUMBER, f"option {c}: {p!r} is not a number")
        if not 0 <= p <= 1:
            return Stated(None, NOT_PROBABILITY, f"option {c}: {p} is outside [0, 1]")
    total = round(sum(probs), 6)
    if round(abs(total - 1), 6) > SUM_TOLERANCE:
        return Stated(None, BAD_SUM, f"the probabilities sum to {total:g}, not 1 ± {SUM_TOLERANCE}")
    return Stated([p / sum(probs) for p in probs], OK)
