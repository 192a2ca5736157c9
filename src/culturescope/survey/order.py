"""Option-order perturbations: an item shown with its options reordered and renumbered 1..n, and the
answers given to it mapped back to the item's own codes.

An order is named ``original``, ``reversed`` or ``shuffled:SEED``. It gives each item a *permutation*:
the item's codes in the order they are shown, so shown number j is code ``perm[j - 1]``. ``shuffled``
draws one permutation per item from ``random.Random("SEED:ITEM_ID")`` (Python's string seeding and
shuffle are stable across versions), the same for every agent, so that agents who see each other's
answers (social exposure) see the same numbering. Every stored row keeps the permutation it was
asked with, so reading it never depends on drawing it again.

Codes here are option positions 1..n, the numbering of the prompt; a zero-coded item's human shares
are matched to them as for any answer (``Survey.on_options``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Sequence

from culturescope.errors import CulturescopeError
from culturescope.survey.model import Item

if TYPE_CHECKING:
    import numpy as np

ORDERS = ("original", "reversed", "shuffled")
Permutation = tuple[int, ...]


@dataclass(frozen=True)
class Shown:
    """How one item was shown: the order's name and the item's codes in the order shown. A response
    row stores it as ``{"name": ..., "shown": [...]}`` in its ``order`` column (null: the survey's order)."""

    name: str
    codes: Permutation

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "shown": list(self.codes)}


def stored_codes(value: Any) -> Permutation | None:
    """The permutation of a stored row's ``order`` value; None for the survey's order."""
    return tuple(value["shown"]) if isinstance(value, dict) else None


def stored_name(value: Any) -> str:
    """The order name of a stored row's ``order`` value."""
    return value["name"] if isinstance(value, dict) else "original"


@dataclass(frozen=True)
class OptionOrder:
    """One option order: ``kind`` is original, reversed or shuffled (with its ``seed``)."""

    kind: str = "original"
    seed: int | None = None

    @classmethod
    def parse(cls, text: str | None) -> OptionOrder:
        """``original`` | ``reversed`` | ``shuffled[:SEED]`` (seed 0 when none is given)."""
        kind, _, seed = (text or "original").strip().lower().partition(":")
        if kind not in ORDERS or (seed and kind != "shuffled"):
            raise CulturescopeError(f"unknown option order {text!r}; use original, reversed or shuffled[:SEED]")
        if kind != "shuffled":
            return cls(kind)
        try:
            return cls(kind, int(seed) if seed else 0)
        except ValueError:
            raise CulturescopeError(f"option order {text!r}: the seed must be an integer") from None

    @property
    def name(self) -> str:
        return f"shuffled:{self.seed}" if self.kind == "shuffled" else self.kind

    def permutation(self, item: Item) -> Permutation | None:
        """The item's codes in the order shown; None: as in the survey."""
        n = len(item.options)
        if self.kind == "original":
            return None
        if self.kind == "reversed":
            return tuple(range(n, 0, -1))
        codes = list(range(1, n + 1))
        random.Random(f"{self.seed}:{item.id}").shuffle(codes)
        return tuple(codes)

    def shown(self, item: Item) -> tuple[Item, Shown | None]:
        """The item as it is asked under this order, and how it is shown (None: as in the survey)."""
        perm = self.permutation(item)
        return (item, None) if perm is None else (reordered(item, perm), Shown(self.name, perm))


def numbered(options: Sequence[str]) -> str:
    """The options as the WVS-7 item text lists them: ``1. A 2. B ...``."""
    return " ".join(f"{k}. {label}" for k, label in enumerate(options, start=1))


def reordered(item: Item, perm: Permutation) -> Item:
    """The item with its options in the order ``perm`` and renumbered 1..n, in its text too. The text
    must end with its numbered options (as every WVS-7 item does); otherwise the model would be shown
    the old numbering, so that is an error."""
    listed = numbered(item.options)
    if not item.question.endswith(listed):
        raise CulturescopeError(
            f"item {item.id}: its question does not end with its numbered options ('1. {item.options[0]} ...'), "
            "so they cannot be shown in another order"
        )
    options = tuple(item.options[c - 1] for c in perm)
    return replace(item, question=item.question[: -len(listed)] + numbered(options), options=options)


def to_original(answer: int | None, perm: Permutation | None) -> int | None:
    """The item's code of a shown number. A number outside 1..n names no option and is kept as given."""
    if perm is None or answer is None or not 1 <= answer <= len(perm):
        return answer
    return perm[answer - 1]


def to_shown(code: int | None, perm: Permutation | None) -> int | None:
    """The shown number of one of the item's codes (the inverse of :func:`to_original`)."""
    if perm is None or code is None or not 1 <= code <= len(perm):
        return code
    return perm.index(code) + 1


def probs_to_original(probs: Sequence[float] | np.ndarray | None, perm: Permutation | None) -> list[float] | None:
    """A distribution over the shown numbers as one over the item's codes."""
    if perm is None or probs is None:
        return None if probs is None else list(probs)
    if len(probs) != len(perm):
        raise CulturescopeError(f"a distribution over {len(probs)} options for an item with {len(perm)}")
    out = [0.0] * len(perm)
    for shown, code in enumerate(perm):
        out[code - 1] = float(probs[shown])
    return out
