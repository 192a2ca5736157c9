import asyncio
import math

import numpy as np
import pytest

from culturescope.backends import BackboneSpec
from culturescope.backends.anthropic_backend import Anthropic
from culturescope.backends.base import BackendError, Decoding
from culturescope.backends.embedded import Embedded
from culturescope.backends.openai_compat import OpenAICompatible, codes_from_logprobs
from culturescope.backends.scoring import log_softmax
from culturescope.methods.beyond_alignment.static import answer_prefix, persona_messages
from culturescope.survey import wvs7
from helpers.servers import ScriptedServer, chat_completion

MESSAGES = [
    {"role": "system", "content": "You are a respondent from Brazil."},
    {"role": "user", "content": "Question: Q?\n\nOutput format MUST be exactly: \\boxed{number}"},
]
ERROR = {"error": {"message": "busy", "type": "server_error"}}


@pytest.fixture
def scripted():
    servers = []

    def make(script):
        servers.append(ScriptedServer(script))
        return servers[-1]

    yield make
    for s in servers:
        s.close()


def openai_backend(server, **kw):
    return OpenAICompatible("m", base_url=server.url + "/v1", backoff=0.01, **kw)


def test_429_and_500_are_retried_until_success(scripted):
    server = scripted([(429, ERROR, {"retry-after": "0"}), (500, ERROR, {}), (200, chat_completion("\\boxed{3}"), {})])
    done = asyncio.run(openai_backend(server, max_retries=3).chat(MESSAGES, Decoding(), 0))
    assert done.text == "\\boxed{3}" and done.prompt_tokens == 10
    assert len(server.requests) == 3
    assert server.requests[0]["path"] == "/v1/chat/completions"
    assert server.requests[0]["json"]["messages"] == MESSAGES


def test_gives_up_after_max_retries(scripted):
    server = scripted([(503, ERROR, {})])
    with pytest.raises(BackendError, match="gave up after 3 attempts"):
        asyncio.run(openai_backend(server, max_retries=2).chat(MESSAGES, Decoding(), 0))
    assert len(server.requests) == 3


def test_client_error_is_not_retried(scripted):
    server = scripted([(400, {"error": {"message": "model 'm' not found"}}, {})])
    with pytest.raises(BackendError, match="HTTP 400: .*model 'm' not found"):
        asyncio.run(openai_backend(server).chat(MESSAGES, Decoding(), 0))
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    "body, said",
    [
        (b"<html>502 Bad Gateway</html>", "HTTP 200, a reply that is no JSON object: '<html>502 Bad Gateway</html>'"),
        ({"object": "chat.completion", "choices": []}, 'a reply without choices: {"object": "chat.completion"'),
    ],
    ids=["not JSON", "no choices"],
)
def test_a_malformed_reply_is_one_clear_error(scripted, body, said):
    server = scripted([(200, body, {})])
    with pytest.raises(BackendError) as err:
        asyncio.run(openai_backend(server).chat(MESSAGES, Decoding(), 0))
    assert said in str(err.value) and str(err.value).startswith("openai:m@http://127.0.0.1")
    assert len(server.requests) == 1  # not retried: the server answered


def test_decoding_parameters_are_sent(scripted):
    server = scripted([(200, chat_completion("x"), {})])
    asyncio.run(openai_backend(server).chat(MESSAGES, Decoding(temperature=0.6, top_p=0.9, max_tokens=7, seed=5), 2))
    sent = server.requests[0]["json"]
    assert (sent["temperature"], sent["top_p"], sent["max_tokens"], sent["seed"]) == (0.6, 0.9, 7, 7)


def test_api_key_is_sent_but_never_echoed(scripted, monkeypatch):
    secret = "sk-test-5ecret-XYZ-123456"
    monkeypatch.setenv("CS_TEST_KEY", secret)
    server = scripted([(401, {"error": {"message": f"Incorrect API key provided: {secret}"}}, {})])
    with pytest.raises(BackendError) as err:
        asyncio.run(openai_backend(server, api_key_env="CS_TEST_KEY").chat(MESSAGES, Decoding(), 0))
    assert secret not in str(err.value) and "***" in str(err.value)
    assert server.requests[0]["headers"]["authorization"] == f"Bearer {secret}"


def test_missing_key_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("CS_ABSENT_KEY", raising=False)
    with pytest.raises(BackendError, match="environment variable CS_ABSENT_KEY is not set"):
        OpenAICompatible("gpt-x", api_key_env="CS_ABSENT_KEY")
    with pytest.raises(BackendError, match="environment variable CS_ABSENT_KEY is not set"):
        Anthropic("claude-x", api_key_env="CS_ABSENT_KEY")


def anthropic_message(text):
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-x",
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 4},
    }


def test_anthropic_request_and_response_shapes(scripted, monkeypatch):
    monkeypatch.setenv("CS_ANTHROPIC_KEY", "ak-test-123456")
    server = scripted(
        [
            (529, {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}, {}),
            (200, anthropic_message("\\boxed{2}"), {}),
        ]
    )
    backend = Anthropic("claude-x", api_key_env="CS_ANTHROPIC_KEY", base_url=server.url, backoff=0.01)
    done = asyncio.run(backend.chat(MESSAGES, Decoding(temperature=1.0, max_tokens=64), 0))
    assert (done.text, done.prompt_tokens, done.completion_tokens) == ("\\boxed{2}", 12, 4)
    assert len(server.requests) == 2  # 529 overloaded was retried
    sent = server.requests[-1]
    assert sent["path"] == "/v1/messages" and sent["headers"]["authorization"] == "Bearer ak-test-123456"
    assert sent["json"] == {
        "model": "claude-x",
        "max_tokens": 64,
        "system": MESSAGES[0]["content"],
        "messages": [MESSAGES[1]],
    }  # API 2026-10-21 takes no sampling parameters


def test_backbone_shorthand():
    assert BackboneSpec.parse("embedded").decoding().temperature == 0.6
    hosted = BackboneSpec.parse("openai:gpt-4o-mini")
    assert (hosted.api_key_env, hosted.decoding().temperature) == ("OPENAI_API_KEY", 1.0)
    local = BackboneSpec.parse("openai:qwen@http://127.0.0.1:8000/v1")
    assert (local.base_url, local.api_key_env, local.decoding().temperature) == ("http://127.0.0.1:8000/v1", None, 0.6)
    assert BackboneSpec.parse("anthropic:claude-x").api_key_env == "ANTHROPIC_API_KEY"


def tok(token, logprob, alternatives=()):
    return {
        "token": token,
        "logprob": logprob,
        "top_logprobs": [{"token": t, "logprob": math.log(p)} for t, p in alternatives],
    }


def test_codes_from_logprobs_by_hand():
    # "\boxed{" then "1" (P 1: .5, 2: .3, 3: .2), then "0" (P "}": .25, "0": .75), n = 11.
    tokens = [
        tok("\\", -0.1),
        tok("boxed", -0.1),
        tok("{", -0.1),
        tok("1", math.log(0.5), [("1", 0.5), ("2", 0.3), ("3", 0.2)]),
        tok("0", math.log(0.75), [("}", 0.25), ("0", 0.75)]),
        tok("}", -0.01),
    ]
    probs = codes_from_logprobs(tokens, "\\boxed{", 11)
    expected = np.zeros(11)
    expected[[0, 9, 1, 2]] = [0.5 * 0.25, 0.5 * 0.75, 0.3, 0.2]
    np.testing.assert_allclose(probs, expected)
    # Four options: one position decides; no answer prefix, no distribution.
    np.testing.assert_allclose(codes_from_logprobs(tokens, "\\boxed{", 4), [0.5, 0.3, 0.2, 0])
    assert codes_from_logprobs(tokens[:2], "\\boxed{", 4) is None


@pytest.fixture(scope="module")
def embedded():
    return Embedded()


def brute_force_logprobs(backend, messages, n):
    """Log-probabilities of each token of each code's continuation ("c}"), from scratch, one code at
    a time: no trie, no reuse."""
    llm = backend._llm
    base = backend.prompt_text(messages) + answer_prefix()
    prompt = backend._tokens(base)
    logps = []
    for c in range(1, n + 1):
        full = backend._tokens(base + f"{c}}}")
        assert full[: len(prompt)] == prompt
        llm.reset()
        logits = backend._eval_blocks(prompt)
        lps = []
        for t in full[len(prompt) :]:
            lps.append(float(log_softmax(logits)[t]))
            llm.eval([t])
            logits = backend._last_logits()
        logps.append(lps)
    return logps


def softmax(x):
    e = np.exp(np.asarray(x) - np.max(x))
    return e / e.sum()


def test_embedded_option_probs_match_brute_force(embedded):
    s = wvs7()
    for culture, qid in [("BRA", "Q1"), ("NZL", "Q241"), ("CHN", "Q106")]:
        item = s.item(qid)
        n = len(item.options)
        messages = persona_messages(s.culture(culture), item)
        probs, text = asyncio.run(embedded.option_probs(messages, answer_prefix(), n))
        assert text is None and probs.shape == (n,) and probs.sum() == pytest.approx(1.0)
        tokens = brute_force_logprobs(embedded, messages, n)
        if n <= 9:  # one forward pass: the first token decides
            expected = softmax([lps[0] for lps in tokens])
        else:  # "1}" vs "10}" vs "11}": whole continuations
            assert [len(lps) for lps in tokens] == [2] * 9 + [3] * (n - 9)
            expected = softmax([sum(lps) for lps in tokens])
        np.testing.assert_allclose(probs, expected, rtol=1e-5)


def test_embedded_prefix_reuse_does_not_change_scores(embedded):
    s = wvs7()
    a = persona_messages(s.culture("BRA"), s.items[0])
    b = persona_messages(s.culture("BRA"), s.items[1])
    first = asyncio.run(embedded.option_probs(a, answer_prefix(), 4))[0]
    asyncio.run(embedded.option_probs(b, answer_prefix(), 4))  # same system prompt: prefix reused
    embedded._llm.reset()
    fresh = asyncio.run(embedded.option_probs(a, answer_prefix(), 4))[0]
    again = asyncio.run(embedded.option_probs(a, answer_prefix(), 4))[0]
    np.testing.assert_array_equal(first, fresh)  # bit-identical whatever the cache held
    np.testing.assert_array_equal(again, fresh)


def test_embedded_chat_is_seeded(embedded):
    s = wvs7()
    messages = persona_messages(s.culture("MEX"), s.items[0])
    d = Decoding(temperature=0.6, max_tokens=24, seed=3)
    one = asyncio.run(embedded.chat(messages, d, 0))
    two = asyncio.run(embedded.chat(messages, d, 0))
    assert one.text == two.text and one.completion_tokens > 0


def test_embedded_prompt_too_long_is_a_clear_error(embedded):
    long = [{"role": "user", "content": "culture " * 5000}]
    with pytest.raises(BackendError, match="exceeds the context window"):
        asyncio.run(embedded.chat(long, Decoding(max_tokens=8), 0))


def test_embedded_constrained_greedy_reply_is_the_top_option(embedded):
    """At temperature 0 a constrained reply is the code P(code) puts first: "\\boxed{" is forced and, for
    items of up to 9 options, the code is one token, so the greedy choice is the argmax of probs."""
    s = wvs7()
    greedy = Decoding(temperature=0.0, max_tokens=16)
    for culture, qid in [("BRA", "Q1"), ("NZL", "Q71"), ("CHN", "Q33"), ("NGA", "Q40"), ("MEX", "Q122")]:
        item = s.item(qid)
        n = len(item.options)
        messages = persona_messages(s.culture(culture), item)
        choices = [f"\\boxed{{{k}}}" for k in range(1, n + 1)]
        reply = asyncio.run(embedded.choose(messages, greedy, 0, choices))
        probs, _ = asyncio.run(embedded.option_probs(messages, answer_prefix(), n))
        assert reply.text == choices[int(np.argmax(probs))], (culture, qid, reply.text, probs)


def test_embedded_reply_does_not_depend_on_what_the_cache_held(embedded):
    s = wvs7()
    a = persona_messages(s.culture("BRA"), s.items[0])
    b = persona_messages(s.culture("BRA"), s.items[1])  # same system prompt: its blocks are reused
    d = Decoding(temperature=0.6, max_tokens=24, seed=5)
    embedded._llm.reset()
    fresh = asyncio.run(embedded.chat(a, d, 0)).text
    asyncio.run(embedded.chat(b, d, 0))
    after_b = asyncio.run(embedded.chat(a, d, 0)).text
    again = asyncio.run(embedded.chat(a, d, 0)).text  # right after itself: its own blocks cached
    assert fresh == after_b == again
