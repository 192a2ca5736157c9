"""Survey response simulation (DEF): DEF respondents, its ablations and the baselines, into one run.

Each variant is a system of the response table. Respondents of the DEF variants, of Cao et al. and
of CCSV-single are agents ``{culture}/{index}`` (sample = index); CCSV-list is one agent
``{culture}/list`` whose list entries are the samples; ``probs`` is one agent per culture whose
answer carries the option distribution of the citizen prompt. Respondents answer the items in survey
order; a respondent with memory carries its conversation from item to item, rebuilt from the stored
answers when a run resumes, so a resumed run continues each conversation exactly where it stopped.
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
from culturescope.backends.base import Decoding, Messages, applied_decoding
from culturescope.engine.cache import RequestCache
from culturescope.engine.extract import OK
from culturescope.engine.prompts import prompts, restate, stated_instruction
from culturescope.engine.rundir import digest, open_run
from culturescope.engine.session import MODES, Session, choices_of, gather_all, mode_refusal, progress_bar
from culturescope.engine.store import Run
from culturescope.errors import CulturescopeError
from culturescope.methods.def_simulation import DEF_VARIANTS, SIMULATION_SYSTEMS, ccsv
from culturescope.methods.def_simulation.respondents import (
    Respondent,
    cao_prompt,
    check_baseline,
    citizen_prompt,
    conversation,
    draw_respondent,
    fixed_configuration,
    remember,
    rng_for,
)
from culturescope.survey import Culture, Item, Survey

SINGLE, LIST = "ccsv-single", "ccsv-list"
VARIANTS = SIMULATION_SYSTEMS
#: The citizen prompt's answer-format line (DEF §4.1), replaced in stated mode.
FORMAT_LINE = """You should tell me the answer in the format 'Answer:' and explain afterward using "Explanation:"."""
#: Variants whose procedure needs free text: CCSV critiques and rewrites a written answer; probs is itself a mode.
TEXT_ONLY = (SINGLE, LIST, "probs")


@dataclass
class Simulation:
    """What to simulate; defaults are the paper's settings (§5.1)."""

    backbones: list[BackboneSpec]
    cultures: list[str]
    variants: list[str] = field(default_factory=lambda: ["def"])
    respondents: int = 20  # n_test
    max_beams: int = 5  # B_m
    max_memory: int = 15  # L_m
    decodes: int = 5  # CCSV critiques and rewrites per answer
    items: list[str] | None = None  # item ids; None: the whole survey
    seed: int = 0
    choices: dict[str, list] = field(default_factory=dict)  # extra decoding values to draw (beyond the paper)
    baseline_decoding: str = "greedy"  # without a drawn configuration: greedy (Tables 1, 4) or sampled (§5.1)
    answer_mode: str = "sample"  # how the respondents answer: sample, constrained or stated (docs/backends.md)

    def __post_init__(self) -> None:
        if not self.backbones:
            raise CulturescopeError("no backbone given")
        bad = sorted(set(self.variants) - set(VARIANTS))
        if bad or not self.variants:
            raise CulturescopeError(f"unknown variant(s) {', '.join(bad) or '(none)'}; use {', '.join(VARIANTS)}")
        for name, value in [
            ("respondents", self.respondents),
            ("max beams", self.max_beams),
            ("decodes", self.decodes),
        ]:
            if value < 1:
                raise CulturescopeError(f"{name} must be at least 1")
        if self.max_memory < 0:
            raise CulturescopeError("max memory must be 0 or more")
        check_baseline(self.baseline_decoding)
        if self.answer_mode not in set(MODES) - {"probs"}:
            raise CulturescopeError(
                f"answer mode {self.answer_mode!r} is not one of sample, constrained, stated "
                "(probs is the variant probs)"
            )
        refused = [v for v in self.variants if v in TEXT_ONLY] if self.answer_mode != "sample" else []
        if refused:
            raise CulturescopeError(
                f"variant(s) {', '.join(refused)} run in sample mode only: CCSV critiques and rewrites a free-text "
                f"answer and probs is an answer mode of its own; run them without --answer-mode {self.answer_mode}"
            )

    def describe(self, survey: Survey) -> dict[str, Any]:
        """What the run is; settings beyond the defaults of earlier versions only when set, so runs made
        before them resume (no ``baseline_decoding`` recorded: greedy)."""
        beyond = {"choices": self.choices} if self.choices else {}
        if self.baseline_decoding != "greedy":
            beyond["baseline_decoding"] = self.baseline_decoding
        if self.answer_mode != "sample":
            beyond |= {"answer_mode": self.answer_mode, "mode_prompts": prompts(__package__, "def_modes")}
        return beyond | {
            "survey": survey.name,
            "system": "simulation",
            "cultures": self.cultures,
            "variants": self.variants,
            "respondents": self.respondents,
            "max_beams": self.max_beams,
            "max_memory": self.max_memory,
            "decodes": self.decodes,
            "items": self.items,
            "seed": self.seed,
            "prompts": {k: prompts(__package__, k) for k in ("def", "cao", "ccsv")},
            "backbones": [b.as_dict() | {"decoding": base_decoding(b).as_dict()} for b in self.backbones],
        }


def default_dir(sim: Simulation, survey: Survey) -> Path:
    return Path("runs") / f"simulate-{'-'.join(sim.cultures)}-{digest(sim.describe(survey))}"


def base_decoding(spec: BackboneSpec) -> Decoding:
    """§5.1: temperature 1 and top_p 1 unless the backbone sets them; new tokens as the backbone's
    default (512, the paper's; 64 for the embedded model, whose answers come first)."""
    temperature = spec.temperature if spec.temperature is not None else 1.0
    return replace(spec.decoding(), temperature=temperature)


def asked(messages: Messages, item: Item, mode: str) -> tuple[Messages, list[str] | None]:
    """The citizen's messages as answer ``mode`` asks them, and a constrained answer's choices."""
    templates = prompts(__package__, "def_modes")
    if mode == "stated":
        return restate(messages, FORMAT_LINE, stated_instruction(templates, len(item.options))), None
    return messages, (choices_of(templates["choice"], len(item.options)) if mode == "constrained" else None)


async def _respondent(
    s: Session, system: str, r: Respondent, items: list[Item], seed: int, task, mode: str = "sample"
) -> None:
    """One simulated citizen answers the items in order, carrying its memory (Algorithm 1), in answer ``mode``."""
    memory: list = []
    for k, item in enumerate(items):
        if system == "cao":
            prompt = cao_prompt(r.culture, item)
        else:
            prompt = citizen_prompt(r.persona(), item)
        key = (system, r.agent, item.id, r.index)
        if key in s.stored:
            text = s.stored[key] or ""
        else:
            messages, choices = asked(conversation(memory, prompt), item, mode)
            text = await s.chat(messages, r.decoding, 0, mode, choices)
            trace = r.trace() | {"memory_turns": len(memory), "decoding": applied_decoding(s.backend, r.decoding)}
            s.store(system, r.agent, r.culture.code, item, r.index, text, trace=trace, mode=mode)
        if r.memory_limit is not None:
            memory = remember(memory, item, text, r.memory_limit, rng_for(seed, r.culture.code, r.index, k + 1))
        s.progress.advance(task)


def ccsv_draws(decodes: int) -> int:
    """Model calls of one CCSV pass: the initial answer, the critiques, the rewrites and the vote."""
    return 2 * decodes + 2


async def _ccsv(
    s: Session, request: str, culture: Culture, decoding: Decoding, decodes: int, first: int = 0
) -> dict[str, Any]:
    """Initial answer -> ``decodes`` critiques -> ``decodes`` rewrites -> vote; the steps and the final text.
    Step t is sample ``first + t``: when sampled, every critique and rewrite is its own draw; when greedy
    (on a backend that honours it) the identical critique requests are one request."""
    initial = await s.chat([{"role": "user", "content": request}], decoding, first)
    critiques = await asyncio.gather(
        *(s.chat(ccsv.critique_messages(request, initial, culture), decoding, first + 1 + j) for j in range(decodes))
    )
    rewrite = ccsv.rewrite_messages(request, initial, list(critiques))
    rewrites = await asyncio.gather(*(s.chat(rewrite, decoding, first + 1 + decodes + j) for j in range(decodes)))
    vote = await s.chat(ccsv.vote_messages(request, list(rewrites), culture), decoding, first + 1 + 2 * decodes)
    chosen = ccsv.read_vote(vote, len(rewrites))
    return {
        "decoding": applied_decoding(s.backend, decoding),
        "initial": initial,
        "critiques": list(critiques),
        "rewrites": list(rewrites),
        "vote": vote,
        "chosen": chosen,  # None: the vote named no candidate, the first rewrite is kept
        "final": rewrites[chosen or 0],
    }


async def _ccsv_single(s: Session, r: Respondent, items: list[Item], decodes: int, task) -> None:
    for item in items:
        if (SINGLE, r.agent, item.id, r.index) not in s.stored:
            # Respondent n's steps are samples n·draws + t: with its seed (base + n) no two draws share a seed.
            first = r.index * ccsv_draws(decodes)
            steps = await _ccsv(s, citizen_prompt(r.culture.country, item), r.culture, r.decoding, decodes, first)
            s.store(SINGLE, r.agent, r.culture.code, item, r.index, steps["final"], trace=steps)
        s.progress.advance(task)


async def _ccsv_list(s: Session, culture: Culture, items: list[Item], sim: Simulation, base: Decoding, task) -> None:
    agent = f"{culture.code}/list"
    for item in items:
        if (LIST, agent, item.id, 0) not in s.stored:
            request = ccsv.list_prompt(culture, item, sim.respondents)
            steps = await _ccsv(s, request, culture, fixed_configuration(base, sim.baseline_decoding), sim.decodes)
            answers = ccsv.split_list(steps["final"], sim.respondents)
            for n in range(sim.respondents):  # missing entries are stored empty (status empty)
                extra = {"trace": steps if n == 0 else {"decoding": steps["decoding"]}}
                s.store(LIST, agent, culture.code, item, n, answers[n] if n < len(answers) else "", **extra)
        s.progress.advance(task)


async def _probs(s: Session, culture: Culture, items: list[Item], task) -> None:
    """One agent per culture: the option distribution after "Answer: " on the citizen prompt."""
    agent = f"{culture.code}/probs"
    for item in items:
        if ("probs", agent, item.id, 0) not in s.stored:
            messages = [{"role": "user", "content": citizen_prompt(culture.country, item)}]
            value = await s.probs(messages, prompts(__package__, "def")["answer_prefix"], len(item.options))
            if value["probs"] is None:  # the backend gave no distribution: keep its text
                s.store("probs", agent, culture.code, item, 0, value["text"] or "", mode="probs")
            else:
                answer = int(np.argmax(value["probs"])) + 1
                s.store(
                    "probs",
                    agent,
                    culture.code,
                    item,
                    0,
                    value["text"],
                    mode="probs",
                    probs=value["probs"],
                    answer=answer,
                    status=OK,
                )
        s.progress.advance(task)


def _jobs(s: Session, sim: Simulation, survey: Survey, variant: str, base: Decoding, progress) -> list:
    items = survey.select(sim.items)
    cultures = [survey.culture(c) for c in sim.cultures]
    per_culture = 1 if variant in (LIST, "probs") else sim.respondents
    task = progress.add_task(f"{s.backbone} [{variant}]", total=len(cultures) * per_culture * len(items))
    if variant == LIST:
        return [_ccsv_list(s, c, items, sim, base, task) for c in cultures]
    if variant == "probs":
        return [_probs(s, c, items, task) for c in cultures]
    modifications = DEF_VARIANTS.get(variant, ())
    respondents = [
        draw_respondent(
            c,
            n,
            modifications,
            base,
            s.backend.knobs,
            sim.max_beams,
            sim.max_memory,
            sim.seed,
            sim.choices,
            sim.baseline_decoding,
        )
        for c in cultures
        for n in range(sim.respondents)
    ]
    if variant == SINGLE:
        return [_ccsv_single(s, r, items, sim.decodes, task) for r in respondents]
    return [_respondent(s, variant, r, items, sim.seed, task, sim.answer_mode) for r in respondents]


def execute_simulation(
    sim: Simulation, survey: Survey, out: Path, cache: RequestCache, console: Console | None = None
) -> Run:
    """Run every variant on every backbone; what the run already holds is not asked again."""
    console = console or Console(stderr=True)
    run = open_run(out, sim.describe(survey))
    for spec in sim.backbones:
        backend = spec.make()
        if "probs" in sim.variants and not backend.supports_probs:
            raise CulturescopeError(f"{spec.name}: the backend gives no option probabilities (variant probs)")
        refusal = mode_refusal(backend, sim.answer_mode)
        if refusal:
            raise CulturescopeError(f"{spec.name}: no {sim.answer_mode} answers: {refusal}")
        with progress_bar(console) as progress:
            for variant in sim.variants:
                session = Session(backend, spec.name, cache, run, progress)
                before = len(session.stored)
                asyncio.run(gather_all(_jobs(session, sim, survey, variant, base_decoding(spec), progress)))
                progress.console.print(
                    escape(f"{spec.name} [{variant}]: {len(session.stored) - before} new responses"), highlight=False
                )
    return run
