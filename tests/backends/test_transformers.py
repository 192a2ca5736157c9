"""The transformers backend on the embedded model's weights (the GGUF, dequantized by transformers)."""

import asyncio

import numpy as np
import pytest
import torch

from culturescope.backends.base import Decoding
from culturescope.backends.embedded import Embedded, default_model_path
from culturescope.backends.scoring import log_softmax, normalize
from culturescope.backends.transformers_backend import Transformers
from culturescope.methods.beyond_alignment.static import answer_prefix, persona_messages
from culturescope.methods.def_simulation.respondents import citizen_prompt
from culturescope.survey import wvs7
from helpers.clitools import cli as run_cli
from helpers.clitools import env_with


@pytest.fixture(scope="module")
def hf():
    return Transformers(default_model_path(), batch_size=4)


def jobs(*pairs):
    s = wvs7()
    return [
        (
            persona_messages(s.culture(c), s.item(q)),
            answer_prefix(),
            len(s.item(q).options),
        )
        for c, q in pairs
    ]


def full_scores(hf, messages, prefix, n):
    """Each code's whole continuation, one unpadded sequence at a time."""
    base = hf.prompt_text(messages) + prefix
    prompt = hf._tokens(base)
    logps = []
    for c in range(1, n + 1):
        seq = hf._tokens(base + f"{c}}}")
        with torch.no_grad():
            logits = hf.model(input_ids=torch.tensor([seq])).logits[0].numpy()
        lsm = log_softmax(logits[len(prompt) - 1 : len(seq) - 1])
        logps.append(lsm[np.arange(len(lsm)), seq[len(prompt) :]])
    return logps


def test_batched_scores_equal_one_at_a_time(hf):
    batch = jobs(("BRA", "Q1"), ("NZL", "Q241"), ("CHN", "Q106"), ("NGA", "Q2"), ("MEX", "Q249"))
    together = hf.score_batch(batch)
    for job, probs in zip(batch, together):
        np.testing.assert_allclose(probs, hf.score_batch([job])[0], atol=1e-5)
        lps = full_scores(hf, *job)
        expected = normalize(np.array([lp.sum() for lp in lps]) if job[2] >= 10 else np.array([lp[0] for lp in lps]))
        np.testing.assert_allclose(probs, expected, atol=1e-5)


def test_two_engines_agree_on_the_same_weights(hf):
    embedded = Embedded()
    for messages, prefix, n in jobs(("BRA", "Q1"), ("NZL", "Q241"), ("CHN", "Q45")):
        ours = hf.score_batch([(messages, prefix, n)])[0]
        theirs = asyncio.run(embedded.option_probs(messages, prefix, n))[0]
        # llama.cpp multiplies with quantized activations, transformers in float32.
        np.testing.assert_allclose(ours, theirs, atol=0.03)


def test_concurrent_calls_are_batched(hf):
    batch = jobs(("BRA", "Q1"), ("CHN", "Q1"), ("MEX", "Q1"), ("NGA", "Q1"), ("NZL", "Q1"))
    calls = []
    original = hf.score_batch
    hf.score_batch = lambda js: calls.append(len(js)) or original(js)
    try:

        async def all_at_once():
            return await asyncio.gather(*(hf.option_probs(*job) for job in batch))

        results = asyncio.run(all_at_once())
    finally:
        del hf.score_batch
    assert calls == [4, 1]  # batch_size 4
    for (probs, _), job in zip(results, batch):
        np.testing.assert_allclose(probs, hf.score_batch([job])[0], atol=1e-6)


def test_generation_is_seeded(hf):
    ((messages, _, _),) = jobs(("MEX", "Q1"))
    d = Decoding(temperature=0.6, max_tokens=12, seed=4)
    a, b = (asyncio.run(hf.chat(messages, d, 0)) for _ in range(2))
    assert a.text == b.text and a.completion_tokens > 0


def test_beam_search_is_the_models_own(hf):
    """DEF's num_beams reaches generate: the reply is transformers' beam search, not greedy decoding."""
    s = wvs7()
    messages = [{"role": "user", "content": citizen_prompt("China living in Hubei", s.item("Q1"))}]
    beams = asyncio.run(hf.chat(messages, Decoding(temperature=0.0, max_tokens=16, num_beams=3), 0)).text
    greedy = asyncio.run(hf.chat(messages, Decoding(temperature=0.0, max_tokens=16), 0)).text
    ids = torch.tensor([hf._tokens(hf.prompt_text(messages))])
    with torch.no_grad():
        out = hf.model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=16,
            do_sample=False,
            num_beams=3,
            pad_token_id=hf.tokenizer.eos_token_id,
        )
    assert beams == hf.tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True)
    assert beams != greedy


def test_a_real_two_engine_run_through_the_analyses(tmp_path):
    """A run made here with two backbones (llama.cpp and transformers on the same weights), then the
    mixed-backbone analysis and the report on it."""
    import json

    def cli(*args):
        done = run_cli(*args, env=env_with(tmp_path))
        assert done.returncode == 0, done.stderr
        return done.stdout

    run = tmp_path / "run"
    cli(
        "run",
        "-b",
        "embedded",
        "-b",
        f"transformers:{default_model_path()}",
        "--answer-mode",
        "probs",
        "--limit",
        "8",
        "--cultures",
        "BRA,CHN,MEX",
        "--out",
        str(run),
    )
    mixed = json.loads(cli("analyze", "mixed", str(run), "--format", "json"))
    assert mixed["notes"][0].startswith("8 assignments")  # 2 engines ^ 3 culture slots
    names = {"SmolLM2-135M-Instruct", "SmolLM2-135M-Instruct.Q4_1.F16"}
    assert {r["reference"] for r in mixed["rows"]} <= names
    cli("report", str(run), "--out", str(tmp_path / "report.html"), "--replicates", "50")
    # Fig. 1 left, 7, 1 right, 2 (8 assignments), 3a and 3b (3 cultures)
    assert (tmp_path / "report.html").read_text().count("<img ") == 6
