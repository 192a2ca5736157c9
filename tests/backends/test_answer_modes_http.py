"""Constrained and stated answers over HTTP: the exact structured-output request bodies (vLLM's
choice and guided_choice, SGLang's regex, OpenAI's JSON schema, llama.cpp's grammar) against a local
server that records them, and both modes end to end against a real ``python -m llama_cpp.server``."""

import asyncio

import pytest

from culturescope.backends.base import BackendError, Decoding
from culturescope.backends.embedded import default_model_path
from culturescope.backends.openai_compat import OpenAICompatible
from culturescope.engine.cache import RequestCache
from culturescope.engine.extract import OK, parse_stated
from culturescope.methods.beyond_alignment.run import Experiment, execute, load_experiment
from culturescope.survey import wvs7
from helpers.servers import LlamaServer, ScriptedServer, free_port

MESSAGES = [{"role": "user", "content": "Question: ...\n\nOutput format MUST be exactly: \\boxed{number}"}]
CHOICES = ["\\boxed{1}", "\\boxed{2}", "\\boxed{3}"]
SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string", "enum": CHOICES}},
    "required": ["answer"],
    "additionalProperties": False,
}


@pytest.mark.parametrize(
    "kind, reply, fields",
    [
        (
            "json_schema",
            '{"answer": "\\\\boxed{2}"}',
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "answer", "strict": True, "schema": SCHEMA},
                }
            },
        ),
        ("choice", "\\boxed{2}", {"structured_outputs": {"choice": CHOICES}}),
        ("guided_choice", "\\boxed{2}", {"guided_choice": CHOICES}),
        ("regex", "\\boxed{2}", {"regex": "(\\\\boxed\\{1\\}|\\\\boxed\\{2\\}|\\\\boxed\\{3\\})"}),
        ("grammar", "\\boxed{2}", {"grammar": 'root ::= "\\\\boxed{1}" | "\\\\boxed{2}" | "\\\\boxed{3}"'}),
    ],
)
def test_structured_output_request_bodies(kind, reply, fields):
    server = ScriptedServer([], respond=lambda body, n: reply)
    try:
        backend = OpenAICompatible("m", server.url, constrain=kind)
        done = asyncio.run(
            backend.choose(MESSAGES, Decoding(temperature=0.6, top_p=1.0, max_tokens=64, seed=3), 1, CHOICES)
        )
    finally:
        server.close()
    assert done.text == reply
    assert server.requests[0]["path"] == "/chat/completions"
    assert (
        server.requests[0]["json"]
        == {
            "model": "m",
            "messages": MESSAGES,
            "temperature": 0.6,
            "seed": 4,
            "top_p": 1.0,
            "max_tokens": 64,
        }
        | fields
    )


def test_thinking_switch_and_choice_share_extra_body():
    server = ScriptedServer([], respond=lambda body, n: "\\boxed{1}")
    try:
        backend = OpenAICompatible("m", server.url, constrain="choice")
        asyncio.run(backend.choose(MESSAGES, Decoding(thinking=False), 0, CHOICES))
    finally:
        server.close()
    body = server.requests[0]["json"]
    assert body["chat_template_kwargs"] == {"enable_thinking": False}
    assert body["structured_outputs"] == {"choice": CHOICES}


def test_a_server_that_ignores_the_constraint_stops_the_run():
    server = ScriptedServer([], respond=lambda body, n: "1. Very important")
    try:
        backend = OpenAICompatible("m", server.url, constrain="guided_choice")
        with pytest.raises(BackendError, match="ignored the structured output 'guided_choice'"):
            asyncio.run(backend.choose(MESSAGES, Decoding(), 0, CHOICES))
    finally:
        server.close()


# -- a real llama-cpp-python server ------------------------------------------------------------------


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    server = LlamaServer(default_model_path(), free_port(), tmp_path_factory.mktemp("llama") / "server.log")
    yield server
    server.kill()


def test_llama_cpp_server_refuses_json_schema_and_honours_grammar(llama_server):
    """llama-cpp-python's server (0.3.x) knows response_format types text and json_object only (it
    answers json_schema with HTTP 500, a validation error); its ``grammar`` field constrains the reply."""
    with pytest.raises(BackendError, match="Input should be 'text' or 'json_object'"):
        backend = OpenAICompatible("smollm2", llama_server.url, max_retries=0)
        asyncio.run(backend.choose(MESSAGES, Decoding(), 0, CHOICES))
    backend = OpenAICompatible("smollm2", llama_server.url, constrain="grammar")
    texts = {
        asyncio.run(backend.choose(MESSAGES, Decoding(temperature=1.0, seed=s), 0, CHOICES)).text for s in range(4)
    }
    assert texts <= set(CHOICES)


def test_constrained_and_stated_end_to_end_on_llama_cpp_server(tmp_path, llama_server):
    config = tmp_path / "exp.yaml"
    config.write_text(
        "cultures: [BRA, NZL]\nmodes: [constrained, stated]\nonly: [Q1, Q90, Q241]\nbackbones:\n"
        f"  - name: local\n    provider: openai\n    model: smollm2\n    base_url: {llama_server.url}\n"
        "    constrain: grammar\n    temperature: 0.6\n"
    )
    settings = load_experiment(config)
    survey = wvs7()
    exp = Experiment(settings["backbones"], settings["cultures"], settings["modes"], item_ids=settings["only"])
    t = execute(exp, survey, tmp_path / "run", RequestCache(tmp_path / "c.sqlite")).responses()
    constrained = t[t["mode"] == "constrained"]
    assert len(constrained) == 6 and set(constrained["status"]) == {OK}
    for raw, item, answer in zip(constrained["raw"], constrained["item"], constrained["answer"]):
        assert raw == f"\\boxed{{{int(answer)}}}" and 1 <= answer <= len(survey.item(item).options)
    stated = t[t["mode"] == "stated"]
    assert len(stated) == 6
    for raw, item, status, probs in zip(stated["raw"], stated["item"], stated["status"], stated["probs"]):
        again = parse_stated(raw, len(survey.item(item).options))  # the row is what the parser reads
        assert status == again.status
        assert (probs is None or probs != probs) if again.probs is None else probs == pytest.approx(again.probs)
