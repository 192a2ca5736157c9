import itertools
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from culturescope.methods.beyond_alignment.analyses.landscape import Landscape, landscape
from culturescope.methods.beyond_alignment.analyses.mixed import mixed_backbones, pareto_front
from culturescope.methods.beyond_alignment.analyses.subsets import max_by_size, subsets
from culturescope.methods.beyond_alignment.analyses.uncertainty import bootstrap
from culturescope.metrics import agreement as metrics
from culturescope.survey import PAPER_CULTURES, wvs7
from helpers.clitools import cli
from helpers.loop_metrics import as_dicts, loop_distance, loop_diversity
from helpers.synthetic import synthetic_answers, write_reference_outputs


def random_system(rng, B, N, K, holes=0.1):
    delta = rng.integers(1, 6, K).astype(float)
    X = np.stack([[rng.integers(1, delta.astype(int) + 2) for _ in range(N)] for _ in range(B)]).astype(float)
    X[rng.random(X.shape) < holes] = np.nan
    X[:, :, 0] = 1.0  # every pair shares an item
    mu = rng.integers(1, delta.astype(int) + 2, size=(N, K)).astype(float)
    return X, mu, delta


def test_mixed_matches_brute_force_on_every_assignment():
    X, mu, delta = random_system(np.random.default_rng(1), B=4, N=3, K=12)
    r = mixed_backbones(X, mu, delta, ["b0", "b1", "b2", "b3"], ["x", "y", "z"], chunk=7)
    assert len(r.diversity_p) == 4**3
    for m, combo in enumerate(itertools.product(range(4), repeat=3)):
        S = np.stack([X[b, i] for i, b in enumerate(combo)])
        dp, ds = loop_diversity(as_dicts(S), list(delta))
        assert (r.diversity_p[m], r.diversity_s[m]) == pytest.approx((dp, ds), abs=1e-12)
        assert r.alignment[m] == pytest.approx(metrics.alignment(S, mu, delta), abs=1e-12)
        assert r.assignment(m) == [f"b{b}" for b in combo]
    assert list(r.single) == [0, 21, 42, 63]


def test_pareto_front_by_brute_force():
    rng = np.random.default_rng(3)
    d, a = rng.integers(0, 12, 300).astype(float), rng.integers(0, 12, 300).astype(float)

    def dominated(i):
        return any(d[j] >= d[i] and a[j] >= a[i] and (d[j] > d[i] or a[j] > a[i]) for j in range(len(d)))

    front = pareto_front(d, a)
    points = {(d[i], a[i]) for i in front}
    assert len(points) == len(front)  # exact duplicates appear once
    assert not any(dominated(i) for i in front)
    assert points == {(d[i], a[i]) for i in range(len(d)) if not dominated(i)}


def test_highlights_follow_their_definitions():
    cultures = PAPER_CULTURES
    X = synthetic_answers(6, cultures, seed=2)
    s = wvs7()
    r = mixed_backbones(X, s.majority_matrix(cultures), s.deltas, [f"m{i}" for i in range(6)], cultures)
    d, a, single = r.diversity_p, r.alignment, r.single
    h = {x.name: x for x in r.highlights}
    assert a[h["alignment-optimal"].config] == a.max()
    assert h["alignment-optimal"].delta_a == pytest.approx(a.max() - a[single].max())
    assert d[h["diversity-optimal"].config] == d.max()
    assert h["diversity-optimal"].delta_d == pytest.approx(d.max() - d[single].max())
    # The balanced knee is on the mixed frontier, its reference on the single-backbone one
    # (checked against brute force in test_mixed_knee.py).
    bal = h["balanced"]
    assert bal.config in r.frontier and bal.reference in r.single_frontier
    ref = single[bal.reference]
    assert (bal.delta_d, bal.delta_a) == (d[bal.config] - d[ref], a[bal.config] - a[ref])
    # The mixed frontier weakly dominates every single-backbone system.
    for t in single:
        assert any(d[f] >= d[t] and a[f] >= a[t] for f in r.frontier)


def test_subsets_and_maxima_match_brute_force():
    rng = np.random.default_rng(5)
    X, _, delta = random_system(rng, B=1, N=7, K=15)
    D = metrics.pairwise_distances(X[0], delta)
    for k in (2, 3, 6, 7):
        res = subsets(D, k, chunk=4)
        assert len(res.members) == math.comb(7, k)
        for m, members in enumerate(res.members):
            dp, ds = loop_diversity(as_dicts(X[0][list(members)]), list(delta))
            assert (res.diversity_p[m], res.diversity_s[m]) == pytest.approx((dp, ds), abs=1e-12)
    mx = max_by_size(D)
    assert list(mx.k) == list(range(2, 8))
    assert mx.diversity_p[0] == pytest.approx(np.nanmax(D))  # best pair
    assert mx.diversity_p[-1] == pytest.approx(metrics.diversity_p(D))  # all seven


@settings(max_examples=200, deadline=None)
@given(st.integers(2, 7), st.integers(1, 40), st.data())
def test_batched_mst_with_ties_and_zeros(n, batch, data):
    # Small integer weights make ties and zero-weight edges common.
    w = np.array(data.draw(st.lists(st.integers(0, 3), min_size=batch * n * n, max_size=batch * n * n)), float)
    W = w.reshape(batch, n, n)
    W = np.triu(W, 1) + np.transpose(np.triu(W, 1), (0, 2, 1))
    for b in range(batch):
        edges = sorted((W[b, i, j], i, j) for i, j in itertools.combinations(range(n), 2))
        parent = list(range(n))

        def root(x):
            while parent[x] != x:
                x = parent[x]
            return x

        total = 0.0
        for wt, i, j in edges:
            if root(i) != root(j):
                parent[root(i)] = root(j)
                total += wt
        assert metrics.mst_weight(W)[b] == total


def test_bootstrap_point_estimates_and_intervals():
    s = wvs7()
    X = synthetic_answers(1, PAPER_CULTURES, seed=7)[0]
    mu = s.majority_matrix(PAPER_CULTURES)
    ci = bootstrap(X[None], mu, s.deltas, mu, replicates=400, seed=1)
    D = metrics.pairwise_distances(X, s.deltas)
    Dh = metrics.pairwise_distances(mu, s.deltas)
    assert ci["alignment"].estimate == pytest.approx(metrics.alignment(X, mu, s.deltas))
    assert ci["diversity_p"].estimate == pytest.approx(metrics.diversity_p(D))
    assert ci["diversity_s"].estimate == pytest.approx(metrics.diversity_s(D))
    assert ci["gap_p"].estimate == pytest.approx(metrics.diversity_p(D) - metrics.diversity_p(Dh))
    for i in ci.values():
        assert i.low < i.estimate < i.high
    assert bootstrap(X[None], mu, s.deltas, mu, replicates=400, seed=1) == ci  # seeded
    # The human reference against itself: no gap in any replicate (paired resampling).
    same = bootstrap(mu[None], mu, s.deltas, mu, replicates=200)
    assert same["gap_p"].low == same["gap_p"].high == 0.0
    assert same["alignment"].low == same["alignment"].high == 1.0


def test_bootstrap_over_samples_widens_with_sample_disagreement():
    s = wvs7()
    mu = s.majority_matrix(PAPER_CULTURES)
    X = synthetic_answers(3, PAPER_CULTURES, seed=9)
    one = bootstrap(X[:1], mu, s.deltas, mu, replicates=500, seed=2)
    three = bootstrap(X, mu, s.deltas, mu, replicates=500, seed=2)
    assert three["diversity_p"].estimate == pytest.approx(
        np.mean([metrics.diversity_p(metrics.pairwise_distances(x, s.deltas)) for x in X])
    )
    width = lambda i: i.high - i.low  # noqa: E731
    assert width(three["alignment"]) > width(one["alignment"])


def test_landscape_pearson_by_hand():
    land = Landscape(["a", "b", "c"], np.array([0.6, 0.7, 0.8]), np.array([0.3, 0.2, 0.1]), np.array([0.1, 0.3, 0.2]))
    assert land.pearson("p") == pytest.approx(-1.0)
    assert land.pearson("s") == pytest.approx(0.5)  # r of (1,3,2) and (1,2,3) is 0.5
    s = wvs7()
    mu = s.majority_matrix(PAPER_CULTURES)
    two = landscape({"human": mu[None], "twice": np.stack([mu, mu])}, mu, s.deltas)
    assert list(two.alignment) == [1.0, 1.0] and math.isnan(two.pearson())


@pytest.fixture(scope="module")
def nineteen(tmp_path_factory):
    """Published-outputs layout: two backbones with all 19 cultures (one file has lost a line), one
    with the paper's five only; imported with ``culturescope import``."""
    s = wvs7()
    cultures = [c.code for c in s.cultures]
    X = synthetic_answers(3, cultures, seed=21)
    root = tmp_path_factory.mktemp("nineteen")
    src = root / "outputs"
    src.mkdir()
    write_reference_outputs(src, X[:2], cultures, ["gpt-5.4", "claude-opus-4.7"])
    five = [cultures.index(c) for c in PAPER_CULTURES]
    write_reference_outputs(src, X[2:, five], PAPER_CULTURES, ["grok-3"])
    ken = src / "gpt-5.4_KEN_system.jsonl"
    lines = ken.read_text().splitlines()
    ken.write_text("\n".join(lines[:40] + lines[41:]) + "\n")
    X[0, cultures.index("KEN"), 40] = np.nan
    assert cli("import", str(src), "--out", str(root / "run")).returncode == 0
    return root / "run", cultures, X[0], s.majority_matrix(cultures, "faithful"), s.deltas


def brute_best(X, delta, k):
    """(best mean pairwise distance over all k-subsets, its members), by loops over pairs and subsets."""
    answers = as_dicts(X)
    dist = {
        (i, j): loop_distance(answers[i], answers[j], list(delta)) for i, j in itertools.combinations(range(len(X)), 2)
    }
    return max(
        (float(np.mean([dist[p] for p in itertools.combinations(m, 2)])), m)
        for m in itertools.combinations(range(len(X)), k)
    )


def analyze_json(*args):
    result = cli("analyze", *args, "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_subsets_and_agent_count_use_every_culture_the_system_answered(nineteen):
    run, cultures, X, mu, delta = nineteen
    best, members = brute_best(X, delta, 5)
    human_best, human_members = brute_best(mu, delta, 5)
    named = ",".join(cultures[i] for i in members)
    out = analyze_json("subsets", str(run), "--system", "gpt-5.4", "--k", "5", "--top", "3")
    assert out["notes"][0] == f"gpt-5.4: 19 cultures ({','.join(cultures)})"
    assert out["notes"][1].startswith("11,628 subsets of 5;")
    assert out["rows"][0]["cultures"] == named and out["rows"][0]["diversity_p"] == pytest.approx(100 * best)
    assert out["notes"][2].startswith(f"best 5-culture subset of gpt-5.4: Diversity_P {100 * best:.2f} (")
    assert out["notes"][3].startswith(
        f"human maximum at k = 5: Diversity_P {100 * human_best:.2f}, {','.join(cultures[i] for i in human_members)};"
    )
    rows = analyze_json("agents", str(run), "--system", "gpt-5.4")["rows"]
    assert [r["k"] for r in rows] == list(range(2, 20))
    assert rows[3]["system_p"] == pytest.approx(100 * best) and rows[3]["human_p"] == pytest.approx(100 * human_best)
    assert rows[3]["gap_p"] == pytest.approx(100 * (best - human_best))  # points, as Fig. 3b plots it
    everyone = brute_best(X, delta, 19)[0]
    assert rows[-1]["system_p"] == pytest.approx(100 * everyone)
    relative = analyze_json("agents", str(run), "--system", "gpt-5.4", "--gap", "relative")["rows"]
    assert relative[3]["gap_p_%"] == pytest.approx(100 * (best - human_best) / human_best)
    five = analyze_json("agents", str(run), "--system", "grok-3")
    assert [r["k"] for r in five["rows"]] == [2, 3, 4, 5]
    assert five["notes"][0].startswith("grok-3: 5 cultures (BRA,CHN,MEX,NGA,NZL); not in this analysis: AUS,BOL,CAN")
    bad = cli("analyze", "subsets", str(run), "--system", "grok-3", "--cultures", "BRA,CHN,ETH")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "ETH" in bad.stderr, bad.stderr
