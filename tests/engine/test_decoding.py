"""Which answers may be shared: a greedy answer only where the backend really decodes greedily, and the
DEF paper's baselines decoded greedily (Tables 1 and 4) or sampled (§5.1), with CCSV's critiques as
distinct draws. Real servers on 127.0.0.1 and the embedded model."""

import asyncio
import json
from collections import Counter

import pytest
from anthropic.types import Message
from anthropic.types.message_create_params import MessageCreateParamsNonStreaming
from pydantic import TypeAdapter

from culturescope.backends.base import Decoding
from culturescope.backends.embedded import Embedded
from culturescope.engine.cache import RequestCache
from culturescope.engine.session import Session
from culturescope.engine.store import Run
from culturescope.methods.def_simulation.respondents import citizen_prompt
from culturescope.metrics.distribution import diversity_score
from culturescope.survey import wvs7
from helpers.clitools import cli, env_with
from helpers.servers import ScriptedServer

ANTHROPIC_PARAMS = TypeAdapter(MessageCreateParamsNonStreaming)


def anthropic_reply(text: str) -> dict:
    """A Messages API response body, built and checked by the SDK's own type."""
    return Message.model_validate(
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-x",
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 12, "output_tokens": 4},
        }
    ).model_dump(mode="json")


@pytest.fixture
def servers():
    started = []

    def start(script=None, respond=None):
        started.append(ScriptedServer(script or [], respond))
        return started[-1]

    yield start
    for s in started:
        s.close()


def scores(run, env) -> tuple[str, dict]:
    """The title and the Diversity % per system (culture USA) of ``simulate score``."""
    done = cli("simulate", "score", str(run), "--format", "json", env=env)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    return found["title"], {r["system"]: r["Diversity %"] for r in found["rows"] if r["culture"] == "USA"}


def test_nominally_greedy_anthropic_requests_are_each_sent(tmp_path, servers):
    """Anthropic's API takes no temperature and samples at 1: three `none` respondents asking the same
    greedy request are three draws, not one shared answer."""
    srv = servers([(200, anthropic_reply(f"Answer: {n}. Explanation: draw {n}."), {}) for n in (1, 2, 3)])
    env = env_with(tmp_path, ANTHROPIC_API_KEY="ak-test-123456")
    out = tmp_path / "run"
    common = ["-b", f"anthropic:claude-x@{srv.url}", "--cultures", "USA", "--only", "Q1", "--variant", "none"]
    done = cli("simulate", "run", *common, "--respondents", "3", "--out", str(out), env=env)
    assert done.returncode == 0, done.stderr
    assert len(srv.requests) == 3  # shared as greedy, it would be 1
    prompt = citizen_prompt("United States", wvs7().item("Q1"))
    for request in srv.requests:
        body = request["json"]
        ANTHROPIC_PARAMS.validate_python(body)
        assert set(body) <= set(MessageCreateParamsNonStreaming.__annotations__)
        assert body == {"model": "claude-x", "max_tokens": 512, "messages": [{"role": "user", "content": prompt}]}
    table = Run.open(out).responses().sort_values("sample")
    assert sorted(table["answer"]) == [1, 2, 3]  # each respondent kept its own draw
    assert all(t["decoding"] == {"do_sample": True} for t in table["trace"])
    title, diversity = scores(out, env)
    assert title.endswith("baseline decoding: sampled")
    assert diversity["none"] == pytest.approx(100 * diversity_score(3, 1, 3))  # 3 different responses, 1 item

    # The same run again answers from the run and the cache: a draw once made is kept, not redrawn.
    again = cli("simulate", "run", *common, "--respondents", "3", "--out", str(tmp_path / "again"), env=env)
    assert again.returncode == 0, again.stderr
    assert len(srv.requests) == 3
    assert Run.open(tmp_path / "again").responses().sort_values("sample")["raw"].tolist() == table["raw"].tolist()


class CountingEmbedded(Embedded):
    """The embedded model, counting the completions it is asked for."""

    calls = 0

    async def chat(self, messages, decoding, sample):
        self.calls += 1
        return await super().chat(messages, decoding, sample)


def test_greedy_requests_are_shared_where_the_backend_honours_temperature_0(tmp_path):
    backend = CountingEmbedded()
    cache = RequestCache(tmp_path / "cache.sqlite")
    session = Session(backend, "smol", cache, Run.create(tmp_path / "run", {}), None)
    messages = [{"role": "user", "content": citizen_prompt("Japan", wvs7().item("Q1"))}]
    greedy = [Decoding(temperature=0.0, max_tokens=24, seed=s) for s in (0, 1)]

    async def both():
        return await asyncio.gather(session.chat(messages, greedy[0], 0), session.chat(messages, greedy[1], 3))

    one, two = asyncio.run(both())
    assert backend.calls == 1 and len(cache) == 1 and one == two
    # Sharing is faithful: the model decoding greedily with yet another seed writes the same text.
    alone = asyncio.run(backend.chat(messages, Decoding(temperature=0.0, max_tokens=24, seed=7), 0))
    assert alone.text == one
    # Sampled requests that differ only in their seed are two draws.
    sampled = [Decoding(temperature=1.0, max_tokens=24, seed=s) for s in (0, 1)]
    asyncio.run(session.chat(messages, sampled[0], 0))
    asyncio.run(session.chat(messages, sampled[1], 0))
    assert backend.calls == 4 and len(cache) == 3


def test_sampled_ccsv_critiques_and_rewrites_are_distinct_draws(tmp_path, servers):
    srv = servers(respond=lambda body, n: f"Answer: {n % 3 + 1}. draw {n}")
    out = tmp_path / "run"
    done = cli(
        "simulate",
        "run",
        "-b",
        f"openai:m@{srv.url}/v1",
        "--cultures",
        "CHN",
        "--respondents",
        "2",
        "--only",
        "Q1",
        "--variant",
        "ccsv-single",
        "--decodes",
        "3",
        "--baseline-decoding",
        "sampled",
        "--out",
        str(out),
        env=env_with(tmp_path),
    )
    assert done.returncode == 0, done.stderr
    bodies = [r["json"] for r in srv.requests]
    assert len(bodies) == 2 * (1 + 3 + 3 + 1)  # per respondent: initial, 3 critiques, 3 rewrites, vote
    assert all(b["temperature"] == 1.0 for b in bodies)
    assert len({b["seed"] for b in bodies}) == len(bodies)  # no two draws share a seed
    by_text = Counter(b["messages"][-1]["content"] for b in bodies)
    assert by_text[citizen_prompt("China", wvs7().item("Q1"))] == 2  # one initial draw per respondent
    table = Run.open(out).responses().sort_values("sample")
    assert len(table) == 2 and table["trace"].iloc[0]["initial"] != table["trace"].iloc[1]["initial"]
    for trace in table["trace"]:
        assert len(set(trace["critiques"])) == 3 and len(set(trace["rewrites"])) == 3
        asked = [t for t in by_text if f"Response: {trace['initial']}" in t]
        critique = [t for t in asked if not any(c in t for c in trace["critiques"])]
        rewrite = [t for t in asked if all(c in t for c in trace["critiques"])]
        assert [by_text[t] for t in critique + rewrite] == [3, 3]  # one request each, sent as 3 draws
        assert trace["decoding"]["do_sample"] is True and trace["decoding"]["temperature"] == 1.0
    assert table["raw"].tolist() == [t["rewrites"][t["chosen"] or 0] for t in table["trace"]]
    assert Run.open(out).manifest["experiment"]["baseline_decoding"] == "sampled"


def test_sampled_baselines_on_the_embedded_model_have_diversity(tmp_path):
    """The default reproduces the zeros of Tables 1 and 4; --baseline-decoding sampled (§5.1) does not."""
    env = env_with(tmp_path)
    common = ["--cultures", "USA", "--respondents", "2", "--only", "Q1", "--decodes", "1", "--max-tokens", "32"]
    common += ["--variant", "none,cao,ccsv-single"]
    greedy, sampled = tmp_path / "greedy", tmp_path / "sampled"
    assert cli("simulate", "run", *common, "--out", str(greedy), env=env).returncode == 0
    done = cli("simulate", "run", *common, "--baseline-decoding", "sampled", "--out", str(sampled), env=env)
    assert done.returncode == 0, done.stderr

    title, diversity = scores(greedy, env)
    assert title.endswith("baseline decoding: greedy") and diversity == {"none": 0, "cao": 0, "ccsv-single": 0}
    assert "baseline_decoding" not in Run.open(greedy).manifest["experiment"]  # runs made before still resume

    title, diversity = scores(sampled, env)
    assert title.endswith("baseline decoding: sampled")
    table = Run.open(sampled).responses()
    for system, rows in table.groupby("system"):
        n_diff = rows["raw"].nunique()  # eq. 6 by hand from the stored responses: 2 draws, 2 answers
        assert n_diff == 2 and diversity[system] == pytest.approx(100 * diversity_score(n_diff, 1, 2))
        seeds = {t["decoding"]["seed"] for t in rows["trace"]}
        assert seeds == {0, 1} and all(t["decoding"]["temperature"] == 1.0 for t in rows["trace"])


def test_unknown_baseline_decoding_is_one_clear_line(tmp_path):
    done = cli("simulate", "run", "--baseline-decoding", "beam", "--out", str(tmp_path / "r"), env=env_with(tmp_path))
    assert done.returncode == 2 and done.stderr == "error: unknown baseline decoding 'beam'; use greedy or sampled\n"
