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
    AnswerModeOpt,
    CulturesFileOpt,
    ItemsOpt,
    LimitOpt,
    OnlyOpt,
    OptionOrderOpt,
    PerDimensionOpt,
    ReferenceOpt,
    RunsArg,
    SurveyOpt,
    item_selection,
    load_answers,
    load_survey_options,
    one_answer_mode,
    option_order,
    parse_roles,
    renamed,
    resumable,
    split_names,
)
from culturescope.cli.output import Format, FormatOpt, JsonOpt, deprecated, emit, output_format
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


#: The model roles of `palette run --role NAME=SPEC`.
ROLES = ["meta", "continent", *CONTINENTS, JOINT]


def _role_specs(roles: list[str] | None, meta: str | None, continent_backbone: list[str] | None) -> dict[str, str]:
    """The backbone of each role: ``meta``, ``joint`` and one per continent (``continent=SPEC`` gives all
    five, ``Africa=SPEC`` one, over it); the deprecated --meta and --continent-backbone map onto them."""
    for value in continent_backbone or []:
        if value.partition("=")[0].strip() not in CONTINENTS:
            raise CulturescopeError(
                f"--continent-backbone takes CONTINENT=BACKBONE with CONTINENT one of {', '.join(CONTINENTS)}"
            )
    if continent_backbone:
        deprecated("--continent-backbone", "--role CONTINENT=SPEC")
    given = parse_roles((roles or []) + (continent_backbone or []), ROLES, "palette run")
    specs = {"meta": renamed(given.get("meta"), meta, "--meta", "--role meta=SPEC", f"--role meta={meta}")}
    specs[JOINT] = given.get(JOINT)
    for c in CONTINENTS:
        specs[c] = given.get(c) or given.get("continent")
    return specs


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
        Optional[list[str]],
        typer.Option(
            "--backbone",
            "-b",
            help="Repeatable: the continent agents' and baselines' backbone, as for `run` (default: embedded, or "
            "the --trained base model). Several run one after another, each into its own run directory.",
        ),
    ] = None,
    role: Annotated[
        Optional[list[str]],
        typer.Option(
            "--role",
            metavar="NAME=SPEC",
            help="Repeatable. meta=SPEC: the meta agent (default: the -b backbone, or the --trained MoErges model); "
            "continent=SPEC: all five continent agents; Africa=, America=, Asia=, Europe=, Oceania=SPEC: one "
            "continent agent (over continent=); joint=SPEC: the Joint baseline's model (default: --trained's).",
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
        Optional[str],
        typer.Option(help="Comma-separated culture codes (default: the paper's 18 countries and MEX)."),
    ] = None,
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
    answer_mode: AnswerModeOpt = None,
    limit: LimitOpt = None,
    only: OnlyOpt = None,
    per_dimension: PerDimensionOpt = None,
    order: OptionOrderOpt = None,
    out_dir: Annotated[
        Optional[Path],
        typer.Option(
            "--out",
            help="Run directory (default: runs/palette-<backbone>-<hash>; with several -b, OUT/<backbone>); "
            "rerun to resume.",
        ),
    ] = None,
    cache: Annotated[Optional[Path], typer.Option(help="Request cache (SQLite).")] = None,
    format: FormatOpt = Format.table,
    survey_name: SurveyOpt = None,
    items: ItemsOpt = None,
    reference: ReferenceOpt = None,
    cultures_file: CulturesFileOpt = None,
    meta: Annotated[Optional[str], typer.Option(hidden=True, help="Deprecated: use --role meta=SPEC.")] = None,
    continent_backbone: Annotated[
        Optional[list[str]], typer.Option(hidden=True, help="Deprecated: use --role CONTINENT=SPEC.")
    ] = None,
) -> None:
    """Every method answers every item for every country (P_gen where the backend gives option
    probabilities); then the S_align table (Table 1). The palette's methods are shown with their meta
    agent: without --trained or --role meta it is the base model, and 'palette' equals 'palette-no-cm'.

    Examples:

      culturescope palette run --cultures USA,DEU,CHN,NGA,AUS --per-dimension 1

      culturescope palette run -b openai:qwen2.5-7b@http://127.0.0.1:8000/v1 --method palette,vanilla

      culturescope palette run --role meta=transformers:models/ties --role Asia=openai:asia@http://...
    """
    from culturescope.engine.cache import RequestCache
    from culturescope.methods.cultural_palette.run import Palette, execute_palette

    option_order(order, "palette run")
    survey = load_survey_options(items, reference, cultures_file, survey_name)
    methods = split_names(method) if method is not None else None
    specs = _role_specs(role, meta, continent_backbone)
    if trained:
        specs = _trained_specs(trained, methods) | {k: v for k, v in specs.items() if v}
    agents = backbone or [specs.get("agents") or "embedded"]
    chosen = survey.resolve_cultures(cultures, split_names(PAPER_COUNTRIES))
    asked = item_selection(survey, only, per_dimension, limit)
    err = Console(stderr=True, soft_wrap=True)
    made = []
    for spec in agents:
        parsed = {
            k: _with_max_tokens(BackboneSpec.parse(v), max_tokens) for k, v in (specs | {"agents": spec}).items() if v
        }
        palette = Palette(
            agents=parsed.pop("agents"),
            cultures=chosen,
            methods=methods,
            items=asked,
            meta=parsed.pop("meta", None),
            joint=parsed.pop(JOINT, None),
            continent_backbones=parsed,
            repeats=repeats,
            answer_mode=one_answer_mode(answer_mode),
        )
        if out_dir is None:
            target = palette.default_dir(survey)
        else:
            target = out_dir / palette.agents.name.replace("/", "_") if len(agents) > 1 else out_dir
        err.print(escape(f"run directory: {target}"), highlight=False)
        made.append(
            resumable("answer", target, lambda: execute_palette(palette, survey, target, RequestCache(cache), err))
        )
    import pandas as pd

    from culturescope.cli.report import report_made

    responses = pd.concat([r.responses() for r in made], ignore_index=True)
    _print_table(responses, survey, chosen, "divergence", format)
    report_made(made, survey, chosen, err, into=out_dir)


def _print_table(responses, survey, cultures, js_as, fmt: Format) -> None:
    from culturescope.methods.cultural_palette.score import alignment_table, s_align_title, shown

    rows = alignment_table(responses, survey, cultures, js_as)
    if not rows:
        raise CulturescopeError("no palette answers with human data for these countries")
    emit(rows, s_align_title(js_as), fmt, shown=shown(rows))


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
    format: FormatOpt = Format.table,
    survey_name: SurveyOpt = None,
    items: ItemsOpt = None,
    reference: ReferenceOpt = None,
    cultures_file: CulturesFileOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Table 1: S_align per country, continent and on average for every method in RUNS. Human shares are
    compared option by option (a zero-coded item's code 0 is option 1)."""
    survey, responses, chosen = load_answers(runs, cultures, items, reference, cultures_file, survey_name)
    _print_table(responses, survey, chosen, js.value, output_format(format, json_))


from culturescope.methods.cultural_palette.training import cli as _training  # noqa: E402, F401  (synthesize, train, merge)
