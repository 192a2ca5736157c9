"""``--preset paper``: the Beyond-Alignment reference decoding per backbone, checked on the request
bodies a real HTTP server on 127.0.0.1 receives."""

import json

import pytest
import yaml

from culturescope.backends import BackboneSpec
from culturescope.backends.presets import apply_preset
from culturescope.engine.store import Run
from culturescope.errors import CulturescopeError
from helpers.clitools import cli, env_with
from helpers.servers import ScriptedServer

# The paper, §4: API models at temperature 1.0 and top_p 1.0; the Qwen and Llama series at 0.6 (the
# reference runs: top_p 0.95, thinking off, no output cap). None = not sent.
EXPECTED = {
    "Qwen/Qwen3-8B": {"temperature": 0.6, "top_p": 0.95, "max_tokens": None, "thinking": False},
    "meta-llama/Llama-3.1-70B-Instruct": {"temperature": 0.6, "top_p": 0.95, "max_tokens": None, "thinking": False},
    "gpt-4o-mini": {"temperature": 1.0, "top_p": 1.0, "max_tokens": None, "thinking": None},
    "gpt-5-mini": {"temperature": 1.0, "top_p": None, "max_tokens": None, "thinking": None},
    "gemini-2.5-pro": {"temperature": 1.0, "top_p": 1.0, "max_tokens": None, "thinking": None},
    "grok-4": {"temperature": 1.0, "top_p": 1.0, "max_tokens": None, "thinking": None},
}


def spec(model: str, url: str = "http://127.0.0.1:1/v1") -> dict:
    open_model = "qwen" in model.lower() or "llama" in model.lower()
    return {"provider": "openai", "model": model, "base_url": url} | ({} if open_model else {"api_key_env": "CS_KEY"})


def test_paper_preset_per_family():
    specs = [BackboneSpec.from_dict(spec(m), m) for m in EXPECTED]
    specs += [BackboneSpec.parse("anthropic:claude-opus-4.7"), BackboneSpec.parse("embedded")]
    specs.append(BackboneSpec.parse("transformers:/models/Qwen3-0.6B"))
    new, lines = apply_preset(specs, "paper")
    for s, (model, expected) in zip(new, EXPECTED.items()):
        d = s.decoding()
        assert {"temperature": d.temperature, "top_p": d.top_p, "max_tokens": d.max_tokens, "thinking": d.thinking} == (
            expected
        ), model
    claude, embedded, qwen_local = new[-3:]
    # Anthropic's API needs an output cap and takes no sampling parameter: culturescope's cap stays.
    assert claude.decoding().max_tokens == 512 and "needs one" in lines[-3]
    # A model of no family of the paper keeps culturescope's defaults.
    assert embedded == specs[-2] and "defaults kept" in lines[-2]
    # The transformers backend has no thinking switch and needs a cap: both said.
    assert qwen_local.decoding().thinking is None and qwen_local.decoding().max_tokens == 512
    assert "no switch" in lines[-1] and "needs one" in lines[-1]
    assert "reasoning on" in lines[3] and "reasoning on" not in lines[2]  # gpt-5-mini, not gpt-4o-mini
    with pytest.raises(CulturescopeError, match="unknown preset 'fast'; use paper"):
        apply_preset(specs, "fast")


def test_no_cap_and_unsent_top_p_are_for_openai_compatible_servers_only():
    with pytest.raises(CulturescopeError, match="needs an output cap"):
        BackboneSpec.from_dict({"provider": "anthropic", "model": "claude-x", "max_tokens": 0}, "b")
    with pytest.raises(CulturescopeError, match="top_p can be left unsent"):
        BackboneSpec.from_dict({"provider": "embedded", "top_p": None}, "b")


def bodies(server: ScriptedServer) -> dict[str, dict]:
    """The first request body the server received for each model."""
    out = {}
    for r in server.requests:
        out.setdefault(r["json"]["model"], r["json"])
    return out


def run_config(tmp_path, server, preset: str | None, *extra: str):
    config = {"backbones": [spec(m, server.url + "/v1") for m in EXPECTED], "cultures": ["BRA", "CHN"]}
    if preset:
        config["preset"] = preset
    path = tmp_path / f"exp-{preset}.yaml"
    path.write_text(yaml.safe_dump(config))
    out = tmp_path / f"run-{preset}-{len(extra)}"
    env = env_with(tmp_path, CS_KEY="sk-test-key")
    return cli("run", "--config", str(path), "--limit", "1", "--out", str(out), *extra, env=env), out


def test_request_bodies_under_the_preset(tmp_path):
    server = ScriptedServer([], respond=lambda body, n: "\\boxed{2}")
    try:
        done, out = run_config(tmp_path, server, "paper")
        assert done.returncode == 0, done.stderr
        sent = bodies(server)
        assert set(sent) == set(EXPECTED)
        for model, expected in EXPECTED.items():
            body = sent[model]
            assert body["temperature"] == expected["temperature"], model
            assert body.get("top_p") == expected["top_p"], model
            assert "max_tokens" not in body and "max_completion_tokens" not in body, model
            assert "reasoning_effort" not in body, model
            thinking = expected["thinking"]
            assert body.get("chat_template_kwargs") == (None if thinking is None else {"enable_thinking": thinking})
        assert "preset paper: gpt-5-mini (GPT, API model)" in done.stderr
        manifest = Run.open(out).manifest["experiment"]
        assert manifest["preset"] == "paper"
        recorded = {b["model"]: b["decoding"] for b in manifest["backbones"]}
        assert recorded["Qwen/Qwen3-8B"]["thinking"] is False and recorded["gpt-5-mini"]["top_p"] is None

        # Explicit overrides apply after the preset.
        server.requests.clear()
        done, _ = run_config(tmp_path, server, None, "--preset", "paper", "--max-tokens", "100", "--temperature", "0.3")
        assert done.returncode == 0, done.stderr
        body = bodies(server)["Qwen/Qwen3-8B"]
        assert (body["max_tokens"], body["temperature"], body["top_p"]) == (100, 0.3, 0.95)
        assert body["chat_template_kwargs"] == {"enable_thinking": False}

        # Without the preset: culturescope's defaults (512 new tokens, top_p 1.0, the template's thinking).
        server.requests.clear()
        done, _ = run_config(tmp_path, server, None)
        assert done.returncode == 0, done.stderr
        for model, body in bodies(server).items():
            open_model = "qwen" in model.lower() or "llama" in model.lower()
            assert (body["temperature"], body["top_p"], body["max_tokens"]) == (0.6 if open_model else 1.0, 1.0, 512)
            assert "chat_template_kwargs" not in body
    finally:
        server.close()


def test_unknown_preset_is_one_clear_error(tmp_path):
    done = cli("run", "--preset", "fast", "--limit", "1", "--out", str(tmp_path / "r"), env=env_with(tmp_path))
    assert done.returncode == 2
    assert done.stderr.strip() == "error: unknown preset 'fast'; use paper"
    assert not (tmp_path / "r").exists()
    path = tmp_path / "bad.yaml"
    path.write_text(json.dumps({"backbones": [{"provider": "embedded"}], "preset": "fast"}))
    done = cli("run", "--config", str(path), "--out", str(tmp_path / "r"), env=env_with(tmp_path))
    assert done.returncode == 2 and "unknown preset 'fast'" in done.stderr
