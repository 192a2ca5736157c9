"""Survey rephrasing (DEF §4.1 step 3): each item's question asked again in other words.

Only the question stem is rephrased; the options and their numbering are re-attached verbatim, so
answer codes and human shares carry over. The result is a survey in the loader's JSON schema whose
items are the originals and their variants ``{id}~{k}``, each with the original's human shares and
dimension; scoring it averages every value dimension over all variants.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import asdict
from pathlib import Path

from rich.console import Console

from culturescope.backends import BackboneSpec
from culturescope.engine.cache import RequestCache
from culturescope.engine.prompts import prompts
from culturescope.engine.session import cached_chat, gather_all, progress_bar
from culturescope.errors import CulturescopeError
from culturescope.survey import Item, Survey


def split_question(item: Item) -> tuple[str, str]:
    """(stem, options text): the options start where "1." (or "1:", "1)") precedes the first label."""
    match = re.search(r"\b1\s*[.:)]\s*" + re.escape(item.options[0]), item.question)
    if not match:
        return item.question, ""
    stem = item.question[: match.start()]
    # WVS-style stems end with an instruction ("Choose only one of the following options ...:"); keep it.
    instruction = re.search(r"(Choose|Select|Please choose)[^?]*$", stem)
    cut = instruction.start() if instruction else len(stem)
    return stem[:cut].strip(), (stem[cut:] + item.question[match.start() :]).strip()


def clean_rephrasing(text: str) -> str:
    """The first non-empty line of the reply, without quotes or a "Question:" label."""
    for line in text.strip().splitlines():
        line = re.sub(r"^(rewritten question|question)\s*:\s*", "", line.strip(), flags=re.IGNORECASE)
        line = line.strip().strip('"“”').strip()
        if line:
            return line
    return ""


def rephrase_survey(
    survey: Survey, spec: BackboneSpec, variants: int, out: Path, cache: RequestCache, console: Console | None = None
) -> dict[str, int]:
    """Write ``items.json``, ``reference.json`` and ``cultures.json`` of the rephrased survey to ``out``;
    returns counts of variants written and of empty replies (those variants are left out)."""
    if variants < 1:
        raise CulturescopeError("variants must be at least 1")
    backend = spec.make()
    decoding = spec.decoding()
    gate = asyncio.Semaphore(max(1, backend.concurrency))

    async def one(item: Item, k: int, progress, task) -> tuple[Item, int, str]:
        stem, _ = split_question(item)
        messages = [{"role": "user", "content": prompts(__package__, "rephrase")["user"].format(question=stem)}]
        async with gate:
            text = (await cached_chat(backend, messages, decoding, k, cache))["text"]
        progress.advance(task)
        return item, k, clean_rephrasing(text)

    async def all_(progress):
        task = progress.add_task(f"rephrase with {spec.name}", total=len(survey.items) * variants)
        jobs = [one(it, k, progress, task) for it in survey.items for k in range(1, variants + 1)]
        return await gather_all(jobs)

    with progress_bar(console or Console(stderr=True)) as progress:
        done = asyncio.run(all_(progress))
    items, reference, empty = [], {c.code: {} for c in survey.cultures}, 0
    rephrased = {(it.id, k): text for it, k, text in done}
    for it in survey.items:
        _, options_text = split_question(it)
        for k in range(variants + 1):
            text = it.question if k == 0 else rephrased[(it.id, k)]
            if not text:
                empty += 1
                continue
            item_id = it.id if k == 0 else f"{it.id}~{k}"
            question = text if k == 0 else f"{text} {options_text}".strip()
            items.append({"Q_id": item_id, "question": question, "option": list(it.options), "dimension": it.dimension})
            for c in survey.cultures:
                shares = survey.shares.get(c.code, {}).get(it.id)
                if shares:
                    reference[c.code][item_id] = {str(code): share for code, share in shares.items()}
    out.mkdir(parents=True, exist_ok=True)
    for name, data in [
        ("items.json", items),
        ("reference.json", reference),
        ("cultures.json", [{k: v for k, v in asdict(c).items() if v is not None} for c in survey.cultures]),
    ]:
        (out / name).write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return {"variants": len(items) - len(survey.items), "empty": empty}
