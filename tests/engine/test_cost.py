"""Cost before and after a run: --dry-run counts against what a real run then sends (a real local
HTTP server counts the requests), a cached run estimates nothing, --max-cost stops and resumes, the
price table and its overrides, and the paper's grid counted by hand."""

import json

import pytest

from culturescope.backends import BackboneSpec
from culturescope.backends.base import Decoding
from culturescope.engine import cost
from culturescope.engine.store import Run
from culturescope.survey import wvs7
from helpers.clitools import cli, env_with
from helpers.servers import ScriptedServer

KEY = ["system", "backbone", "mode", "agent", "item", "round", "sample"]
PRICES = "models:\n  priced-test: {input: 1000, output: 1000, date: '2026-01', source: test}\n"


@pytest.fixture
def server():
    s = ScriptedServer([], respond=lambda body, n: "Answer: 1\nExplanation: x.\n\\boxed{1}")
    yield s
    s.close()


def dry(args, env) -> dict:
    done = cli(*args, "--dry-run", "--format", "json", env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["rows"][0]


def test_dry_run_counts_what_the_run_sends_and_a_cached_run_nothing(tmp_path, server):
    env = env_with(tmp_path)
    spec = f"openai:m@{server.url}/v1"
    first = ["run", "-b", spec, "--cultures", "BRA,CHN", "--limit", "2", "--out", str(tmp_path / "a")]
    assert cli(*first, env=env).returncode == 0
    assert len(server.requests) == 4  # 2 cultures x 2 items
    # Four items: the first two are in the cache (the other run), the last two are to send.
    args = ["run", "-b", spec, "--cultures", "BRA,CHN", "--limit", "4", "--out", str(tmp_path / "b")]
    plan = dry(args, env)
    assert (plan["requests"], plan["in_run"], plan["cached"], plan["to_send"]) == (8, 0, 4, 4)
    assert plan["online_usd"] is None and plan["price"] is None  # model "m" has no price: tokens only
    assert plan["output_tokens"] == 4 * cost.TYPICAL_OUTPUT["sample"]
    assert not (tmp_path / "b").exists()  # a dry run writes nothing
    assert cli(*args, env=env).returncode == 0
    assert len(server.requests) == 4 + plan["to_send"]
    # After the run: everything is in the run; a new directory finds everything in the cache.
    assert dry(args, env)["to_send"] == 0 and dry(args, env)["in_run"] == 8
    again = dry(args[:-1] + [str(tmp_path / "c")], env)
    assert (again["cached"], again["to_send"], again["input_tokens"]) == (8, 0, 0)


def test_max_cost_stops_within_one_request_and_the_next_run_resumes(tmp_path, server):
    env = env_with(tmp_path)
    (tmp_path / "prices.yaml").write_text(PRICES)
    (tmp_path / "exp.yaml").write_text(
        f"backbones:\n  - {{name: priced-test, provider: openai, model: m, base_url: '{server.url}/v1'}}\n"
    )
    # Each request: 10 input + 3 output tokens at $1000 per million = $0.013.
    args = ["run", "--config", str(tmp_path / "exp.yaml"), "--cultures", "BRA,CHN,MEX", "--limit", "4"]
    args += ["--out", str(tmp_path / "r"), "--prices", str(tmp_path / "prices.yaml")]
    stopped = cli(*args, "--max-cost", "0.05", env=env)
    assert stopped.returncode == 2, stopped.stderr
    assert "error: spent $0.0520 of --max-cost $0.05" in stopped.stderr
    assert len(server.requests) == 4  # 0.039 < 0.05 <= 0.052 = 0.05 + less than one request
    table = Run.open(tmp_path / "r").responses()
    assert len(table) == 4
    usage = json.loads((tmp_path / "r" / "manifest.json").read_text())["usage"][0]
    assert (usage["input_tokens"], usage["output_tokens"], usage["cost_usd"]) == (40, 12, pytest.approx(0.052))
    done = cli(*args, env=env)
    assert done.returncode == 0, done.stderr
    assert len(server.requests) == 12  # nothing sent twice
    table = Run.open(tmp_path / "r").responses()
    assert len(table) == 12 and not table.duplicated(KEY).any()
    assert all(u == {"input": 10, "output": 3, "via": "online"} for u in table["usage"])
    usage = json.loads((tmp_path / "r" / "manifest.json").read_text())["usage"][0]
    assert usage["cost_usd"] == pytest.approx(12 * 0.013)


def test_paper_grid_dry_run_counts_by_hand(tmp_path, monkeypatch):
    """18 API backbones (the paper's Table 1) x 19 cultures x 223 items, nothing run yet."""
    names = [
        ("openai", "gpt-5.4"), ("openai", "gpt-5-mini"), ("openai", "gpt-4o-mini"),
        ("anthropic", "claude-opus-4.7"), ("anthropic", "claude-sonnet-4.5"), ("anthropic", "claude-3.5-haiku"),
        ("openai", "gemini-3.1-flash-lite-preview"), ("openai", "gemini-3-flash-preview"), ("openai", "gemini-2.5-pro"),
        ("openai", "grok-4.3"), ("openai", "grok-4"), ("openai", "grok-3"), ("openai", "Qwen3.5-27B"),
        ("openai", "Qwen3-32B"), ("openai", "Qwen2.5-32B-Instruct"), ("openai", "llama-4-scout"),
        ("openai", "llama-3.3-70b-instruct"), ("openai", "llama-3.1-70b-instruct"),
    ]  # fmt: skip
    cultures = [c.code for c in wvs7().cultures]
    lines = ["cultures: [" + ", ".join(cultures) + "]", "backbones:"]
    for provider, model in names:
        lines.append(
            f"  - {{provider: {provider}, model: {model}, api_key_env: FAKE_KEY, base_url: 'http://127.0.0.1:9'}}"
        )
    (tmp_path / "grid.yaml").write_text("\n".join(lines) + "\n")
    env = env_with(tmp_path, FAKE_KEY="not-a-key")
    done = cli("run", "--config", str(tmp_path / "grid.yaml"), "--out", str(tmp_path / "g"), "--dry-run",
               "--format", "json", env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = {r["backbone"]: r for r in json.loads(done.stdout)["rows"]}
    assert len(cultures) == 19 and len(wvs7().items) == 223
    for _, model in names:
        assert rows[model]["to_send"] == rows[model]["requests"] == 223 * 19
        assert rows[model]["output_tokens"] == 223 * 19 * 120
    assert rows["total"]["to_send"] == 18 * 19 * 223 == 76_266
    # The prompt tokens, by a second route: the characters of every persona prompt / 4, rounded up.
    from culturescope.methods.beyond_alignment.static import persona_messages

    survey = wvs7()
    by_hand = sum(
        -(-sum(len(m["content"]) for m in persona_messages(survey.culture(c), it)) // 4)
        for c in cultures
        for it in survey.items
    )
    assert rows["gpt-4o-mini"]["input_tokens"] == by_hand
    price = cost.price_table()["gpt-4o-mini"]
    assert rows["gpt-4o-mini"]["online_usd"] == pytest.approx((by_hand * 0.15 + 223 * 19 * 120 * 0.60) / 1e6, abs=1e-4)
    assert rows["gpt-4o-mini"]["batch_usd"] == pytest.approx(rows["gpt-4o-mini"]["online_usd"] / 2, abs=1e-4)
    assert price.source.startswith("https://")
    for unknown in ("grok-4", "Qwen3-32B", "claude-opus-4.7"):  # no price read for them: tokens only
        assert rows[unknown]["online_usd"] is None and rows[unknown]["input_tokens"] > 0


def test_price_lookup_and_override(tmp_path, monkeypatch):
    table = cost.price_table()
    spec = BackboneSpec(name="x", provider="openai", model="gpt-4o-mini-2024-07-18", api_key_env="K")
    assert cost.price_of(spec, table).input == 0.15  # a dated snapshot takes its model's price
    assert cost.price_of(BackboneSpec(name="grok-4", provider="openai", model="grok-4"), table) is None
    (tmp_path / "p.yaml").write_text("models:\n  gpt-4o-mini: {input: 1, output: 2}\n")
    monkeypatch.setenv(cost.PRICES_ENV, str(tmp_path / "p.yaml"))
    mine = cost.price_of(spec, cost.price_table())
    assert (mine.input, mine.output, mine.batch_input) == (1.0, 2.0, None)
    assert mine.cost(1e6, 1e6) == 3.0 and mine.cost(1e6, 1e6, batch=True) is None
    (tmp_path / "bad.yaml").write_text("models:\n  m: {input: cheap}\n")
    with pytest.raises(cost.CulturescopeError, match="'input' and 'output'"):
        cost.price_table(tmp_path / "bad.yaml")
    assert cost.output_tokens("sample", Decoding(max_tokens=64)) == 64
    assert cost.output_tokens("stated", Decoding(max_tokens=None), observed=33.5) == 33.5
