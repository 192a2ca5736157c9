"""The Pentachromatic Cultural Palette data (§3, §5.1, Appendix A.1) and its ORPO pairs.

For every query and continent, a generator (any backend) writes a continent-aware response
(Figure 5), reviews it against the other four continents with Hofstede's dimensions (Figure 6) and
rewrites it with that feedback (Figure 7). The rewritten response is the record's ``response``; the two
earlier steps are kept beside it. Records are appended to ``records.jsonl`` as they complete, so a
stopped synthesis resumes where it stopped; every request also goes through the request cache.

The preference pairs of Appendix B: for a query and continent, chosen = that continent's response,
rejected = each other continent's response (4 pairs; the paper's 7,805 queries give 31,220 per continent).

Every step is capped at ``max_tokens`` new tokens. The paper sets no cap (GPT-4o answered with its own
limit); a local generator needs one, and it bounds time and cost. Each record names the steps that
reached the cap (``capped``): their text stops there.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rich.console import Console

from culturescope.backends import BackboneSpec
from culturescope.backends.base import Backend, Decoding, Messages
from culturescope.engine.cache import RequestCache
from culturescope.engine.prompts import prompts
from culturescope.engine.rundir import matches_record
from culturescope.engine.session import cached_chat, gather_all, progress_bar
from culturescope.errors import CulturescopeError
from culturescope.methods.cultural_palette.agents import CONTINENTS

SHIPPED_QUERIES = Path(__file__).parent / "open_questions.txt"
RECORDS, PAIRS, SETTINGS = "records.jsonl", "pairs.jsonl", "synthesis.json"


def load_queries(path: Path | None = None) -> list[str]:
    """Queries from a plain list (one per line; ``#`` lines are comments) or from JSON Lines: PRISM's
    ``conversations.jsonl`` (its ``opening_prompt``) or rows with a ``query`` field. Duplicates are dropped."""
    path = path or SHIPPED_QUERIES
    if not path.is_file():
        raise CulturescopeError(f"query file not found: {path}")
    lines = path.read_text(encoding="utf-8").splitlines()
    if path.suffix == ".jsonl":
        queries = []
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                queries.append(row["opening_prompt"] if "opening_prompt" in row else row["query"])
            except (json.JSONDecodeError, KeyError, TypeError):
                raise CulturescopeError(
                    f"{path}:{n}: each line must be a JSON object with 'opening_prompt' (PRISM) or 'query'"
                ) from None
    else:
        queries = [line for line in lines if line.strip() and not line.lstrip().startswith("#")]
    queries = list(dict.fromkeys(q.strip() for q in queries if q.strip()))
    if not queries:
        raise CulturescopeError(f"no queries in {path}")
    return queries


def respond_messages(continent: str, query: str) -> Messages:
    return [
        {"role": "system", "content": prompts(__package__, "pentachromatic")["respond"].format(continent=continent)},
        {"role": "user", "content": query},
    ]


def feedback_messages(continent: str, query: str, response: str) -> Messages:
    p = prompts(__package__, "pentachromatic")
    others = ", ".join(c for c in CONTINENTS if c != continent)
    return [
        {"role": "system", "content": p["feedback"].format(continent=continent, others=others)},
        {"role": "user", "content": p["feedback_user"].format(query=query, response=response)},
    ]


def aggregate_messages(continent: str, query: str, base: str, feedback: str) -> Messages:
    p = prompts(__package__, "pentachromatic")
    return [
        {"role": "system", "content": p["aggregate"].format(continent=continent, query=query)},
        {"role": "user", "content": p["aggregate_user"].format(base=base, feedback=feedback)},
    ]


@dataclass
class Synthesis:
    generator: BackboneSpec
    queries: list[str]
    continents: tuple[str, ...] = CONTINENTS
    max_tokens: int = 256

    def decoding(self) -> Decoding:
        return replace(self.generator.decoding(), max_tokens=self.max_tokens)

    def describe(self) -> dict[str, Any]:
        return {
            "generator": self.generator.as_dict(),
            "decoding": self.decoding().as_dict(),
            "continents": list(self.continents),
            "prompts": prompts(__package__, "pentachromatic"),
        }


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _open_output(synthesis: Synthesis, out_dir: Path) -> list[dict[str, Any]]:
    """Check that a rerun in ``out_dir`` is the same synthesis; the records made so far."""
    out_dir.mkdir(parents=True, exist_ok=True)
    settings, described = out_dir / SETTINGS, synthesis.describe()
    mismatch = (
        f"{out_dir} holds a synthesis with other settings (generator, decoding or prompts); "
        "use another --out to keep both"
    )
    if not matches_record(settings, described, mismatch):
        settings.write_text(json.dumps(described, indent=2))
    records = out_dir / RECORDS
    if records.is_file():  # a record torn by a kill mid-write is dropped; it is made again
        text = records.read_text(encoding="utf-8")
        records.write_text(text[: text.rfind("\n") + 1], encoding="utf-8")
    return read_jsonl(records)


async def _synthesize_one(backend: Backend, synthesis: Synthesis, cache: RequestCache, query: str, continent: str):
    """One record; ``capped`` names the steps whose reply reached ``max_tokens`` (and so was cut there)."""
    decoding = synthesis.decoding()
    capped = []

    async def chat(step: str, messages: Messages) -> str:
        done = await cached_chat(backend, messages, decoding, 0, cache)
        if done["tokens"][1] >= decoding.max_tokens:
            capped.append(step)
        return done["text"].strip()

    base = await chat("base_response", respond_messages(continent, query))
    feedback = await chat("feedback", feedback_messages(continent, query, base))
    response = await chat("response", aggregate_messages(continent, query, base, feedback))
    return {
        "query": query,
        "continent": continent,
        "response": response,
        "base_response": base,
        "feedback": feedback,
        "capped": capped,
    }


def synthesize(
    synthesis: Synthesis, out_dir: Path, cache: RequestCache, console: Console | None = None
) -> list[dict[str, Any]]:
    """Every (query, continent) record into ``out_dir/records.jsonl`` (resuming), then the pairs into
    ``out_dir/pairs.jsonl``. Returns the records."""
    records = _open_output(synthesis, out_dir)
    done = {(r["query"], r["continent"]) for r in records}
    todo = [(q, c) for q in synthesis.queries for c in synthesis.continents if (q, c) not in done]
    if todo:
        console = console or Console(stderr=True)
        backend = synthesis.generator.make()
        limit = asyncio.Semaphore(max(1, backend.concurrency))

        async def run_all() -> None:
            with progress_bar(console) as progress, (out_dir / RECORDS).open("a", encoding="utf-8") as fh:
                task = progress.add_task("synthesizing", total=len(todo))

                async def one(query: str, continent: str) -> None:
                    async with limit:
                        record = await _synthesize_one(backend, synthesis, cache, query, continent)
                    fh.write(json.dumps(record, ensure_ascii=False) + "\n")
                    fh.flush()
                    records.append(record)
                    progress.advance(task)

                await gather_all(one(q, c) for q, c in todo)

        asyncio.run(run_all())
    wanted = set(synthesis.queries)
    records = [r for r in records if r["query"] in wanted]
    write_jsonl(out_dir / PAIRS, preference_pairs(records, synthesis.continents))
    return records


def preference_pairs(records: list[dict[str, Any]], continents: tuple[str, ...] = CONTINENTS) -> list[dict[str, Any]]:
    """ORPO pairs (Appendix B): per query with a response from every continent, and per continent, the
    own response as chosen against each other continent's as rejected. Queries missing a continent
    give no pairs (eq. 6 contrasts every other continent)."""
    by_query: dict[str, dict[str, str]] = {}
    for r in records:
        by_query.setdefault(r["query"], {})[r["continent"]] = r["response"]
    pairs = []
    for query, responses in by_query.items():
        if not set(continents) <= set(responses):
            continue
        for own in continents:
            pairs += [
                {
                    "query": query,
                    "continent": own,
                    "chosen": responses[own],
                    "rejected": responses[other],
                    "rejected_continent": other,
                }
                for other in continents
                if other != own
            ]
    return pairs


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    tmp.replace(path)
