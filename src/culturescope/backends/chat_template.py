"""A model's chat template, rendered by culturescope itself (the completions route of ``probs`` over HTTP).

The template comes from a GGUF file (its ``tokenizer.chat_template`` metadata, read by llama.cpp
without loading the weights) or from a Jinja template file. It is rendered the way Hugging Face's
``apply_chat_template`` renders it (and vLLM, SGLang and llama.cpp after it): a sandboxed Jinja
environment with ``trim_blocks`` and ``lstrip_blocks``, ``raise_exception``, ``strftime_now`` and a
``tojson`` that keeps non-ASCII text.

The beginning-of-sequence token: a server adds the BOS token its tokenizer adds to any raw prompt
(vLLM and SGLang: ``add_special_tokens``; llama.cpp: the vocabulary's ``add_bos_token``), so a
rendered prompt never starts with one: a GGUF's BOS text is cut from the start of the prompt where its
vocabulary adds it anyway, and a Jinja file's ``bos_token`` renders as nothing. A Jinja file cannot
say what ``eos_token`` is: a template that writes it needs the GGUF instead (one clear error).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from culturescope.errors import CulturescopeError

Messages = list[dict[str, str]]


@dataclass(frozen=True)
class ChatTemplate:
    source: str  # the file it came from, for messages
    template: str
    bos_token: str = ""
    eos_token: str | None = None  # None: unknown (a Jinja file); rendering it is an error
    strip_bos: bool = False  # cut a leading BOS text: the server adds the BOS itself

    @classmethod
    def load(cls, path: str | Path) -> ChatTemplate:
        """The chat template of a GGUF file, or a Jinja template file."""
        path = Path(path).expanduser()
        if not path.is_file():
            raise CulturescopeError(f"chat_template: file not found: {path}")
        with path.open("rb") as fh:
            magic = fh.read(4)
        if magic == b"GGUF":
            return cls._from_gguf(path)
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise CulturescopeError(f"chat_template: {path} is neither a GGUF file nor a text (Jinja) file") from None
        if not text.strip():
            raise CulturescopeError(f"chat_template: {path} is empty")
        template = cls(str(path), text)
        template._template  # a syntax error is reported now, naming the file
        return template

    @classmethod
    def _from_gguf(cls, path: Path) -> ChatTemplate:
        try:
            from llama_cpp import Llama
            from llama_cpp._utils import suppress_stdout_stderr
        except ImportError:
            raise CulturescopeError("chat_template: reading a GGUF needs llama-cpp-python") from None
        try:
            with suppress_stdout_stderr(disable=False):
                vocab = Llama(model_path=str(path), vocab_only=True, verbose=False)
        except ValueError as exc:
            raise CulturescopeError(f"chat_template: cannot read {path} as a GGUF model ({exc})") from None
        template = vocab.metadata.get("tokenizer.chat_template")
        if not template:
            raise CulturescopeError(f"chat_template: {path.name} holds no chat template (tokenizer.chat_template)")
        bos, eos = (vocab._model.token_get_text(t) if t != -1 else "" for t in (vocab.token_bos(), vocab.token_eos()))
        adds_bos = vocab._model.add_bos_token()
        vocab.close()
        out = cls(str(path), template, bos, eos, strip_bos=bool(adds_bos and bos))
        out._template
        return out

    @property
    def digest(self) -> str:
        """What identifies the rendering (part of the probs cache key)."""
        payload = json.dumps([self.template, self.bos_token, self.eos_token, self.strip_bos])
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def _compiled(self):
        import jinja2
        import jinja2.ext
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        class IgnoreGeneration(jinja2.ext.Extension):  # Hugging Face's {% generation %} tag: pass-through
            tags = {"generation"}

            def parse(self, parser):
                parser.stream.skip(1)
                return parser.parse_statements(("name:endgeneration",), drop_needle=True)

        def raise_exception(message: str) -> None:
            raise jinja2.TemplateError(message)

        def tojson(x: Any, ensure_ascii=False, indent=None, separators=None, sort_keys=False) -> str:
            return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

        env = ImmutableSandboxedEnvironment(
            trim_blocks=True, lstrip_blocks=True, extensions=[IgnoreGeneration, jinja2.ext.loopcontrols]
        )
        env.filters["tojson"] = tojson
        env.globals["raise_exception"] = raise_exception
        env.globals["strftime_now"] = lambda f: datetime.now().strftime(f)
        try:
            return env.from_string(self.template)
        except jinja2.TemplateSyntaxError as exc:
            raise CulturescopeError(f"chat_template: {self.source}: line {exc.lineno}: {exc.message}") from None

    def render(self, messages: Messages, add_generation_prompt: bool = True) -> str:
        """The prompt text of ``messages`` (and the assistant's header when ``add_generation_prompt``)."""
        import jinja2

        eos = self.eos_token if self.eos_token is not None else jinja2.StrictUndefined(name="eos_token")
        try:
            text = self._template.render(
                messages=messages,
                add_generation_prompt=add_generation_prompt,
                bos_token=self.bos_token,
                eos_token=eos,
            )
        except jinja2.UndefinedError:
            raise CulturescopeError(
                f"chat_template: {self.source} writes eos_token, which a Jinja file cannot give; use the model's GGUF"
            ) from None
        except jinja2.TemplateError as exc:
            raise CulturescopeError(f"chat_template: {self.source}: {exc}") from None
        if self.strip_bos and text.startswith(self.bos_token):
            text = text[len(self.bos_token) :]
        return text

    @property
    def _template(self):
        cached = self.__dict__.get("_jinja")
        if cached is None:
            cached = self._compiled()
            object.__setattr__(self, "_jinja", cached)
        return cached
