"""Simulated survey respondents: the Diversity-Enhanced Framework (DEF §4.3, Algorithm 1).

A respondent is one simulated citizen who answers the whole survey as one conversation. Three
modifications, each switchable for the ablations of Table 4, make respondents of one model differ:

- *prompt*: "[COUNTRY]" becomes "{country} living in {location}", the location drawn by population
  share from ``survey/data/locations.json``;
- *configuration*: a decoding configuration drawn per respondent: ``do_sample`` on/off (off =
  greedy) and ``num_beams`` in 1..B_m where the backend has beam search; recorded per respondent.
  Without it a respondent decodes greedily (see :func:`fixed_configuration`);
- *memory*: earlier (request, cleaned answer) turns stay in the conversation; turns without
  "Answer:" are dropped and at most ``l`` turns, ``l`` drawn once in 0..L_m, are kept at random.

Every random draw comes from a generator seeded by (seed, culture, respondent[, step]), so a stopped
run that is resumed rebuilds exactly the same respondents and memories from its stored answers.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field, replace
from functools import cache
from importlib.resources import files

import numpy as np
import pandas as pd

from culturescope.backends.base import Decoding, Messages
from culturescope.engine.prompts import prompts
from culturescope.errors import CulturescopeError
from culturescope.methods.def_simulation import DEF_VARIANTS
from culturescope.survey import Culture, Item

#: How respondents without a drawn configuration decode (see :func:`fixed_configuration`).
BASELINE_DECODINGS = ("greedy", "sampled")
#: The variants whose respondents decode that way: the baselines, and DEF without its configuration.
FIXED_DECODING_VARIANTS = (
    *(v for v, mods in DEF_VARIANTS.items() if "config" not in mods),
    "cao",
    "ccsv-single",
    "ccsv-list",
)


@cache
def locations() -> dict[str, dict]:
    """Per country code: ``unit``, ``source`` and ``regions`` {name: population in millions}."""
    path = files("culturescope.survey") / "data" / "locations.json"
    return json.loads(path.read_text(encoding="utf-8"))["countries"]


def rng_for(seed: int, culture: str, respondent: int, *more: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(culture.encode()), respondent, *more])


@dataclass(frozen=True)
class Respondent:
    """One simulated citizen: where the persona lives, how it decodes, how much it remembers."""

    culture: Culture
    index: int
    location: str | None
    decoding: Decoding
    memory_limit: int | None  # None: no memory (each item asked on its own)
    config: dict = field(default_factory=dict)  # the drawn configuration, as recorded

    @property
    def agent(self) -> str:
        return f"{self.culture.code}/{self.index}"

    def persona(self) -> str:
        if self.location is None:
            return self.culture.country
        return prompts(__package__, "def")["location"].format(country=self.culture.country, location=self.location)

    def trace(self) -> dict:
        return {"location": self.location, "config": self.config, "memory_limit": self.memory_limit}


def draw_respondent(
    culture: Culture,
    index: int,
    modifications: tuple[str, ...],
    base: Decoding,
    knobs: frozenset[str],
    max_beams: int = 5,
    max_memory: int = 15,
    seed: int = 0,
    choices: dict[str, list] | None = None,
    baseline: str = "greedy",
) -> Respondent:
    """Algorithm 1's initialization for respondent ``index``: l, b and s, and the location. ``choices``
    (beyond the paper) lists values of ``temperature``, ``top_p`` or ``top_k`` to draw from as well;
    ``baseline`` is the decoding without the configuration modification (:func:`fixed_configuration`)."""
    choices = choices or {}
    rng = rng_for(seed, culture.code, index)
    location = None
    if "prompt" in modifications:
        regions = locations().get(culture.code)
        if regions:
            names = list(regions["regions"])
            weights = np.array(list(regions["regions"].values()))
            location = names[rng.choice(len(names), p=weights / weights.sum())]
    decoding, config = replace(fixed_configuration(base, baseline), seed=base.seed + index), {}
    if "config" in modifications:
        if "temperature" in knobs:
            config["do_sample"] = bool(rng.integers(2))
            temperature = _pick(rng, choices.get("temperature"), base.temperature)
            decoding = replace(decoding, temperature=temperature if config["do_sample"] else 0.0)
        for knob in ("top_p", "top_k"):
            if knob in knobs and choices.get(knob):
                decoding = replace(decoding, **{knob: _pick(rng, choices[knob], None)})
        if "num_beams" in knobs:
            config["num_beams"] = int(rng.integers(1, max_beams + 1))
            decoding = replace(decoding, num_beams=config["num_beams"])
    config |= {k: v for k, v in decoding.as_dict().items() if k in knobs}
    memory_limit = int(rng.integers(0, max_memory + 1)) if "memory" in modifications else None
    return Respondent(culture, index, location, decoding, memory_limit, config)


def fixed_configuration(base: Decoding, baseline: str = "greedy") -> Decoding:
    """The decoding of a respondent without the configuration modification, and of the baselines.
    ``greedy`` (default; ``do_sample`` off, one beam): only deterministic decoding gives the zero
    diversity the paper reports for Cao et al., CCSV-single (Table 1) and the unmodified model (Table 4,
    "None"). ``sampled``: §5.1 read literally ("do_sample = true, temperature 1 for all datasets and the
    baselines"): ``base`` itself. ``base.temperature`` (§5.1: 1) is also the temperature of a
    respondent whose drawn ``do_sample`` is on."""
    return base if check_baseline(baseline) == "sampled" else replace(base, temperature=0.0)


def check_baseline(baseline: str) -> str:
    """``baseline`` if it names one of :data:`BASELINE_DECODINGS`, else the error that says so."""
    if baseline not in BASELINE_DECODINGS:
        raise CulturescopeError(f"unknown baseline decoding {baseline!r}; use {' or '.join(BASELINE_DECODINGS)}")
    return baseline


def baselines_decoded(responses: pd.DataFrame) -> str | None:
    """How the backends decoded the responses of :data:`FIXED_DECODING_VARIANTS`, read from each row's
    recorded decoding: "greedy", "sampled", or per backbone and system where they differ; None
    without such rows. Rows made before the decoding was recorded say "not recorded"."""
    rows = responses[responses["system"].isin(FIXED_DECODING_VARIANTS)]
    if rows.empty:
        return None

    def label(trace) -> str:
        applied = trace.get("decoding") if isinstance(trace, dict) else None
        return "not recorded" if applied is None else "sampled" if applied["do_sample"] else "greedy"

    labels = rows["trace"].map(label).groupby([rows["backbone"], rows["system"]], sort=True)
    found = labels.agg(lambda x: " and ".join(sorted(set(x))))
    if found.nunique() == 1:
        return str(found.iloc[0])
    return ", ".join(f"{backbone} · {system} {how}" for (backbone, system), how in found.items())


def _pick(rng: np.random.Generator, values: list | None, default):
    """One of ``values`` at random, or ``default`` without drawing (so default runs draw the same)."""
    return values[int(rng.integers(len(values)))] if values else default


def citizen_prompt(persona: str, item: Item) -> str:
    return prompts(__package__, "def")["citizen"].format(
        country=persona, n_options=len(item.options), question=item.question
    )


def cao_prompt(culture: Culture, item: Item) -> str:
    return prompts(__package__, "cao")["user"].format(
        country=culture.country, n_options=len(item.options), question=item.question
    )


Turn = tuple[str, str]  # (remembered request, cleaned answer)


def conversation(memory: list[Turn], prompt: str) -> Messages:
    """The remembered turns, then the new request."""
    messages: Messages = []
    for query, answer in memory:
        messages += [{"role": "user", "content": query}, {"role": "assistant", "content": answer}]
    return messages + [{"role": "user", "content": prompt}]


def clean_answer(response: str) -> str | None:
    """Algorithm 1's memory cleaning: from "Answer: " to the first "." after "Explanation: ", or
    None when the response has no "Answer: " (the turn is dropped). Without an "Explanation: " the
    answer is kept up to its first line break (Algorithm 1 is silent there)."""
    start = response.find("Answer: ")
    if start < 0:
        return None
    explanation = response.find("Explanation: ", start)
    if explanation >= 0:
        stop = response.find(".", explanation)
        end = len(response) if stop < 0 else stop + 1
    else:
        stop = response.find("\n", start)
        end = len(response) if stop < 0 else stop
    return response[start:end].strip()


def remember(memory: list[Turn], item: Item, response: str, limit: int, rng: np.random.Generator) -> list[Turn]:
    """The memory after answering ``item``: the cleaned turn added (if it has an answer), then, when
    more than ``limit`` turns are held, ``limit`` of them kept at random (without replacement, as
    Algorithm 1's ``random.sample``), in their original order so the conversation stays chronological."""
    answer = clean_answer(response)
    if answer is not None:
        memory = memory + [(prompts(__package__, "def")["memory_query"].format(question=item.question), answer)]
    if len(memory) > limit:
        keep = np.sort(rng.choice(len(memory), size=limit, replace=False))
        memory = [memory[k] for k in keep]
    return memory
