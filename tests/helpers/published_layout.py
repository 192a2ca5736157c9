"""A miniature of the Beyond-Alignment reference implementation's published outputs, with their quirks:

- ``wvs_evaluation/``: ``{model}_{CULTURE}_system.jsonl``; three backbones with all 19 cultures, two
  with the paper's five, one with a single culture and 183 of the 223 items (as claude-opus-4.5),
  one with a single other culture (as llama-4-maverick), one with 12 cultures whose IND file has 22
  lines (as grok-3); ``*_system_bk.jsonl`` backups beside the real files; one truncated line and one
  line naming an item the survey does not have.
- exposure: ``wvs_evaluation_interaction/`` (round 1) for some backbones only, whose grok-3 files
  hold provider error strings; ``wvs_evaluation_interaction_round{2..5}`` for two backbones only.
- ``wvs_pb_evaluation/``: ``{model}_{CULTURE}.jsonl`` ballots, 20 runs per culture but for two
  cultures with 1 and 5.

The answers written are kept in ``Published.answers[(round, model)]`` (cultures × items, NaN where no
line) so tests can score them by an independent route.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from culturescope.survey import PAPER_CULTURES, wvs7
from helpers.synthetic import synthetic_answers

ALL = [c.code for c in wvs7().cultures]
TWELVE = PAPER_CULTURES + ["AUS", "CAN", "DEU", "GBR", "IND", "USA", "RUS"]
BACKBONES = {
    "gpt-5.4": ALL,
    "claude-opus-4.7": ALL,
    "gemini-3.1-flash-lite-preview": ALL,
    "gpt-4o-mini": PAPER_CULTURES,
    "llama-3.1-70b-instruct": PAPER_CULTURES,
    "claude-opus-4.5": ["BRA"],
    "llama-4-maverick": ["CHN"],
    "grok-3": TWELVE,
}
ROUND_ONE = ["gpt-5.4", "claude-opus-4.7", "gemini-3.1-flash-lite-preview", "gpt-4o-mini", "grok-3"]
ALL_ROUNDS = ["gpt-5.4", "claude-opus-4.7"]  # rounds 0–5
PROVIDER_ERROR = "Error code: 404 - {'error': {'message': 'The model grok-3 was deprecated'}}"
SHORT_BALLOTS = {"AUS": 1, "ETH": 5}


@dataclass
class Published:
    root: Path
    answers: dict[tuple[int, str], np.ndarray] = field(default_factory=dict)  # (round, model) → (19, K)

    @property
    def static(self) -> Path:
        return self.root / "wvs_evaluation"

    @property
    def ballots(self) -> Path:
        return self.root / "wvs_pb_evaluation"


def _line(idx: int, item, response: str) -> str:
    record = {"idx": idx, "q_id": item.id, "question": item.question, "system": "s", "instruction": "i"}
    return json.dumps({**record, "response": response}) + "\n"


def _write(path: Path, answers: np.ndarray, keep: np.ndarray, text=None) -> None:
    items = wvs7().items
    with path.open("w") as fh:
        for k in np.flatnonzero(keep):
            fh.write(_line(int(k), items[k], text or f"Considering my values... \\boxed{{{int(answers[k])}}}"))


def make_published(root: Path, seed: int = 0) -> Published:
    """Write the miniature under ``root`` and return where, with the answers written."""
    survey = wvs7()
    K = len(survey.items)
    rng = np.random.default_rng(seed)
    pub = Published(root)
    X = synthetic_answers(len(BACKBONES), ALL, seed)  # (B, 19, K)
    names = list(BACKBONES)
    for r in range(6):
        folder = root / ("wvs_evaluation" if r == 0 else "wvs_evaluation_interaction" + (f"_round{r}" if r > 1 else ""))
        folder.mkdir(parents=True)
        for b, model in enumerate(names):
            if (r == 1 and model not in ROUND_ONE) or (r > 1 and model not in ALL_ROUNDS):
                continue
            cultures = BACKBONES[model] if r == 0 else PAPER_CULTURES
            # each round pulls every culture's answers a quarter of the way to the all-culture mean
            mean = X[b].mean(axis=0)
            A = np.clip(np.rint(X[b] + (mean - X[b]) * (1 - 0.75**r)), 1, survey.deltas + 1)
            written = np.full((len(ALL), K), np.nan)
            for c in cultures:
                i = ALL.index(c)
                keep = np.ones(K, bool)
                if model == "claude-opus-4.5":
                    keep[183:] = False
                if model == "grok-3" and c == "IND":
                    keep[22:] = False
                error = r == 1 and model == "grok-3"
                _write(folder / f"{model}_{c}_system.jsonl", A[i], keep, PROVIDER_ERROR if error else None)
                if not error:
                    written[i, keep] = A[i, keep]
                if r == 0 and model in ("gpt-5.4", "grok-3"):  # a backup beside the real file, never read
                    _write(folder / f"{model}_{c}_system_bk.jsonl", A[i] * 0 + 1, keep)
            pub.answers[(r, model)] = written
    with (pub.static / "gpt-4o-mini_NGA_system.jsonl").open("a") as fh:
        fh.write(json.dumps({"idx": 223, "q_id": "Q999", "response": "\\boxed{2}"}) + "\n")
        fh.write('{"idx": 224, "q_id": "Q1", "resp')  # a line cut by a crash
    _ballots(pub.ballots, rng)
    return pub


def _ballots(folder: Path, rng: np.random.Generator) -> None:
    """claude-opus-4.7 ballots for every culture: four distinct project ids each, 20 runs (fewer for two)."""
    folder.mkdir()
    for c in ALL:
        with (folder / f"claude-opus-4.7_{c}.jsonl").open("w") as fh:
            for run in range(SHORT_BALLOTS.get(c, 20)):
                ids = sorted(rng.choice(np.arange(1, 14), 4, replace=False).tolist())
                text = f"I support these projects. \\boxed{{{', '.join(map(str, ids))}}}"
                record = {"run_idx": run, "culture": c, "system": "s", "instruction": "i", "response": text}
                fh.write(json.dumps({**record, "parsed_projects": ids, "parse_ok": True}) + "\n")
