"""Cultural Palette, part 1: S_align, the stages' prompts against a real HTTP server on
127.0.0.1, routing, the S_align table, and every method on the embedded model."""

import json
import math
import os
import statistics

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.special import log_softmax, softmax

from culturescope.engine.store import Run
from culturescope.errors import CulturescopeError
from culturescope.methods.cultural_palette.agents import (
    CONTINENTS,
    JOINT,
    METHODS,
    agent_messages,
    final_messages,
    label,
    read_community,
)
from culturescope.methods.cultural_palette.score import alignment_table
from culturescope.metrics.distribution import s_align
from culturescope.survey import wvs7
from helpers.clitools import cli, env_with
from helpers.servers import ScriptedServer


def test_s_align_by_hand():
    assert s_align(np.array([0.2, 0.8]), np.array([0.2, 0.8])) == pytest.approx(100)
    assert s_align(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(100 * (1 - math.log(2)))  # the bound
    # m = [.75, .25]: JS = (ln(4/3) + .5 ln(2/3) + .5 ln 2) / 2 nats
    js = (math.log(4 / 3) + 0.5 * math.log(2 / 3) + 0.5 * math.log(2)) / 2
    assert s_align(np.array([1.0, 0.0]), np.array([0.5, 0.5])) == pytest.approx(100 * (1 - js))  # 78.42
    # the text's "JS distance": 1 − √JS; the bound is (1 − √ln 2) × 100
    assert s_align(np.array([1.0, 0.0]), np.array([0.5, 0.5]), "distance") == pytest.approx(100 * (1 - math.sqrt(js)))
    assert s_align(np.array([1.0, 0.0]), np.array([0.0, 1.0]), "distance") == pytest.approx(16.7445, abs=1e-4)
    assert s_align(np.array([0.2, 0.8]), np.array([0.2, 0.8]), "distance") == pytest.approx(100)
    p, q = np.array([0.1, 0.6, 0.3]), np.array([0.5, 0.25, 0.25])  # scipy's JS distance (nats) as a second route
    assert s_align(p, q, "distance") == pytest.approx(100 * (1 - jensenshannon(p, q)))
    assert s_align(p, q) == pytest.approx(100 * (1 - jensenshannon(p, q) ** 2))
    with pytest.raises(CulturescopeError, match="use divergence or distance"):
        s_align(p, q, "root")


def test_read_community():
    assert read_community("Africa, I think") == "Africa"
    assert read_community("The best is asia, then Europe") == "Asia"
    assert read_community("no idea") is None


def test_alignment_table_by_hand():
    """Items are averaged per country, a continent is the mean of its countries, "Avg." the mean over
    countries. USA answers two items and CAN and NGA one, so each of these means differs from the mean
    of the continents and from the mean over every (country, item)."""
    survey = wvs7()
    gen = {"Q1": [0.4, 0.3, 0.2, 0.1], "Q2": [0.1, 0.2, 0.3, 0.4]}
    asked = {"USA": ["Q1", "Q2"], "CAN": ["Q1"], "NGA": ["Q1"]}
    base = dict(backbone="m", system="vanilla", sample=0, mode="probs", round=0, answer=1, raw="", status="ok")
    rows = [base | dict(culture=c, agent=c, item=i, probs=gen[i]) for c, items in asked.items() for i in items]

    def by_scipy(culture, item):  # a second route: scipy's JS distance (nats) squared, shares as shipped
        shares = survey.human_shares(culture, item)
        return 100 * (1 - jensenshannon(gen[item], [shares.get(c, 0) for c in (1, 2, 3, 4)]) ** 2)

    usa = (by_scipy("USA", "Q1") + by_scipy("USA", "Q2")) / 2
    can, nga = by_scipy("CAN", "Q1"), by_scipy("NGA", "Q1")
    (row,) = alignment_table(pd.DataFrame(rows), survey, ["USA", "CAN", "NGA"])
    assert row["USA"] == pytest.approx(usa) and row["CAN"] == pytest.approx(can) and row["NGA"] == pytest.approx(nga)
    assert row["America"] == pytest.approx((usa + can) / 2) and row["Africa"] == pytest.approx(nga)
    assert row["Avg."] == pytest.approx((usa + can + nga) / 3)
    # the three averages this test tells apart really are different numbers
    pooled = (by_scipy("USA", "Q1") + by_scipy("USA", "Q2") + can + nga) / 4
    assert abs(row["Avg."] - ((usa + can) / 2 + nga) / 2) > 0.1 and abs(row["Avg."] - pooled) > 0.1
    assert abs(row["America"] - (by_scipy("USA", "Q1") + by_scipy("USA", "Q2") + can) / 3) > 0.1


ZERO_CODED = "Q119 Q122 Q123 Q124 Q125 Q126 Q127 Q128 Q129 Q241 Q242 Q243 Q244 Q245 Q246 Q247 Q248 Q249".split()


def probs_rows(culture, gen):
    """One probs-mode answer of the vanilla method per item: ``gen`` maps item → P_gen."""
    base = dict(backbone="m", system="vanilla", culture=culture, agent=culture, sample=0, mode="probs", round=0)
    return pd.DataFrame([base | dict(item=i, answer=1, probs=list(p), raw="", status="ok") for i, p in gen.items()])


def test_s_align_on_a_zero_coded_item_by_hand():
    # USA's shipped Q119 shares by code; code 0 is "Hard to say", which the prompt numbers option 1
    shares = {3: 0.3686440677966102, 0: 0.32280431432973805, 2: 0.1802773497688752, 4: 0.09976887519260401,
              1: 0.02349768875192604}  # fmt: skip
    assert wvs7().human_shares("USA", "Q119") == shares
    # P_gen all on option 1 against q: JS = ½[ln(2 / (1 + q₁)) + q₁ ln(2q₁ / (1 + q₁)) + (1 − q₁) ln 2],
    # q₁ = the code-0 share / the sum of the shares = 0.32280 / 0.99499 = 0.32443, so JS = 0.32447 nats
    q1 = 0.32280431432973805 / 0.9949922958397535
    js = (math.log(2 / (1 + q1)) + q1 * math.log(2 * q1 / (1 + q1)) + (1 - q1) * math.log(2)) / 2
    assert js == pytest.approx(0.3244742, abs=1e-7)
    rows = probs_rows("USA", {"Q119": [1.0, 0, 0, 0, 0]})
    (row,) = alignment_table(rows, wvs7(), ["USA"])
    assert row["USA"] == pytest.approx(100 * (1 - js)) == pytest.approx(67.5526, abs=1e-4)
    (row,) = alignment_table(rows, wvs7(), ["USA"], "distance")
    assert row["USA"] == pytest.approx(100 * (1 - math.sqrt(js))) == pytest.approx(43.0374, abs=1e-4)


@pytest.mark.parametrize("js_as", ["divergence", "distance"])
@pytest.mark.parametrize("culture", ["USA", "NGA"])
def test_s_align_compares_option_k_with_option_k_on_every_zero_coded_item(culture, js_as):
    survey = wvs7()
    assert survey.zero_based_items() == set(ZERO_CODED)
    for item in ZERO_CODED:
        raw = survey.shares[culture][item]  # as shipped: code c is option c + 1
        n = len(survey.item(item).options)
        answered_as_humans = np.array([raw.get(option - 1, 0.0) for option in range(1, n + 1)])
        (row,) = alignment_table(probs_rows(culture, {item: answered_as_humans}), survey, [culture], js_as)
        assert row[culture] == pytest.approx(100), item  # the humans' own distribution scores the maximum
        one_off = np.array([raw.get(option, 0.0) for option in range(1, n + 1)])  # code k read as option k
        (row,) = alignment_table(probs_rows(culture, {item: one_off}), survey, [culture], js_as)
        assert row[culture] < 99, item


BASE = "(meta = base model)"
UNTRAINED = [m for m in METHODS if m != JOINT]  # every method that needs no trained model


def human(culture, n=4):
    """The human answer shares of Q1 for ``culture``, codes 1..n, normalized."""
    h = np.array([wvs7().human_shares(culture, "Q1").get(c, 0) for c in range(1, n + 1)], float)
    return h / h.sum()


def test_each_stage_sees_what_the_previous_produced(tmp_path):
    sent = {}  # reply → the messages that produced it

    def respond(body, n):
        contents = [m["content"] for m in body["messages"]]
        if "Which community best represents" in contents[0]:  # NGA names another continent; NZL none
            reply = f"<reply {n}> Oceania, surely" if "Nigeria" in contents[0] else f"<reply {n}> none of them"
        else:
            reply = f"<reply {n}> Answer: 2"
        sent[reply] = contents
        return reply

    srv = ScriptedServer([], respond=respond)
    try:
        out = tmp_path / "run"
        done = cli(
            "palette",
            "run",
            "-b",
            f"openai:m@{srv.url}/v1",
            "--cultures",
            "NGA,NZL",
            "--only",
            "Q1",
            "--out",
            str(out),
            "--method",
            ",".join(UNTRAINED),
            env=env_with(tmp_path),
        )
        assert done.returncode == 0, done.stderr
    finally:
        srv.close()
    table = Run.open(out).responses()
    assert len(table) == 2 * len(UNTRAINED) and (table["answer"] == 2).all()
    for row in table[table["system"] == "palette"].itertuples():
        drafts = row.trace["drafts"]
        assert list(drafts) == list(CONTINENTS)
        for continent, draft in drafts.items():  # each draft answered its continent's P_draft
            asked = " ".join(sent[draft])
            assert f"You are a knowledge chatbot about {continent}." in asked
            assert f"highlights {wvs7().culture(row.culture).country}'s unique culture" in asked
        regulate = " ".join(sent[row.trace["memory"]])  # stage 2 saw every draft, labelled
        assert "expert cultural analyst" in regulate
        assert all(f"{c} Culture perspective: {d}" in regulate for c, d in drafts.items())
        final = [
            r
            for r in srv.requests
            if "Directly select" in r["json"]["messages"][0]["content"]
            and row.trace["memory"] in r["json"]["messages"][0]["content"]
        ]
        assert final  # stage 3 got the regulated memory
        assert row.trace["meta"] == "base model"
    no_sr = table[table["system"] == "palette-no-sr"].iloc[0]
    assert no_sr.trace["memory"].startswith("Africa Culture perspective: ")  # the drafts themselves
    no_cd = table[table["system"] == "palette-no-cd"].iloc[0]
    assert no_cd.trace == {"drafts": {}, "memory": "", "meta": "base model"}
    routed = {r.culture: r.trace["community"] for r in table[table["system"] == "moe"].itertuples()}
    assert routed == {"NGA": "Africa", "NZL": "Oceania"}  # MoE: the country's continent agent
    # steerable: NGA's steering reply names Oceania, not NGA's own Africa; NZL's names none: its own Oceania
    steer = {r.culture: r for r in table[table["system"] == "modular-steerable"].itertuples()}
    assert {c: r.trace["community"] for c, r in steer.items()} == {"NGA": "Oceania", "NZL": "Oceania"}
    decided = " ".join(sent[steer["NGA"].raw])  # the chosen community's agent decided
    assert "knowledge chatbot about Oceania" in decided and "Nigeria" in decided
    prompts_sent = [r["json"]["messages"][0]["content"] for r in srv.requests]
    assert any("considering cultural, historical, and nuanced context" in p for p in prompts_sent)
    scored = cli("palette", "score", str(out), "--format", "json", env=env_with(tmp_path))
    rows = json.loads(scored.stdout)["rows"]
    assert [r["method"] for r in rows] == [
        f"palette {BASE}",
        f"palette-no-cd {BASE}",
        f"palette-no-sr {BASE}",
        f"palette-no-cm {BASE}",
        "vanilla",
        "prompting",
        "moe",
        "modular-overton",
        "modular-steerable",
        "modular-distributional",
    ]
    # every method answered 2 as text (no P_gen): a one-hot at code 2 against each country's shares
    nga, nzl = (s_align(np.eye(4)[1], human(c)) for c in ("NGA", "NZL"))
    for r in rows:
        assert r["NGA"] == pytest.approx(nga) and r["Africa"] == pytest.approx(nga)
        assert r["NZL"] == pytest.approx(nzl) and r["Oceania"] == pytest.approx(nzl)
        assert r["Avg."] == pytest.approx((nga + nzl) / 2)
    manifest = json.loads((out / "manifest.json").read_text())["experiment"]
    assert manifest["labels"]["palette"] == f"palette {BASE}" and manifest["labels"]["vanilla"] == "vanilla"
    assert "'palette' is the w/o CM ablation" in done.stderr
    assert f"palette {BASE}" in done.stdout
    report = tmp_path / "report.html"
    made = cli("report", str(out), "--out", str(report), env=env_with(tmp_path))
    assert made.returncode == 0, made.stderr
    html = report.read_text()
    assert "Cultural Palette" in html and f"Case: Q1 (Table 5), palette {BASE}" in html and "Draft · Oceania" in html
    assert f"palette-no-cm {BASE}" in html
    assert "&lt;reply" in html and "<reply" not in html  # model text only escaped


def test_repeats_record_their_seeds_and_show_mean_and_sd(tmp_path):
    answers = {0: 1, 1: 2, 2: 4}  # the server answers by the request's seed

    def respond(body, n):  # the prefill probe (probs over HTTP) has no seed
        return f"Answer: {answers[body.get('seed', 0)]}"

    srv = ScriptedServer([], respond=respond)
    args = ["palette", "run", "-b", f"openai:m@{srv.url}/v1", "--cultures", "NGA,NZL", "--only", "Q1",
            "--method", "vanilla", "--repeats", "3", "--out", str(tmp_path / "run")]  # fmt: skip
    try:
        done = cli(*args, env=env_with(tmp_path))
        assert done.returncode == 0, done.stderr
        asked = len(srv.requests)
        again = cli(*args, env=env_with(tmp_path))  # resumes: nothing left to ask
        assert again.returncode == 0, again.stderr
        assert len(srv.requests) == asked
    finally:
        srv.close()
    chats = [r["json"] for r in srv.requests if not r["json"].get("logprobs")]
    assert sorted({c["seed"] for c in chats}) == [0, 1, 2] and {c["temperature"] for c in chats} == {0.6}
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())["experiment"]
    assert manifest["repeats"] == 3 and manifest["seeds"] == [0, 1, 2]
    table = Run.open(tmp_path / "run").responses()
    assert {(r.culture, r.sample): r.answer for r in table.itertuples()} == {
        (c, s): a for c in ("NGA", "NZL") for s, a in answers.items()
    }
    # by hand: per repeat a one-hot at that repeat's answer; the table shows the mean and the sample sd
    per = {c: [s_align(np.eye(4)[a - 1], human(c)) for a in answers.values()] for c in ("NGA", "NZL")}
    avg = [(x + y) / 2 for x, y in zip(per["NGA"], per["NZL"])]
    scored = cli("palette", "score", str(tmp_path / "run"), "--format", "json", env=env_with(tmp_path))
    (row,) = json.loads(scored.stdout)["rows"]
    assert row["repeats"] == 3
    assert row["per_repeat"]["Avg."] == pytest.approx(avg) and row["per_repeat"]["NGA"] == pytest.approx(per["NGA"])
    assert row["Avg."] == pytest.approx(statistics.mean(avg))
    assert row["sd"]["Avg."] == pytest.approx(statistics.stdev(avg))
    assert row["sd"]["Oceania"] == pytest.approx(statistics.stdev(per["NZL"]))
    assert f"{statistics.mean(avg):.2f} ± {statistics.stdev(avg):.2f}" in done.stdout
    assert done.stdout == again.stdout


def embedded_p_gen(cases, n_options):
    """P_gen on the embedded model computed apart from the backend's scoring (no continuation trie, no
    cached blocks, no normalize): llama.cpp itself evaluates each chat prompt followed by "Answer: 1"
    (the options differ in their last token only), and the options' logits at the last position are
    normalized over the options."""
    from llama_cpp import Llama

    from culturescope.backends.embedded import Embedded, default_model_path

    path, chat = str(default_model_path()), Embedded()  # the chat template as the backend applies it
    vocab = Llama(model_path=path, vocab_only=True, verbose=False)
    shared = {}
    for name, messages in cases.items():
        text = chat.prompt_text(messages)
        ids = [
            vocab.tokenize(f"{text}Answer: {k}".encode(), add_bos=False, special=True) for k in range(1, n_options + 1)
        ]
        assert all(i[:-1] == ids[0][:-1] for i in ids)
        shared[name] = (ids[0][:-1], [i[-1] for i in ids])
    n_ctx = max(len(s) for s, _ in shared.values()) + 8
    llm = Llama(model_path=path, n_ctx=n_ctx, n_threads=os.cpu_count(), logits_all=True, verbose=False)
    out = {}
    for name, (prompt, options) in shared.items():
        llm.reset()
        llm.eval(prompt)
        out[name] = softmax(log_softmax(np.asarray(llm.scores[len(prompt) - 1], dtype=float))[options]).tolist()
    return out


def test_every_method_on_the_embedded_model(tmp_path):
    out = tmp_path / "run"  # Q122 is zero-coded: KEN's code 0 ("Disagree") is option 1
    done = cli("palette", "run", "--cultures", "KEN", "--only", "Q122", "--out", str(out), env=env_with(tmp_path))
    assert done.returncode == 0, done.stderr
    table = Run.open(out).responses()
    assert sorted(table["system"]) == sorted(UNTRAINED)  # the Joint baseline needs a trained model
    raw = wvs7().shares["KEN"]["Q122"]
    gold = np.array([raw[0], raw[1], raw[2]])
    # S_align of each method's P_gen by a second route, scipy's JS distance (nats), in both readings
    shown = {label(r.system, (r.trace or {}).get("meta")): np.array(r.probs) for r in table.itertuples()}
    for js_as, score in (("divergence", lambda d: 100 * (1 - d**2)), ("distance", lambda d: 100 * (1 - d))):
        done = cli("palette", "score", str(out), "--format", "json", "--js", js_as, env=env_with(tmp_path))
        scored = json.loads(done.stdout)
        assert f"1 − JS {js_as}" in scored["title"]
        assert {r["method"]: r["KEN"] for r in scored["rows"]} == pytest.approx(
            {method: score(jensenshannon(p, gold)) for method, p in shown.items()}
        )
    probs = dict(zip(table["system"], table["probs"]))
    assert probs["palette"] == probs["palette-no-cm"]  # without a merged meta agent the two are one system
    # P_gen itself by llama.cpp directly: the palette's after P_final with its memory, each continent
    # agent's; distributional is their mean, MoE Kenya's continent (Africa), steerable the community chosen
    ken, q122 = wvs7().culture("KEN"), wvs7().item("Q122")
    traces = dict(zip(table["system"], table["trace"]))
    cases = {c: agent_messages(c, ken, q122) for c in CONTINENTS}
    by_hand = embedded_p_gen(cases | {"palette": final_messages(ken, q122, traces["palette"]["memory"])}, 3)
    # llama.cpp's F16 logits depend slightly on how a prompt is split into batches: the backend evaluates
    # each message as a batch of its own, the route above the whole prompt at once (3.4e-5 apart here).
    assert probs["palette"] == pytest.approx(by_hand["palette"], abs=1e-4)
    assert probs["modular-distributional"] == pytest.approx(
        np.mean([by_hand[c] for c in CONTINENTS], 0).tolist(), abs=1e-6
    )
    assert probs["moe"] == pytest.approx(by_hand["Africa"], abs=1e-6)
    assert probs["modular-steerable"] == pytest.approx(by_hand[traces["modular-steerable"]["community"]], abs=1e-6)
    assert f"palette {BASE}" in done.stdout and f"palette-no-cm {BASE}" in done.stdout
    assert "S_align" in done.stdout and "modular-distributional" in done.stdout


def test_trained_workspace_without_a_joint_model(tmp_path):
    w = tmp_path / "models"
    for name in (*CONTINENTS, "moe"):
        (w / name).mkdir(parents=True)
        (w / name / "config.json").write_text("{}")
    (w / "base.json").write_text(json.dumps({"base": str(w / "base")}))
    done = cli("palette", "run", "--trained", str(w), "--method", "palette,joint", "--out", str(tmp_path / "r"),
               env=env_with(tmp_path))  # fmt: skip
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert f"has no Joint model ({w / 'joint'})" in done.stderr and "--models joint" in done.stderr
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--method", "palette,rainbow"], "unknown method(s) rainbow"),
        (["--role", "Mars=embedded"], "unknown role 'Mars' for palette run; its roles: meta, continent, Africa,"),
        (["--method", "vanilla,joint"], "the joint method needs a Joint model: --trained WORKSPACE"),
        (["--repeats", "0"], "--repeats must be at least 1"),
    ],
)
def test_bad_input_is_one_clear_line(tmp_path, args, message):
    done = cli("palette", "run", *args, "--out", str(tmp_path / "r"), env=env_with(tmp_path))
    assert done.returncode == 2 and message in done.stderr and done.stderr.count("\n") == 1
