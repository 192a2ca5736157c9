"""Run the multi-agent Cultural Palette and its baselines (Cultural Palette, §4.2, §5.3–5.5) into one run.

Every method answers every (culture, item) once per repeat: agent ``{culture}``, system = the method,
backbone = the continent agents' backbone, ``sample`` = the repeat. One repeat decodes greedily; with
several (Appendix B: "the average result from five runs"), every text is sampled at the backbone's own
temperature, repeat r with seed ``seed + r``. The row's ``probs`` is P_gen (the decision's option
distribution, where the backend gives one) and its ``trace`` keeps the drafts, the regulated memory,
the meta agent that decided and, for the steerable baseline, the community chosen. With answer mode
``constrained`` every decision is sampled but can only be "Answer: k"; with ``stated`` every decision
states P_gen as JSON (our prompt); drafts and memory stay free text (docs/palette.md).
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
from culturescope.engine.cache import RequestCache
from culturescope.engine.extract import OK, choice_text, parse_answer
from culturescope.engine.prompts import prompts, restate, stated_instruction
from culturescope.engine.rundir import digest, open_run
from culturescope.engine.session import MODES, Session, choices_of, gather_all, mode_refusal, progress_bar, read_text
from culturescope.engine.store import Run
from culturescope.errors import CulturescopeError
from culturescope.methods.cultural_palette import agents as pal
from culturescope.methods.cultural_palette.training.merging import NAMES as MERGED
from culturescope.methods.cultural_palette.training.orpo import BASE_RECORD
from culturescope.survey import Culture, Item, Survey


@dataclass
class Palette:
    agents: BackboneSpec  # the continent agents (one backbone, five continent prompts) and the baselines' LLM
    cultures: list[str]
    methods: list[str] | None = None  # default: every method, the Joint baseline only with a joint model
    items: list[str] | None = None
    meta: BackboneSpec | None = None  # the meta agent (default: the agents' backbone); w/o CM always uses that
    continent_backbones: dict[str, BackboneSpec] = field(default_factory=dict)  # a backbone per continent
    joint: BackboneSpec | None = None  # the Joint baseline's model (``palette train --models ...,joint``)
    repeats: int = 1
    answer_mode: str = "sample"  # how decisions are made: sample (+ P_gen where given), constrained or stated

    def __post_init__(self) -> None:
        if self.answer_mode not in set(MODES) - {"probs"}:
            raise CulturescopeError(
                f"answer mode {self.answer_mode!r} is not one of sample, constrained, stated "
                "(sample mode already reads P_gen where the backend gives it)"
            )
        if self.methods is None:
            self.methods = [m for m in pal.METHODS if m != pal.JOINT or self.joint]
        bad = sorted(set(self.methods) - set(pal.METHODS))
        if bad or not self.methods:
            raise CulturescopeError(f"unknown method(s) {', '.join(bad) or '(none)'}; use {', '.join(pal.METHODS)}")
        if pal.JOINT in self.methods and self.joint is None:
            raise CulturescopeError(
                "the joint method needs a Joint model: --trained WORKSPACE after `palette train --models ...,joint`"
            )
        unknown = sorted(set(self.continent_backbones) - set(pal.CONTINENTS))
        if unknown:
            raise CulturescopeError(f"unknown continent(s) {', '.join(unknown)}; use {', '.join(pal.CONTINENTS)}")
        if self.repeats < 1:
            raise CulturescopeError(f"--repeats must be at least 1, not {self.repeats}")

    @property
    def meta_name(self) -> str:
        """The meta agent as the labels name it: the base model, a merge of a training workspace, or its backbone."""
        meta = self.meta
        if meta is None or (meta.provider, meta.model, meta.base_url) == (
            self.agents.provider,
            self.agents.model,
            self.agents.base_url,
        ):
            return pal.BASE_META
        path = Path(meta.model or "")
        if meta.provider == "transformers" and path.name in MERGED and (path.parent / BASE_RECORD).is_file():
            return MERGED[path.name]
        return meta.name

    def meta_of(self, method: str) -> str | None:
        """The meta agent that decides for ``method`` (None: a baseline, no meta agent)."""
        if method not in pal.PALETTE:
            return None
        return pal.BASE_META if method == "palette-no-cm" else self.meta_name

    def labels(self) -> dict[str, str]:
        return {m: pal.label(m, self.meta_of(m)) for m in self.methods}

    def decoding(self, spec: BackboneSpec) -> Decoding:
        """Greedy with one repeat (reproducible); with several, the backbone's own sampling (repeat r: seed + r)."""
        own = spec.decoding()
        return replace(own, temperature=0.0) if self.repeats == 1 else own

    def seeds(self) -> list[int]:
        """The seed of each repeat (every backbone's seed + r; greedy decoding uses none)."""
        return [self.agents.seed + r for r in range(self.repeats)]

    def describe(self, survey: Survey) -> dict[str, Any]:
        if self.answer_mode != "sample":  # only then: sample runs keep their digest
            return self._describe(survey) | {
                "answer_mode": self.answer_mode,
                "mode_prompts": prompts(__package__, "palette_modes"),
            }
        return self._describe(survey)

    def _describe(self, survey: Survey) -> dict[str, Any]:
        return {
            "survey": survey.name,
            "system": "palette",
            "cultures": self.cultures,
            "methods": self.methods,
            "labels": self.labels(),
            "items": self.items,
            "agents": self.agents.as_dict(),
            "meta": (self.meta or self.agents).as_dict(),
            "continent_backbones": {c: b.as_dict() for c, b in sorted(self.continent_backbones.items())},
            "joint": self.joint.as_dict() if self.joint else None,
            "repeats": self.repeats,
            "seeds": self.seeds(),
            "decoding": self.decoding(self.agents).as_dict(),
            "prompts": prompts(__package__, "palette"),
        }

    def default_dir(self, survey: Survey) -> Path:
        return Path("runs") / f"palette-{self.agents.name.replace('/', '_')}-{digest(self.describe(survey))}"


#: The answer-format line of every decision's prompt, replaced in stated mode.
FORMAT_LINE = "Reply in the format 'Answer: <number of the option>'."


class _Calls:
    """The sessions of every backbone involved, and the decisions made with them."""

    def __init__(self, palette: Palette, cache: RequestCache, run: Run, progress) -> None:
        made: dict[str, Session] = {}
        self.decoding: dict[str, Decoding] = {}
        self.mode = palette.answer_mode

        def session(spec: BackboneSpec) -> Session:
            if spec.name not in made:
                backend = spec.make()
                refusal = mode_refusal(backend, self.mode)
                if refusal:
                    raise CulturescopeError(f"{spec.name}: no {self.mode} decisions: {refusal}")
                made[spec.name] = Session(backend, spec.name, cache, run, progress)
                self.decoding[spec.name] = palette.decoding(spec)
            return made[spec.name]

        self.base = session(palette.agents)
        self.meta = session(palette.meta or palette.agents)
        self.continent = {c: session(palette.continent_backbones.get(c, palette.agents)) for c in pal.CONTINENTS}
        self.joint = session(palette.joint) if palette.joint else None

    async def text(self, s: Session, messages, repeat: int) -> str:
        return await s.chat(messages, self.decoding[s.backbone], repeat)

    async def decide(self, s: Session, messages, item: Item, repeat: int) -> dict[str, Any]:
        """The decision as text and, where the backend gives one (or states one), as P_gen."""
        n = len(item.options)
        templates = prompts(__package__, "palette_modes")
        if self.mode == "constrained":
            choices = choices_of(templates["choice"], n)
            text = await s.chat(messages, self.decoding[s.backbone], repeat, self.mode, choices)
            return {"text": text, "probs": None}
        if self.mode == "stated":
            asked = restate(messages, FORMAT_LINE, stated_instruction(templates, n))
            text = await s.chat(asked, self.decoding[s.backbone], repeat, self.mode)
            return {"text": text, "probs": read_text("stated", text, n)["probs"]}
        text = await self.text(s, messages, repeat)
        probs = None
        if s.backend.supports_probs:
            prefix = prompts(__package__, "palette")["answer_prefix"]
            probs = (await s.probs(messages, prefix, len(item.options)))["probs"]
        return {"text": text, "probs": probs}


async def _drafts(calls: _Calls, culture: Culture, item: Item, repeat: int) -> dict[str, str]:
    texts = await asyncio.gather(
        *(calls.text(calls.continent[c], pal.draft_messages(c, culture, item), repeat) for c in pal.CONTINENTS)
    )
    return dict(zip(pal.CONTINENTS, texts))


async def _method(
    calls: _Calls, palette: Palette, method: str, culture: Culture, item: Item, drafts, r: int
) -> tuple[dict, dict]:
    """(decision, trace) of one method on one item in repeat ``r``."""
    if method in pal.PALETTE:
        meta = calls.base if method == "palette-no-cm" else calls.meta
        d = await drafts() if method != "palette-no-cd" else {}
        if method in ("palette", "palette-no-cm"):
            memory = await calls.text(meta, pal.regulate_messages(culture, item, d), r)
        else:
            memory = pal.drafts_text(d)
        decision = await calls.decide(meta, pal.final_messages(culture, item, memory), item, r)
        return decision, {"drafts": d, "memory": memory, "meta": palette.meta_of(method)}
    if method == "moe":
        continent = culture.continent
        agent = calls.continent[continent]
        decision = await calls.decide(agent, pal.agent_messages(continent, culture, item), item, r)
        return decision, {"community": continent}
    if method == "modular-steerable":
        reply = await calls.text(calls.base, pal.steer_messages(culture), r)
        community = pal.read_community(reply) or culture.continent  # no community named: the country's own
        agent = calls.continent[community]
        decision = await calls.decide(agent, pal.agent_messages(community, culture, item), item, r)
        return decision, {"steer": reply, "community": community}
    if method == "modular-distributional":
        each = await asyncio.gather(
            *(calls.decide(calls.continent[c], pal.agent_messages(c, culture, item), item, r) for c in pal.CONTINENTS)
        )
        dists = [e["probs"] for e in each if e["probs"] is not None]
        if not dists and calls.mode != "stated":  # text only: each community's distribution is its parsed answer
            codes = [parse_answer(choice_text(e["text"]), item.options) for e in each]
            dists = [np.eye(len(item.options))[c.answer - 1] for c in codes if c.status == OK]
        probs = list(np.mean(dists, axis=0)) if dists else None
        texts = {c: e["text"] for c, e in zip(pal.CONTINENTS, each)}
        return {"text": "", "probs": probs}, {"communities": texts}
    if method == pal.JOINT:
        return await calls.decide(calls.joint, pal.baseline_messages(method, culture, item), item, r), {}
    d = await drafts() if method == "modular-overton" else None
    decision = await calls.decide(calls.base, pal.baseline_messages(method, culture, item, d), item, r)
    return decision, ({"drafts": d} if d else {})


async def _answer(calls: _Calls, palette: Palette, culture: Culture, item: Item, r: int, task) -> None:
    cached: dict[str, dict] = {}

    async def drafts() -> dict[str, str]:  # shared by every method of this item that uses them
        if "d" not in cached:
            cached["d"] = await _drafts(calls, culture, item, r)
        return cached["d"]

    s = calls.base
    for method in palette.methods:
        if (method, culture.code, item.id, r) not in s.stored:
            decision, trace = await _method(calls, palette, method, culture, item, drafts, r)
            if palette.answer_mode != "sample":
                _store_mode(s, palette.answer_mode, method, culture, item, r, decision, trace)
                s.progress.advance(task)
                continue
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
                r,
                decision["text"],
                mode=mode,
                answer=answer,
                status=status,
                trace=trace,
                **extra,
            )
        s.progress.advance(task)


def _store_mode(s: Session, mode: str, method: str, culture: Culture, item: Item, r: int, decision, trace) -> None:
    """A decision of a constrained or stated run, read from its text in that mode; the distributional
    baseline has no text of its own: its answer is the top of the mean of its communities' P_gen."""
    extra: dict[str, Any] = {}
    if not decision["text"] and decision["probs"] is not None:
        probs = [float(p) for p in decision["probs"]]
        extra = {"probs": probs, "answer": int(np.argmax(probs)) + 1, "status": OK}
    s.store(method, culture.code, culture.code, item, r, decision["text"], mode=mode, trace=trace, **extra)


def execute_palette(
    palette: Palette, survey: Survey, out: Path, cache: RequestCache, console: Console | None = None
) -> Run:
    """Every method on every (culture, item), once per repeat; what the run already holds is not asked again."""
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
    if "palette" in palette.methods and palette.meta_name == pal.BASE_META:
        console.print(
            "note: the meta agent is the base model, so 'palette' is the w/o CM ablation; the paper's meta "
            "agent is Cultural MoErges (--trained WORKSPACE, docs/palette.md)",
            highlight=False,
        )
    with progress_bar(console) as progress:
        calls = _Calls(palette, cache, run, progress)
        before = len(calls.base.stored)
        total = len(cultures) * len(items) * palette.repeats
        task = progress.add_task(f"palette [{palette.agents.name}]", total=total)
        asyncio.run(
            gather_all(
                _answer(calls, palette, c, it, r, task)
                for r in range(palette.repeats)
                for c in cultures
                for it in items
            )
        )
        progress.console.print(
            escape(f"{palette.agents.name}: {len(calls.base.stored) - before} new answers"), highlight=False
        )
    return run
