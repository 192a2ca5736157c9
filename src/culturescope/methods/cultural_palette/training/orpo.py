"""Continent-specific alignment (Cultural Palette, §4.1, Appendix B): ORPO with TRL, one model per continent,
and the Joint baseline (every continent in one model). Optional extra: ``pip install culturescope[train]``.

A training workspace holds ``base/`` (the starting checkpoint, when converted from a GGUF file), one
model directory per trained model (``Africa/`` … ``Oceania/``, ``joint/``) and, while a model trains,
its checkpoints in ``.checkpoints/<model>/``. A stopped training resumes from its last checkpoint,
with the optimizer, scheduler, data order and random state restored, so it ends where an
uninterrupted one would; the checkpoints are removed once the model is saved.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from culturescope.engine.prompts import prompts
from culturescope.engine.rundir import digest, matches_record
from culturescope.errors import CulturescopeError
from culturescope.methods.cultural_palette.agents import CONTINENTS, JOINT

MODELS = (*CONTINENTS, JOINT)
MARKER, BASE_RECORD = "culturescope-training.json", "base.json"


def require(*modules: str) -> None:
    """Import the training stack, or say how to install it."""
    missing = []
    for name in modules:
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise CulturescopeError(f"this needs {', '.join(missing)}: pip install 'culturescope[train]'")


def base_checkpoint(source: str, workspace: Path) -> Path:
    """The Hugging Face checkpoint training starts from, recorded as the workspace's base. ``embedded``
    (the embedded model) or a GGUF file is dequantized once into ``workspace/base``; a local model
    directory is used as it is."""
    from culturescope.backends.embedded import default_model_path

    path = default_model_path() if source == "embedded" else Path(source)
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise CulturescopeError(f"{path} is not a Hugging Face model directory (no config.json)")
        base = path
    elif path.suffix != ".gguf" or not path.is_file():
        raise CulturescopeError(
            f"the base model (--role base=MODEL) is 'embedded', a GGUF file or a local model directory; got {source!r}"
        )
    else:
        base = _dequantized(path, workspace / "base")
    workspace.mkdir(parents=True, exist_ok=True)
    (workspace / BASE_RECORD).write_text(json.dumps({"base": str(base.resolve())}))
    return base


def workspace_base(workspace: Path) -> Path:
    """The base model a training workspace was trained from."""
    path = workspace / BASE_RECORD
    if not path.is_file():
        raise CulturescopeError(f"{workspace} is not a training workspace; run `culturescope palette train` first")
    return Path(json.loads(path.read_text())["base"])


def _dequantized(path: Path, out: Path) -> Path:
    if (out / "config.json").is_file():
        return out
    require("torch", "transformers")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kwargs = {"gguf_file": path.name, "local_files_only": True}
    tokenizer = AutoTokenizer.from_pretrained(path.parent, **kwargs)
    loaded = AutoModelForCausalLM.from_pretrained(path.parent, dtype=torch.float32, **kwargs)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # a GGUF-loaded model refuses to save; a plain copy of its weights does not
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    tmp = out.with_name("base.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    tmp.replace(out)
    return out


@dataclass(frozen=True)
class OrpoSettings:
    """Appendix B: ORPO, λ = 0.1, learning rate 5e-5, 2 epochs, MS-Swift's "default hyperparameters";
    §5.1 calls the alignment parameter-efficient, and MS-Swift's default is LoRA with rank 8, alpha 32,
    dropout 0.05 on every linear layer, so those are ours. The adapter is merged into the saved model.
    ``lora_r`` = 0 fine-tunes every weight instead (a departure from the paper)."""

    epochs: float = 2.0
    learning_rate: float = 5e-5
    beta: float = 0.1  # λ of eq. 6
    batch_size: int = 2
    grad_accum: int = 1
    max_steps: int = -1  # > 0 overrides epochs
    max_length: int = 1024
    lora_r: int = 8
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    save_steps: int = 50
    seed: int = 0


def orpo_rows(pairs: Sequence[dict[str, Any]], model: str) -> list[dict[str, Any]]:
    """TRL's conversational preference rows for one model: a continent model learns its own pairs from
    the query alone (eq. 6); the Joint model learns every continent's pairs, each prompt naming its continent."""
    rows = []
    for p in pairs:
        if model != JOINT and p["continent"] != model:
            continue
        prompt = [{"role": "user", "content": p["query"]}]
        if model == JOINT:
            system = prompts(__package__, "pentachromatic")["joint_system"].format(continent=p["continent"])
            prompt.insert(0, {"role": "system", "content": system})
        rows.append(
            {
                "prompt": prompt,
                "chosen": [{"role": "assistant", "content": p["chosen"]}],
                "rejected": [{"role": "assistant", "content": p["rejected"]}],
            }
        )
    return rows


def _identity(base: Path, rows: list[dict[str, Any]], settings: OrpoSettings) -> dict[str, Any]:
    data = digest({"rows": rows})
    return {"base": str(base.resolve()), "pairs": len(rows), "data": data, "settings": asdict(settings)}


def _trained_as(path: Path, identity: dict[str, Any], what: str) -> bool:
    mismatch = f"{what} was trained with other data or settings ({path}); use another --out to keep both"
    return matches_record(path, identity, mismatch)


def is_trained(workspace: Path, model: str) -> bool:
    return (workspace / model / MARKER).is_file()


def train(
    model: str,
    base: Path,
    pairs: Sequence[dict[str, Any]],
    workspace: Path,
    settings: OrpoSettings,
    callbacks: Sequence[Any] = (),
) -> bool:
    """ORPO-train ``model`` (a continent or ``joint``) from ``base`` into ``workspace/model``, resuming
    from its last checkpoint. True once the model is saved; False if training stopped early (a callback
    asked it to), its checkpoints kept for the next call."""
    require("torch", "transformers", "trl", "datasets")
    rows = orpo_rows(pairs, model)
    if not rows:
        raise CulturescopeError(f"no preference pairs for {model}")
    identity = _identity(base, rows, settings)
    final = workspace / model
    if _trained_as(final / MARKER, identity, model):
        return True
    checkpoints = workspace / ".checkpoints" / model
    if not _trained_as(checkpoints / MARKER, identity, f"{model} (checkpoints)"):
        shutil.rmtree(checkpoints, ignore_errors=True)
        checkpoints.mkdir(parents=True)
        (checkpoints / MARKER).write_text(json.dumps(identity, indent=2))

    trainer = _trainer(base, rows, checkpoints, settings, callbacks)
    from transformers.trainer_utils import get_last_checkpoint

    trainer.train(resume_from_checkpoint=get_last_checkpoint(str(checkpoints)))
    if trainer.state.global_step < trainer.state.max_steps:
        return False
    trained = trainer.model.merge_and_unload() if settings.lora_r else trainer.model
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    trained.save_pretrained(tmp)
    trainer.processing_class.save_pretrained(tmp)
    (tmp / MARKER).write_text(json.dumps(identity, indent=2))
    shutil.rmtree(final, ignore_errors=True)
    tmp.replace(final)
    shutil.rmtree(checkpoints)
    return True


def _trainer(base: Path, rows: list[dict[str, Any]], checkpoints: Path, settings: OrpoSettings, callbacks):
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl.experimental.orpo import ORPOConfig, ORPOTrainer

    gpu = torch.cuda.is_available()
    args = ORPOConfig(
        output_dir=str(checkpoints),
        num_train_epochs=settings.epochs,
        max_steps=settings.max_steps,
        learning_rate=settings.learning_rate,
        beta=settings.beta,
        per_device_train_batch_size=settings.batch_size,
        gradient_accumulation_steps=settings.grad_accum,
        max_length=settings.max_length,
        save_steps=settings.save_steps,
        save_total_limit=1,
        seed=settings.seed,
        data_seed=settings.seed,
        bf16=gpu and torch.cuda.is_bf16_supported(),
        gradient_checkpointing=gpu,
        logging_steps=1,
        report_to=[],
    )
    peft_config = None
    if settings.lora_r:
        require("peft")
        from peft import LoraConfig

        peft_config = LoraConfig(
            r=settings.lora_r,
            lora_alpha=settings.lora_alpha,
            lora_dropout=settings.lora_dropout,
            target_modules="all-linear",
            task_type="CAUSAL_LM",
        )
    tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32, local_files_only=True)
    return ORPOTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=list(callbacks),
    )
