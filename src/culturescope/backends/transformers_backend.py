"""Local Hugging Face models with transformers (optional extra: ``pip install culturescope[transformers]``;
on a CPU-only machine install ``torch==2.13.0`` first to get the CPU build).

``model`` is a local model directory, or a GGUF file (transformers dequantizes it). Files are only
read locally (``local_files_only``): nothing is fetched from a hub.

Option scoring is batched: concurrent ``option_probs`` calls are gathered (up to ``batch_size``)
and scored in one padded forward pass, with the definition of ``backends/scoring.py``. Constrained
answers are sampled as chat replies are, with a logits processor that leaves only the tokens that
continue one of the answer texts (``constrain.ChoiceTrie``), then the end of the reply.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import numpy as np

from culturescope.backends.base import BackendError, Completion, Decoding, Messages
from culturescope.backends.constrain import ChoiceTrie
from culturescope.backends.scoring import Continuations, continuations, log_softmax, normalize


class Transformers:
    supports_probs = True
    knobs = frozenset({"temperature", "top_p", "top_k", "seed", "num_beams"})

    def __init__(self, model: str | Path, batch_size: int = 8, threads: int | None = None):
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError:
            raise BackendError("the transformers backend needs: pip install 'culturescope[transformers]'") from None
        path = Path(model)
        if not path.exists():
            raise BackendError(f"model not found: {path} (give a local model directory or GGUF file)")
        kwargs = {"local_files_only": True}
        if path.is_file():
            kwargs["gguf_file"] = path.name
            path = path.parent
        if threads:
            torch.set_num_threads(threads)
        self._torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(path, **kwargs)
        self.model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, **kwargs).eval()
        if not self.tokenizer.chat_template:
            raise BackendError(f"{model} has no chat template; it is not an instruction-tuned model")
        self.id = f"transformers:{Path(model).resolve()}"
        self.batch_size = self.concurrency = batch_size
        self._queue: list[tuple[Messages, str, int, asyncio.Future]] = []
        self._flush: asyncio.Task | None = None
        self._lock = threading.Lock()  # one model: one forward pass at a time

    def prompt_text(self, messages: Messages) -> str:
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def _tokens(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def score_batch(self, jobs: list[tuple[Messages, str, int]]) -> list[np.ndarray]:
        """Option distributions for several (messages, prefix, n_options) in one forward pass."""
        conts = [continuations(self._tokens, self.prompt_text(m) + prefix, n) for m, prefix, n in jobs]
        rows: list[tuple[int, int, Continuations]] = []  # (job, code, continuations) per sequence
        for j, cont in enumerate(conts):
            codes = range(len(cont.seqs)) if cont.whole else [0]
            rows += [(j, c, cont) for c in codes]
        seqs = [
            cont.seqs[c][: cont.shared + len(cont.scored(c))] if cont.whole else cont.seqs[c][: cont.shared]
            for _, c, cont in rows
        ]
        width = max(len(s) for s in seqs)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        ids = self._torch.tensor([s + [pad] * (width - len(s)) for s in seqs])
        mask = self._torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in seqs])
        with self._torch.no_grad():
            logits = self.model(input_ids=ids, attention_mask=mask).logits.float().numpy()
        out = [np.zeros(len(c.seqs)) for c in conts]
        for r, (j, c, cont) in enumerate(rows):
            if cont.whole:
                lsm = log_softmax(logits[r, cont.shared - 1 : len(seqs[r]) - 1])
                out[j][c] = lsm[np.arange(len(lsm)), seqs[r][cont.shared :]].sum()
            else:
                lsm = log_softmax(logits[r, cont.shared - 1])
                out[j][:] = [lsm[cont.seqs[k][cont.shared]] for k in range(len(cont.seqs))]
        return [normalize(lp) for lp in out]

    async def _run_queue(self) -> None:
        await asyncio.sleep(0)  # let every concurrent caller enqueue first
        while self._queue:
            batch, self._queue = self._queue[: self.batch_size], self._queue[self.batch_size :]
            results = await asyncio.to_thread(self._locked, self.score_batch, [(m, p, n) for m, p, n, _ in batch])
            for (*_, future), probs in zip(batch, results):
                future.set_result(probs)
        self._flush = None

    async def option_probs(self, messages: Messages, prefix: str, n_options: int) -> tuple[np.ndarray, None]:
        future = asyncio.get_running_loop().create_future()
        self._queue.append((messages, prefix, n_options, future))
        if self._flush is None:
            self._flush = asyncio.ensure_future(self._run_queue())
        return await future, None

    def choice_processor(self, choices: list[str], start: int):
        """A logits processor that keeps only the tokens continuing one of ``choices`` (generated from
        position ``start`` on), and the end-of-sequence token once one is complete."""
        trie = ChoiceTrie(choices, self._tokens, self.tokenizer.eos_token_id)
        torch = self._torch

        def restrict(input_ids, scores):
            mask = torch.full_like(scores, float("-inf"))
            for row, ids in enumerate(input_ids.tolist()):
                mask[row, trie.allowed(ids[start:])] = 0.0
            return scores + mask

        return restrict

    def _generate(
        self, messages: Messages, decoding: Decoding, sample: int, choices: list[str] | None = None
    ) -> Completion:
        from transformers import LogitsProcessorList

        torch = self._torch
        ids = torch.tensor([self._tokens(self.prompt_text(messages))])
        processors = LogitsProcessorList([self.choice_processor(choices, ids.shape[1])] if choices else [])
        torch.manual_seed(decoding.seed + sample)
        with torch.no_grad():
            out = self.model.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=decoding.max_tokens,
                do_sample=decoding.temperature > 0,
                temperature=decoding.temperature or None,
                top_p=decoding.top_p,
                num_beams=decoding.num_beams,
                **({} if decoding.top_k is None else {"top_k": decoding.top_k}),
                pad_token_id=self.tokenizer.eos_token_id,
                logits_processor=processors,
            )
        new = out[0, ids.shape[1] :]
        return Completion(self.tokenizer.decode(new, skip_special_tokens=True), ids.shape[1], len(new))

    def _locked(self, fn, *args):
        with self._lock:
            return fn(*args)

    async def chat(self, messages: Messages, decoding: Decoding, sample: int) -> Completion:
        return await asyncio.to_thread(self._locked, self._generate, messages, decoding, sample)

    async def choose(self, messages: Messages, decoding: Decoding, sample: int, choices: list[str]) -> Completion:
        """A sampled reply that can only be one of ``choices``."""
        return await asyncio.to_thread(self._locked, self._generate, messages, decoding, sample, choices)
