"""``culturescope palette``: the multi-agent Cultural Palette and its baselines (Cultural Palette, part 1)."""

from dataclasses import replace
from enum import Enum
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
    JsonOpt,
    ReferenceOpt,
    RunsArg,
    emit,
    item_selection,
    load_answers,
    load_survey_options,
    resumable,
    split_names,
)
from culturescope.errors import CulturescopeError
from culturescope.methods.cultural_palette.agents import CONTINENTS, JOINT, METHODS
from culturescope.metrics import S_ALIGN_JS

# The method's run, scoring and training modules (numpy, pandas, the engine) are imported in the
# commands that use them.

palette_app = typer.Typer(
    help="Cultural Palette: five continent agents draft, a meta agent self-regulates and decides; "
    "the paper's baselines and ablations; S_align against the human answer shares.",
    no_args_is_help=True,
)
commands = typer.Typer()
commands.add_typer(palette_app, name="palette", rich_help_panel="Cultural Palette")

#: The paper's 18 countries (footnote 5), then MEX.
PAPER_COUNTRIES = "USA,CAN,BOL,BRA,GBR,NLD,DEU,UKR,CHN,RUS,IND,THA,KEN,NGA,ETH,ZWE,AUS,NZL,MEX"


def _continent_specs(values: list[str] | None) -> dict[str, str]:
    out = {}
    for value in values or []:
        continent, sep, spec = value.partition("=")
        if not sep or continent not in CONTINENTS:
            raise CulturescopeError(
                f"--continent-backbone takes CONTINENT=BACKBONE with CONTINENT one of {', '.join(CONTINENTS)}"
            )
        out[continent] = spec
    return out


def _trained_specs(workspace: Path, methods: list[str] | None) -> dict[str, str]:
    """The backbones of a training workspace: its base model, continent models, MoErges meta agent and,
    when trained (and required when asked for), its Joint model."""
    from culturescope.methods.cultural_palette.training.orpo import workspace_base

    wanted = {c: workspace / c for c in CONTINENTS} | {"meta": workspace / "moe"}
    missing = [str(p) for p in wanted.values() if not (p / "config.json").is_file()]
    if missing:
        raise CulturescopeError(f"--trained {workspace}: missing {', '.join(missing)}; run palette train and merge")
    if (workspace / JOINT / "config.json").is_file():
        wanted[JOINT] = workspace / JOINT
    elif methods and JOINT in methods:
        raise CulturescopeError(
            f"--trained {workspace} has no Joint model ({workspace / JOINT}); train it with "
            f"`culturescope palette train DATA --out {workspace} --models {JOINT}`"
        )
    return {"agents": f"transformers:{workspace_base(workspace)}"} | {k: f"transformers:{p}" for k, p in wanted.items()}


def _with_max_tokens(spec: BackboneSpec, max_tokens: int | None) -> BackboneSpec:
    return replace(spec, max_tokens=max_tokens) if max_tokens else spec


@palette_app.command("run")
def run(
    backbone: Annotated[
        Optional[str],
        typer.Option(
            "--backbone", "-b", help="The continent agents' and baselines' backbone, as for `run` (default: embedded)."
        ),
    ] = None,
    meta: Annotated[
        Optional[str],
        typer.Option(help="The meta agent's backbone (default: the same, or with --trained its MoErges model)."),
    ] = None,
    continent_backbone: Annotated[
        Optional[list[str]],
        typer.Option(
            help="Repeatable CONTINENT=BACKBONE: a continent agent of its own (e.g. Asia=openai:qwen@http://...)."
        ),
    ] = None,
    trained: Annotated[
        Optional[Path],
        typer.Option(
            help="A workspace of `palette train` and `palette merge`: its base model is the backbone, its continent "
            "models the continent agents, its Cultural MoErges model the meta agent (unless given otherwise)."
        ),
    ] = None,
    max_tokens: Annotated[
        Optional[int], typer.Option(help="New tokens per generation, for every backbone (default: each one's own).")
    ] = None,
    cultures: Annotated[
        str, typer.Option(help="Comma-separated countries (default: the paper's 18 and MEX).")
    ] = PAPER_COUNTRIES,
    method: Annotated[
        Optional[str],
        typer.Option(
            help=f"Comma-separated methods: {', '.join(METHODS)} (default: all; joint with a --trained Joint model)."
        ),
    ] = None,
    repeats: Annotated[
        int,
        typer.Option(
            help="Independent runs (Appendix B: 5), sampled at each backbone's temperature with seeds 0..N-1; "
            "S_align shows mean ± sd. 1: one greedy run."
        ),
    ] = 1,
    only: Annotated[Optional[str], typer.Option(help="Comma-separated item ids to ask (default: all).")] = None,
    per_dimension: Annotated[
        Optional[int], typer.Option(help="Ask only the first N items of each value dimension.")
    ] = None,
    out_dir: Annotated[
        Optional[Path],
        typer.Option("--out", help="Run directory (default: runs/palette-<backbone>-<hash>); rerun to resume."),
    ] = None,
    cache: Annotated[Optional[Path], typer.Option(help="Request cache (SQLite).")] = None,
    items: ItemsOpt = None,
    reference: ReferenceOpt = None,
    cultures_file: CulturesFileOpt = None,
) -> None:
    """Every method answers every item for every country (P_gen where the backend gives option
    probabilities); then the S_align table (Table 1). The palette's methods are shown with their meta
    agent: without --trained or --meta it is the base model, and 'palette' equals 'palette-no-cm'.

    Examples:

      culturescope palette run --cultures USA,DEU,CHN,NGA,AUS --per-dimension 1

      culturescope palette run -b openai:qwen2.5-7b@http://127.0.0.1:8000/v1 --method palette,vanilla
    """
    from culturescope.engine.cache import RequestCache
    from culturescope.methods.cultural_palette.run import Palette, execute_palette

    survey = load_survey_options(items, reference, cultures_file)
    methods = split_names(method) if method is not None else None
    specs = {"agents": backbone, "meta": meta, **_continent_specs(continent_backbone)}
    if trained:
        specs = _trained_specs(trained, methods) | {k: v for k, v in specs.items() if v}
    specs["agents"] = specs["agents"] or "embedded"
    parsed = {k: _with_max_tokens(BackboneSpec.parse(v), max_tokens) for k, v in specs.items() if v}
    palette = Palette(
        agents=parsed.pop("agents"),
        cultures=survey.resolve_cultures(cultures, []),
        methods=methods,
        items=item_selection(survey, only, per_dimension),
        meta=parsed.pop("meta", None),
        joint=parsed.pop(JOINT, None),
        continent_backbones=parsed,
        repeats=repeats,
    )
    out_dir = out_dir or palette.default_dir(survey)
    err = Console(stderr=True, soft_wrap=True)
    err.print(escape(f"run directory: {out_dir}"), highlight=False)
    result = resumable("answer", out_dir, lambda: execute_palette(palette, survey, out_dir, RequestCache(cache), err))
    _print_table(result.responses(), survey, palette.cultures, "divergence", False)


def _print_table(responses, survey, cultures, js_as, as_json) -> None:
    from culturescope.methods.cultural_palette.score import alignment_table, s_align_title, shown

    rows = alignment_table(responses, survey, cultures, js_as)
    if not rows:
        raise CulturescopeError("no palette answers with human data for these countries")
    emit(rows if as_json else shown(rows), s_align_title(js_as), as_json)


JsAs = Enum("JsAs", {name: name for name in S_ALIGN_JS}, type=str)


@palette_app.command("score")
def score(
    runs: RunsArg,
    cultures: AnsweredCulturesOpt = None,
    js: Annotated[
        JsAs,
        typer.Option(
            help="divergence: eq. 5 as printed (1 − JS divergence, default); distance: 1 − its square root, "
            "the JS distance the paper's text names."
        ),
    ] = JsAs.divergence,
    json_: JsonOpt = False,
    items: ItemsOpt = None,
    reference: ReferenceOpt = None,
    cultures_file: CulturesFileOpt = None,
) -> None:
    """Table 1: S_align per country, continent and on average for every method in RUNS. Human shares are
    compared option by option (a zero-coded item's code 0 is option 1)."""
    survey, responses, chosen = load_answers(runs, cultures, items, reference, cultures_file)
    _print_table(responses, survey, chosen, js.value, json_)


from culturescope.methods.cultural_palette.training import cli as _training  # noqa: E402, F401  (synthesize, train, merge)
