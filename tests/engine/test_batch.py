"""--batch against a real local server with OpenAI's files/batches endpoints and Anthropic's message
batches (tests/helpers/batch_server.py), their shapes checked with the SDKs' own types: a run
submits, is killed (SIGKILL) while the batches are in progress, the rerun collects without
resubmitting, failed and expired items are retried, and every response is stored exactly once."""

import itertools
import json
import signal
import subprocess
import sys
import time

import anthropic.types.messages as am
import openai.types as ot
import pytest
from anthropic.types.messages.batch_create_params import Request as AnthropicRequest
from openai.types.chat.completion_create_params import CompletionCreateParamsNonStreaming
from pydantic import TypeAdapter

from culturescope.engine.extract import parse_boxed
from culturescope.engine.store import Run
from helpers.batch_server import USAGE_IN, USAGE_OUT, BatchServer, reply
from helpers.clitools import cli, env_with

KEY = ["system", "backbone", "mode", "agent", "item", "round", "sample"]


def first_submission_fates():
    """A quarter of the items error and a quarter expire on their first submission, counted in the order
    they arrive: their ids hash the server's address, whose port changes from run to run."""
    arrived = itertools.count()

    def fate(custom_id: str, attempt: int) -> str | None:
        return {0: "error", 1: "expired"}.get(next(arrived) % 4) if attempt == 1 else None

    return fate


def always_expiring(bad: set[str]):
    """Every third item expires on every submission (``bad`` collects their ids)."""
    arrived = itertools.count()

    def fate(custom_id: str, attempt: int) -> str | None:
        if attempt == 1 and next(arrived) % 3 == 0:
            bad.add(custom_id)
        return "expired" if custom_id in bad else None

    return fate


@pytest.fixture
def server():
    s = BatchServer(first_submission_fates())
    yield s
    s.close()


def setup(tmp_path, server, batch_size=5):
    (tmp_path / "exp.yaml").write_text(
        "backbones:\n"
        f"  - {{name: oa, provider: openai, model: gpt-test, base_url: '{server.url}/v1', batch: true,"
        f" batch_size: {batch_size}}}\n"
        f"  - {{name: an, provider: anthropic, model: claude-test, base_url: '{server.url}',"
        " api_key_env: FAKE_ANTHROPIC_KEY, max_tokens: 256, batch: true}\n"
    )
    args = ["run", "--config", str(tmp_path / "exp.yaml"), "--cultures", "BRA,CHN,MEX", "--limit", "4"]
    env = env_with(tmp_path, FAKE_ANTHROPIC_KEY="sk-test", CULTURESCOPE_BATCH_POLL="0.05")
    return args + ["--out", str(tmp_path / "r")], env


def events(run_dir) -> list[dict]:
    return [json.loads(x) for x in (run_dir / "batches.jsonl").read_text().splitlines()]


def check_rows(run_dir, n_per_backbone: int, via: str = "batch"):
    table = Run.open(run_dir).responses()
    assert len(table) == 2 * n_per_backbone and not table.duplicated(KEY).any()
    for row in table.itertuples():
        assert row.usage == {"input": USAGE_IN, "output": USAGE_OUT, "via": row.usage["via"]}
    return table


def test_killed_while_batches_run_then_collected_without_resubmitting(tmp_path, server):
    args, env = setup(tmp_path, server)
    proc = subprocess.Popen([sys.executable, "-m", "culturescope", *args], env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while len([e for e in events_or_none(tmp_path / "r") if e["event"] == "submitted"]) < 3:
        assert proc.poll() is None and time.time() < deadline, proc.communicate()
        time.sleep(0.05)
    time.sleep(0.3)  # polling the held batches
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # 12 requests in chunks of 5: three OpenAI batches, each recorded with its custom ids, no answer yet.
    assert server.submissions == [("openai", 5), ("openai", 5), ("openai", 2)]
    submitted = [e["batch"] for e in events(tmp_path / "r") if e["event"] == "submitted"]
    assert submitted == ["batch_1", "batch_2", "batch_3"]
    assert Run.open(tmp_path / "r").responses().empty

    server.hold = False
    done = cli(*args, env=env)
    assert done.returncode == 0, done.stderr
    # The three open batches were collected, not resubmitted; only their failed items went again, once,
    # in chunks of 5.
    failed = {k: [cid for cid, f in b["fates"].items() if f] for k, b in server.batches.items()}
    n_oa = sum(len(failed[f"batch_{i}"]) for i in (1, 2, 3))
    assert 0 < n_oa < 12
    openai_after = [n for kind, n in server.submissions[3:] if kind == "openai"]
    assert openai_after == [5] * (n_oa // 5) + ([n_oa % 5] if n_oa % 5 else [])
    anthropic = [n for kind, n in server.submissions if kind == "anthropic"]
    first = next(k for k, b in server.batches.items() if b["kind"] == "anthropic")
    assert anthropic == [12, len(failed[first])]
    assert all(n <= 2 for n in server.attempts.values())
    assert server.online == []  # nothing went online
    table = check_rows(tmp_path / "r", 12)
    assert set(u["via"] for u in table["usage"]) == {"batch"}
    # Each stored answer is the server's reply to that very request, read by the usual parser.
    for row in table.itertuples():
        assert row.answer == parse_boxed(row.raw, 2).answer
    assert all(cid in {b["custom_id"] for b in server.bodies} for cid in server.attempts)
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert {u["backbone"]: u["batch"] for u in manifest["usage"]} == {"oa": 12, "an": 12}
    # A third run finds everything done: nothing submitted or sent.
    before = list(server.submissions)
    assert cli(*args, env=env).returncode == 0
    assert server.submissions == before and server.online == []
    check_rows(tmp_path / "r", 12)


def events_or_none(run_dir):
    return events(run_dir) if (run_dir / "batches.jsonl").exists() else []


def test_failed_items_go_online_with_batch_fallback(tmp_path, server):
    server.hold = False
    args, env = setup(tmp_path, server, batch_size=50)
    done = cli(*args, "--batch-fallback", env=env)
    assert done.returncode == 0, done.stderr
    assert server.submissions == [("openai", 12), ("anthropic", 12)]  # one batch each, no retry batch
    failed = sum(1 for b in server.batches.values() for f in b["fates"].values() if f)
    assert len(server.online) == failed > 0
    table = check_rows(tmp_path / "r", 12)
    assert sum(u["via"] == "online" for u in table["usage"]) == failed


def test_items_that_always_fail_stop_the_run_with_the_rest_stored(tmp_path):
    bad: set[str] = set()
    always = BatchServer(always_expiring(bad))
    always.hold = False
    try:
        args, env = setup(tmp_path, always, batch_size=50)
        done = cli(*args, env=env)
        assert done.returncode == 2
        assert "requests got no answer from 3 batches" in done.stderr and "--batch-fallback" in done.stderr
        assert always.submissions == [("openai", 12), ("openai", 4), ("openai", 4)]
        assert len(bad) == 4 and len(Run.open(tmp_path / "r").responses()) == 8  # the others are stored
        assert always.online == []
    finally:
        always.close()


def test_shapes_match_the_sdks_types(tmp_path, server):
    """The request lines culturescope sends and the server's answers, validated with the SDKs' types."""
    server.hold = False
    args, env = setup(tmp_path, server, batch_size=50)
    assert cli(*args, env=env).returncode == 0
    openai_lines = [b for b in server.bodies if "body" in b]
    anthropic_lines = [b for b in server.bodies if "params" in b]
    assert len(openai_lines) >= 12 and len(anthropic_lines) >= 12
    chat = TypeAdapter(CompletionCreateParamsNonStreaming)
    for line in openai_lines:
        assert (line["method"], line["url"]) == ("POST", "/v1/chat/completions")
        chat.validate_python(line["body"])
        assert line["body"]["model"] == "gpt-test" and line["body"]["messages"][0]["role"] == "system"
        assert len(line["custom_id"]) == 64  # the request's cache key (Anthropic allows at most 64 characters)
    request = TypeAdapter(AnthropicRequest)
    for line in anthropic_lines:
        request.validate_python(line)
        assert line["params"]["max_tokens"] == 256 and "system" in line["params"]
    for bid, b in server.batches.items():
        view = server.view(bid)
        if b["kind"] == "openai":
            batch = ot.Batch.model_validate(view)
            assert batch.endpoint == "/v1/chat/completions" and batch.completion_window == "24h"
            assert isinstance(batch.request_counts, ot.BatchRequestCounts)
        else:
            batch = am.MessageBatch.model_validate(view)
            assert batch.processing_status == "ended"
            params = {r["custom_id"]: r["params"] for r in b["requests"]}
            for line in server.anthropic_results(bid).decode().splitlines():
                result = am.MessageBatchIndividualResponse.model_validate_json(line)
                assert result.result.type in ("succeeded", "errored", "expired")
                if result.result.type == "succeeded":
                    p = params[result.custom_id]
                    messages = [{"role": "system", "content": p["system"]}, *p["messages"]]
                    assert result.result.message.content[0].text == reply(messages)
    files = [ot.FileObject.model_validate(server.file_object(f, "batch", "x.jsonl")) for f in server.files]
    assert files
