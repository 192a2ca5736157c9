"""Exact option probabilities over OpenAI-compatible servers (backends/http_probs.py, openai_compat.py).

The reference everywhere is the in-process scorer (the embedded backend, backends/scoring.py's
definition) on the same weights: a real llama-cpp-python server through the completions route, and a
local stand-in for vLLM/SGLang that checks the exact prefill request body and answers with top
log-probabilities computed by the embedded model.
"""

import asyncio
import json
import math
import threading

import numpy as np
import pytest

from culturescope.backends import BackboneSpec
from culturescope.backends.base import Decoding
from culturescope.backends.chat_template import ChatTemplate
from culturescope.backends.embedded import Embedded, default_model_path
from culturescope.backends.http_probs import score_codes
from culturescope.backends.openai_compat import OpenAICompatible
from culturescope.backends.scoring import log_softmax
from culturescope.errors import CulturescopeError
from culturescope.methods.beyond_alignment.run import Experiment, execute, load_experiment
from culturescope.methods.beyond_alignment.static import answer_prefix, persona_messages
from culturescope.survey import wvs7
from helpers.servers import LlamaServer, ScriptedServer, chat_completion, free_port

PREFIX = answer_prefix()
# The first item of every option count in WVS-7 (2, 3, 4, 5, 7, 8, 10 and 11 options); 10 and 11
# share the first token "1" with code 1 under SmolLM2's tokenizer.
EVERY_COUNT = ["Q7", "Q42", "Q1", "Q33", "Q171", "Q172", "Q90", "Q241"]


def run(coro):
    return asyncio.run(coro)


# -- the code trie, by hand ---------------------------------------------------------------------


def oracle(table):
    """A next-token oracle from a table {text after the prefix: {token: probability}}."""
    asked = []

    async def next_top(done):
        asked.append(done)
        return {t: math.log(p) for t, p in table[done].items()}

    return next_top, asked


def test_first_token_decides_when_codes_have_their_own():
    next_top, asked = oracle({"": {"1": 0.4, "2": 0.2, "3": 0.1, "The": 0.05}})
    scored = run(score_codes(next_top, 4))
    np.testing.assert_allclose(scored.probs, [0.4 / 0.7, 0.2 / 0.7, 0.1 / 0.7, 0])
    assert asked == [""]
    assert scored.bounds == {4: pytest.approx(0.05)}  # below the top-k: at most the last listed
    assert scored.trace("completions") == {
        "probs_route": "completions",
        "observed_mass": 0.7,
        "below_top_k": {"4": pytest.approx(0.05)},
    }


def test_shared_first_token_scores_whole_continuations():
    # Digits split (SmolLM2, Qwen): "1" starts codes 1, 10 and 11, so every "c}" is scored whole.
    table = {
        "": {"1": 0.5, "2": 0.3, "The": 0.1},
        "1": {"}": 0.6, "0": 0.3, "1": 0.05},
        "2": {"}": 0.9, ".": 0.1},
        "10": {"}": 0.8},
        "11": {"}": 0.5},
    }
    next_top, asked = oracle(table)
    scored = run(score_codes(next_top, 11))
    expected = np.zeros(11)
    expected[[0, 1, 9, 10]] = [0.5 * 0.6, 0.3 * 0.9, 0.5 * 0.3 * 0.8, 0.5 * 0.05 * 0.5]
    np.testing.assert_allclose(scored.probs, expected / expected.sum())
    assert asked == ["", "1", "10", "11", "2"]  # depth first: each position right after its parent
    assert set(scored.bounds) == {3, 4, 5, 6, 7, 8, 9}
    assert scored.bounds[3] == pytest.approx(0.1)


def test_whole_number_tokens_decide_at_the_first_position():
    # Llama 3 and tiktoken-style vocabularies: "10" and "11" are tokens of their own.
    next_top, asked = oracle({"": {"1": 0.3, "10": 0.2, "11": 0.1, **{str(c): 0.04 for c in range(2, 10)}}})
    scored = run(score_codes(next_top, 11))
    raw = np.array([0.3] + [0.04] * 8 + [0.2, 0.1])
    np.testing.assert_allclose(scored.probs, raw / raw.sum())
    assert asked == [""] and not scored.bounds


# -- chat templates -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def embedded():
    return Embedded()


def test_gguf_template_renders_as_llama_cpp_does(embedded):
    template = ChatTemplate.load(default_model_path())
    s = wvs7()
    for culture, item in [("BRA", "Q1"), ("NGA", "Q241")]:
        messages = persona_messages(s.culture(culture), s.item(item))
        assert template.render(messages) == embedded.prompt_text(messages)
    assert template.render([{"role": "user", "content": "x"}], add_generation_prompt=False).endswith("<|im_end|>\n")


def test_jinja_template_file_and_bad_templates(tmp_path):
    good = tmp_path / "t.jinja"
    good.write_text(
        "{{ bos_token }}{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}<assistant>{% endif %}"
    )
    assert ChatTemplate.load(good).render([{"role": "user", "content": "hi"}]) == "<user>hi\n<assistant>"
    bad = tmp_path / "bad.jinja"
    bad.write_text("{% for m in messages %}{{ m['content'] }")
    with pytest.raises(CulturescopeError, match=r"bad.jinja: line 1:"):
        ChatTemplate.load(bad)
    eos = tmp_path / "eos.jinja"
    eos.write_text("{% for m in messages %}{{ m['content'] + eos_token }}{% endfor %}")
    with pytest.raises(CulturescopeError, match="writes eos_token, which a Jinja file cannot give"):
        ChatTemplate.load(eos).render([{"role": "user", "content": "hi"}])
    with pytest.raises(CulturescopeError, match="chat_template: file not found"):
        ChatTemplate.load(tmp_path / "absent.gguf")
    with pytest.raises(CulturescopeError, match="chat_template is for OpenAI-compatible servers"):
        BackboneSpec(name="e", provider="embedded", chat_template=str(good))


def test_experiment_file_chat_template_is_relative_to_the_file(tmp_path):
    (tmp_path / "t.jinja").write_text("{% for m in messages %}{{ m['content'] }}{% endfor %}")
    config = tmp_path / "exp.yaml"
    config.write_text(
        "backbones:\n  - {provider: openai, model: m, base_url: 'http://127.0.0.1:9/v1', chat_template: t.jinja}\n"
    )
    spec = load_experiment(config)["backbones"][0]
    assert spec.chat_template == str(tmp_path / "t.jinja")
    assert spec.make().probs_route == "completions"


# -- vLLM / SGLang prefill: exact request bodies, answers computed by the embedded model --------------


class PrefillServer:
    """A stand-in for vLLM (and SGLang: same fields) answering ``continue_final_message`` requests: the
    chat is rendered with the final assistant message left open, and the top log-probabilities of the
    next token come from the embedded model, evaluated as the in-process scorer evaluates (the prompt
    through the answer prefix in blocks, each further token alone). Top-k above ``max_logprobs`` is
    refused as vLLM refuses it (its ``--max-logprobs``, 20 by default)."""

    def __init__(self, embedded, max_logprobs):
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self.embedded, self.max_logprobs, self.lock = embedded, max_logprobs, threading.Lock()
        template = embedded._llm.metadata["tokenizer.chat_template"]
        self.format = Jinja2ChatFormatter(template, eos_token="<|im_end|>", bos_token="", add_generation_prompt=False)
        self.server = ScriptedServer([], respond=self.respond)

    def respond(self, body, n):
        k = body.get("top_logprobs", 0)
        if k > self.max_logprobs:
            message = f"Requested top_logprobs of {k}, which is greater than max allowed: {self.max_logprobs}"
            return 400, {"object": "error", "message": message, "type": "BadRequestError", "param": None, "code": 400}
        final = body["messages"][-1]["content"]
        text = self.format(messages=body["messages"]).prompt
        text = text[: text.rindex(final) + len(final)]  # continue_final_message: the final message left open
        with self.lock:
            top = self.top(text, k)
        token, logprob = top[0]
        alternatives = [{"token": t, "logprob": lp, "bytes": list(t.encode())} for t, lp in top]
        return 200, {
            "id": f"chatcmpl-{n}",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": token, "reasoning_content": None, "tool_calls": []},
                    "logprobs": {
                        "content": [
                            {
                                "token": token,
                                "logprob": logprob,
                                "bytes": list(token.encode()),
                                "top_logprobs": alternatives,
                            }
                        ]
                    },
                    "finish_reason": "length",
                    "stop_reason": None,
                }
            ],
            "usage": {"prompt_tokens": 100, "completion_tokens": 1, "total_tokens": 101},
        }

    def top(self, text, k):
        e = self.embedded
        cut = text.rfind(PREFIX) + len(PREFIX) if PREFIX in text else len(text)
        base = e._tokens(text[:cut])
        tail = e._tokens(text)[len(base) :]
        logits = e._eval_blocks(base)
        for pos, token in enumerate(tail):
            e._llm.n_tokens = len(base) + pos
            e._llm.eval([token])
            logits = e._last_logits()
        e._llm.n_tokens = len(base) // 32 * 32
        lsm = log_softmax(logits)
        best = np.argsort(-lsm)[:k]
        return [(e._llm.detokenize([int(i)]).decode("utf-8", errors="ignore"), float(lsm[i])) for i in best]


PREFILL_FIELDS = {
    "model": "m",
    "max_tokens": 1,
    "logprobs": True,
    "temperature": 0.0,
    "continue_final_message": True,
    "add_generation_prompt": False,
}


@pytest.fixture
def prefill_server(embedded):
    servers = []

    def make(max_logprobs):
        servers.append(PrefillServer(embedded, max_logprobs))
        return servers[-1].server

    yield make
    for s in servers:
        s.server.close()


def test_prefill_route_request_bodies_and_values(embedded, prefill_server):
    server = prefill_server(max_logprobs=1000)  # vllm serve ... --max-logprobs 1000
    backend = OpenAICompatible("m", base_url=server.url + "/v1")
    assert run(backend.route()) == "prefill" and len(server.requests) == 1  # the probe
    s = wvs7()
    for culture, item in [("BRA", "Q1"), ("NZL", "Q241")]:
        messages = persona_messages(s.culture(culture), s.item(item))
        n = len(s.item(item).options)
        start = len(server.requests)
        probs, text, trace = run(backend.option_probs(messages, PREFIX, n))
        expected, _ = run(embedded.option_probs(messages, PREFIX, n))
        np.testing.assert_allclose(probs, expected, atol=1e-6)
        assert text is None and trace["probs_route"] == "prefill" and "below_top_k" not in trace
        sent = [r["json"] for r in server.requests[start:]]
        assert len(sent) == (1 if n <= 9 else 12)  # 11 options: the first position, "1".."9", "10", "11"
        for body in sent:
            assert body == PREFILL_FIELDS | {
                "messages": [*messages, {"role": "assistant", "content": body["messages"][-1]["content"]}],
                "top_logprobs": 1000,
            }
        assert [b["messages"][-1]["content"] for b in sent][:3] == [PREFIX, PREFIX + "1", PREFIX + "10"][: len(sent)]
    probe = server.requests[0]["json"]
    assert probe == PREFILL_FIELDS | {
        "messages": [
            {"role": "user", "content": "Count from 1 to 10, separated by commas."},
            {"role": "assistant", "content": "1,2,3,4,5,6,"},
        ],
        "top_logprobs": 20,
    }
    assert all(r["path"] == "/v1/chat/completions" for r in server.requests)


def test_codes_below_a_servers_top_20_are_bounded_not_zero(embedded, prefill_server):
    server = prefill_server(max_logprobs=20)  # vLLM's default: a wide request is refused once
    backend = OpenAICompatible("m", base_url=server.url + "/v1")
    s = wvs7()
    messages = persona_messages(s.culture("BRA"), s.item("Q90"))
    probs, _, trace = run(backend.option_probs(messages, PREFIX, 10))
    assert trace["top_k"] == 20 and trace["below_top_k"]
    below = [int(c) for c in trace["below_top_k"]]
    # The in-process absolute probabilities of each code's continuation.
    llm, base = embedded._llm, embedded.prompt_text(messages) + PREFIX
    prompt = embedded._tokens(base)
    absolute = []
    for c in range(1, 11):
        llm.reset()
        logits, lp = embedded._eval_blocks(prompt), 0.0
        for t in embedded._tokens(base + f"{c}}}")[len(prompt) :]:
            lp += float(log_softmax(logits)[t])
            llm.eval([t])
            logits = embedded._last_logits()
        absolute.append(math.exp(lp))
    absolute = np.array(absolute)
    seen = [c - 1 for c in range(1, 11) if c not in below]
    for c in below:
        assert probs[c - 1] == 0 and absolute[c - 1] <= trace["below_top_k"][str(c)] * (1 + 1e-6)
    np.testing.assert_allclose(probs[seen], absolute[seen] / absolute[seen].sum(), rtol=1e-5)
    assert trace["observed_mass"] == pytest.approx(absolute[seen].sum(), rel=1e-4)
    refused = [r for r in server.requests if r["json"]["top_logprobs"] > 20]
    assert len(refused) == 1  # asked wide once; the refusal is remembered


def reply_with_logprobs():
    """A chat completion whose reply writes \\boxed{2} with top alternatives at the answer token."""
    tokens = [("\\", []), ("boxed", []), ("{", []), ("2", [("2", 0.6), ("1", 0.3), ("The", 0.05)]), ("}", [])]
    content = [
        {
            "token": t,
            "logprob": math.log(dict(alts).get(t, 0.99)),
            "bytes": None,
            "top_logprobs": [{"token": a, "logprob": math.log(p), "bytes": None} for a, p in alts],
        }
        for t, alts in tokens
    ]
    return chat_completion("\\boxed{2}", logprobs={"content": content})


@pytest.mark.parametrize("server_kind", ["refuses the field (OpenAI)", "opens a new turn"])
def test_servers_that_do_not_continue_fall_back_to_the_reply_with_a_notice(server_kind):
    def respond(body, n):
        if "continue_final_message" in body:
            if server_kind.startswith("refuses"):
                message = "Unrecognized request argument supplied: continue_final_message"
                return 400, {"error": {"message": message, "type": "invalid_request_error"}}
            return 200, reply_with_logprobs()  # a new assistant turn: "\boxed{2}", not "7"
        return 200, reply_with_logprobs()

    server = ScriptedServer([], respond=respond)
    try:
        backend = OpenAICompatible("m", base_url=server.url + "/v1")
        probs, text, trace = run(backend.option_probs([{"role": "user", "content": "Q?"}], PREFIX, 4))
    finally:
        server.close()
    assert backend.probs_route == "reply" and "did not continue a prefilled assistant message" in backend.probs_notice
    np.testing.assert_allclose(probs, [1 / 3, 2 / 3, 0, 0])
    assert text == "\\boxed{2}"
    assert trace["probs_route"] == "reply" and trace["notice"].startswith("inexact")
    assert trace["below_top_k"] == {"3": pytest.approx(0.05), "4": pytest.approx(0.05)}
    assert len(server.requests) == 2  # the probe, then the reply


# -- a real llama-cpp-python server, the completions route -------------------------------------------


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    server = LlamaServer(default_model_path(), free_port(), tmp_path_factory.mktemp("llama") / "server.log")
    yield server
    server.kill()


def test_completions_route_on_llama_cpp_server_equals_in_process(tmp_path, embedded, llama_server):
    config = tmp_path / "exp.yaml"
    backbone = {
        "name": "smollm2-http",
        "provider": "openai",
        "model": "smollm2",
        "base_url": llama_server.url,
        "chat_template": str(default_model_path()),
        "concurrency": 1,
    }
    config.write_text(json.dumps({"backbones": [backbone], "cultures": ["BRA", "NZL"]}))  # JSON is YAML
    spec = load_experiment(config)["backbones"][0]
    backend = spec.make()
    s = wvs7()
    worst = 0.0
    for culture in ("BRA", "NZL"):
        for item in EVERY_COUNT:
            messages = persona_messages(s.culture(culture), s.item(item))
            n = len(s.item(item).options)
            probs, text, trace = run(backend.option_probs(messages, PREFIX, n))
            expected, _ = run(embedded.option_probs(messages, PREFIX, n))
            assert probs is not None and trace["probs_route"] == "completions", (culture, item)
            assert "below_top_k" not in trace and trace["top_k"] == 1000
            worst = max(worst, float(np.abs(probs - expected).max()))
    assert worst <= 1e-3

    # Without a chat_template, the probe finds that this server opens a new assistant turn.
    bare = OpenAICompatible("smollm2", llama_server.url)
    assert run(bare.route()) == "reply"


def test_probs_run_over_http_stores_how_each_distribution_was_read(tmp_path, llama_server):
    spec = BackboneSpec(
        name="smollm2-http",
        provider="openai",
        model="smollm2",
        base_url=llama_server.url,
        chat_template=str(default_model_path()),
        concurrency=1,
    )
    from culturescope.engine.cache import RequestCache

    cache = RequestCache(tmp_path / "cache.sqlite")
    experiment = Experiment([spec], ["MEX"], modes=["probs"], limit=3)
    table = execute(experiment, wvs7(), tmp_path / "run", cache).responses()
    assert len(table) == 3 and (table["status"] == "ok").all()
    for row in table.itertuples():
        assert abs(sum(row.probs) - 1) < 1e-9
        assert row.trace["probs_route"] == "completions" and 0 < row.trace["observed_mass"] <= 1
    # A second run is answered from the cache, trace included.
    again = execute(experiment, wvs7(), tmp_path / "run2", cache).responses()
    assert list(again["trace"]) == list(table["trace"])


def completion(logprobs):
    return {
        "id": "cmpl-1",
        "object": "text_completion",
        "created": 0,
        "model": "m",
        "choices": [{"index": 0, "text": "2", "logprobs": logprobs, "finish_reason": "length"}],
        "usage": {"prompt_tokens": 50, "completion_tokens": 1, "total_tokens": 51},
    }


LEGACY = {  # vLLM, SGLang, llama-cpp-python: OpenAI's legacy completions shape
    "text_offset": [120],
    "token_logprobs": [math.log(0.5)],
    "tokens": ["2"],
    "top_logprobs": [{"2": math.log(0.5), "1": math.log(0.3), "The": math.log(0.1)}],
}
CHAT_SHAPED = {  # llama.cpp's llama-server answers /v1/completions in the chat completions' shape
    "content": [
        {
            "id": 17,
            "token": "2",
            "logprob": math.log(0.5),
            "bytes": [50],
            "top_logprobs": [
                {"id": 17, "token": "2", "logprob": math.log(0.5), "bytes": [50]},
                {"id": 16, "token": "1", "logprob": math.log(0.3), "bytes": [49]},
                {"id": 504, "token": "The", "logprob": math.log(0.1), "bytes": [84, 104, 101]},
            ],
        }
    ]
}


@pytest.mark.parametrize("logprobs", [LEGACY, CHAT_SHAPED], ids=["legacy", "chat-shaped"])
def test_completions_route_request_and_both_response_shapes(tmp_path, logprobs):
    template = tmp_path / "t.jinja"
    template.write_text("{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}[assistant] ")

    def respond(body, n):
        if body["logprobs"] > 20:
            return 400, {"error": {"message": "logprobs must be at most 20", "type": "invalid_request_error"}}
        return 200, completion(logprobs)

    server = ScriptedServer([], respond=respond)
    try:
        backend = OpenAICompatible("m", base_url=server.url + "/v1", chat_template=template)
        probs, _, trace = run(backend.option_probs([{"role": "user", "content": "Q?"}], PREFIX, 3))
    finally:
        server.close()
    np.testing.assert_allclose(probs, [0.3 / 0.8, 0.5 / 0.8, 0])
    assert trace == {
        "probs_route": "completions",
        "observed_mass": 0.8,
        "top_k": 20,
        "below_top_k": {"3": pytest.approx(0.1)},
    }
    sent = [r["json"] for r in server.requests]
    assert [r["path"] for r in server.requests] == ["/v1/completions"] * 2
    assert sent[1] == {
        "model": "m",
        "prompt": "[user] Q?\n[assistant] \\boxed{",
        "max_tokens": 1,
        "logprobs": 20,
        "temperature": 0.0,
    }
    assert sent[0] == sent[1] | {"logprobs": 1000}  # asked wide first; refused, then 20


def test_every_online_request_and_reply_has_the_sdks_shape(tmp_path):
    """The OpenAI-compatible backend posts its own JSON (not through the SDK): every body it sends,
    by every route (chat, structured output, prefill, completions, the reply), is a valid request of
    the SDK's types, and the replies it reads are valid replies of them."""
    from openai.types import Completion
    from openai.types import completion_create_params as completions
    from openai.types.chat import ChatCompletion
    from openai.types.chat import completion_create_params as chats
    from pydantic import TypeAdapter

    def respond(body, n):
        if "prompt" in body:
            return 200, completion(LEGACY)
        if "continue_final_message" in body:
            return 400, {"error": {"message": "Unrecognized request argument supplied: continue_final_message"}}
        if "response_format" in body:
            return 200, chat_completion("\\boxed{2}")
        return 200, reply_with_logprobs()

    template = tmp_path / "t.jinja"
    template.write_text("{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}[assistant] ")
    server = ScriptedServer([], respond=respond)
    messages = [{"role": "system", "content": "You are from Brazil."}, {"role": "user", "content": "Q?"}]
    try:
        plain = OpenAICompatible("m", base_url=server.url + "/v1")
        decoding = Decoding(temperature=0.6, top_p=0.9, max_tokens=32, seed=3, thinking=False)
        done = run(plain.chat(messages, decoding, 1))
        chosen = run(plain.choose(messages, decoding, 0, ["\\boxed{1}", "\\boxed{2}"]))
        probs, _, trace = run(plain.option_probs(messages, PREFIX, 4))  # prefill refused: the reply
        templated = OpenAICompatible("m", base_url=server.url + "/v1", chat_template=template)
        by_completions, _, _ = run(templated.option_probs(messages, PREFIX, 3))
    finally:
        server.close()
    assert (done.text, done.prompt_tokens, done.completion_tokens) == ("\\boxed{2}", 10, 3)
    assert chosen.text == "\\boxed{2}" and trace["probs_route"] == "reply"
    np.testing.assert_allclose(probs, [1 / 3, 2 / 3, 0, 0])
    np.testing.assert_allclose(by_completions, [0.3 / 0.8, 0.5 / 0.8, 0])
    chat_request = TypeAdapter(chats.CompletionCreateParamsNonStreaming)
    completions_request = TypeAdapter(completions.CompletionCreateParamsNonStreaming)
    paths = []
    for sent in server.requests:
        paths.append(sent["path"])
        assert sent["headers"]["content-type"] == "application/json"
        if sent["path"] == "/v1/completions":
            completions_request.validate_python(sent["json"], strict=True)
        else:
            chat_request.validate_python(sent["json"], strict=True)
    assert paths == ["/v1/chat/completions"] * 4 + ["/v1/completions"]
    assert server.requests[0]["json"]["chat_template_kwargs"] == {"enable_thinking": False}
    assert server.requests[1]["json"]["response_format"]["type"] == "json_schema"
    for reply in (chat_completion("\\boxed{2}"), reply_with_logprobs()):
        ChatCompletion.model_validate(reply, strict=True)
    Completion.model_validate(completion(LEGACY), strict=True)
