"""Whole runs through the real CLI: embedded model, a real llama.cpp OpenAI-compatible server,
interruptions (SIGKILL, SIGINT, a server that dies) and resumption with every response exactly once."""

import json
import signal
import subprocess
import sys

import pytest

from culturescope.backends.embedded import default_model_path
from culturescope.engine.cache import RequestCache
from culturescope.engine.store import Run
from helpers.clitools import cli, env_with, lines, wait_for_lines
from helpers.servers import LlamaServer, ScriptedServer, chat_completion, free_port

KEY = ["system", "backbone", "mode", "agent", "item", "round", "sample"]


def assert_exactly_once(run_dir, expected):
    table = Run.open(run_dir).responses()
    assert len(table) == expected, table.groupby(KEY).size().max()
    assert not table.duplicated(KEY).any()
    return table


def test_embedded_run_both_modes_then_resume_is_a_no_op(tmp_path):
    env = env_with(tmp_path)
    args = [
        "run",
        "--cultures",
        "BRA,CHN",
        "--limit",
        "6",
        "--answer-mode",
        "sample,probs",
        "--out",
        str(tmp_path / "r"),
        "--format",
        "json",
    ]
    first = cli(*args, env=env)
    assert first.returncode == 0, first.stderr
    scores = json.loads(first.stdout)
    assert {s["mode"] for s in scores["systems"]} == {"sample", "probs"}
    table = assert_exactly_once(tmp_path / "r", 2 * 6 * 2)
    probs = table[table["mode"] == "probs"]
    assert (probs["status"] == "ok").all()
    assert all(abs(sum(p) - 1) < 1e-9 and len(p) == 4 for p in probs["probs"])  # Q1..Q6 have 4 options
    assert list(probs["answer"]) == [max(range(4), key=p.__getitem__) + 1 for p in probs["probs"]]
    sample = table[table["mode"] == "sample"]
    assert sample["raw"].map(lambda t: isinstance(t, str) and len(t) > 0).all()  # raw text kept
    again = cli(*args, env=env)
    assert again.returncode == 0 and "0 new responses (12 already" in again.stderr
    assert again.stdout == first.stdout
    assert_exactly_once(tmp_path / "r", 24)


def test_cache_answers_a_rerun_into_a_new_run(tmp_path):
    env = env_with(tmp_path)
    base = ["run", "--cultures", "NGA", "--limit", "3", "--answer-mode", "sample"]
    one = cli(*base, "--out", str(tmp_path / "a"), env=env)
    two = cli(*base, "--out", str(tmp_path / "b"), env=env)
    assert one.returncode == two.returncode == 0
    ta, tb = (Run.open(tmp_path / d).responses().sort_values("item") for d in "ab")
    assert list(ta["raw"]) == list(tb["raw"])  # same requests: served from the cache, identical
    assert len(RequestCache(tmp_path / "cache.sqlite")) == 3  # one entry per request, none twice


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_interrupted_run_resumes_exactly_once(tmp_path, sig):
    env = env_with(tmp_path)
    out = tmp_path / "r"
    args = [
        sys.executable,
        "-m",
        "culturescope",
        "run",
        "--cultures",
        "BRA,MEX",
        "--limit",
        "30",
        "--answer-mode",
        "probs",
        "--out",
        str(out),
    ]
    proc = subprocess.Popen(
        args,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # a shell that starts CI in the background ignores SIGINT for its children: undo that here
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    wait_for_lines(out / "responses.jsonl", 8, proc)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    if sig == signal.SIGINT:
        assert proc.returncode == 130 and "run the same command again to resume" in err
    kept = lines(out / "responses.jsonl")
    assert 8 <= kept < 60
    done = cli(*args[3:], env=env)
    assert done.returncode == 0, done.stderr
    assert f"{60 - kept} new responses ({kept} already" in done.stderr.replace("\n", " ")
    assert_exactly_once(out, 60)


@pytest.fixture
def llama_server(tmp_path):
    servers = []

    def start(port):
        servers.append(LlamaServer(default_model_path(), port, tmp_path / f"server{len(servers)}.log"))
        return servers[-1]

    yield start
    for s in servers:
        if s.proc.poll() is None:
            s.kill()


def write_config(path, url, **extra):
    backbone = {
        "name": "smollm2-http",
        "provider": "openai",
        "model": "smollm2",
        "base_url": url,
        "concurrency": 2,
        "max_retries": 1,
        **extra,
    }
    path.write_text(
        json.dumps({"backbones": [backbone], "cultures": ["BRA", "CHN"], "limit": 20, "modes": ["sample"]})
    )  # JSON is YAML
    return path


def test_openai_compatible_server_killed_mid_run(tmp_path, llama_server):
    port = free_port()
    server = llama_server(port)
    config = write_config(tmp_path / "exp.yaml", server.url)
    env = env_with(tmp_path)
    out = tmp_path / "r"
    args = [sys.executable, "-m", "culturescope", "run", "--config", str(config), "--out", str(out)]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_lines(out / "responses.jsonl", 6, proc)
    server.kill()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2
    assert "error:" in err and "gave up after 2 attempts" in err and "Traceback" not in err
    kept = lines(out / "responses.jsonl")
    assert 6 <= kept < 40

    restarted = llama_server(port)
    done = cli(*args[3:], env=env)
    assert done.returncode == 0, done.stderr
    table = assert_exactly_once(out, 40)
    assert (table["backbone"] == "smollm2-http").all()
    assert set(table["status"]) <= {"ok", "out_of_range", "no_box", "not_integer", "empty"}
    # Exactly the missing responses were asked of the restarted server: nothing finished was redone.
    assert restarted.log_path.read_text().count("POST /v1/chat/completions") == 40 - kept


def test_probs_mode_over_http_reads_logprobs(tmp_path, llama_server):
    server = llama_server(free_port())
    config = write_config(tmp_path / "exp.yaml", server.url)
    out = tmp_path / "r"
    done = cli(
        "run", "--config", str(config), "--answer-mode", "probs", "--limit", "3", "--out", str(out),
        env=env_with(tmp_path),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    table = assert_exactly_once(out, 2 * 3)
    # SmolLM2 rarely writes \boxed{; rows without an answer position keep the text and its status.
    for _, row in table.iterrows():
        if row["probs"] is not None:
            assert abs(sum(row["probs"]) - 1) < 1e-9 and row["status"] == "ok"
        else:
            assert isinstance(row["raw"], str)


def test_api_key_never_reaches_disk_or_output(tmp_path):
    secret = "sk-live-TOPSECRET-0123456789"
    server = ScriptedServer(
        [(429, {"error": {"message": "slow down"}}, {"retry-after": "0"}), (200, chat_completion("\\boxed{2}"), {})]
    )
    try:
        config = write_config(tmp_path / "exp.yaml", server.url + "/v1", api_key_env="CS_SECRET_KEY")
        out = tmp_path / "r"
        done = cli(
            "run",
            "--config",
            str(config),
            "--limit",
            "2",
            "--out",
            str(out),
            env=env_with(tmp_path, CS_SECRET_KEY=secret),
        )
        assert done.returncode == 0, done.stderr
        assert server.requests[0]["headers"]["authorization"] == f"Bearer {secret}"
    finally:
        server.close()
    assert_exactly_once(out, 4)
    assert secret not in done.stdout + done.stderr
    for path in [*out.iterdir(), *tmp_path.glob("cache.sqlite*")]:
        assert secret.encode() not in path.read_bytes(), path
    # Without the variable: one clear message, nothing else.
    missing = cli(
        "run",
        "--config",
        str(config),
        "--limit",
        "2",
        "--out",
        str(tmp_path / "r2"),
        env={k: v for k, v in env_with(tmp_path).items() if k != "CS_SECRET_KEY"},
    )
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines()[-1].startswith("error: environment variable CS_SECRET_KEY is not set")
