"""Cultural Palette, part 2, with the training stack (``pip install culturescope[train]``; run with
``pytest -m train``): the embedded model's weights as a Hugging Face checkpoint, ORPO training that
resumes to the same state, the five continent models merged (Cultural MoErges, Ties, Model Stock), the
gate routing continent names to their experts, and the palette answering with the merged meta agent."""

import json

import pytest
import torch
from safetensors.torch import load_file

from culturescope.engine.store import Run
from culturescope.errors import CulturescopeError
from culturescope.methods.cultural_palette.agents import CONTINENTS
from culturescope.methods.cultural_palette.training.merging import gate_prompts
from culturescope.methods.cultural_palette.training.orpo import OrpoSettings, base_checkpoint, train
from culturescope.methods.cultural_palette.training.synthesis import PAIRS, preference_pairs, write_jsonl
from helpers.clitools import cli, env_with

pytestmark = pytest.mark.train

FLAVOUR = {
    "Africa": "shared with the extended family and the village elders",
    "America": "decided by each person for themselves, with freedom of choice",
    "Asia": "guided by harmony, filial piety and respect for the group",
    "Europe": "settled by law, the welfare state and secular institutions",
    "Oceania": "rooted in the land, the sea and the ancestors of the islands",
}
QUERIES = ["Who should care for old parents?", "How are important decisions made?"]


@pytest.fixture(scope="module")
def pairs_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("data")
    records = [
        {"query": q, "continent": c, "response": f"In {c}, this is {FLAVOUR[c]}."} for q in QUERIES for c in CONTINENTS
    ]
    write_jsonl(out / PAIRS, preference_pairs(records))
    return out


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, pairs_dir):
    """Five continent models and the Joint one (two ORPO steps each, LoRA by default) and the three
    merges, made with the CLI."""
    w = tmp_path_factory.mktemp("models")
    env = env_with(w)
    models = ",".join((*CONTINENTS, "joint"))
    done = cli("palette", "train", pairs_dir, "--out", w, "--models", models, "--max-steps", "2", env=env, timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    done = cli("palette", "merge", w, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return w


def weights(model_dir):
    return load_file(str(model_dir / "model.safetensors"))


def test_embedded_weights_become_a_checkpoint(workspace):
    base = workspace / "base"
    assert json.loads((workspace / "base.json").read_text())["base"] == str(base.resolve())
    assert (base / "chat_template.jinja").is_file()
    assert base_checkpoint("embedded", workspace) == base  # converted once
    with pytest.raises(CulturescopeError, match="the base model \\(--role base=MODEL\\) is"):
        base_checkpoint(str(workspace / "missing.gguf"), workspace)


def lora_rank(delta, tol=1e-3):
    """The rank of a weight change: singular values above ``tol`` × the largest."""
    sv = torch.linalg.svdvals(delta.double())
    return int((sv > tol * sv[0]).sum())


def test_continent_models_are_trained_from_the_base(workspace):
    base = weights(workspace / "base")
    name, norm = "model.layers.0.mlp.down_proj.weight", "model.layers.0.input_layernorm.weight"
    trained = {c: weights(workspace / c) for c in (*CONTINENTS, "joint")}
    for c, w in trained.items():
        assert not torch.equal(w[name], base[name])  # ORPO moved the weights
        # LoRA (the default, MS-Swift's rank 8): a change of rank at most 8, norms untouched
        assert 1 <= lora_rank(w[name] - base[name]) <= 8
        assert torch.equal(w[norm], base[norm])
    assert not torch.equal(trained["Africa"][name], trained["Asia"][name])  # on different data
    assert not (workspace / ".checkpoints" / "Africa").exists()  # removed once the model is saved


def test_resumed_training_reaches_the_same_state(tmp_path, workspace, pairs_dir):
    from transformers import TrainerCallback

    class StopAt(TrainerCallback):
        def __init__(self, step):
            self.step = step

        def on_step_end(self, args, state, control, **kw):
            if state.global_step == self.step:
                control.should_training_stop = True

    pairs = [json.loads(line) for line in (pairs_dir / PAIRS).read_text().splitlines()]
    settings = OrpoSettings(max_steps=4, save_steps=2, batch_size=2)
    base = workspace / "base"
    whole, stopped = tmp_path / "whole", tmp_path / "stopped"
    assert train("Europe", base, pairs, whole, settings)
    assert not train("Europe", base, pairs, stopped, settings, callbacks=[StopAt(3)])
    assert not (stopped / "Europe").exists()
    assert (stopped / ".checkpoints" / "Europe" / "checkpoint-2").is_dir()
    assert train("Europe", base, pairs, stopped, settings)  # resumes from step 2
    a, b = weights(whole / "Europe"), weights(stopped / "Europe")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(CulturescopeError, match="other data or settings"):
        train("Europe", base, pairs, stopped, OrpoSettings(max_steps=5, save_steps=2, batch_size=2))


def test_moerges_experts_are_the_continent_ffns(workspace):
    config = json.loads((workspace / "moe" / "config.json").read_text())
    assert config["architectures"] == ["MixtralForCausalLM"]
    assert config["num_local_experts"] == 5 and config["num_experts_per_tok"] == 5  # eq. 1: every expert weighs in
    from transformers import AutoModelForCausalLM

    moe = AutoModelForCausalLM.from_pretrained(workspace / "moe", dtype=torch.float32)
    experts = moe.model.layers[3].mlp.experts
    for k, c in enumerate(CONTINENTS):  # expert k is continent k's FFN (its down projection)
        source = weights(workspace / c)["model.layers.3.mlp.down_proj.weight"]
        assert torch.allclose(experts.down_proj[k], source)
    base = weights(workspace / "base")
    attn = "model.layers.3.self_attn.q_proj.weight"
    assert torch.allclose(moe.state_dict()[attn], base[attn])  # attention comes from the base model


def test_moerges_gate_routes_continent_names_to_their_experts(workspace):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(workspace / "moe")
    moe = AutoModelForCausalLM.from_pretrained(workspace / "moe", dtype=torch.float32).eval()
    for k, continent in enumerate(CONTINENTS):
        for prompt in gate_prompts(continent):
            with torch.no_grad():
                out = moe(**tokenizer(prompt, return_tensors="pt"), output_router_logits=True)
            last = torch.stack([logits.reshape(-1, 5)[-1] for logits in out.router_logits])  # layers × experts
            share = last.softmax(-1).mean(0)  # the gate's weight per expert, averaged over layers
            assert int(share.argmax()) == k, (continent, prompt, share)


def test_baseline_merges_load_and_differ(workspace):
    base = weights(workspace / "base")
    name = "model.layers.5.mlp.up_proj.weight"
    mean = torch.stack([weights(workspace / c)[name] for c in CONTINENTS]).mean(0)
    for method in ("ties", "model-stock"):
        merged = weights(workspace / method)[name]
        assert not torch.equal(merged, base[name])
    # Model Stock interpolates between the base and the average of the experts: w = t·mean + (1−t)·base
    delta, step = mean - base[name], weights(workspace / "model-stock")[name] - base[name]
    t = float((step * delta).sum() / (delta * delta).sum())
    assert 0 < t <= 1 and torch.allclose(step, t * delta, atol=1e-6)


def p_gen_by_hand(model_dir, messages, n_options):
    """P_gen computed apart from the backend: per option, the log-probability of the whole reply
    "Answer: k" after the chat prompt, one unpadded sequence at a time, normalized over the options."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    start = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    scores = []
    for k in range(1, n_options + 1):
        ids = tokenizer(prompt + f"Answer: {k}", add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            logp = model(torch.tensor([ids])).logits[0].log_softmax(-1)
        scores.append(sum(float(logp[t - 1, ids[t]]) for t in range(start, len(ids))))
    return torch.tensor(scores).softmax(0).tolist()


def test_palette_answers_with_the_merged_meta_agent(tmp_path, workspace):
    from culturescope.methods.cultural_palette.agents import baseline_messages, final_messages
    from culturescope.survey import wvs7

    out = tmp_path / "run"
    done = cli(
        "palette", "run", "--trained", workspace, "--cultures", "NGA", "--only", "Q1",
        "--method", "palette,palette-no-cm,joint", "--max-tokens", "8", "--out", out, env=env_with(tmp_path),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    rows = {r.system: r for r in Run.open(out).responses().itertuples()}
    assert sorted(rows) == ["joint", "palette", "palette-no-cm"]
    survey = wvs7()
    nga, q1 = survey.culture("NGA"), survey.item("Q1")
    # P_gen of the palette is the Cultural MoErges model's, of w/o CM the base model's, of Joint the joint model's
    palette = final_messages(nga, q1, rows["palette"].trace["memory"])
    assert rows["palette"].probs == pytest.approx(p_gen_by_hand(workspace / "moe", palette, 4), abs=1e-4)
    no_cm = final_messages(nga, q1, rows["palette-no-cm"].trace["memory"])
    assert rows["palette-no-cm"].probs == pytest.approx(p_gen_by_hand(workspace / "base", no_cm, 4), abs=1e-4)
    joint = baseline_messages("joint", nga, q1)
    assert rows["joint"].probs == pytest.approx(p_gen_by_hand(workspace / "joint", joint, 4), abs=1e-4)
    assert max(abs(a - b) for a, b in zip(rows["palette"].probs, rows["palette-no-cm"].probs)) > 1e-4
    described = json.loads((out / "manifest.json").read_text())["experiment"]
    assert described["meta"]["model"] == str(workspace / "moe")
    assert described["joint"]["model"] == str(workspace / "joint")
    assert described["continent_backbones"]["Asia"]["model"] == str(workspace / "Asia")
    assert described["labels"] == {
        "palette": "palette (meta = Cultural MoErges)",
        "palette-no-cm": "palette-no-cm (meta = base model)",
        "joint": "joint",
    }
    for shown in described["labels"].values():
        assert shown in done.stdout
    assert "w/o CM ablation" not in done.stderr  # the note is for a base-model meta agent only


def test_full_fine_tuning_moves_every_weight(tmp_path, workspace, pairs_dir):
    pairs = [json.loads(line) for line in (pairs_dir / PAIRS).read_text().splitlines()]
    assert train("Asia", workspace / "base", pairs, tmp_path, OrpoSettings(max_steps=1, lora_r=0))
    saved, base = weights(tmp_path / "Asia"), weights(workspace / "base")
    assert saved.keys() == base.keys()
    norm, name = "model.layers.0.input_layernorm.weight", "model.layers.0.self_attn.q_proj.weight"
    assert not torch.equal(saved[norm], base[norm])  # what LoRA leaves alone moves too
    assert lora_rank(saved[name] - base[name]) > 8  # a change of full rank, not a low-rank adapter's
