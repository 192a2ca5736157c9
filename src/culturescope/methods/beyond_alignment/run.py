"""An experiment: backbones × cultures × items × samples in one or more answer modes, into one run.

A YAML experiment file holds the same fields as the ``culturescope run`` options::

    cultures: [BRA, CHN, MEX, NGA, NZL]
    modes: [sample, probs]  # and/or constrained, stated (docs/backends.md)
    samples: 1
    limit: null            # first N items only (of the survey, or of only / per_dimension)
    only: null             # item ids to ask, e.g. [Q1, Q57] (default: all)
    per_dimension: null    # or: the first N items of each value dimension
    rounds: 0              # social exposure rounds after round 0 (paper: 5)
    show: raw              # what exposure shows of the others' answers: raw (reply text) or answer
    preset: paper          # optional: the paper's reference decoding per backbone (backends/presets.py)
    option_order: original # or reversed, shuffled:SEED: options shown reordered and renumbered (survey/order.py)
    backbones:
      - provider: embedded
      - name: qwen-local
        provider: openai
        model: Qwen/Qwen2.5-7B-Instruct
        base_url: http://127.0.0.1:8000/v1
      - provider: openai
        model: gpt-4o-mini
        api_key_env: OPENAI_API_KEY
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from culturescope.backends import BackboneSpec, Backend, presets
from culturescope.engine.batch import Spending, answer
from culturescope.engine.cache import RequestCache
from culturescope.engine.cost import record_usage
from culturescope.engine.plan import Tally, tally_for
from culturescope.engine.prompts import prompts
from culturescope.engine.rundir import digest, open_run
from culturescope.engine.session import MODES, Request, done_keys, mode_refusal, run_requests
from culturescope.engine.store import MANIFEST, Run
from culturescope.engine.yamlfile import read_yaml
from culturescope.errors import CulturescopeError
from culturescope.methods.beyond_alignment import budgeting, exposure
from culturescope.methods.beyond_alignment.static import answer_prefix, mode_messages, mode_prompts, persona_messages
from culturescope.survey import OptionOrder, Survey, budgeting_projects


def default_modes(backbones: list[BackboneSpec]) -> list[str]:
    """The answer modes when none is given: the paper's ``sample``, but ``probs`` when every backbone is an
    embedded (llama.cpp) one (the default model's 135M parameters never write a parseable ``\\boxed{n}``)."""
    return ["probs"] if all(b.provider == "embedded" for b in backbones) else ["sample"]


@dataclass
class Experiment:
    backbones: list[BackboneSpec]
    cultures: list[str]
    modes: list[str] = field(default_factory=lambda: ["sample"])
    samples: int = 1
    limit: int | None = None
    item_ids: list[str] | None = None  # the items to ask (--only, --per-dimension); None: the survey's, in order
    rounds: int = 0
    show: str = "raw"
    preset: str | None = None  # the decoding preset the backbones were set with (presets.apply_preset)
    option_order: str = "original"  # original, reversed or shuffled:SEED (survey/order.py)

    def __post_init__(self) -> None:
        if not self.backbones:
            raise CulturescopeError("no backbone given")
        names = [b.name for b in self.backbones]
        if len(set(names)) != len(names):
            raise CulturescopeError(f"two backbones share a name in {', '.join(names)}; give each a 'name'")
        bad = sorted(set(self.modes) - set(MODES))
        if bad or not self.modes:
            raise CulturescopeError(f"unknown answer mode(s) {', '.join(bad) or '(none)'}; use {', '.join(MODES)}")
        if self.samples < 1:
            raise CulturescopeError("samples must be at least 1")
        if self.limit is not None and self.limit < 1:
            raise CulturescopeError("limit must be at least 1")
        if self.item_ids is not None and not self.item_ids:
            raise CulturescopeError("no item selected")
        if self.rounds < 0:
            raise CulturescopeError("rounds must be 0 or more")
        if self.show not in ("raw", "answer"):
            raise CulturescopeError(f"show must be raw or answer, not {self.show!r}")
        if self.preset is not None:
            presets.check(self.preset)
        self.option_order = OptionOrder.parse(self.option_order).name

    @property
    def order(self) -> OptionOrder:
        return OptionOrder.parse(self.option_order)

    @property
    def system(self) -> str:
        return exposure.SYSTEM if self.rounds else "static"

    def describe(self, survey: Survey) -> dict[str, Any]:
        """What identifies this experiment; a run directory holds exactly one."""
        described = {
            "survey": survey.name,
            "system": self.system,
            "cultures": self.cultures,
            "modes": self.modes,
            "samples": self.samples,
            "limit": self.limit,
            "prompts": prompts(__package__, "beyond_alignment"),
            "backbones": [b.as_dict() | {"decoding": b.decoding().as_dict()} for b in self.backbones],
        }
        if set(self.modes) - {"sample", "probs"}:  # only then: runs of the first two modes keep their digest
            described["mode_prompts"] = mode_prompts()
        if self.item_ids is not None:  # only then: a run chosen by --limit alone keeps its digest and resumes
            described["items"] = self.item_ids
        if self.preset:
            described["preset"] = self.preset
        if self.option_order != "original":  # only then: runs in the survey's order keep their digest
            described["option_order"] = self.option_order
        if self.rounds:
            described |= {
                "rounds": self.rounds,
                "show": self.show,
                "exposure_prompts": prompts(__package__, "beyond_alignment_exposure"),
            }
        return described

    def default_dir(self, survey: Survey) -> Path:
        return Path("runs") / f"{self.backbones[0].name.replace('/', '_')}-{digest(self.describe(survey))}"

    def items(self, survey: Survey) -> list:
        """The items asked: ``item_ids`` (default: the survey's), then the first ``limit`` of them."""
        chosen = survey.select(self.item_ids)
        return list(chosen[: self.limit] if self.limit else chosen)

    def requests(self, survey: Survey, mode: str = "sample") -> list[Request]:
        """Round 0: every agent answers every item on its own (shown in ``option_order``), asked as answer
        ``mode`` asks."""
        shown = [self.order.shown(it) for it in self.items(survey)]
        return [
            Request(
                self.system,
                c,
                c,
                it.id,
                len(it.options),
                0,
                s,
                mode_messages(persona_messages(survey.culture(c), it), mode, len(it.options)),
                order=perm,
            )
            for c in self.cultures
            for it, perm in shown
            for s in range(self.samples)
        ]


def load_experiment(path: Path) -> dict[str, Any]:
    """The fields of a YAML experiment file, checked."""
    data = read_yaml(path, "file")
    if not isinstance(data, dict):
        raise CulturescopeError(f"{path}: expected a mapping with 'backbones'")
    known = {
        "backbones",
        "cultures",
        "modes",
        "samples",
        "limit",
        "only",
        "per_dimension",
        "rounds",
        "show",
        "preset",
        "option_order",
    }
    unknown = sorted(set(data) - known)
    if unknown:
        raise CulturescopeError(f"{path}: unknown key(s) {', '.join(unknown)}")
    backbones = data.get("backbones") or []
    if not isinstance(backbones, list):
        raise CulturescopeError(f"{path}: 'backbones' must be a list")
    data["backbones"] = [
        BackboneSpec.from_dict(_relative_to(path, b) if isinstance(b, dict) else {}, f"{path}: backbone {n}")
        for n, b in enumerate(backbones, start=1)
    ]
    return data


def _relative_to(path: Path, backbone: dict[str, Any]) -> dict[str, Any]:
    """A backbone's ``chat_template`` path, relative to the experiment file's folder."""
    template = backbone.get("chat_template")
    if isinstance(template, str) and not Path(template).expanduser().is_absolute():
        return backbone | {"chat_template": str(path.parent / template)}
    return backbone


def execute(
    experiment: Experiment,
    survey: Survey,
    out: Path,
    cache: RequestCache,
    console: Console | None = None,
    made: dict[str, Backend] | None = None,
    spending: Spending | None = None,
) -> Run:
    """Run every backbone in every mode; already stored responses are skipped. ``made``: backends
    already made, by backbone name (the Python API's Backend objects); the others are made from specs.
    ``spending``: ``--max-cost``, ``--batch`` (``engine/batch.py``); the tokens and cost per backbone
    go into the manifest however the run ends."""
    console = console or Console(stderr=True)
    run = open_run(out, experiment.describe(survey))
    spending = spending or Spending()
    try:
        _execute(experiment, survey, out, cache, console, made, spending, run)
    finally:
        record_usage(run, spending.table())
    return run


def _execute(experiment, survey, out, cache, console, made, spending: Spending, run: Run) -> None:
    choice = mode_prompts()["choice"]
    for spec in experiment.backbones:
        backend = (made or {}).get(spec.name) or spec.make()
        for mode in experiment.modes:
            refusal = mode_refusal(backend, mode)
            if refusal:
                console.print(f"[yellow]skipping {mode} mode for {escape(spec.name)}[/]: {escape(refusal)}")
                continue
            todo = experiment.requests(survey, mode)
            for round in range(experiment.rounds + 1):
                if round:  # built from the stored previous round, complete by now
                    t = run.responses()
                    previous = t[
                        (t["system"] == experiment.system)
                        & (t["backbone"] == spec.name)
                        & (t["mode"] == mode)
                        & (t["round"] == round - 1)
                    ]
                    todo = exposure.round_requests(
                        survey,
                        experiment.cultures,
                        experiment.items(survey),
                        previous,
                        round,
                        experiment.samples,
                        experiment.show,
                        mode,
                        experiment.order,
                    )
                n = answer(
                    spec, backend, todo, mode, spec.decoding(), answer_prefix(), cache, run, console, choice, spending
                )
                if mode == "probs" and getattr(backend, "probs_notice", None) and not round:
                    console.print(f"[yellow]notice[/]: {escape(backend.probs_notice)}", highlight=False)
                where = f" round {round}" if experiment.rounds else ""
                console.print(
                    escape(f"{spec.name} [{mode}]{where}: {n} new responses ({len(todo) - n} already in {out})"),
                    highlight=False,
                )


def plan(experiment: Experiment, survey: Survey, out: Path, cache: RequestCache, made=None) -> list[Tally]:
    """``--dry-run``: per backbone, what ``execute`` would send (``engine/plan.py``); writes nothing. A
    later exposure round is counted from the stored previous round where it is complete, else from
    placeholder answers of the typical length (its cache is then not checked)."""
    import pandas as pd

    from culturescope.engine.cost import output_tokens

    run = None
    if (out / MANIFEST).exists():
        run = Run.open(out)
        if run.manifest.get("experiment") != experiment.describe(survey):
            raise CulturescopeError(f"{out} holds a different experiment; choose another --out")
    stored = run.responses() if run is not None else pd.DataFrame(columns=["backbone", "mode", "round", "usage"])
    done = done_keys(run) if run is not None else set()
    items, tallies = experiment.items(survey), []
    for spec in experiment.backbones:
        tally = tally_for(spec, (made or {}).get(spec.name))
        for mode in experiment.modes:
            if tally.backend is not None and mode_refusal(tally.backend, mode):
                continue
            mine = stored[(stored["backbone"] == spec.name) & (stored["mode"] == mode)]
            outs = [u["output"] for u in mine["usage"] if isinstance(u, dict)]
            observed = sum(outs) / len(outs) if outs else None
            tally.add(experiment.requests(survey, mode), mode, spec.decoding(), answer_prefix(), cache, done, observed)
            for rnd in range(1, experiment.rounds + 1):
                previous = mine[mine["round"] == rnd - 1]
                known = len(previous) == len(experiment.cultures) * len(items) * experiment.samples
                if not known:
                    filler = "x" * round(output_tokens(mode, spec.decoding(), observed) * 4)
                    previous = pd.DataFrame(
                        [
                            {"culture": c, "item": it.id, "sample": s, "raw": filler, "answer": 1, "mode": mode}
                            for c in experiment.cultures
                            for it in items
                            for s in range(experiment.samples)
                        ]
                    )
                todo = exposure.round_requests(
                    survey,
                    experiment.cultures,
                    items,
                    previous,
                    rnd,
                    experiment.samples,
                    experiment.show,
                    mode,
                    experiment.order,
                )
                tally.add(todo, mode, spec.decoding(), answer_prefix(), cache, done, observed, known=known)
        tallies.append(tally)
    return tallies


def execute_budgeting(
    backbones: list[BackboneSpec],
    survey: Survey,
    cultures: list[str],
    samples: int,
    out: Path,
    cache: RequestCache,
    console: Console | None = None,
) -> Run:
    """Participatory budgeting (§7): every agent votes ``samples`` times (sample mode)."""
    console = console or Console(stderr=True)
    projects = budgeting_projects()
    described = {
        "survey": survey.name,
        "system": budgeting.SYSTEM,
        "cultures": cultures,
        "samples": samples,
        "prompts": prompts(__package__, "budgeting"),
        "projects": projects,
        "backbones": [b.as_dict() | {"decoding": b.decoding().as_dict()} for b in backbones],
    }
    run = open_run(out, described)
    requests = [
        Request(
            budgeting.SYSTEM,
            c,
            c,
            budgeting.ITEM,
            len(projects),
            0,
            s,
            budgeting.ballot_messages(survey.culture(c), projects),
            status_of=budgeting.ballot_status,
        )
        for c in cultures
        for s in range(samples)
    ]
    for spec in backbones:
        n = run_requests(spec.make(), spec.name, requests, "sample", spec.decoding(), "", cache, run, console)
        console.print(escape(f"{spec.name}: {n} new ballots ({len(requests) - n} already in {out})"), highlight=False)
    return run
