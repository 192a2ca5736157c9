"""Partial published outputs: import, evaluate, exposure and budgeting score what is complete, say what
they left out, and agree with the metrics computed directly on the answers that were written."""

import itertools
import json

import numpy as np
import pytest

from culturescope.errors import CulturescopeError
from culturescope.methods.beyond_alignment.analyses.dynamics import exposure_dynamics, round_one_change
from culturescope.methods.beyond_alignment.coverage import default_cultures
from culturescope.methods.beyond_alignment.importers import import_reference_outputs
from culturescope.methods.beyond_alignment.score import evaluate_responses
from culturescope.metrics import agreement as metrics
from culturescope.survey import PAPER_CULTURES, wvs7
from helpers.clitools import cli
from helpers.published_layout import ALL, ALL_ROUNDS, ROUND_ONE, SHORT_BALLOTS, make_published

FIVE = [ALL.index(c) for c in PAPER_CULTURES]


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    root = tmp_path_factory.mktemp("published")
    pub = make_published(root)
    survey = wvs7()
    static, report = import_reference_outputs(pub.static, root / "static", survey)
    exposure, _ = import_reference_outputs(root, root / "exposure", survey, kind="exposure")
    ballots, _ = import_reference_outputs(pub.ballots, root / "pb", survey, kind="budgeting")
    return pub, report, static, exposure, ballots


def direct(X: np.ndarray, cultures_idx: list[int]) -> tuple[float, float, float]:
    """(Alignment, Diversity_P, Diversity_S) straight from the written answers."""
    survey = wvs7()
    A = X[cultures_idx]
    mu = survey.majority_matrix([ALL[i] for i in cultures_idx])
    D = metrics.pairwise_distances(A, survey.deltas)
    return metrics.alignment(A, mu, survey.deltas), metrics.diversity_p(D), metrics.diversity_s(D)


def test_import_keeps_the_good_lines_and_names_each_bad_one(published):
    pub, report, static, _, _ = published
    lines = sum(int(np.isfinite(v).sum()) for (r, _), v in pub.answers.items() if r == 0)
    assert report.responses == lines  # every written answer, none of the backups' lines
    assert len(report.bad_lines) == 2
    assert any("gpt-4o-mini_NGA_system.jsonl: line 224: unknown q_id 'Q999'" in b for b in report.bad_lines)
    assert any("line 225: invalid JSON" in b for b in report.bad_lines)
    backups = [line for line in report.ignored if "_system_bk.jsonl" in line]
    assert len(backups) == 19 + 12  # gpt-5.4's and grok-3's
    assert static.manifest["source"]["skipped_lines"] == report.bad_lines


def test_import_strict_complete_stops_and_writes_nothing(published, tmp_path):
    pub = published[0]
    with pytest.raises(CulturescopeError, match="2 bad line"):
        import_reference_outputs(pub.static, tmp_path / "run", wvs7(), strict=True)
    assert not (tmp_path / "run").exists()


def test_evaluate_scores_the_complete_backbones_and_lists_the_rest(published):
    pub, _, static, _, _ = published
    scores, coverage = evaluate_responses(static.responses(), wvs7(), PAPER_CULTURES)
    got = {s.label: s for s in scores}
    assert sorted(got) == sorted(
        [
            "gpt-5.4",
            "claude-opus-4.7",
            "gemini-3.1-flash-lite-preview",
            "gpt-4o-mini",
            "llama-3.1-70b-instruct",
            "grok-3",
        ]
    )
    for model, s in got.items():
        a, p, q = direct(pub.answers[(0, model)], FIVE)
        assert (s.alignment, s.diversity_p, s.diversity_s) == pytest.approx((a, p, q), abs=1e-12)
    assert coverage.left_out == [
        "claude-opus-4.5 (static): no responses for CHN, MEX, NGA, NZL",
        "llama-4-maverick (static): no responses for BRA, MEX, NGA, NZL",
    ]


def test_partial_items_are_scored_and_noted(published):
    pub, _, static, _, _ = published
    scores, coverage = evaluate_responses(static.responses(), wvs7(), ["BRA", "IND"], strict=False)
    grok = next(s for s in scores if s.label == "grok-3")
    idx = [ALL.index("BRA"), ALL.index("IND")]
    assert grok.diversity_p == pytest.approx(direct(pub.answers[(0, "grok-3")], idx)[1], abs=1e-12)
    assert "grok-3 (static): items answered IND 22/223" in coverage.partial
    with pytest.raises(CulturescopeError, match="--strict-complete"):
        evaluate_responses(static.responses(), wvs7(), PAPER_CULTURES, strict=True)


def test_default_cultures_are_the_set_most_backbones_share(published):
    assert default_cultures(published[2].responses()) == sorted(PAPER_CULTURES)


def test_cli_evaluate_selects_backbones_and_reports_gaps(published):
    static = published[2].path
    res = cli("evaluate", str(static), "--backbones", "gpt-*,claude-*", "--format", "csv")
    assert res.returncode == 0, res.stderr
    rows = res.stdout.strip().splitlines()[1:]
    assert sorted(r.split(",")[0] for r in rows) == ["claude-opus-4.7", "gpt-4o-mini", "gpt-5.4", "human reference"]
    assert "left out: claude-opus-4.5 (static): no responses for CHN, MEX, NGA, NZL" in res.stderr
    assert "llama" not in res.stderr
    bad = cli("evaluate", str(static), "--backbones", "mistral*")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "no backbone matches 'mistral*'" in bad.stderr
    strict = cli("evaluate", str(static), "--strict-complete")
    assert strict.returncode == 2 and "claude-opus-4.5" in strict.stderr


def test_exposure_uses_whatever_rounds_each_backbone_has(published):
    pub, _, _, exposure, _ = published
    result, left_out = exposure_dynamics(exposure.responses(), wvs7(), PAPER_CULTURES)
    rounds = {label: list(d.rounds) for label, d in result.items()}
    for model in ALL_ROUNDS:
        assert rounds[model] == [0, 1, 2, 3, 4, 5]
    for model in set(ROUND_ONE) - set(ALL_ROUNDS) - {"grok-3"}:
        assert rounds[model] == [0, 1]
    assert rounds["grok-3"] == [0] and rounds["llama-3.1-70b-instruct"] == [0]
    assert "grok-3 (round 1): no answer could be scored" in left_out
    for model, d in result.items():
        for k, r in enumerate(d.rounds):
            a, p, q = direct(pub.answers[(int(r), model)], FIVE)
            assert (d.alignment[k], d.diversity_p[k], d.diversity_s[k]) == pytest.approx((a, p, q), abs=1e-12)
    change, full = round_one_change(result)
    assert sorted(full) == sorted(ALL_ROUNDS)
    expected = np.mean([direct(pub.answers[(1, m)], FIVE)[1] - direct(pub.answers[(0, m)], FIVE)[1] for m in full])
    assert change == pytest.approx(expected, abs=1e-12) and change < 0


def test_cli_exposure_prints_the_fig4_statistic(published):
    res = cli("analyze", "exposure", str(published[3].path), "--format", "json")
    assert res.returncode == 0, res.stderr
    (note,) = json.loads(res.stdout)["notes"]
    assert note.startswith("Fig. 4: mean round-1 ΔD_P over the 2 systems with rounds 0–5 = ")
    assert res.stderr.splitlines() == [
        "left out: claude-opus-4.5 (exposure): no responses for CHN, MEX, NGA, NZL",
        "left out: llama-4-maverick (exposure): no responses for BRA, MEX, NGA, NZL",
        "left out: grok-3 (round 1): no answer could be scored",
        "left out: gemini-3.1-flash-lite-preview: scored in round(s) 0–1 only, not 2–5",
        "left out: gpt-4o-mini: scored in round(s) 0–1 only, not 2–5",
        "left out: grok-3: scored in round(s) 0 only, not 1–5",
        "left out: llama-3.1-70b-instruct: scored in round(s) 0 only, not 1–5",
    ]


def test_pb_from_published_ballots_with_the_extreme_systems(published):
    pub, _, static, _, ballots = published
    survey = wvs7()
    X = pub.answers[(0, "claude-opus-4.7")]
    D = metrics.pairwise_distances(X, survey.deltas)
    by_subset = {s: metrics.diversity_p(D[np.ix_(s, s)]) for s in itertools.combinations(range(len(ALL)), 5)}
    low, high = (sorted(ALL[i] for i in f(by_subset, key=by_subset.get)) for f in (min, max))
    res = cli(
        "analyze",
        "pb",
        str(ballots.path),
        "--system",
        "claude-opus-4.7",
        "--cultures-from",
        str(static.path),
        "--format",
        "json",
    )
    assert res.returncode == 0, res.stderr
    assert f"lowest-diversity five-culture system of claude-opus-4.7: {','.join(low)}" in res.stderr
    assert f"highest-diversity five-culture system of claude-opus-4.7: {','.join(high)}" in res.stderr
    table = ballots.responses()
    for chosen in (low, high):
        n = int(table["culture"].isin(chosen).sum())
        assert n == sum(SHORT_BALLOTS.get(c, 20) for c in chosen)
        assert f"approvals {4 * n};" in res.stdout
    short = [c for c in low + high if c in SHORT_BALLOTS]
    for c in short:
        assert f"{c} {SHORT_BALLOTS[c]}" in res.stderr
