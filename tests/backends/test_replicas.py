"""Many replicas behind one backbone: two real llama.cpp servers, one killed mid-run."""

import json
import subprocess
import sys

from culturescope.backends import BackboneSpec
from culturescope.backends.embedded import default_model_path
from culturescope.engine.store import Run
from helpers.clitools import env_with, wait_for_lines
from helpers.servers import LlamaServer, free_port

KEY = ["system", "backbone", "mode", "agent", "item", "round", "sample"]


def test_a_replica_killed_mid_run_leaves_the_run_to_the_other(tmp_path):
    servers = [LlamaServer(default_model_path(), free_port(), tmp_path / f"s{i}.log", threads=1) for i in range(2)]
    try:
        backbone = {
            "name": "smollm2-pair",
            "provider": "openai",
            "model": "smollm2",
            "base_url": [s.url for s in servers],
            "concurrency": 2,
            "max_tokens": 16,
            "max_retries": 1,  # the run survives the kill without touching any request's retry budget
            "constrain": "grammar",  # every reply is an answer, so the run has scores to print
        }
        exp = {"backbones": [backbone], "cultures": ["BRA", "CHN"], "limit": 12, "modes": ["constrained"]}
        (tmp_path / "exp.yaml").write_text(json.dumps(exp))
        out = tmp_path / "r"
        args = [sys.executable, "-m", "culturescope", "run", "--config", str(tmp_path / "exp.yaml"), "--out", str(out)]
        proc = subprocess.Popen(args, env=env_with(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_for_lines(out / "responses.jsonl", 6, proc)
        servers[1].kill()
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
        table = Run.open(out).responses()
        assert len(table) == 24 and not table.duplicated(KEY).any()
        assert (table["raw"].str.len() > 0).all()
        posts = [s.log_path.read_text().count("POST /v1/chat/completions") for s in servers]
        assert posts[1] >= 1  # both served before the kill
        assert posts[0] >= 24 - posts[1]  # the survivor answered the rest
    finally:
        for s in servers:
            if s.proc.poll() is None:
                s.kill()


def test_replicas_in_the_experiment_file_and_on_the_command_line():
    one = BackboneSpec.parse("openai:m@http://a:1/v1,http://b:2/v1")
    two = BackboneSpec.from_dict(
        {"provider": "openai", "model": "m", "base_url": ["http://a:1/v1", "http://b:2/v1"]}, "exp.yaml: backbone 1"
    )
    assert one.base_url == two.base_url == ("http://a:1/v1", "http://b:2/v1")
    assert two.as_dict()["base_url"] == ["http://a:1/v1", "http://b:2/v1"]  # JSON-like, as manifests hold it
    backend = two.make()
    assert (
        backend.id
        == "openai:m@http://a:1/v1,http://b:2/v1"
        == BackboneSpec.parse("openai:m@http://b:2/v1,http://a:1/v1").make().id
    )
    assert [r.url for r in backend.pool.replicas] == ["http://a:1/v1", "http://b:2/v1"]
    assert BackboneSpec.parse("openai:m@http://a:1/v1").make().id == "openai:m@http://a:1/v1"  # one URL: as before
