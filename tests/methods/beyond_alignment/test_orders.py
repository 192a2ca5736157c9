"""The option-order analysis: scores per order on the common items and agreement, computed by hand."""

import json
import math

import pandas as pd
import pytest

from culturescope.methods.beyond_alignment.analyses.orders import compare_orders, order_labelled
from culturescope.survey import wvs7
from helpers.clitools import cli, env_with

REV4 = {"name": "reversed", "shown": [4, 3, 2, 1]}


def row(culture, item, probs, order=None):
    answer = max(range(len(probs)), key=probs.__getitem__) + 1
    return {
        "run": "r",
        "system": "static",
        "agent": culture,
        "culture": culture,
        "backbone": "m",
        "mode": "probs",
        "round": 0,
        "item": item,
        "sample": 0,
        "answer": answer,
        "probs": probs,
        "raw": None,
        "status": "ok",
        "trace": None,
        "order": order,
    }


def table():
    """BRA and CHN on Q1 and Q2 in both orders (stored in item codes); Q3 asked in the original order only."""
    return pd.DataFrame(
        [
            row("BRA", "Q1", [0.7, 0.1, 0.1, 0.1]),
            row("BRA", "Q2", [0.1, 0.6, 0.2, 0.1]),
            row("CHN", "Q1", [0.1, 0.1, 0.1, 0.7]),
            row("CHN", "Q2", [0.1, 0.1, 0.7, 0.1]),
            row("BRA", "Q3", [0.5, 0.3, 0.2]),
            row("CHN", "Q3", [0.5, 0.3, 0.2]),
            row("BRA", "Q1", [0.7, 0.1, 0.1, 0.1], REV4),
            row("BRA", "Q2", [0.1, 0.2, 0.6, 0.1], REV4),
            row("CHN", "Q1", [0.1, 0.1, 0.1, 0.7], REV4),
            row("CHN", "Q2", [0.1, 0.1, 0.7, 0.1], REV4),
        ]
    )


def test_scores_and_agreement_by_hand():
    found, notes = compare_orders(table(), wvs7(), ["BRA", "CHN"])
    original, reversed_ = found
    assert (original.order, reversed_.order, reversed_.reference, reversed_.items) == (
        "original",
        "reversed",
        "original",
        2,
    )
    assert any("2 items answered under every order" in n for n in notes)
    # original: BRA (1, 2), CHN (4, 3): √(9 + 1) / √(9 + 9); reversed: BRA (1, 3), CHN (4, 3): √9 / √18
    assert original.diversity_p == pytest.approx(math.sqrt(10 / 18))
    assert original.diversity_s == pytest.approx(math.sqrt(10 / 18))
    assert reversed_.diversity_p == pytest.approx(math.sqrt(9 / 18))
    assert reversed_.same == {"BRA": 0.5, "CHN": 1.0} and original.same == {"BRA": 1.0, "CHN": 1.0}
    # BRA Q2: p = (.1, .6, .2, .1), q = (.1, .2, .6, .1), m = (.1, .4, .4, .1): KL(p‖m) = KL(q‖m) = .6 ln 1.5 + .2 ln .5
    js_q2 = (0.6 * math.log(1.5) + 0.2 * math.log(0.5)) / math.log(2)
    assert reversed_.js["BRA"] == pytest.approx(js_q2 / 2) and reversed_.js["CHN"] == pytest.approx(0.0)
    assert reversed_.mean_same == 0.75 and reversed_.mean_js == pytest.approx(js_q2 / 4)


def test_an_unparsed_answer_is_not_compared():
    t = table()
    t.loc[7, ["answer", "probs", "status", "raw"]] = [None, None, "no_box", "I cannot say"]
    found, _ = compare_orders(t, wvs7(), ["BRA", "CHN"])
    assert found[1].same["BRA"] == 1.0 and found[1].js["BRA"] == 0.0  # BRA Q2 not compared: Q1 agrees


def test_runs_in_several_orders_are_separate_systems_elsewhere():
    labelled = order_labelled(table())
    assert sorted(labelled["backbone"].unique()) == ["m", "m [reversed]"]
    assert order_labelled(table().iloc[:6])["backbone"].eq("m").all()  # one order: names unchanged


def test_analyze_order_cli_on_scripted_runs(tmp_path):
    env = env_with(tmp_path)
    runs = []
    for order in ("original", "reversed"):
        out = tmp_path / order
        args = ["run", "-b", "scripted:culture", "--only", "Q1,Q2,Q119", "--answer-mode", "probs", "--out", str(out)]
        assert cli(*args, "--option-order", order, env=env).returncode == 0
        runs.append(str(out))
    done = cli("analyze", "order", *runs, "--format", "json", env=env)
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)["rows"]
    scores = {r["order"]: r for r in rows if r["table"].startswith("Scores")}
    # reversing every item reflects each answer (x → n + 1 − x): distances, hence both diversities, are unchanged
    assert scores["reversed"]["diversity_p"] == pytest.approx(scores["original"]["diversity_p"])
    assert scores["reversed"]["diversity_s"] == pytest.approx(scores["original"]["diversity_s"])
    assert scores["original"]["same_%"] == 100
    wrong = cli("palette", "run", "--option-order", "reversed", env=env)
    assert wrong.returncode == 2 and wrong.stderr.strip().startswith(
        "error: palette run asks in the survey's option order"
    )
