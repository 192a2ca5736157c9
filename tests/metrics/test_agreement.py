import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse.csgraph import minimum_spanning_tree

from culturescope.metrics import agreement as metrics
from helpers.loop_metrics import as_dicts, loop_diversity

nan = np.nan
R10 = math.sqrt(10)

# Three agents on a 2-option item (Δ=1) and a 4-option item (Δ=3); ΣΔ² = 10.
DELTA = np.array([1.0, 3.0])
X = np.array([[1, 1], [2, 4], [1, 4]], float)


def test_pairwise_distances_by_hand():
    D = metrics.pairwise_distances(X, DELTA)
    # A–B: √(1+9)/√10 = 1; A–C: √9/√10; B–C: √1/√10
    expected = np.array([[0, 1, 3 / R10], [1, 0, 1 / R10], [3 / R10, 1 / R10, 0]])
    np.testing.assert_allclose(D, expected, atol=1e-15)
    assert metrics.diversity_p(D) == pytest.approx((1 + 3 / R10 + 1 / R10) / 3)
    # MST = {B–C, A–C}
    assert metrics.diversity_s(D) == pytest.approx((1 / R10 + 3 / R10) / 2)


def test_missing_answer_and_zero_distance():
    # A did not answer item 1: A–B uses item 0 only (1/1), A–C is 0 (identical on the shared item).
    Xm = np.array([[1, nan], [2, 4], [1, 4]])
    D = metrics.pairwise_distances(Xm, DELTA)
    assert D[0, 1] == pytest.approx(1.0)
    assert D[0, 2] == 0.0
    assert D[1, 2] == pytest.approx(1 / R10)
    assert metrics.diversity_p(D) == pytest.approx((1 + 0 + 1 / R10) / 3)
    # The true MST keeps the zero edge A–C: {A–C (0), B–C (1/√10)}.
    assert metrics.diversity_s(D) == pytest.approx((1 / R10) / 2)
    # A routine that drops zero-weight entries (scipy's dense input) builds {A–B, B–C} instead.
    assert minimum_spanning_tree(D).toarray().sum() / 2 == pytest.approx((1 + 1 / R10) / 2)


def test_pair_without_common_items_is_skipped():
    Xm = np.array([[1, nan], [nan, 4], [1, 4]])
    D = metrics.pairwise_distances(Xm, DELTA)
    assert np.isnan(D[0, 1])
    # Diversity_P averages the two defined pairs (Algorithm 1 skips the pair).
    assert metrics.diversity_p(D) == pytest.approx((0 + 0) / 2)
    # A–C and B–C still connect all three agents.
    assert metrics.diversity_s(D) == 0.0


def test_disconnected_graph_has_no_structural_diversity():
    Xm = np.array([[1, nan], [nan, 4]])
    assert math.isnan(metrics.diversity_s(metrics.pairwise_distances(Xm, DELTA)))


def test_items_with_one_option_are_skipped():
    delta = np.array([1.0, 0.0])
    D = metrics.pairwise_distances(np.array([[1, 1], [2, 5]], float), delta)
    assert D[0, 1] == 1.0


def test_alignment_by_hand():
    mu = np.array([[2, 3], [2, 4], [nan, 3]], float)
    scores = metrics.align_scores(X, mu, DELTA)
    # A: 1 − √(1+4)/√10;  B: identical → 1;  C: item 1 only, 1 − |4−3|/3
    np.testing.assert_allclose(scores, [1 - math.sqrt(0.5), 1.0, 1 - 1 / 3])
    assert metrics.alignment(X, mu, DELTA) == pytest.approx((1 - math.sqrt(0.5) + 1 + 2 / 3) / 3)


def test_alignment_skips_agents_without_reference():
    mu = np.array([[nan, nan], [2, 4], [1, 4]], float)
    assert np.isnan(metrics.align_scores(X, mu, DELTA)[0])
    assert metrics.alignment(X, mu, DELTA) == 1.0


def test_per_item_scores_by_hand():
    # item 0: codes 1,2,1 (Δ=1) → gaps 1,0,1 → 2/3;  item 1: 1,4,4 (Δ=3) → 1,1,0 → 2/3
    np.testing.assert_allclose(metrics.per_item_diversity(X, DELTA), [2 / 3, 2 / 3])
    mu = np.array([[2, 3], [2, 4], [nan, 3]], float)
    # item 0: A 1−1=0, B 1, C no reference → 1/2;  item 1: A 1−2/3, B 1, C 1−1/3 → (1/3+1+2/3)/3
    np.testing.assert_allclose(metrics.per_item_alignment(X, mu, DELTA), [0.5, 2 / 3])


def test_per_item_diversity_needs_two_answers():
    Xm = np.array([[1, nan], [2, nan], [1, 4]])
    d = metrics.per_item_diversity(Xm, DELTA)
    assert d[0] == pytest.approx(2 / 3) and np.isnan(d[1])


def test_batched_mst_matches_scipy_on_positive_weights():
    rng = np.random.default_rng(0)
    W = rng.uniform(0.1, 1.0, size=(50, 7, 7))
    W = np.triu(W, 1) + np.transpose(np.triu(W, 1), (0, 2, 1))
    ours = metrics.mst_weight(W)
    theirs = [minimum_spanning_tree(np.triu(w)).toarray().sum() for w in W]
    np.testing.assert_allclose(ours, theirs)


@st.composite
def systems(draw, min_agents=2):
    """Answer matrices with in-range codes and some missing answers; item 0 answered by all."""
    n = draw(st.integers(min_agents, 7))
    k = draw(st.integers(1, 12))
    delta = np.array(draw(st.lists(st.integers(1, 10), min_size=k, max_size=k)), float)
    X = np.array([[draw(st.integers(1, int(d) + 1)) for d in delta] for _ in range(n)], float)
    holes = np.array(draw(st.lists(st.booleans(), min_size=n * k, max_size=n * k))).reshape(n, k)
    holes[:, 0] = False
    X[holes] = nan
    return X, delta


@settings(max_examples=150, deadline=None)
@given(systems(), st.randoms())
def test_diversity_properties(system, rnd):
    X, delta = system
    D = metrics.pairwise_distances(X, delta)
    dp, ds = metrics.diversity_p(D), metrics.diversity_s(D)
    assert 0 <= ds <= dp + 1e-12 <= 1 + 1e-12
    order = list(range(len(X)))
    rnd.shuffle(order)
    Dq = metrics.pairwise_distances(X[order], delta)
    assert metrics.diversity_p(Dq) == pytest.approx(dp, abs=1e-12)
    assert metrics.diversity_s(Dq) == pytest.approx(ds, abs=1e-12)
    assert (dp, ds) == pytest.approx(loop_diversity(as_dicts(X), list(delta)), abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(systems(min_agents=1), st.integers(2, 6))
def test_identical_agents_have_no_diversity(system, copies):
    X, delta = system
    same = np.repeat(X[:1], copies, axis=0)
    D = metrics.pairwise_distances(same, delta)
    assert metrics.diversity_p(D) == 0.0 and metrics.diversity_s(D) == 0.0


@settings(max_examples=60, deadline=None)
@given(systems())
def test_agent_equal_to_majority_is_fully_aligned(system):
    X, delta = system
    np.testing.assert_array_equal(metrics.align_scores(X, X, delta), 1.0)
    assert 0 <= metrics.alignment(X, X[::-1], delta) <= 1
