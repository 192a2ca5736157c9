"""Run the multi-agent Cultural Palette and its baselines (seed 001, §4.2, §5.3–5.5) into one run.

Every method answers every (culture, item) once, with greedy decoding: agent ``{culture}``, system =
the method, backbone = the continent agents' backbone. The row's ``probs`` is P_gen (the decision's
option distribution, where the backend gives one) and its ``trace`` keeps the drafts, the regulated
memory and, for the steerable baseline, the community chosen, so the report can show them.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.markup import escape

from culturescope.backends import BackboneSpec
from culturescope.backends.base import Decoding
from culturescope.cache import RequestCache
from culturescope.errors import CulturescopeError
from culturescope.experiment import digest, open_run
from culturescope.extract import OK, parse_answer
from culturescope.runner import Session, gather_all, progress_bar
from culturescope.store import Run
from culturescope.survey import Culture, Item, Survey
from culturescope.systems import palette as pal
from culturescope.systems.static import prompts


@dataclass
class Palette:
    agents: BackboneSpec  # the continent agents (one backbone, five continent prompts) and the baselines' LLM
    cultures: list[str]
    methods: list[str] = field(default_factory=lambda: list(pal.METHODS))
    items: list[str] | None = None
    meta: BackboneSpec | None = None  # the meta agent (default: the agents' backbone); w/o CM always uses that
    continent_backbones: dict[str, BackboneSpec] = field(default_factory=dict)  # a backbone per continent

    def __post_init__(self) -> None:
        bad = sorted(set(self.methods) - set(pal.METHODS))
        if bad or not self.methods:
            raise CulturescopeError(f"unknown method(s) {', '.join(bad) or '(none)'}; use {', '.join(pal.METHODS)}")
        unknown = sorted(set(self.continent_backbones) - set(pal.CONTINENTS))
        if unknown:
            raise CulturescopeError(f"unknown continent(s) {', '.join(unknown)}; use {', '.join(pal.CONTINENTS)}")

    def describe(self, survey: Survey) -> dict[str, Any]:
        return {
            "survey": survey.name,
            "system": "palette",
            "cultures": self.cultures,
            "methods": self.methods,
            "items": self.items,
            "agents": self.agents.as_dict(),
            "meta": (self.meta or self.agents).as_dict(),
            "continent_backbones": {c: b.as_dict() for c, b in sorted(self.continent_backbones.items())},
            "prompts": prompts("palette"),
        }

    def default_dir(self, survey: Survey) -> Path:
        return Path("runs") / f"palette-{self.agents.name.replace('/', '_')}-{digest(self.describe(survey))}"


class _Calls:
    """The sessions of every backbone involved, and the decisions made with them."""

    def __init__(self, palette: Palette, cache: RequestCache, run: Run, progress) -> None:
        made: dict[str, Session] = {}
        self.greedy: dict[str, Decoding] = {}

        def session(spec: BackboneSpec) -> Session:
            if spec.name not in made:
                made[spec.name] = Session(spec.make(), spec.name, cache, run, progress)
                self.greedy[spec.name] = replace(spec.decoding(), temperature=0.0)
            return made[spec.name]

        self.base = session(palette.agents)
        self.meta = session(palette.meta or palette.agents)
        self.continent = {c: session(palette.continent_backbones.get(c, palette.agents)) for c in pal.CONTINENTS}

    async def text(self, s: Session, messages) -> str:
        return await s.chat(messages, self.greedy[s.backbone])

    async def decide(self, s: Session, messages, item: Item) -> dict[str, Any]:
        """The decision as text and, where the backend gives one, as P_gen."""
        text = await self.text(s, messages)
        probs = None
        if s.backend.supports_probs:
            probs = (await s.probs(messages, prompts("palette")["answer_prefix"], len(item.options)))["probs"]
        return {"text": text, "probs": probs}


async def _drafts(calls: _Calls, culture: Culture, item: Item) -> dict[str, str]:
    texts = await asyncio.gather(
        *(calls.text(calls.continent[c], pal.draft_messages(c, culture, item)) for c in pal.CONTINENTS)
    )
    return dict(zip(pal.CONTINENTS, texts))


async def _method(calls: _Calls, method: str, culture: Culture, item: Item, drafts) -> tuple[dict, dict]:
    """(decision, trace) of one method on one item."""
    if method in pal.PALETTE:
        meta = calls.base if method == "palette-no-cm" else calls.meta
        d = await drafts() if method != "palette-no-cd" else {}
        if method in ("palette", "palette-no-cm"):
            memory = await calls.text(meta, pal.regulate_messages(culture, item, d))
        else:
            memory = pal.drafts_text(d)
        decision = await calls.decide(meta, pal.final_messages(culture, item, memory), item)
        return decision, {"drafts": d, "memory": memory}
    if method == "moe":
        continent = culture.continent
        agent = calls.continent[continent]
        return await calls.decide(agent, pal.agent_messages(continent, culture, item), item), {"community": continent}
    if method == "modular-steerable":
        reply = await calls.text(calls.base, pal.steer_messages(culture))
        community = pal.read_community(reply) or culture.continent  # no community named: the country's own
        agent = calls.continent[community]
        decision = await calls.decide(agent, pal.agent_messages(community, culture, item), item)
        return decision, {"steer": reply, "community": community}
    if method == "modular-distributional":
        each = await asyncio.gather(
            *(calls.decide(calls.continent[c], pal.agent_messages(c, culture, item), item) for c in pal.CONTINENTS)
        )
        dists = [e["probs"] for e in each if e["probs"] is not None]
        if not dists:  # text only: each community's distribution is its parsed answer
            codes = [parse_answer(e["text"], item.options) for e in each]
            dists = [np.eye(len(item.options))[c.answer - 1] for c in codes if c.status == OK]
        probs = list(np.mean(dists, axis=0)) if dists else None
        texts = {c: e["text"] for c, e in zip(pal.CONTINENTS, each)}
        return {"text": "", "probs": probs}, {"communities": texts}
    d = await drafts() if method == "modular-overton" else None
    decision = await calls.decide(calls.base, pal.baseline_messages(method, culture, item, d), item)
    return decision, ({"drafts": d} if d else {})


async def _answer(calls: _Calls, methods: list[str], culture: Culture, item: Item, task) -> None:
    cached: dict[str, dict] = {}

    async def drafts() -> dict[str, str]:  # shared by every method of this item that uses them
        if "d" not in cached:
            cached["d"] = await _drafts(calls, culture, item)
        return cached["d"]

    s = calls.base
    for method in methods:
        if (method, culture.code, item.id, 0) not in s.stored:
            decision, trace = await _method(calls, method, culture, item, drafts)
            parsed = parse_answer(decision["text"], item.options)
            answer, status = parsed.answer, parsed.status
            if decision["probs"] is not None and status != OK:
                answer, status = int(np.argmax(decision["probs"])) + 1, OK  # the text had none: P_gen's top
            extra = {"probs": [float(p) for p in decision["probs"]]} if decision["probs"] is not None else {}
            mode = "probs" if decision["probs"] is not None else "sample"
            s.store(
                method,
                culture.code,
                culture.code,
                item,
                0,
                decision["text"],
                mode=mode,
                answer=answer,
                status=status,
                trace=trace,
                **extra,
            )
        s.progress.advance(task)


def execute_palette(
    palette: Palette, survey: Survey, out: Path, cache: RequestCache, console: Console | None = None
) -> Run:
    """Every method on every (culture, item); what the run already holds is not asked again."""
    console = console or Console(stderr=True)
    items = survey.select(palette.items)
    cultures = [survey.culture(c) for c in palette.cultures]
    routed = {"moe", "modular-steerable"} & set(palette.methods)
    lost = [c.code for c in cultures if c.continent not in pal.CONTINENTS]
    if routed and lost:
        raise CulturescopeError(
            f"{', '.join(sorted(routed))} route to the country's continent; {', '.join(lost)} has none "
            f"(give one of {', '.join(pal.CONTINENTS)} in the cultures file)"
        )
    run = open_run(out, palette.describe(survey))  # after the checks: bad input leaves no run behind
    with progress_bar(console) as progress:
        calls = _Calls(palette, cache, run, progress)
        before = len(calls.base.stored)
        task = progress.add_task(f"palette [{palette.agents.name}]", total=len(cultures) * len(items))

        asyncio.run(gather_all(_answer(calls, palette.methods, c, it, task) for c in cultures for it in items))
        progress.console.print(
            escape(f"{palette.agents.name}: {len(calls.base.stored) - before} new answers"), highlight=False
        )
    return run
