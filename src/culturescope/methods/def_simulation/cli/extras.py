"""``simulate judge``, ``ttest`` and ``rephrase``: the insensitivity judge, comparing groups of models,
rephrasing the survey. The method's modules are imported in the commands that use them."""

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape

from culturescope.backends import BackboneSpec
from culturescope.cli.options import (
    AnsweredCulturesOpt,
    CulturesFileOpt,
    ItemsOpt,
    ReferenceOpt,
    RunsArg,
    SurveyOpt,
    load_runs,
    load_survey_options,
    parse_roles,
    renamed,
    resumable,
    split_names,
)
from culturescope.cli.output import Format, FormatOpt, JsonOpt, emit, output_format
from culturescope.errors import CulturescopeError
from culturescope.methods.def_simulation.cli import simulate_app
from culturescope.methods.def_simulation.cli.core import DimensionsOpt, scored


@simulate_app.command("judge")
def judge(
    runs: RunsArg,
    role: Annotated[
        Optional[list[str]],
        typer.Option(
            "--role",
            metavar="NAME=SPEC",
            help="judge=SPEC: the judge's backbone, as for `run` (default: embedded).",
        ),
    ] = None,
    rate: Annotated[float, typer.Option(help="Share of each system's responses to judge (paper: 0.01).")] = 0.01,
    seed: Annotated[int, typer.Option(help="Seed of the sample of responses.")] = 0,
    out_dir: Annotated[
        Optional[Path],
        typer.Option("--out", help="Where the verdicts go (default: runs/judge-<hash>); rerun to resume."),
    ] = None,
    cache: Annotated[Optional[Path], typer.Option(help="Request cache (SQLite).")] = None,
    format: FormatOpt = Format.table,
    survey_name: SurveyOpt = None,
    items: ItemsOpt = None,
    reference: ReferenceOpt = None,
    cultures_file: CulturesFileOpt = None,
    json_: JsonOpt = False,
    judge_backbone: Annotated[
        Optional[str], typer.Option("--judge", hidden=True, help="Deprecated: use --role judge=SPEC.")
    ] = None,
) -> None:
    """Insensitivity measurement (§4.2.4, Fig. 9): an LLM judge labels a sample of responses with
    qc, rp, iu, cv, ir, ff; the share of judged responses with each problem, per system."""
    from culturescope.engine.cache import RequestCache
    from culturescope.engine.rundir import digest
    from culturescope.methods.def_simulation.judge import CATEGORIES
    from culturescope.methods.def_simulation.judging import describe_judging, execute_judging, insensitivity

    fmt = output_format(format, json_)
    roles = parse_roles(role, ["judge"], "simulate judge")
    judge_spec = renamed(
        roles.get("judge"), judge_backbone, "--judge", "--role judge=SPEC", f"--role judge={judge_backbone}"
    )
    survey = load_survey_options(items, reference, cultures_file, survey_name)
    opened, responses = load_runs(runs)
    spec = BackboneSpec.parse(judge_spec or "embedded")
    described = describe_judging([r.name for r in opened], spec, rate, seed)
    out_dir = out_dir or Path("runs") / f"judge-{digest(described)}"
    err = Console(stderr=True, soft_wrap=True)
    err.print(escape(f"run directory: {out_dir}"), highlight=False)
    judged = resumable(
        "verdict", out_dir, lambda: execute_judging(responses, survey, described, out_dir, RequestCache(cache), err)
    )
    legend = ", ".join(f"{k} = {v}" for k, v in CATEGORIES.items())
    emit(insensitivity(judged.responses()), f"Insensitivity (% of judged responses), judge {spec.name}", fmt, [legend])


@simulate_app.command("ttest")
def ttest_(
    runs: RunsArg,
    group_a: Annotated[str, typer.Option(help="Comma-separated backbones of the first group.")],
    group_b: Annotated[str, typer.Option(help="Comma-separated backbones of the second group.")],
    system: Annotated[str, typer.Option(help="The system whose divergences are compared.")] = "def",
    cultures: AnsweredCulturesOpt = None,
    measure: Annotated[str, typer.Option(help="kl, kl-eq1 or js.")] = "kl",
    equal_var: Annotated[
        bool, typer.Option(help="Pooled variance and n₁+n₂−2 degrees of freedom (Table 3's DF) instead of Welch.")
    ] = False,
    dimensions: DimensionsOpt = None,
    format: FormatOpt = Format.table,
    survey_name: SurveyOpt = None,
    items: ItemsOpt = None,
    reference: ReferenceOpt = None,
    cultures_file: CulturesFileOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Eq. 7 / Table 3: do two groups of models differ? Each value is one model's divergence on one
    value dimension; one row per culture."""
    from culturescope.methods.def_simulation.score import preferences
    from culturescope.methods.def_simulation.ttest import ttest

    survey, responses, chosen, dimension_of = scored(
        runs, cultures, items, reference, cultures_file, dimensions, survey_name
    )
    found = [p for p in preferences(responses, survey, chosen, measure, dimension_of) if p.system == system]
    a, b = split_names(group_a), split_names(group_b)
    known = {p.backbone for p in found}
    for name in a + b:
        if name not in known:
            raise CulturescopeError(
                f"no backbone {name!r} with system {system!r}; the runs have: {', '.join(sorted(known))}"
            )
    rows = []
    for culture in chosen:
        values = {
            g: [v for p in found if p.culture == culture and p.backbone in names for v in p.by_dimension.values()]
            for g, names in (("a", a), ("b", b))
        }
        result = ttest(values["a"], values["b"], equal_var)
        rows.append({"culture": culture, **result.as_dict()})
    emit(
        rows,
        f"t-test of eq. 7, {measure} per value dimension: group A = {group_a}, group B = {group_b}",
        output_format(format, json_),
    )


@simulate_app.command("rephrase")
def rephrase(
    out_dir: Annotated[Path, typer.Option("--out", help="Directory for items.json, reference.json, cultures.json.")],
    backbone: Annotated[
        Optional[list[str]],
        typer.Option(
            "--backbone",
            "-b",
            help="The rephrasing model, as for `run` (default: embedded). One: the command writes one survey; "
            "rephrase with another model into another --out.",
        ),
    ] = None,
    variants: Annotated[int, typer.Option(help="Rephrased variants per item.")] = 2,
    cache: Annotated[Optional[Path], typer.Option(help="Request cache (SQLite).")] = None,
    survey_name: SurveyOpt = None,
    items: ItemsOpt = None,
    reference: ReferenceOpt = None,
    cultures_file: CulturesFileOpt = None,
) -> None:
    """Survey rephrasing (§4.1 step 3): a model rewrites each question stem; options and human
    shares carry over. Then simulate over all variants with --survey OUT."""
    from culturescope.engine.cache import RequestCache
    from culturescope.methods.def_simulation.rephrase import rephrase_survey

    if backbone and len(backbone) > 1:
        raise CulturescopeError(
            f"simulate rephrase takes one --backbone (the rephrasing model), not {len(backbone)}; "
            "run it once per model, each with its own --out"
        )
    survey = load_survey_options(items, reference, cultures_file, survey_name)
    spec = BackboneSpec.parse(backbone[0] if backbone else "embedded")
    counts = rephrase_survey(survey, spec, variants, out_dir, RequestCache(cache), Console(stderr=True))
    out = Console(soft_wrap=True)
    out.print(
        escape(
            f"wrote {out_dir}: {len(survey.items)} items and {counts['variants']} rephrased variants"
            + (f" ({counts['empty']} empty replies left out)" if counts["empty"] else "")
            + f"; simulate them with --survey {out_dir}"
        ),
        highlight=False,
    )
