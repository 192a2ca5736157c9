"""DEF: divergences, diversity, memory, respondents, parsing, PCA, t-test, profiles, judge."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from culturescope.backends.base import Decoding
from culturescope.engine.extract import EMPTY, NO_OPTION, OK, OUT_OF_RANGE, parse_answer
from culturescope.errors import CulturescopeError
from culturescope.methods.def_simulation import ccsv
from culturescope.methods.def_simulation.judge import read_judgement
from culturescope.methods.def_simulation.profiles import load_group_reference, profile, system_profile
from culturescope.methods.def_simulation.respondents import clean_answer, draw_respondent, locations, remember
from culturescope.methods.def_simulation.score import compared, human_distributions, model_distributions, preferences
from culturescope.methods.def_simulation.ttest import ttest, ttest_from_stats
from culturescope.methods.def_simulation.variation import dimension_scores, subject_scores, variation_map
from culturescope.metrics.distribution import cap_infinite, diversity_score, js, kl, kl_eq1
from culturescope.survey import wvs7

FAMILY = ("Very important", "Rather important", "Not very important", "Not at all important")


# --- divergences (hand-computed) ---------------------------------------------------------------


def test_kl_by_hand_with_zeros_and_infinity():
    p = np.array([[0.5, 0.5, 0.0], [1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
    q = np.array([[0.25, 0.75, 0.0], [0.5, 0.5, 0.0], [1.0, 0.0, 0.0], [0.2, 0.3, 0.5]])
    got = kl(p, q)
    assert got[0] == pytest.approx(0.5 * math.log(2) + 0.5 * math.log(2 / 3))  # 0.143841
    assert got[1] == pytest.approx(math.log(2))  # a zero in p adds nothing
    assert got[2] == math.inf  # p > 0 where q = 0
    assert got[3] == 0.0
    assert got[:2] == pytest.approx([stats.entropy(p[k], q[k]) for k in range(2)])


def test_kl_eq1_as_printed_uses_cumulative_ratios():
    # P = [.5, 1, 1], Q = [.25, 1, 1]: .5 ln 2 + .5 ln 1
    assert kl_eq1(np.array([0.5, 0.5, 0.0]), np.array([0.25, 0.75, 0.0])) == pytest.approx(0.5 * math.log(2))
    # it can be negative, unlike KL: the model's mass sits where its CDF is below the human one
    assert kl_eq1(np.array([0.0, 1.0]), np.array([0.5, 0.5])) == pytest.approx(0.0)
    assert kl_eq1(np.array([0.2, 0.8]), np.array([0.6, 0.4])) == pytest.approx(0.2 * math.log(0.2 / 0.6))


def test_js_in_bits():
    assert js(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(1.0)  # disjoint: the bound
    assert js(np.array([0.3, 0.7]), np.array([0.3, 0.7])) == pytest.approx(0.0)
    # m = [.75, .25]: (ln(4/3) + .5 ln(2/3) + .5 ln 2) / 2 / ln 2
    expected = (math.log(4 / 3) + 0.5 * math.log(2 / 3) + 0.5 * math.log(2)) / 2 / math.log(2)
    assert js(np.array([1.0, 0.0]), np.array([0.5, 0.5])) == pytest.approx(expected)  # 0.311278
    p, q = np.array([0.1, 0.6, 0.3]), np.array([0.5, 0.0, 0.5])
    assert js(p, q) == pytest.approx(
        stats.entropy(p, (p + q) / 2, base=2) / 2 + stats.entropy(q, (p + q) / 2, base=2) / 2
    )


def test_missing_distribution_is_nan_not_zero():
    nan = np.full(2, np.nan)
    assert np.isnan(kl(nan, np.array([0.5, 0.5])))
    assert np.isnan(js(np.array([0.5, 0.5]), nan))


def test_infinity_rule_largest_finite_plus_one():
    got = cap_infinite(np.array([0.2, np.inf, 1.5, np.nan]))
    assert got.tolist() == [0.2, 2.5, 1.5, 2.5]
    assert np.isnan(cap_infinite(np.array([np.inf, np.nan]))).all()  # nothing finite: undefined


def test_diversity_score_eq6():
    assert diversity_score(n_diff=4, n_ques=2, n_test=4) == 0.25
    assert diversity_score(n_diff=2, n_ques=2, n_test=20) == 0.0  # every test repeats itself


def _rows(system, culture, answers_by_item, raws_by_item=None):
    rows = []
    for item, answers in answers_by_item.items():
        raws = (raws_by_item or {}).get(item) or [f"Answer: {a}" for a in answers]
        for s, (a, raw) in enumerate(zip(answers, raws)):
            rows.append(
                dict(
                    backbone="m",
                    system=system,
                    culture=culture,
                    agent=f"{culture}/{s}",
                    item=item,
                    sample=s,
                    mode="sample",
                    round=0,
                    answer=a,
                    probs=None,
                    raw=raw,
                    status=OK if a else NO_OPTION,
                )
            )
    return pd.DataFrame(rows)


def test_preferences_diversity_and_kl_on_a_hand_made_run():
    survey = wvs7()
    # Q1: four identical responses (1 distinct); Q2: three distinct texts, answers 1,1,2,None
    t = _rows(
        "def",
        "USA",
        {"Q1": [1, 1, 1, 1], "Q2": [1, 1, 2, None]},
        {"Q1": ["Answer: 1"] * 4, "Q2": ["Answer: 1", "Answer: 1", "Answer: 2", "nothing"]},
    )
    (p,) = preferences(t, survey, ["USA"])
    assert p.n_test == 4 and p.valid == pytest.approx(7 / 8)
    assert p.diversity == pytest.approx((1 + 3 - 2) / (4 * 2))
    human = human_distributions(survey, "USA", ["Q1", "Q2"])
    model = model_distributions(t, survey, ["Q1", "Q2"])
    assert model[1, :3].tolist() == pytest.approx([2 / 3, 1 / 3, 0])
    assert p.items["Q2"] == pytest.approx(stats.entropy(model[1, :4], human[1, :4]))
    assert p.items["Q1"] == pytest.approx(-math.log(human[0, 0]))  # all mass on option 1


ZERO_CODED = "Q119 Q122 Q123 Q124 Q125 Q126 Q127 Q128 Q129 Q241 Q242 Q243 Q244 Q245 Q246 Q247 Q248 Q249".split()
Q122_USA = {2: 0.5978428351309707, 1: 0.3154853620955316, 0: 0.07550077041602465}  # as shipped: code 0 is option 1


def test_kl_js_and_map_score_on_a_zero_coded_item_by_hand():
    survey = wvs7()
    assert survey.human_shares("USA", "Q122") == Q122_USA  # Disagree 0, Hard to say 1, Agree 2: options 1, 2, 3
    t = _rows("def", "USA", {"Q122": [1, 3, 3]})  # model p = (1/3, 0, 2/3)
    total = 0.5978428351309707 + 0.3154853620955316 + 0.07550077041602465  # 0.98883
    q = [0.07550077041602465 / total, 0.3154853620955316 / total, 0.5978428351309707 / total]
    by_hand = 1 / 3 * math.log(1 / 3 / q[0]) + 2 / 3 * math.log(2 / 3 / q[2])
    (p,) = preferences(t, survey, ["USA"])
    assert p.items["Q122"] == pytest.approx(by_hand) == pytest.approx(0.556408, abs=1e-6)
    m = [(1 / 3 + q[0]) / 2, q[1] / 2, (2 / 3 + q[2]) / 2]
    kl_pm = 1 / 3 * math.log(1 / 3 / m[0]) + 2 / 3 * math.log(2 / 3 / m[2])
    nats = (kl_pm + sum(a * math.log(a / b) for a, b in zip(q, m))) / 2
    (p,) = preferences(t, survey, ["USA"], measure="js")
    assert p.items["Q122"] == pytest.approx(nats / math.log(2)) == pytest.approx(0.223338, abs=1e-6)
    # the map's eq. 2 for the humans: expected option, rescaled (option − 1) / (n − 1)
    subjects = subject_scores(compared(t, survey, ["USA"]), survey, {"Q122": "Migration"})
    human = subjects.labels.index("human · USA")
    assert subjects.scores[human, 0] == pytest.approx((q[1] + 2 * q[2]) / 2) == pytest.approx(0.764122, abs=1e-6)


@pytest.mark.parametrize("measure", ["kl", "js"])
def test_every_zero_coded_item_compares_option_k_with_option_k(measure):
    survey = wvs7()
    assert survey.zero_based_items() == set(ZERO_CODED)
    for culture in ("USA", "NGA"):
        rows = []
        for item in ZERO_CODED:
            raw = survey.shares[culture][item]  # as shipped: code c is option c + 1
            n = len(survey.item(item).options)
            shifted = np.array([raw.get(option - 1, 0.0) for option in range(1, n + 1)])
            assert human_distributions(survey, culture, [item])[0, :n] == pytest.approx(shifted / shifted.sum())
            rows.append(dict(backbone="m", system="probs", culture=culture, agent=culture, item=item, sample=0,
                             mode="probs", round=0, answer=None, probs=list(shifted / shifted.sum()), raw="",
                             status=OK))  # fmt: skip
        (p,) = preferences(pd.DataFrame(rows), survey, [culture], measure=measure)
        assert sorted(p.items) == sorted(ZERO_CODED)
        assert all(v == pytest.approx(0, abs=1e-12) for v in p.items.values()), p.items  # the humans' own answers


# --- parsing -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Answer: 2. Rather important\nExplanation: family", (2, OK)),
        ("Answer: Not very important. Explanation: 1 reason", (3, OK)),  # label; "very important" inside
        ("1. Very important\n\nFamily is key.", (1, OK)),  # no "Answer:": the whole text, as the reference
        ("Answer: 1 or 2, it depends", (None, NO_OPTION)),  # two numbers and no label
        ("Answer: 1. Very important 2. Rather important", (2, OK)),  # two numbers: the longest label
        ("Answer: 7", (7, OUT_OF_RANGE)),
        ("Answer: \nExplanation: none", (None, EMPTY)),
    ],
)
def test_parse_answer(text, expected):
    got = parse_answer(text, FAMILY)
    assert (got.answer, got.status) == expected


def test_ccsv_list_split_and_vote():
    text = "Here you go.\nAnswer: 1. Explanation: a.\nAnswer: 2. Explanation: b.\nanswer: 3"
    assert ccsv.split_list(text, 20) == ["Answer: 1. Explanation: a.", "Answer: 2. Explanation: b.", "answer: 3"]
    assert ccsv.split_list(text, 2) == ["Answer: 1. Explanation: a.", "Answer: 2. Explanation: b."]
    assert ccsv.read_vote("Response 2 is best", 3) == 1
    assert ccsv.read_vote("I pick 4", 3) is None and ccsv.read_vote("none", 3) is None


def test_read_judgement():
    assert read_judgement("Problems: qc, CV") == ["cv", "qc"]
    assert read_judgement("Reasoning...\nProblems: none") == []
    assert read_judgement("It looks fine.") is None
    assert read_judgement("Problems: maybe") is None


# --- memory (Algorithm 1) ------------------------------------------------------------------------


def test_memory_cleaning_keeps_answer_to_first_sentence_of_explanation():
    text = "Sure.\nAnswer: 2. Rather important.\nExplanation: I value family. It is key."
    assert clean_answer(text) == "Answer: 2. Rather important.\nExplanation: I value family."
    assert clean_answer("Answer: 3\nmore text") == "Answer: 3"
    assert clean_answer("I think 3.") is None
    assert clean_answer("answer: 3") is None  # Algorithm 1 looks for "Answer: " exactly


def test_memory_drops_turns_without_answer_and_truncates_chronologically():
    survey = wvs7()
    items = survey.items[:6]
    memory = []
    for k, it in enumerate(items[:5]):
        memory = remember(memory, it, f"Answer: {k + 1}. Explanation: x{k}. More.", 10, np.random.default_rng(k))
    assert [a for _, a in memory] == [f"Answer: {k + 1}. Explanation: x{k}." for k in range(5)]
    assert memory[0][0] == f"Request: {items[0].question}"
    unchanged = remember(memory, items[5], "I refuse to answer.", 10, np.random.default_rng(0))
    assert unchanged == memory  # no "Answer: ": the turn is dropped
    kept = remember(memory, items[5], "Answer: 1. Explanation: y.", 3, np.random.default_rng(7))
    assert len(kept) == 3
    order = [memory.index(t) if t in memory else 5 for t in kept]
    assert order == sorted(order)  # a chronological subsequence of the six turns
    again = remember(memory, items[5], "Answer: 1. Explanation: y.", 3, np.random.default_rng(7))
    assert again == kept  # the same generator keeps the same turns
    assert remember(memory, items[5], "Answer: 1.", 0, np.random.default_rng(0)) == []


# --- respondents ---------------------------------------------------------------------------------


def test_locations_are_drawn_by_population_share():
    china = wvs7().culture("CHN")
    regions = locations()["CHN"]["regions"]
    draws = [draw_respondent(china, n, ("prompt",), Decoding(), frozenset()).location for n in range(4000)]
    share = draws.count("Guangdong") / len(draws)
    assert share == pytest.approx(regions["Guangdong"] / sum(regions.values()), abs=0.015)
    assert set(draws) <= set(regions)
    plain = draw_respondent(china, 0, (), Decoding(), frozenset())
    assert plain.location is None and plain.persona() == "China"
    assert draw_respondent(china, 3, ("prompt",), Decoding(), frozenset()).persona() == f"China living in {draws[3]}"


def test_every_country_has_locations_with_a_source():
    table = locations()
    assert set(table) == {c.code for c in wvs7().cultures}
    for entry in table.values():
        assert entry["source"] and entry["regions"] and all(v > 0 for v in entry["regions"].values())


def test_configuration_uses_the_knobs_the_backend_has():
    usa = wvs7().culture("USA")
    base = Decoding(temperature=1.0, top_p=1.0, max_tokens=64, seed=10)
    beams = frozenset({"temperature", "top_p", "seed", "num_beams"})
    drawn = [draw_respondent(usa, n, ("config", "memory"), base, beams) for n in range(300)]
    assert {r.config["num_beams"] for r in drawn} == {1, 2, 3, 4, 5}
    assert {r.config["do_sample"] for r in drawn} == {True, False}
    for r in drawn:
        assert r.decoding.num_beams == r.config["num_beams"]
        assert r.decoding.temperature == (1.0 if r.config["do_sample"] else 0.0)
        assert r.decoding.seed == 10 + r.index
    assert {r.memory_limit for r in drawn} == set(range(16))  # l in 0..L_m
    no_beams = draw_respondent(usa, 0, ("config",), base, frozenset({"temperature", "seed"}))
    assert "num_beams" not in no_beams.config and no_beams.decoding.num_beams == 1
    fixed = draw_respondent(usa, 0, ("prompt",), base, beams)
    assert fixed.decoding.temperature == 0.0 and fixed.decoding.num_beams == 1  # greedy without config
    assert fixed.memory_limit is None and fixed.decoding.seed == 10
    assert draw_respondent(usa, 5, ("config",), base, beams) == draw_respondent(usa, 5, ("config",), base, beams)


def test_extra_decoding_choices_are_drawn_and_recorded():
    usa = wvs7().culture("USA")
    knobs = frozenset({"temperature", "top_k", "seed"})
    choices = {"temperature": [0.5, 1.5], "top_k": [5, 40], "top_p": [0.9]}  # no top_p knob: not drawn
    drawn = [draw_respondent(usa, n, ("config",), Decoding(), knobs, choices=choices) for n in range(100)]
    sampled = [r for r in drawn if r.config["do_sample"]]
    assert {r.decoding.temperature for r in sampled} == {0.5, 1.5}
    assert {r.config["top_k"] for r in drawn} == {5, 40} and all(r.decoding.top_p == 1.0 for r in drawn)
    assert all(r.config["temperature"] == r.decoding.temperature for r in drawn)


# --- cultural variation map ----------------------------------------------------------------------


def test_pca_matches_numpy_svd():
    rng = np.random.default_rng(3)
    scores = rng.random((7, 5))
    m = variation_map(scores)
    centred = scores - scores.mean(axis=0)
    u, s, vt = np.linalg.svd(centred, full_matrices=False)
    for k in range(2):
        sign = np.sign(m.axes[k] @ vt[k])
        assert m.axes[k] == pytest.approx(sign * vt[k])
        assert m.coords[:, k] == pytest.approx(sign * u[:, k] * s[k])
    assert m.explained == pytest.approx(s[:2] ** 2 / (s**2).sum())


def test_dimension_scores_by_hand():
    dist = np.array([[1.0, 0, 0, 0], [0, 0, 0, 1.0], [0.5, 0.5, 0, 0]])
    n_options = np.array([4, 4, 2])
    # expected rescaled answers: 0, 1, 0.5; dimension A = items 0 and 1, B = item 2
    assert dimension_scores(dist, n_options, [[0, 1], [2]]).tolist() == pytest.approx([0.5, 0.5])


# --- t-test --------------------------------------------------------------------------------------


@pytest.mark.parametrize("equal_var", [False, True])
def test_ttest_against_scipy(equal_var):
    rng = np.random.default_rng(1)
    a, b = rng.normal(1.3, 0.5, 27), rng.normal(0.9, 0.3, 20)
    ours, ref = ttest(a, b, equal_var), stats.ttest_ind(a, b, equal_var=equal_var)
    assert ours.t == pytest.approx(ref.statistic)
    assert ours.p == pytest.approx(ref.pvalue)
    assert ours.df == pytest.approx(ref.df)


def test_table3_from_its_summary_statistics():
    us = ttest_from_stats(1.28, 0.50, 27, 0.93, 0.34, 27, equal_var=True)
    assert (round(us.t, 2), us.df, round(us.sed, 2), round(us.sem1, 2)) == (3.01, 52, 0.12, 0.10)
    assert us.p == pytest.approx(0.0041, abs=2e-4)
    cn = ttest_from_stats(1.35, 0.74, 27, 0.92, 0.33, 27, equal_var=True)
    assert cn.t == pytest.approx(2.77, abs=0.02) and round(cn.sed, 2) == 0.16
    assert cn.p == pytest.approx(0.0079, abs=5e-4)
    with pytest.raises(CulturescopeError):
        ttest([1.0], [1.0, 2.0])


# --- preference-bias profiles --------------------------------------------------------------------


def test_profiles_on_a_hand_made_reference(tmp_path):
    csv = tmp_path / "groups.csv"
    lines = ["country,group,item,code,share"]
    shares = {
        "gender:male": {"Q1": (0.7, 0.3), "Q2": (0.4, 0.6), "Q3": (0.5, 0.5)},
        "gender:female": {"Q1": (0.5, 0.5), "Q2": (0.2, 0.8), "Q3": (0.5, 0.5)},
    }
    for group, per_item in shares.items():
        for item, (s1, s2) in per_item.items():
            lines += [f"USA,{group},{item},1,{s1}", f"USA,{group},{item},2,{s2}"]
    csv.write_text("\n".join(lines) + "\n")
    groups = load_group_reference(csv)["USA"]
    human = {"Q1": {1: 0.6, 2: 0.4}, "Q2": {1: 0.3, 2: 0.7}, "Q3": {1: 0.5, 2: 0.5}}
    model = {"Q1": np.array([0.8, 0.2]), "Q2": np.array([0.9, 0.1]), "Q3": np.array([0.1, 0.9])}
    found = profile(model, human, groups)
    assert (found.matched, found.mismatched) == (1, 2)
    assert found.shares[("matching", "gender")] == (1, {"gender:female": 0.0, "gender:male": 1.0})
    assert found.shares[("mismatch", "gender")] == (2, {"gender:female": 0.5, "gender:male": 1.0})  # Q3: a tie


def test_profiles_read_a_zero_coded_item_per_option():
    survey = wvs7()
    (c,) = compared(_rows("def", "USA", {"Q122": [3, 3, 2]}), survey, ["USA"])  # top: option 3, "Agree"
    # the groups use the survey's codes: "Agree" is code 2 (the humans' top, 0.598), "Hard to say" code 1
    groups = {"gender:male": {"Q122": {0: 0.1, 1: 0.3, 2: 0.6}}, "gender:female": {"Q122": {0: 0.1, 1: 0.6, 2: 0.3}}}
    found = system_profile(c, survey, groups)
    assert (found.matched, found.mismatched) == (1, 0)
    assert found.shares[("matching", "gender")] == (1, {"gender:female": 0.0, "gender:male": 1.0})


def test_group_reference_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("country,group,item,code,share\nUSA,male,Q1,1,0.5\n")
    with pytest.raises(CulturescopeError, match="factor:level"):
        load_group_reference(bad)
    bad.write_text("country,group,item,code\nUSA,gender:male,Q1,1\n")
    with pytest.raises(CulturescopeError, match="missing column"):
        load_group_reference(bad)
