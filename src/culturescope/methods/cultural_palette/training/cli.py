"""``culturescope palette synthesize|train|merge``: the training side of Cultural Palette (part 2)."""

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape

from culturescope.backends import BackboneSpec
from culturescope.cli.options import parse_roles, renamed, resumable, split_names
from culturescope.errors import CulturescopeError
from culturescope.methods.cultural_palette.agents import CONTINENTS
from culturescope.methods.cultural_palette.cli import palette_app

# Synthesis, ORPO and merging (the engine, torch, transformers) are imported in the commands that use them.

TRAINING = "The palette's models (train and merge need the train extra)"
DEFAULT_WORKSPACE = Path("runs") / "palette-models"
err = Console(stderr=True, soft_wrap=True)


def _say(text: str) -> None:
    err.print(escape(text), highlight=False)


@palette_app.command("synthesize", rich_help_panel=TRAINING)
def synthesize_cmd(
    backbone: Annotated[
        Optional[list[str]],
        typer.Option(
            "--backbone",
            "-b",
            help="Repeatable: the generator, the backbone that writes the data, as for `run` (the paper: GPT-4o; "
            "default: embedded). Several write one after another, each into its own directory.",
        ),
    ] = None,
    role: Annotated[
        Optional[list[str]],
        typer.Option("--role", metavar="NAME=SPEC", help="generator=SPEC: the same as -b SPEC."),
    ] = None,
    queries: Annotated[
        Optional[Path],
        typer.Option(
            help="Queries: a .txt list (one per line) or PRISM's conversations.jsonl (default: 40 shipped open "
            "questions)."
        ),
    ] = None,
    limit: Annotated[
        Optional[int], typer.Option(help="Use only the first N queries (queries here, not survey items).")
    ] = None,
    max_tokens: Annotated[
        int,
        typer.Option(
            help="New tokens per generation step. The paper sets none (GPT-4o's own limit); a local model needs "
            "one, and it bounds time and cost. Steps that reach it are counted (their text is cut)."
        ),
    ] = 256,
    out_dir: Annotated[
        Optional[Path],
        typer.Option(
            "--out",
            help="Output directory (default: runs/pentachromatic-<generator>; with several generators, "
            "OUT/<generator>).",
        ),
    ] = None,
    cache: Annotated[Optional[Path], typer.Option(help="Request cache (SQLite).")] = None,
    generator: Annotated[
        Optional[str], typer.Option("--generator", "-g", hidden=True, help="Deprecated: use -b or --role generator=.")
    ] = None,
) -> None:
    """Synthesize the Pentachromatic data and its ORPO preference pairs (§3, Appendix A.1).

    Per query and continent: a continent-aware response, cross-continent feedback with Hofstede's
    dimensions and the aggregated response; then the preference pairs (own continent chosen, each other
    continent rejected). Writes records.jsonl and pairs.jsonl; rerun to resume.

    Example: culturescope palette synthesize --limit 4 --out runs/pentachromatic
    """
    from culturescope.engine.cache import RequestCache
    from culturescope.methods.cultural_palette.training.synthesis import (
        PAIRS,
        Synthesis,
        load_queries,
        read_jsonl,
        synthesize,
    )

    given = parse_roles(role, ["generator"], "palette synthesize").get("generator")
    if given and backbone:
        raise CulturescopeError("give the generator with -b or with --role generator=, not both")
    old = renamed(None, generator, "--generator/-g", "-b", f"-b {generator}")
    generators = backbone or [given or old or "embedded"]
    chosen = load_queries(queries)[:limit]
    for generator_spec in generators:
        spec = BackboneSpec.parse(generator_spec)
        name = spec.name.replace("/", "_")
        target = (
            (out_dir / name if len(generators) > 1 else out_dir) if out_dir else Path("runs") / f"pentachromatic-{name}"
        )
        _say(f"synthesizing {len(chosen)} queries × {len(CONTINENTS)} continents into {target}")
        synthesis = Synthesis(spec, chosen, max_tokens=max_tokens)
        records = resumable("record", target, lambda: synthesize(synthesis, target, RequestCache(cache), err))
        pairs = read_jsonl(target / PAIRS)
        _say(f"{len(records)} records, {len(pairs)} preference pairs: {target / PAIRS}")
        capped = sum(len(r.get("capped", ())) for r in records)
        if capped:
            _say(f"{capped} of {3 * len(records)} steps reached --max-tokens {max_tokens} and were cut there")


def _base_path(source: str) -> str:
    """The base model as base_checkpoint takes it: 'embedded' or a path; the spec spellings embedded:PATH
    and transformers:PATH name a path too, and a served model is refused."""
    provider, sep, rest = source.partition(":")
    if sep and provider in ("embedded", "transformers"):
        return rest
    if sep and provider in ("openai", "anthropic", "scripted"):
        raise CulturescopeError(
            f"--role base={source}: training needs the weights on disk; give 'embedded', a GGUF file or a local "
            "model directory"
        )
    return source


def _pairs(data: Path) -> list[dict]:
    from culturescope.methods.cultural_palette.training.synthesis import PAIRS, read_jsonl

    path = data / PAIRS if data.is_dir() else data
    pairs = read_jsonl(path)
    if not pairs:
        raise CulturescopeError(f"no preference pairs in {path}; run `culturescope palette synthesize` first")
    return pairs


@palette_app.command("train", rich_help_panel=TRAINING)
def train_cmd(
    data: Annotated[Path, typer.Argument(help="The synthesis directory (or its pairs.jsonl).")],
    role: Annotated[
        Optional[list[str]],
        typer.Option(
            "--role",
            metavar="NAME=SPEC",
            help="base=MODEL: the model training starts from: embedded (default; the embedded model, dequantized "
            "once), a GGUF file or a local Hugging Face model directory (also spelled embedded:PATH.gguf, "
            "transformers:PATH). Training needs weights on disk, so a served model (openai:...) is no base.",
        ),
    ] = None,
    models: Annotated[
        str, typer.Option(help="Comma-separated models: continents and/or 'joint' (the Joint baseline).")
    ] = ",".join(CONTINENTS),
    out_dir: Annotated[Path, typer.Option("--out", help="The training workspace.")] = DEFAULT_WORKSPACE,
    epochs: Annotated[float, typer.Option(help="Epochs (Appendix B: 2).")] = 2.0,
    lr: Annotated[float, typer.Option(help="Learning rate (Appendix B: 5e-5).")] = 5e-5,
    beta: Annotated[float, typer.Option(help="ORPO's λ (Appendix B: 0.1).")] = 0.1,
    batch_size: Annotated[int, typer.Option(help="Pairs per device and step.")] = 2,
    grad_accum: Annotated[int, typer.Option(help="Gradient accumulation steps.")] = 1,
    max_steps: Annotated[int, typer.Option(help="Stop after N steps (overrides --epochs; -1: off).")] = -1,
    max_length: Annotated[int, typer.Option(help="Longest prompt + response, in tokens.")] = 1024,
    lora_r: Annotated[
        int,
        typer.Option(
            help="LoRA rank (the paper: parameter-efficient ORPO with MS-Swift, whose default is LoRA rank 8); "
            "0 fine-tunes every weight, a departure from the paper."
        ),
    ] = 8,
    lora_alpha: Annotated[int, typer.Option(help="LoRA alpha (MS-Swift's default: 32).")] = 32,
    save_steps: Annotated[int, typer.Option(help="Checkpoint every N steps (a stopped run resumes there).")] = 50,
    seed: Annotated[int, typer.Option(help="Seed of initialization, data order and dropout.")] = 0,
    base: Annotated[Optional[str], typer.Option(hidden=True, help="Deprecated: use --role base=MODEL.")] = None,
) -> None:
    """Train the continent models with ORPO (§4.1, Appendix B).

    TRL's ORPO trainer, one model per continent (and the Joint baseline), each into OUT/<model>. A stopped
    training resumes from its last checkpoint when the same command is run again; finished models are kept.

    Example: culturescope palette train runs/pentachromatic --role base=embedded --models Africa,Asia,joint
    """
    from culturescope.methods.cultural_palette.training.orpo import (
        MODELS,
        OrpoSettings,
        base_checkpoint,
        is_trained,
        train,
    )

    given = parse_roles(role, ["base"], "palette train").get("base")
    source = renamed(given, base, "--base", "--role base=MODEL", f"--role base={base}")
    chosen = split_names(models)
    bad = sorted(set(chosen) - set(MODELS))
    if bad or not chosen:
        raise CulturescopeError(f"unknown model(s) {', '.join(bad) or '(none)'}; use {', '.join(MODELS)}")
    pairs = _pairs(data)
    settings = OrpoSettings(
        epochs=epochs,
        learning_rate=lr,
        beta=beta,
        batch_size=batch_size,
        grad_accum=grad_accum,
        max_steps=max_steps,
        max_length=max_length,
        lora_r=lora_r,
        lora_alpha=lora_alpha,
        save_steps=save_steps,
        seed=seed,
    )
    start = base_checkpoint(_base_path(source or "embedded"), out_dir)
    for model in chosen:
        _say(f"{model}: {'already trained' if is_trained(out_dir, model) else 'training'} → {out_dir / model}")
        resumable("checkpoint", out_dir, lambda: train(model, start, pairs, out_dir, settings))


@palette_app.command("merge", rich_help_panel=TRAINING)
def merge_cmd(
    workspace: Annotated[Path, typer.Argument(help="The training workspace of `palette train`.")] = DEFAULT_WORKSPACE,
    method: Annotated[
        str, typer.Option(help="Comma-separated: moe (Cultural MoErges), ties, model-stock.")
    ] = "moe,ties,model-stock",
    dtype: Annotated[str, typer.Option(help="Weights of the merged models: float32, bfloat16 or float16.")] = "float32",
) -> None:
    """Merge the five continent models: Cultural MoErges, Ties, Model Stock (§4.1, §5.3).

    Each into WORKSPACE/<method>. MoErges (eq. 1): the continent models' FFN layers as experts, gates from
    continent-name prompts. Merged models are local model directories: `palette run --trained WORKSPACE`
    uses WORKSPACE/moe as the meta agent, `--role meta=transformers:WORKSPACE/ties` another one.

    Example: culturescope palette merge runs/palette-models --method moe
    """
    from culturescope.methods.cultural_palette.training.merging import METHODS, merge
    from culturescope.methods.cultural_palette.training.orpo import is_trained, workspace_base

    methods = split_names(method)
    bad = sorted(set(methods) - set(METHODS))
    if bad or not methods:
        raise CulturescopeError(f"unknown merge method(s) {', '.join(bad) or '(none)'}; use {', '.join(METHODS)}")
    base = workspace_base(workspace)
    missing = [c for c in CONTINENTS if not is_trained(workspace, c)]
    if missing:
        raise CulturescopeError(f"{workspace} has no trained model for {', '.join(missing)}; train them first")
    for m in methods:
        _say(f"merging {m} → {workspace / m}")
        merge(m, base, {c: workspace / c for c in CONTINENTS}, workspace / m, dtype)
