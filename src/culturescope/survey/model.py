"""Survey records: items, cultures, human reference answer shares, and their array views."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal

from culturescope.errors import CulturescopeError

if TYPE_CHECKING:
    import numpy as np

#: How the human reference is read. ``faithful`` reproduces the reference implementation of the
#: Beyond-Alignment paper; ``strict`` fixes the data quirks (see docs/data.md).
Mode = Literal["faithful", "strict"]
MODES: tuple[str, ...] = ("faithful", "strict")


@dataclass(frozen=True)
class Item:
    """One multiple-choice survey item; answer codes are 1..len(options) in the order given."""

    id: str
    question: str
    options: tuple[str, ...]
    dimension: str | None = None

    @property
    def delta(self) -> int:
        """Largest possible disagreement on this item (Δ_k = options − 1)."""
        return len(self.options) - 1


@dataclass(frozen=True)
class Culture:
    """A cultural identity as the persona prompts use it."""

    code: str
    country: str
    culture: str
    continent: str | None = None


@dataclass(frozen=True)
class Survey:
    """Items, the cultures that have human answers, and those answers as shares per code.

    ``shares[country][item_id]`` maps an answer code to its share, in file order (the order matters
    for the faithful tie-break). A missing or empty entry means no human data for that pair.
    """

    name: str
    items: tuple[Item, ...]
    cultures: tuple[Culture, ...]
    shares: dict[str, dict[str, dict[int, float]]] = field(repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_item_index", {it.id: k for k, it in enumerate(self.items)})
        object.__setattr__(self, "_cultures", {c.code: c for c in self.cultures})

    @property
    def item_ids(self) -> list[str]:
        return [it.id for it in self.items]

    @property
    def deltas(self) -> np.ndarray:
        """Δ per item, shape (K,)."""
        import numpy as np

        return np.array([it.delta for it in self.items], dtype=float)

    def item_index(self, item_id: str) -> int:
        try:
            return self._item_index[item_id]  # type: ignore[attr-defined]
        except KeyError:
            raise CulturescopeError(f"unknown item {item_id!r} in survey {self.name!r}") from None

    def item(self, item_id: str) -> Item:
        return self.items[self.item_index(item_id)]

    def select(self, item_ids: list[str] | None) -> list[Item]:
        """The items with these ids, in the order given (checked); None: every item."""
        return list(self.items) if item_ids is None else [self.item(i) for i in item_ids]

    def restricted(self, item_ids: list[str]) -> Survey:
        """The same survey on these items only (a slice), with their human data."""
        return replace(self, items=tuple(self.select(item_ids)))

    def culture(self, code: str) -> Culture:
        try:
            return self._cultures[code]  # type: ignore[attr-defined]
        except KeyError:
            known = ", ".join(sorted(self._cultures))  # type: ignore[attr-defined]
            raise CulturescopeError(f"unknown culture {code!r}; known cultures: {known}") from None

    def resolve_cultures(self, codes: str | list[str] | None, default: list[str]) -> list[str]:
        """Parse a comma-separated (or list) culture selection and check every code."""
        if codes is None:
            chosen = list(default)
        elif isinstance(codes, str):
            chosen = [c.strip().upper() for c in codes.split(",") if c.strip()]
        else:
            chosen = [c.upper() for c in codes]
        if not chosen:
            raise CulturescopeError("no culture selected")
        for code in chosen:
            self.culture(code)
        if len(set(chosen)) != len(chosen):
            raise CulturescopeError(f"a culture is listed twice in {','.join(chosen)}")
        return chosen

    def zero_based_items(self) -> set[str]:
        """Items whose human codes run 0..n−1 (code = option position − 1) in every country."""
        found = set()
        for it in self.items:
            codes = {c for per in self.shares.values() for c in per.get(it.id, {})}
            if codes and min(codes) == 0 and max(codes) <= it.delta:
                found.add(it.id)
        return found

    def human_shares(self, country: str, item_id: str, mode: Mode = "faithful") -> dict[int, float]:
        """Answer-share distribution of one country on one item (empty when there is no data).

        In ``strict`` mode the codes of zero-based items are shifted to the prompt's 1..n numbering.
        """
        dist = self.shares.get(country, {}).get(item_id, {})
        return self.on_options(item_id, dist) if mode == "strict" else dict(dist)

    def on_options(self, item_id: str, dist: dict[int, float]) -> dict[int, float]:
        """Shares keyed by the prompt's option numbers 1..n: a zero-based item's codes shifted by +1
        (the strict reading; every distribution score reads shares this way)."""
        shift = 1 if item_id in self._zero_based() else 0
        return {code + shift: share for code, share in dist.items()}

    def majority(self, country: str, item_id: str, mode: Mode = "faithful") -> int | None:
        """The majority answer code, or None without data.

        ``faithful``: first maximum in file order, codes as stored (as the reference implementation).
        ``strict``: recoded shares (see :meth:`human_shares`), ties broken by the lowest code.
        """
        dist = self.human_shares(country, item_id, mode)
        if not dist:
            return None
        if mode == "faithful":
            return max(dist.items(), key=lambda kv: kv[1])[0]
        top = max(dist.values())
        return min(code for code, share in dist.items() if share == top)

    def majority_matrix(self, countries: list[str], mode: Mode = "faithful") -> np.ndarray:
        """Majority answers as agents: shape (len(countries), K), NaN where there is no data."""
        import numpy as np

        out = np.full((len(countries), len(self.items)), np.nan)
        for a, country in enumerate(countries):
            self.culture(country)
            for k, it in enumerate(self.items):
                m = self.majority(country, it.id, mode)
                if m is not None:
                    out[a, k] = m
        return out

    def _zero_based(self) -> set[str]:
        cached = self.__dict__.get("_zero_based_cache")
        if cached is None:
            cached = self.zero_based_items()
            object.__setattr__(self, "_zero_based_cache", cached)
        return cached
