"""Cultural Palette, part 1 (seed 001): S_align, the stages' prompts against a real HTTP server on
127.0.0.1, routing, the S_align table, and every method on the embedded model."""

import json
import math
import re

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import jensenshannon

from clitools import cli, env_with
from culturescope.analyses.palette import alignment_table
from culturescope.divergence import s_align
from culturescope.errors import CulturescopeError
from culturescope.store import Run
from culturescope.survey import wvs7
from culturescope.systems.palette import CONTINENTS, METHODS, read_community
from servers import ScriptedServer


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
    survey = wvs7()
    h_usa = np.array([survey.human_shares("USA", "Q1").get(c, 0) for c in (1, 2, 3, 4)])
    h_nga = np.array([survey.human_shares("NGA", "Q1").get(c, 0) for c in (1, 2, 3, 4)])
    gen = [0.4, 0.3, 0.2, 0.1]
    rows = [
        dict(
            backbone="m",
            system="vanilla",
            culture=c,
            agent=c,
            item="Q1",
            sample=0,
            mode="probs",
            round=0,
            answer=1,
            probs=gen,
            raw="",
            status="ok",
        )
        for c in ("USA", "NGA")
    ]
    (row,) = alignment_table(pd.DataFrame(rows), survey, ["USA", "NGA"])
    usa = s_align(np.array(gen), h_usa / h_usa.sum())
    nga = s_align(np.array(gen), h_nga / h_nga.sum())
    assert row["USA"] == pytest.approx(usa) and row["NGA"] == pytest.approx(nga)
    assert row["America"] == pytest.approx(usa) and row["Africa"] == pytest.approx(nga)
    assert row["Avg."] == pytest.approx((usa + nga) / 2)


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


def test_each_stage_sees_what_the_previous_produced(tmp_path):
    def respond(body, n):
        return f"<reply {n}> Answer: 2"

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
            ",".join(METHODS),
            env=env_with(tmp_path),
        )
        assert done.returncode == 0, done.stderr
    finally:
        srv.close()
    replies = {}
    for n, r in enumerate(srv.requests, start=1):
        replies[f"<reply {n}> Answer: 2"] = [m["content"] for m in r["json"]["messages"]]
    table = Run.open(out).responses()
    assert len(table) == 2 * len(METHODS) and (table["answer"] == 2).all()
    for row in table[table["system"] == "palette"].itertuples():
        drafts = row.trace["drafts"]
        assert list(drafts) == list(CONTINENTS)
        for continent, draft in drafts.items():  # each draft answered its continent's P_draft
            sent = " ".join(replies[draft])
            assert f"You are a knowledge chatbot about {continent}." in sent
            assert f"highlights {wvs7().culture(row.culture).country}'s unique culture" in sent
        regulate = " ".join(replies[row.trace["memory"]])  # stage 2 saw every draft, labelled
        assert "expert cultural analyst" in regulate
        assert all(f"{c} Culture perspective: {d}" in regulate for c, d in drafts.items())
        final = [
            r
            for r in srv.requests
            if "Directly select" in r["json"]["messages"][0]["content"]
            and row.trace["memory"] in r["json"]["messages"][0]["content"]
        ]
        assert final  # stage 3 got the regulated memory
    no_sr = table[table["system"] == "palette-no-sr"].iloc[0]
    assert no_sr.trace["memory"].startswith("Africa Culture perspective: ")  # the drafts themselves
    assert table[table["system"] == "palette-no-cd"].iloc[0].trace == {"drafts": {}, "memory": ""}
    routed = {r.culture: r.trace["community"] for r in table[table["system"] == "moe"].itertuples()}
    assert routed == {"NGA": "Africa", "NZL": "Oceania"}  # MoE: the country's continent agent
    steer = table[table["system"] == "modular-steerable"].iloc[0]
    assert steer.trace["community"] in CONTINENTS
    prompts_sent = [r["json"]["messages"][0]["content"] for r in srv.requests]
    assert any("considering cultural, historical, and nuanced context" in p for p in prompts_sent)
    scored = cli("palette", "score", str(out), "--json", env=env_with(tmp_path))
    rows = json.loads(scored.stdout)["rows"]
    assert [r["method"] for r in rows] == list(METHODS) and all(re.match(r"\d", str(r["Avg."])) for r in rows)
    report = tmp_path / "report.html"
    made = cli("report", str(out), "-o", str(report), env=env_with(tmp_path))
    assert made.returncode == 0, made.stderr
    html = report.read_text()
    assert "Cultural Palette" in html and "Case: Q1 (Table 5)" in html and "Draft · Oceania" in html
    assert "&lt;reply" in html and "<reply" not in html  # model text only escaped


def test_every_method_on_the_embedded_model(tmp_path):
    out = tmp_path / "run"  # Q122 is zero-coded: KEN's code 0 ("Disagree") is option 1
    done = cli("palette", "run", "--cultures", "KEN", "--only", "Q122", "--out", str(out), env=env_with(tmp_path))
    assert done.returncode == 0, done.stderr
    table = Run.open(out).responses()
    assert sorted(table["system"]) == sorted(METHODS)
    raw = wvs7().shares["KEN"]["Q122"]
    gold = np.array([raw[0], raw[1], raw[2]])
    # S_align of each method's P_gen by a second route, scipy's JS distance (nats), in both readings
    for js_as, score in (("divergence", lambda d: 100 * (1 - d**2)), ("distance", lambda d: 100 * (1 - d))):
        scored = json.loads(cli("palette", "score", str(out), "--json", "--js", js_as, env=env_with(tmp_path)).stdout)
        assert f"1 − JS {js_as}" in scored["title"]
        assert {r["method"]: r["KEN"] for r in scored["rows"]} == pytest.approx(
            {r.system: score(jensenshannon(r.probs, gold)) for r in table.itertuples()}
        )
    assert "S_align" in done.stdout and "modular-distributional" in done.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["--method", "palette,rainbow"], "unknown method(s) rainbow"),
        (["--continent-backbone", "Mars=embedded"], "CONTINENT=BACKBONE"),
    ],
)
def test_bad_input_is_one_clear_line(tmp_path, args, message):
    done = cli("palette", "run", *args, "--out", str(tmp_path / "r"), env=env_with(tmp_path))
    assert done.returncode == 2 and message in done.stderr and done.stderr.count("\n") == 1
