"""Merging the five continent models (Cultural Palette, §4.1, §5.3) with mergekit: the Ties and Model Stock
baselines and Cultural MoErges. Optional extra: ``pip install culturescope[train]``.

Cultural MoErges puts the continent models' FFN layers side by side as the experts of one
mixture-of-experts model (attention, norms and embeddings come from the base model) and gates them with
eq. 1, G(P) = Softmax(hidden_P · W_g), output = Σ_C G(P)·E_C(P): every expert is active, weighted by the
gate. Row C of each layer's W_g is the hidden state, at that layer's router input (the FFN input), of
the prompts naming continent C (last token, averaged over the prompts, unit length), computed with the
base model. For a prompt whose hidden state is row C's, h·ŵ_C = |h| ≥ h·ŵ_K for every other K
(Cauchy–Schwarz), so the gate favours continent C. mergekit writes the model (a Mixtral for Llama and
Mistral bases, a Qwen3-MoE for Qwen3 bases); the gates are computed here.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from culturescope.engine.prompts import prompts
from culturescope.errors import CulturescopeError
from culturescope.methods.cultural_palette.agents import CONTINENTS
from culturescope.methods.cultural_palette.training.orpo import require

NAMES = {"moe": "Cultural MoErges", "ties": "Ties", "model-stock": "Model Stock"}  # method → name shown
METHODS = tuple(NAMES)
DTYPES = ("float32", "bfloat16", "float16")


def gate_prompts(continent: str) -> list[str]:
    return [p.format(continent=continent) for p in prompts(__package__, "pentachromatic")["gate_prompts"]]


def router_weights(base: Path, continents: tuple[str, ...] = CONTINENTS) -> list:
    """Eq. 1's W_g per layer: a (continents × hidden) tensor whose rows are the unit-length mean
    router-input hidden states of each continent's name prompts in the base model."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32, local_files_only=True).eval()
    layers = model.model.layers
    captured: list = [None] * len(layers)

    def hook(index: int):
        def keep_input(_module, args):
            captured[index] = args[0][0, -1]  # the last token's FFN input

        return keep_input

    handles = [layer.mlp.register_forward_pre_hook(hook(i)) for i, layer in enumerate(layers)]
    rows = []  # per continent: (layers × hidden)
    try:
        for continent in continents:
            states = []
            for prompt in gate_prompts(continent):
                with torch.no_grad():
                    model(**tokenizer(prompt, return_tensors="pt"))
                states.append(torch.stack(captured))
            mean = torch.stack(states).mean(0)
            rows.append(mean / mean.norm(dim=-1, keepdim=True).clamp(min=1e-8))
    finally:
        for handle in handles:
            handle.remove()
    gates = torch.stack(rows, dim=1)  # layers × continents × hidden
    return [gates[i] for i in range(gates.shape[0])]


def merge(method: str, base: Path, experts: dict[str, Path], out: Path, dtype: str = "float32") -> Path:
    """Merge the continent models ``experts`` (continent → model directory; MoE experts in this order)
    on ``base`` into ``out``. Written to a temporary directory first, so ``out`` is complete or absent."""
    require("torch", "transformers", "mergekit")
    if method not in METHODS:
        raise CulturescopeError(f"unknown merge method {method!r}; use {', '.join(METHODS)}")
    if dtype not in DTYPES:
        raise CulturescopeError(f"unknown dtype {dtype!r}; use {', '.join(DTYPES)}")
    from mergekit.merge import MergeOptions

    options = MergeOptions(device="cpu", copy_tokenizer=True, lazy_unpickle=False, quiet=True)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    if method == "moe":
        _moe(base, experts, tmp, dtype, options)
    else:
        _task_vector_merge(method, base, experts, tmp, dtype, options)
    shutil.rmtree(out, ignore_errors=True)
    tmp.replace(out)
    return out


def _moe(base: Path, experts: dict[str, Path], out: Path, dtype: str, options) -> None:
    from mergekit.moe.config import MoEMergeConfig
    from mergekit.scripts.moe import select_output_arch
    from transformers import AutoTokenizer

    continents = tuple(experts)
    config = MoEMergeConfig.model_validate(
        {
            "base_model": str(base),
            "dtype": dtype,
            "experts_per_token": len(continents),  # eq. 1 weighs every expert
            "experts": [
                {"source_model": str(path), "positive_prompts": gate_prompts(c)} for c, path in experts.items()
            ],
        }
    )
    try:
        architecture = select_output_arch(config, options)
    except SystemExit:  # mergekit's way of saying no MoE architecture fits
        raise CulturescopeError(
            f"mergekit has no mixture-of-experts architecture without shared experts for {base}; "
            "Llama, Mistral and Qwen3 base models work"
        ) from None
    architecture.write_model(str(out), config, options, router_weights=router_weights(base, continents))
    AutoTokenizer.from_pretrained(base, local_files_only=True).save_pretrained(out)


def _task_vector_merge(method: str, base: Path, experts: dict[str, Path], out: Path, dtype: str, options) -> None:
    """Ties (Yadav et al.: keep the largest half of each task vector, elect signs, average agreeing
    values) and Model Stock (Jang et al.: interpolate the average towards the base by the experts' angle)."""
    from mergekit.config import MergeConfiguration
    from mergekit.merge import run_merge

    params = {"density": 0.5, "weight": 1.0} if method == "ties" else None
    config = {
        "merge_method": method.replace("-", "_"),
        "base_model": str(base),
        "dtype": dtype,
        "models": [{"model": str(p), **({"parameters": params} if params else {})} for p in experts.values()],
    }
    run_merge(MergeConfiguration.model_validate(config), str(out), options)
