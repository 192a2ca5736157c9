"""Decoding presets: the settings of a paper's reference runs, chosen per backbone by model family.

``paper`` is the Beyond-Alignment reference decoding (§4: "default sampling parameters for API-based
models (temperature = 1.0, top-p = 1.0) and temperature = 0.6 for the Qwen and Llama series"):

- open models, the Qwen and Llama series (by model name): temperature 0.6, top_p 0.95, thinking off
  (``chat_template_kwargs.enable_thinking: false``, which vLLM and SGLang hand to Qwen3's chat
  template), no output cap;
- API models (GPT, o-series, Claude, Gemini, Grok): temperature 1.0, top_p 1.0, no output cap,
  reasoning left at the provider's default. That default is on for the three reasoning backbones of
  the paper: gpt-5-mini (``reasoning_effort`` medium), gemini-2.5-pro (dynamic thinking, which cannot
  be turned off) and grok-4 (always reasons; rejects ``reasoning_effort``), so nothing is sent for it.
  OpenAI's reasoning models (gpt-5*, o1/o3/o4) accept only temperature 1 and reject ``top_p``
  (which they fix at 1): top_p is not sent to them. Anthropic's API requires an output cap, so
  Claude keeps culturescope's.

A backbone of another family is left as it is. Explicit overrides (``--temperature``,
``--max-tokens``, ``--seed``) apply after the preset.
"""

from __future__ import annotations

import re
from dataclasses import replace

from culturescope.backends import BackboneSpec
from culturescope.errors import CulturescopeError

PRESETS = ("paper",)
REASONING_ON = ("gpt-5-mini", "gemini-2.5-pro", "grok-4")
_OPEN = {"qwen": "Qwen", "llama": "Llama"}
_API = (("gpt-", "GPT"), ("claude", "Claude"), ("gemini", "Gemini"), ("grok", "Grok"))
_OPENAI_REASONING = re.compile(r"^(gpt-5|o\d)")


def model_name(spec: BackboneSpec) -> str:
    """The model's own name, lowercased: the last part of a repository id or path, without .gguf."""
    name = (spec.model or spec.name).lower().replace("\\", "/").rsplit("/", 1)[-1]
    return name.removesuffix(".gguf")


def family(name: str) -> tuple[str, bool] | None:
    """(family, open model?) of a lowercased model name, or None for a family the paper did not use."""
    for key, fam in _OPEN.items():
        if key in name:
            return fam, True
    if re.match(r"^o\d", name):
        return "GPT", False
    return next(((fam, False) for prefix, fam in _API if name.startswith(prefix)), None)


def _is(name: str, model: str) -> bool:
    """``name`` is ``model`` or one of its dated snapshots (gpt-5-mini-2025-08-07, grok-4-0709)."""
    return name == model or re.fullmatch(re.escape(model) + r"-\d[\d-]*", name) is not None


def paper(spec: BackboneSpec) -> tuple[BackboneSpec, str]:
    """The Beyond-Alignment reference decoding for one backbone, and one line saying what was set."""
    name = model_name(spec)
    found = family(name)
    if found is None:
        return spec, f"{spec.name}: not a model family of the paper; culturescope's defaults kept"
    fam, is_open = found
    uncapped = spec.provider not in ("anthropic", "transformers")
    cap = 0 if uncapped else spec.max_tokens
    if is_open:
        switch = spec.provider == "openai"  # the only backend that sends a chat template's thinking switch
        spec = replace(spec, temperature=0.6, top_p=0.95, thinking=False if switch else spec.thinking, max_tokens=cap)
        said = ["temperature 0.6", "top_p 0.95"]
        said.append("thinking off" if switch else f"thinking: no switch on the {spec.provider} backend")
    else:
        unsent = spec.provider == "openai" and _OPENAI_REASONING.match(name) is not None
        spec = replace(spec, temperature=1.0, top_p=None if unsent else 1.0, max_tokens=cap)
        if spec.provider == "anthropic":
            said = ["temperature 1.0 and top_p 1.0, the API's own (the anthropic backend sends neither)"]
        else:
            said = ["temperature 1.0", "top_p 1.0" + (" (the API's fixed value, not sent)" if unsent else "")]
        if any(_is(name, m) for m in REASONING_ON):
            said.append("reasoning on (the provider's default)")
    if uncapped:
        said.append("no output cap")
    else:
        said.append(f"output cap {spec.decoding().max_tokens} (the {spec.provider} backend needs one)")
    return spec, f"{spec.name} ({fam}, {'open' if is_open else 'API'} model): {', '.join(said)}"


def check(preset: str) -> str:
    """``preset`` if it is a known preset, else one clear error."""
    if preset not in PRESETS:
        raise CulturescopeError(f"unknown preset {preset!r}; use {', '.join(PRESETS)}")
    return preset


def apply_preset(specs: list[BackboneSpec], preset: str) -> tuple[list[BackboneSpec], list[str]]:
    """Every backbone under ``preset``, and one line per backbone saying what it set."""
    check(preset)
    done = [paper(s) for s in specs]
    return [s for s, _ in done], [line for _, line in done]
