"""Constrained answers (the ``constrained`` answer mode): the model samples, but only one of a list of
answer texts (``\\boxed{1}`` … ``\\boxed{n}``, or ``Answer: 1`` …) can come out.

The in-process backends (embedded, transformers) enforce the list with a logits processor over the
choices' tokens (:class:`ChoiceTrie`); an OpenAI-compatible server with its structured output
(:data:`KINDS`, the request fields of each; a GBNF grammar, :func:`gbnf`, for llama.cpp's servers).
A backend that can do it has ``async choose(messages, decoding, sample, choices) -> Completion``; one
that cannot has none.
"""

from __future__ import annotations

import re
from typing import Callable

#: Structured-output request fields of OpenAI-compatible servers, by the backbone key ``constrain``.
KINDS = ("json_schema", "choice", "guided_choice", "regex", "grammar")


def gbnf_literal(text: str) -> str:
    """``text`` as a GBNF string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def gbnf(choices: list[str]) -> str:
    """A GBNF grammar (llama.cpp) whose only sentences are the ``choices``."""
    return "root ::= " + " | ".join(gbnf_literal(c) for c in choices)


def json_schema(choices: list[str]) -> dict:
    """A JSON schema of ``{"answer": one of the choices}`` (OpenAI's strict structured outputs)."""
    return {
        "type": "object",
        "properties": {"answer": {"type": "string", "enum": list(choices)}},
        "required": ["answer"],
        "additionalProperties": False,
    }


def structured_output(kind: str, choices: list[str]) -> dict:
    """The request fields that restrict an OpenAI-compatible server's reply to ``choices``:

    - ``json_schema``: ``response_format`` with a JSON schema enum (OpenAI, vLLM, SGLang, llama.cpp's
      ``llama-server``, Ollama); the reply is ``{"answer": "..."}``;
    - ``choice``: vLLM ≥ 0.12, ``structured_outputs.choice``;
    - ``guided_choice``: vLLM before 0.12;
    - ``regex``: SGLang (and vLLM before 0.12 as ``guided_regex``: use ``choice`` there);
    - ``grammar``: a GBNF grammar, llama-cpp-python's server (``python -m llama_cpp.server``) and
      llama.cpp's ``llama-server``.
    """
    if kind == "json_schema":
        schema = {"name": "answer", "strict": True, "schema": json_schema(choices)}
        return {"response_format": {"type": "json_schema", "json_schema": schema}}
    if kind == "choice":
        return {"extra_body": {"structured_outputs": {"choice": list(choices)}}}
    if kind == "guided_choice":
        return {"extra_body": {"guided_choice": list(choices)}}
    if kind == "regex":
        return {"extra_body": {"regex": "(" + "|".join(re.escape(c) for c in choices) + ")"}}
    if kind == "grammar":
        return {"extra_body": {"grammar": gbnf(choices)}}
    raise ValueError(f"unknown structured output {kind!r}")


class ChoiceTrie:
    """The token sequences of the choices: which tokens may follow a generated prefix."""

    def __init__(self, choices: list[str], tokenize: Callable[[str], list[int]], end: int):
        self.seqs = [tokenize(c) for c in choices]
        self.end = end

    def allowed(self, generated: list[int]) -> list[int]:
        """The tokens that continue some choice after ``generated``; the end token once one is complete."""
        n = len(generated)
        nxt = {s[n] for s in self.seqs if len(s) > n and s[:n] == generated}
        if any(s == generated for s in self.seqs):
            nxt.add(self.end)
        return sorted(nxt) or [self.end]
