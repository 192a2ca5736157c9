"""The constrained and stated answer modes: the strict stated parser, the constraint encodings, the
rows and cache keys they make (on the scripted backend), and the refusals of what a paper or a
backend does not allow."""

import asyncio
import json

import pytest

from culturescope.backends import BackboneSpec
from culturescope.backends.base import Decoding
from culturescope.backends.constrain import ChoiceTrie, gbnf, structured_output
from culturescope.backends.scripted import Scripted
from culturescope.engine.cache import RequestCache
from culturescope.engine.extract import (
    BAD_SUM,
    MISSING_CODE,
    NO_JSON,
    NOT_NUMBER,
    NOT_PROBABILITY,
    OK,
    UNKNOWN_CODE,
    choice_text,
    parse_stated,
)
from culturescope.engine.session import chat_key, choices_of, mode_decoding, mode_refusal
from culturescope.errors import CulturescopeError
from culturescope.methods.beyond_alignment.run import Experiment, execute
from culturescope.methods.beyond_alignment.static import mode_messages, mode_prompts, persona_messages
from culturescope.methods.def_simulation.run import Simulation
from culturescope.survey import wvs7

# -- the stated parser, by hand -------------------------------------------------------------------


def test_stated_good_replies_are_normalized():
    s = parse_stated('{"1": 0.5, "2": 0.3, "3": 0.2}', 3)
    assert (s.status, s.probs) == (OK, [0.5, 0.3, 0.2])
    # sums to 0.99 (within 0.02): normalized, 0.5 / 0.99 ...
    s = parse_stated('Here you go:\n```json\n{"1": 0.5, "2": 0.29, "3": 0.2}\n```', 3)
    assert s.status == OK
    assert s.probs == pytest.approx([0.5 / 0.99, 0.29 / 0.99, 0.2 / 0.99])
    # integers 0 and 1 are probabilities; keys with spaces are read; the last object wins
    s = parse_stated('{"1": 1} then {" 1 ": 0, "2": 1}', 2)
    assert (s.status, s.probs) == (OK, [0.0, 1.0])
    # 1.02 is within the tolerance (after rounding 0.34 * 3 = 1.0200000000000002 to 6 decimals)
    assert parse_stated('{"1": 0.34, "2": 0.34, "3": 0.34}', 3).status == OK


@pytest.mark.parametrize(
    "reply, status, reason",
    [
        ("Answer: 2", NO_JSON, "no JSON object in the reply"),
        ('{"1": 0.5, "2": 0.5', NO_JSON, "no JSON object in the reply"),
        ('{"1": 0.5, "2": 0.5}', MISSING_CODE, "no probability for option(s) 3"),
        ('{"1": 0.5, "2": 0.3, "3": 0.2, "4": 0.0}', UNKNOWN_CODE, "unknown option(s) 4 (options are 1..3)"),
        ('{"1": "0.5", "2": 0.3, "3": 0.2}', NOT_NUMBER, "option 1: '0.5' is not a number"),
        ('{"1": true, "2": 0, "3": 0}', NOT_NUMBER, "option 1: True is not a number"),
        ('{"1": 50, "2": 30, "3": 20}', NOT_PROBABILITY, "option 1: 50 is outside [0, 1]"),
        ('{"1": -0.1, "2": 0.6, "3": 0.5}', NOT_PROBABILITY, "option 1: -0.1 is outside [0, 1]"),
        ('{"1": 0.5, "2": 0.3, "3": 0.17}', BAD_SUM, "the probabilities sum to 0.97, not 1 ± 0.02"),
        ('{"1": 0.5, "2": 0.3, "3": 0.23}', BAD_SUM, "the probabilities sum to 1.03, not 1 ± 0.02"),
        ('{"1": 0, "2": 0, "3": 0}', BAD_SUM, "the probabilities sum to 0, not 1 ± 0.02"),
    ],
)
def test_stated_bad_replies_name_their_reason(reply, status, reason):
    s = parse_stated(reply, 3)
    assert (s.probs, s.status, s.reason) == (None, status, reason)


# -- constraint encodings ----------------------------------------------------------------------------


def test_choices_and_their_encodings():
    choices = choices_of(mode_prompts()["choice"], 3)
    assert choices == ["\\boxed{1}", "\\boxed{2}", "\\boxed{3}"]
    assert gbnf(choices) == 'root ::= "\\\\boxed{1}" | "\\\\boxed{2}" | "\\\\boxed{3}"'
    assert structured_output("regex", ["Answer: 1", "a.b"]) == {"extra_body": {"regex": "(Answer:\\ 1|a\\.b)"}}
    assert choice_text('{"answer": "\\\\boxed{2}"}') == "\\boxed{2}"
    assert choice_text("\\boxed{2}") == "\\boxed{2}"
    assert choice_text('{"other": 1}') == '{"other": 1}'


def test_choice_trie_allows_only_continuations():
    vocab = {"\\": 1, "boxed": 2, "{": 3, "1": 4, "0": 5, "}": 6, "2": 7}

    def tokenize(text):  # digits apart, as SmolLM2's tokenizer
        out, rest = [], text
        while rest:
            tok = max((t for t in vocab if rest.startswith(t)), key=len)
            out.append(vocab[tok])
            rest = rest[len(tok) :]
        return out

    trie = ChoiceTrie(["\\boxed{1}", "\\boxed{2}", "\\boxed{10}"], tokenize, end=0)
    assert trie.allowed([]) == [1]
    assert trie.allowed([1, 2, 3]) == [4, 7]  # 1 (of 1 and 10) or 2
    assert trie.allowed([1, 2, 3, 4]) == [5, 6]  # "0" of 10 or "}" of 1
    assert trie.allowed([1, 2, 3, 4, 6]) == [0]  # \boxed{1} is complete: only the end


# -- rows, keys and refusals -------------------------------------------------------------------------


def test_cache_key_tells_constrained_from_sample():
    backend, messages, decoding = Scripted("uniform"), [{"role": "user", "content": "q"}], Decoding(temperature=0.6)
    sample = chat_key(backend, messages, decoding, 0)
    constrained = chat_key(backend, messages, decoding, 0, "constrained", ["a", "b"])
    assert len({sample, constrained, chat_key(backend, messages, decoding, 0, "constrained", ["a", "c"])}) == 3
    assert mode_decoding("stated", Decoding(max_tokens=64)).max_tokens == 256
    assert mode_decoding("constrained", Decoding(max_tokens=64)).max_tokens == 64


def test_stated_messages_replace_only_the_format_line():
    s = wvs7()
    paper = persona_messages(s.culture("BRA"), s.item("Q1"))
    stated = mode_messages(paper, "stated", 4)
    assert stated[0] == paper[0]
    assert stated[1]["content"].startswith(paper[1]["content"].split("Output format")[0])
    assert "\\boxed{number}" not in stated[1]["content"]
    assert stated[1]["content"].endswith(
        '{"1": <probability>, "2": <probability>, "3": <probability>, "4": <probability>}'
    )
    assert mode_messages(paper, "constrained", 4) == paper


def test_constrained_and_stated_rows(tmp_path):
    """Scripted 'last' answers the last choice in constrained mode; its text has no JSON, so every
    stated row is unparsed with the reason kept."""
    s = wvs7()
    exp = Experiment([BackboneSpec.parse("scripted:last")], ["BRA", "NZL"], modes=["constrained", "stated"], limit=3)
    run = execute(exp, s, tmp_path / "run", RequestCache(tmp_path / "c.sqlite"))
    t = run.responses()
    c = t[t["mode"] == "constrained"].sort_values(["culture", "item"])
    n = [len(s.item(i).options) for i in c["item"]]
    assert list(c["answer"]) == n and list(c["raw"]) == [f"\\boxed{{{k}}}" for k in n]
    assert set(c["status"]) == {OK}
    st = t[t["mode"] == "stated"]
    assert len(st) == 6 and set(st["status"]) == {NO_JSON} and st["probs"].isna().all()
    assert {json.dumps(tr) for tr in st["trace"]} == {json.dumps({"unparsed": "no JSON object in the reply"})}


def test_refusals(monkeypatch):
    from culturescope.backends.anthropic_backend import Anthropic

    monkeypatch.setenv("FAKE_KEY", "k-123")
    assert "stated" in mode_refusal(Anthropic("claude", "FAKE_KEY"), "constrained")
    assert mode_refusal(Anthropic("claude", "FAKE_KEY"), "stated") is None
    with pytest.raises(CulturescopeError, match="ccsv-list run in sample mode only"):
        Simulation([BackboneSpec.parse("scripted")], ["USA"], variants=["def", "ccsv-list"], answer_mode="stated")
    with pytest.raises(CulturescopeError, match="unknown constrain 'outlines'"):
        BackboneSpec.from_dict({"provider": "openai", "model": "m", "constrain": "outlines"}, "x")
    with pytest.raises(CulturescopeError, match="constrain is for OpenAI-compatible servers"):
        BackboneSpec.from_dict({"provider": "embedded", "constrain": "grammar"}, "x")


def test_scripted_choose_is_one_of_the_choices():
    text = asyncio.run(Scripted("first").choose([{"role": "user", "content": "q"}], Decoding(), 0, ["x", "y"])).text
    assert text == "x"
