"""Run the insensitivity judge over a sample of simulated responses, into a judge run (DEF §5.2.5)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console

from culturescope.backends import BackboneSpec
from culturescope.engine.cache import RequestCache
from culturescope.engine.prompts import prompts
from culturescope.engine.rundir import open_run
from culturescope.engine.session import cached_chat, gather_all, progress_bar
from culturescope.engine.store import Run
from culturescope.errors import CulturescopeError
from culturescope.methods.def_simulation.judge import CATEGORIES, judge_messages, read_judgement
from culturescope.survey import Survey

KEY = ["backbone", "system", "agent", "item", "sample"]


def sample_responses(responses: pd.DataFrame, rate: float, seed: int) -> pd.DataFrame:
    """``rate`` of the text responses of each (backbone, system), at least one each, drawn at random
    (the paper judges 1%)."""
    if not 0 < rate <= 1:
        raise CulturescopeError(f"the judged share must be in (0, 1], not {rate}")
    texts = responses[(responses["mode"] == "sample") & responses["raw"].fillna("").str.strip().astype(bool)]
    rng = np.random.default_rng(seed)
    picked = [
        rows.iloc[np.sort(rng.choice(len(rows), size=max(1, round(rate * len(rows))), replace=False))]
        for _, rows in texts.groupby(["backbone", "system"], sort=True)
    ]
    if not picked:
        raise CulturescopeError("the runs hold no text responses to judge")
    return pd.concat(picked, ignore_index=True)


def describe_judging(runs: list[str], judge: BackboneSpec, rate: float, seed: int) -> dict:
    """What identifies a judging: the judged runs, the judge, the sample and the prompt."""
    return {
        "system": "judge",
        "of": runs,
        "judge": judge.as_dict(),
        "rate": rate,
        "seed": seed,
        "prompt": prompts(__package__, "judge"),
    }


def execute_judging(
    responses: pd.DataFrame,
    survey: Survey,
    described: dict,
    out: Path,
    cache: RequestCache,
    console: Console | None = None,
) -> Run:
    """Judge the sampled responses (greedy decoding); each verdict is stored as it arrives."""
    console = console or Console(stderr=True)
    judge = BackboneSpec.from_dict(described["judge"], "judge")
    chosen = sample_responses(responses, described["rate"], described["seed"])
    run = open_run(out, described)
    stored = run.responses()
    done = set(stored[KEY].itertuples(index=False, name=None)) if not stored.empty else set()
    todo = chosen[[k not in done for k in chosen[KEY].itertuples(index=False, name=None)]]
    backend = judge.make()
    decoding = replace(judge.decoding(), temperature=0.0)
    gate = asyncio.Semaphore(max(1, backend.concurrency))

    async def one(row, progress, task) -> None:
        item = survey.item(row.item)
        messages = judge_messages(survey.culture(row.culture), item, row.raw)
        async with gate:
            text = (await cached_chat(backend, messages, decoding, 0, cache))["text"]
        labels = read_judgement(text)
        record = {k: getattr(row, k) for k in KEY} | {"culture": row.culture, "mode": "judge", "raw": text}
        run.append([record | {"status": "ok" if labels is not None else "no_verdict", "trace": {"labels": labels}}])
        progress.advance(task)

    async def all_(progress) -> None:
        task = progress.add_task(f"judge {judge.name}", total=len(todo))
        await gather_all(one(row, progress, task) for row in todo.itertuples(index=False))

    with progress_bar(console) as progress:
        asyncio.run(all_(progress))
    return run


def insensitivity(judged: pd.DataFrame) -> list[dict]:
    """Per (backbone, system): how many responses were judged and the share flagged per category (%)."""
    rows = []
    for (backbone, system), group in judged[judged["mode"] == "judge"].groupby(["backbone", "system"], sort=True):
        verdicts = [t["labels"] for t in group["trace"] if isinstance(t, dict) and t.get("labels") is not None]
        row = {"backbone": backbone, "system": system, "judged": len(group), "with verdict": len(verdicts)}
        for code in CATEGORIES:
            row[code] = 100 * float(np.mean([code in v for v in verdicts])) if verdicts else None
        rows.append(row)
    return rows
