"""Cultural Palette, part 2, without the training stack: the Pentachromatic data synthesis on the
embedded model, the preference pairs and the ORPO rows of the continent and Joint models."""

import json

import pytest

from culturescope.backends import BackboneSpec
from culturescope.engine.cache import RequestCache
from culturescope.errors import CulturescopeError
from culturescope.methods.cultural_palette.agents import CONTINENTS
from culturescope.methods.cultural_palette.training.orpo import JOINT, orpo_rows
from culturescope.methods.cultural_palette.training.synthesis import (
    PAIRS,
    RECORDS,
    Synthesis,
    feedback_messages,
    load_queries,
    preference_pairs,
    read_jsonl,
    synthesize,
)
from helpers.clitools import cli, env_with
from helpers.servers import ScriptedServer


def records_for(queries, continents=CONTINENTS):
    return [{"query": q, "continent": c, "response": f"{c} answer to {q}"} for q in queries for c in continents]


def test_preference_pairs_by_hand():
    records = records_for(["q1", "q2"]) + records_for(["q3"], CONTINENTS[:4])  # q3 lacks Oceania
    pairs = preference_pairs(records)
    assert len(pairs) == 2 * 5 * 4  # complete queries × continents × the four others
    assert {p["query"] for p in pairs} == {"q1", "q2"}
    africa_q1 = [p for p in pairs if p["query"] == "q1" and p["continent"] == "Africa"]
    assert {p["chosen"] for p in africa_q1} == {"Africa answer to q1"}
    assert sorted(p["rejected"] for p in africa_q1) == [f"{c} answer to q1" for c in CONTINENTS if c != "Africa"]
    assert all(p["rejected_continent"] in p["rejected"] for p in pairs)
    # with two continents, each query gives one pair per continent
    assert len(preference_pairs(records, ("Asia", "Europe"))) == 3 * 2


def test_orpo_rows_of_continent_and_joint_models():
    pairs = preference_pairs(records_for(["What is a good life?"]))
    asia = orpo_rows(pairs, "Asia")
    assert len(asia) == 4
    assert asia[0]["prompt"] == [{"role": "user", "content": "What is a good life?"}]  # eq. 6: the query alone
    assert asia[0]["chosen"] == [{"role": "assistant", "content": "Asia answer to What is a good life?"}]
    joint = orpo_rows(pairs, JOINT)
    assert len(joint) == 20
    systems = {r["prompt"][0]["content"] for r in joint}
    assert systems == {f"You are a knowledgeable chatbot about {c}." for c in CONTINENTS}
    for row in joint:  # the chosen response is the named continent's
        named = row["prompt"][0]["content"].split("about ")[1].rstrip(".")
        assert row["chosen"][0]["content"].startswith(named)


def test_feedback_prompt_contrasts_the_other_continents():
    system = feedback_messages("Africa", "q", "r")[0]["content"]
    assert "other cultures America, Asia, Europe, Oceania." in system
    assert system.count("Oceania") == 1  # the figure's Oceania-specific lines name the reviewed continent
    assert "Africa's adaptability" in system and "aspects of Africa cultures" in system


def test_load_queries(tmp_path):
    plain = tmp_path / "q.txt"
    plain.write_text("# a comment\nWhat is fair?\n\n  What is fair?  \nWho decides?\n")
    assert load_queries(plain) == ["What is fair?", "Who decides?"]
    prism = tmp_path / "conversations.jsonl"
    prism.write_text(json.dumps({"opening_prompt": "Is it OK to lie?", "user_id": "u1"}) + "\n\n")
    assert load_queries(prism) == ["Is it OK to lie?"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"query": "a"}\n{"text": "b"}\n')
    with pytest.raises(CulturescopeError, match="bad.jsonl:2"):
        load_queries(bad)
    assert len(load_queries()) == 40  # the shipped open questions


def test_synthesis_on_the_embedded_model_resumes(tmp_path):
    out, cache = tmp_path / "data", RequestCache(tmp_path / "cache.sqlite")
    synthesis = Synthesis(BackboneSpec.parse("embedded"), ["How should families care for elders?"], max_tokens=8)
    records = synthesize(synthesis, out, cache)
    assert sorted(r["continent"] for r in records) == sorted(CONTINENTS)
    assert all(r["response"] and r["base_response"] and r["feedback"] for r in records)
    assert len(read_jsonl(out / PAIRS)) == 20
    # a stop after three records and a torn fourth: the rerun completes the others, identical to the first run
    lines = (out / RECORDS).read_text().splitlines()
    (out / RECORDS).write_text("\n".join(lines[:3]) + "\n" + lines[3][:20])
    again = synthesize(synthesis, out, cache)
    key = lambda r: r["continent"]  # noqa: E731
    assert sorted(again, key=key) == sorted(records, key=key)
    with pytest.raises(CulturescopeError, match="other settings"):
        synthesize(Synthesis(synthesis.generator, synthesis.queries, max_tokens=9), out, cache)


def test_steps_that_reach_the_token_cap_are_named(tmp_path):
    """The server reports 3 completion tokens per reply: a cap of 3 is reached by every step, 4 by none."""
    srv = ScriptedServer([], respond=lambda body, n: f"reply {n}")
    try:
        spec = BackboneSpec.parse(f"openai:m@{srv.url}/v1")
        for cap, capped in ((3, ["base_response", "feedback", "response"]), (4, [])):
            synthesis = Synthesis(spec, ["q"], continents=("Asia", "Europe"), max_tokens=cap)
            records = synthesize(synthesis, tmp_path / str(cap), RequestCache(tmp_path / "cache.sqlite"))
            assert [r["capped"] for r in records] == [capped, capped]
        assert {r["json"]["max_tokens"] for r in srv.requests} == {3, 4}
    finally:
        srv.close()


def test_cli_synthesize_and_training_errors(tmp_path):
    queries = tmp_path / "q.txt"
    queries.write_text("What makes work meaningful?\nWhat is fair?\n")
    env = env_with(tmp_path)
    done = cli("palette", "synthesize", "--queries", queries, "--limit", "1", "--max-tokens", "8",
               "--out", tmp_path / "d", env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "5 records, 20 preference pairs" in done.stderr
    capped = sum(len(r["capped"]) for r in read_jsonl(tmp_path / "d" / RECORDS))
    assert capped and f"{capped} of 15 steps reached --max-tokens 8" in done.stderr
    bad = cli("palette", "train", tmp_path / "nowhere", env=env)
    assert bad.returncode == 2 and "no preference pairs" in bad.stderr
    bad = cli("palette", "train", tmp_path / "d", "--models", "Atlantis", env=env)
    assert bad.returncode == 2 and "unknown model(s) Atlantis" in bad.stderr
    bad = cli("palette", "merge", tmp_path, env=env)
    assert bad.returncode == 2 and "not a training workspace" in bad.stderr
