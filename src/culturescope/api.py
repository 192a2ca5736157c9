"""The Python API: make a run, reopen runs, score them as one long DataFrame, write the report.

    import culturescope
    results = culturescope.run(["scripted:culture"], cultures=["BRA", "CHN", "NGA"], limit=10)
    results.scores            # method, system, backbone, mode, round, culture, metric, value (fractions)
    results.to_parquet("out/")

Scores are fractions, as the formulas give them; the CLI multiplies by 100 when it prints.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from culturescope import registry
from culturescope.errors import CulturescopeError
from culturescope.survey import open_survey

if TYPE_CHECKING:
    import pandas as pd

    from culturescope.backends import BackboneSpec
    from culturescope.backends.base import Backend
    from culturescope.engine.store import Run
    from culturescope.report import ReportOptions
    from culturescope.survey import Survey

SCORE_COLUMNS = ["method", "system", "backbone", "mode", "round", "culture", "metric", "value"]


def _backbone(value: str | BackboneSpec | Backend) -> tuple[BackboneSpec, Backend | None]:
    from culturescope.backends import BackboneSpec

    if isinstance(value, str):
        return BackboneSpec.parse(value), None
    if isinstance(value, BackboneSpec):
        return value, None
    name = getattr(value, "name", None) or value.id
    return BackboneSpec(name=str(name), provider="object", model=value.id), value


@dataclass
class Results:
    """Runs and what they hold: ``responses`` (the response table), ``scores`` (long, fractions)."""

    runs: list[Run]
    survey: Survey
    cultures: list[str] | None = None
    _responses: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def responses(self) -> pd.DataFrame:
        if self._responses is None:
            import pandas as pd

            self._responses = pd.concat([r.responses() for r in self.runs], ignore_index=True)
        return self._responses

    @property
    def scores(self) -> pd.DataFrame:
        return score(self.responses, self.survey, self.cultures)

    def to_parquet(self, folder: str | Path) -> Path:
        """Write ``responses.parquet`` and ``scores.parquet`` into ``folder``; returns the folder."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        responses = self.responses.copy()
        for column in ("probs", "trace"):  # lists and dicts: kept as JSON text
            responses[column] = responses[column].map(lambda v: None if v is None else json.dumps(v))
        responses.to_parquet(folder / "responses.parquet", index=False)
        self.scores.to_parquet(folder / "scores.parquet", index=False)
        return folder

    def report(self, out: str | Path, options: ReportOptions | None = None) -> list[str]:
        """Write the HTML report; returns the lines of what was left out."""
        return report(self, out, options)


def load_run(*paths: str | Path, survey: str | Path | Survey | None = None) -> Results:
    """Reopen one or more run directories (made by any culturescope version with a manifest)."""
    from culturescope.engine.store import Run

    if not paths:
        raise CulturescopeError("load_run needs at least one run directory")
    return Results([Run.open(p) for p in paths], open_survey(survey))


def score(
    responses: pd.DataFrame, survey: str | Path | Survey | None = None, cultures: Sequence[str] | None = None
) -> pd.DataFrame:
    """Every method's scores of a response table, long: one row per (method, system, backbone, mode,
    round, culture, metric); ``culture`` is empty for system-level metrics. Each method scores its own
    systems (rows of an unclaimed system are scored by the majority, as Beyond Alignment's agents)."""
    import pandas as pd

    survey = open_survey(survey)
    owner = responses["system"].map(lambda s: registry.method_for(s).name)
    frames = []
    for method in registry.methods().values():
        rows = responses[owner == method.name]
        if rows.empty or method.score is None:
            continue
        found = method.part("score")(rows, survey, list(cultures) if cultures else None)
        frames.append(found.assign(method=method.name))
    if not frames:
        return pd.DataFrame(columns=SCORE_COLUMNS)
    return pd.concat(frames, ignore_index=True)[SCORE_COLUMNS]


def run(
    backbones: Sequence[str | BackboneSpec | Backend] | str = "embedded",
    *,
    cultures: Sequence[str] | None = None,
    limit: int | None = None,
    items: Sequence[str] | None = None,
    answer_modes: Sequence[str] = ("probs",),
    samples: int = 1,
    rounds: int = 0,
    option_order: str = "original",
    out: str | Path | None = None,
    cache: str | Path | None = None,
    survey: str | Path | Survey | None = None,
    quiet: bool = True,
) -> Results:
    """Agents of each culture answer the survey (Beyond Alignment's prompt; ``rounds`` > 0: social
    exposure), on any backbone: a spec string (``"embedded"``, ``"openai:gpt-4o-mini"``,
    ``"scripted:culture"``), a :class:`BackboneSpec` or a :class:`Backend` object. The run is stored
    in ``out`` (default ``runs/<backbone>-<digest>``) and resumes there; ``items``: the item ids to ask
    (default: all), ``limit``: the first N of them; ``option_order``: original, reversed or
    shuffled:SEED (``docs/analyses.md``)."""
    from rich.console import Console

    from culturescope.engine import lock
    from culturescope.engine.cache import RequestCache
    from culturescope.methods.beyond_alignment.run import Experiment, execute
    from culturescope.survey import PAPER_CULTURES

    survey = open_survey(survey)
    chosen = [_backbone(b) for b in ([backbones] if isinstance(backbones, str) else backbones)]
    experiment = Experiment(
        backbones=[spec for spec, _ in chosen],
        cultures=survey.resolve_cultures(list(cultures) if cultures else None, PAPER_CULTURES),
        modes=list(answer_modes),
        samples=samples,
        limit=limit,
        item_ids=[survey.item(i).id for i in items] if items is not None else None,
        rounds=rounds,
        option_order=option_order,
    )
    made = {spec.name: backend for spec, backend in chosen if backend is not None}
    out = Path(out) if out else experiment.default_dir(survey)
    console = Console(stderr=True, quiet=quiet)
    try:
        stored = execute(experiment, survey, out, RequestCache(Path(cache) if cache else None), console, made)
    finally:  # a notebook that made a run does not keep other processes out of it
        lock.release(out)
    return Results([stored], survey, experiment.cultures)


def report(results: Results, out: str | Path, options: ReportOptions | None = None) -> list[str]:
    """Write the HTML report of ``results`` to ``out``; returns the lines of what was left out."""
    from culturescope.methods.beyond_alignment.coverage import default_cultures
    from culturescope.report import ReportOptions
    from culturescope.report.page import write_report

    responses = results.responses
    cultures = results.cultures or default_cultures(responses[responses["mode"] != "judge"])
    return write_report(results.runs, responses, results.survey, list(cultures), Path(out), options or ReportOptions())
