"""LLM backends behind one protocol, and the spec that names and configures one backbone."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from culturescope import registry
from culturescope.backends.base import Backend, BackendError, Completion, Decoding, Messages
from culturescope.errors import CulturescopeError

__all__ = ["Backend", "BackendError", "BackboneSpec", "Completion", "Decoding", "Messages"]


@dataclass(frozen=True)
class BackboneSpec:
    """One backbone of an experiment. Unset decoding values take the paper's defaults: temperature
    1.0 for API models and 0.6 for open models (the embedded model, local servers), top_p 1.0.
    ``max_tokens`` 0 is no cap; ``top_p`` None is not sent (both for OpenAI-compatible servers; see
    :class:`Decoding`); ``thinking`` sets a chat template's thinking switch (Qwen3). ``chat_template``
    (OpenAI-compatible servers): a GGUF file or Jinja template file culturescope renders prompts with
    to read exact option probabilities through ``/v1/completions`` (``backends/openai_compat.py``).
    ``constrain`` (OpenAI-compatible servers): the structured output that restricts a constrained
    answer (``backends/constrain.py``: json_schema, choice, guided_choice, regex, grammar)."""

    name: str
    provider: str
    model: str | None = None
    base_url: str | tuple[str, ...] | None = None  # a list: replicas of one model (provider openai)
    api_key_env: str | None = None
    temperature: float | None = None
    top_p: float | None = 1.0
    max_tokens: int | None = None
    seed: int = 0
    concurrency: int | None = None
    max_retries: int = 6
    thinking: bool | None = None
    chat_template: str | None = None
    constrain: str | None = None
    # How, not what: sent through the provider's batch API (engine/batch.py), in batches of at most
    # batch_size requests. Left out of as_dict(), so a run keeps its digest with or without them.
    batch: bool | None = None
    batch_size: int | None = None

    def __post_init__(self) -> None:
        if (self.batch or self.batch_size) and self.provider not in ("openai", "anthropic"):
            raise CulturescopeError(
                f"backbone {self.name}: batch is for providers with a batch API (openai, anthropic), "
                f"not {self.provider}"
            )
        if self.batch_size is not None and self.batch_size < 1:
            raise CulturescopeError(f"backbone {self.name}: batch_size must be at least 1")
        if isinstance(self.base_url, (list, tuple)):
            urls = tuple(self.base_url)
            if self.provider != "openai" or not urls or not all(isinstance(u, str) and u for u in urls):
                raise CulturescopeError(
                    f"backbone {self.name}: base_url as a list names replicas of one OpenAI-compatible server "
                    "(provider openai), each a URL"
                )
            object.__setattr__(self, "base_url", urls[0] if len(urls) == 1 else urls)
        if self.batch and isinstance(self.base_url, tuple):
            raise CulturescopeError(f"backbone {self.name}: a batch goes to one provider URL, not to replicas")
        if self.provider == "openai":
            from culturescope.backends.constrain import KINDS

            if self.constrain is not None and self.constrain not in KINDS:
                raise CulturescopeError(
                    f"backbone {self.name}: unknown constrain {self.constrain!r}; use one of {', '.join(KINDS)}"
                )
            return
        if self.constrain is not None:
            raise CulturescopeError(
                f"backbone {self.name}: constrain is for OpenAI-compatible servers (provider openai); "
                f"the {self.provider} backend constrains answers itself"
            )
        if self.chat_template is not None:
            raise CulturescopeError(
                f"backbone {self.name}: chat_template is for OpenAI-compatible servers (provider openai); "
                f"the {self.provider} backend renders its own"
            )
        if self.max_tokens == 0 and self.provider in ("anthropic", "transformers"):
            raise CulturescopeError(
                f"backbone {self.name}: the {self.provider} backend needs an output cap (max_tokens > 0)"
            )
        if self.top_p is None:
            raise CulturescopeError(
                f"backbone {self.name}: top_p can be left unsent only on an OpenAI-compatible server"
            )

    @classmethod
    def parse(cls, text: str) -> BackboneSpec:
        """CLI shorthand ``PROVIDER[:REST]``, e.g. ``embedded``, ``embedded:PATH.gguf``, ``openai:MODEL``,
        ``openai:MODEL@BASE_URL`` (a local server, no key; ``@URL1,URL2``: replicas), ``anthropic:MODEL``,
        ``transformers:PATH`` (a local model directory or GGUF file), or a provider a plugin registers."""
        name, _, rest = text.partition(":")
        providers = registry.backends()
        if name not in providers:
            usage = ", ".join(p.usage for p in providers.values())
            raise CulturescopeError(f"unknown backbone {text!r}; use {usage}")
        provider = providers[name]
        if provider.parse is None:
            if not rest:
                raise CulturescopeError(f"backbone {text!r} names no model")
            return cls(name=rest, provider=name, model=rest)
        return cls(provider=name, **registry.resolve(provider.parse)(text, rest))

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str) -> BackboneSpec:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise CulturescopeError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        providers = registry.backends()
        if data.get("provider") not in providers:
            raise CulturescopeError(f"{where}: 'provider' must be one of {', '.join(providers)}")
        if data["provider"] != "embedded" and not data.get("model"):
            raise CulturescopeError(f"{where}: 'model' is required")
        name = data.get("name") or data.get("model") or "SmolLM2-135M-Instruct"
        try:
            return cls(**{**data, "name": str(name)})
        except TypeError as exc:
            raise CulturescopeError(f"{where}: {exc}") from None

    @property
    def is_open_model(self) -> bool:
        return self.provider in ("embedded", "transformers") or (self.provider == "openai" and self.api_key_env is None)

    def decoding(self) -> Decoding:
        temperature = self.temperature if self.temperature is not None else (0.6 if self.is_open_model else 1.0)
        # The embedded model answers this prompt in a sentence; 64 new tokens keep runs short.
        max_tokens = self.max_tokens or (64 if self.provider == "embedded" else 512)
        return Decoding(
            temperature=temperature,
            top_p=self.top_p,
            max_tokens=None if self.max_tokens == 0 else max_tokens,
            seed=self.seed,
            thinking=self.thinking,
        )

    def as_dict(self) -> dict[str, Any]:
        """The fields that say what the backbone is (not how it is called: ``batch``, ``batch_size``)."""
        return {
            k: list(v) if isinstance(v, tuple) else v
            for k, v in asdict(self).items()
            if v is not None and k not in ("batch", "batch_size")
        }

    def make(self) -> Backend:
        return registry.resolve(registry.backends()[self.provider].make)(self)


def _parse_path(text: str, rest: str) -> dict[str, Any]:
    if not rest:
        raise CulturescopeError(f"backbone {text!r} names no model path")
    return {"name": Path(rest).stem if Path(rest).suffix == ".gguf" else Path(rest).name, "model": rest}


def _parse_embedded(text: str, rest: str) -> dict[str, Any]:
    return {"name": Path(rest).stem if rest else "SmolLM2-135M-Instruct", "model": rest or None}


def _parse_api(text: str, rest: str) -> dict[str, Any]:
    model, _, base_url = rest.partition("@")
    if not model:
        raise CulturescopeError(f"backbone {text!r} names no model")
    key = None if base_url else {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}[text.partition(":")[0]]
    urls = tuple(base_url.split(",")) if "," in base_url else base_url or None  # replicas of one model
    return {"name": model, "model": model, "base_url": urls, "api_key_env": key}


def _parse_scripted(text: str, rest: str) -> dict[str, Any]:
    return {"name": f"scripted-{rest or 'uniform'}", "model": rest or "uniform"}


def _embedded(spec: BackboneSpec) -> Backend:
    from culturescope.backends.embedded import Embedded

    return Embedded(spec.model)


def _transformers(spec: BackboneSpec) -> Backend:
    from culturescope.backends.transformers_backend import Transformers

    return Transformers(spec.model, batch_size=spec.concurrency or 8)


def _openai(spec: BackboneSpec) -> Backend:
    from culturescope.backends.openai_compat import OpenAICompatible

    return OpenAICompatible(
        spec.model,
        spec.base_url,
        spec.api_key_env,
        concurrency=spec.concurrency or 8,
        max_retries=spec.max_retries,
        chat_template=spec.chat_template,
        constrain=spec.constrain or "json_schema",
    )


def _anthropic(spec: BackboneSpec) -> Backend:
    from culturescope.backends.anthropic_backend import Anthropic

    return Anthropic(
        spec.model,
        spec.api_key_env or "ANTHROPIC_API_KEY",
        spec.base_url,
        concurrency=spec.concurrency or 4,
        max_retries=spec.max_retries,
    )


def _scripted(spec: BackboneSpec) -> Backend:
    from culturescope.backends.scripted import Scripted

    return Scripted(spec.model or "uniform", spec.seed)


BUILTIN_PROVIDERS = (
    registry.BackendProvider("embedded", _embedded, "embedded[:PATH.gguf]", _parse_embedded),
    registry.BackendProvider("openai", _openai, "openai:MODEL[@BASE_URL[,BASE_URL...]]", _parse_api),
    registry.BackendProvider("anthropic", _anthropic, "anthropic:MODEL", _parse_api),
    registry.BackendProvider("transformers", _transformers, "transformers:PATH", _parse_path),
    registry.BackendProvider("scripted", _scripted, "scripted[:first|last|uniform|culture]", _parse_scripted),
)
