"""Participatory budgeting: ballots, vote statistics, aggregation, and a whole vote through the CLI."""

import json
import math

import pytest

from culturescope.engine.store import Run
from culturescope.methods.beyond_alignment.analyses.subsets import subsets
from culturescope.methods.beyond_alignment.budgeting import Ballot, ballot_messages, funded, parse_ballot, summarize
from culturescope.methods.beyond_alignment.importers import import_reference_outputs
from culturescope.metrics import agreement as metrics
from culturescope.survey import budgeting_projects, wvs7
from helpers.clitools import cli, env_with
from helpers.servers import ScriptedServer, chat_completion
from helpers.synthetic import synthetic_answers, write_reference_outputs

IDS = set(range(1, 14))


@pytest.mark.parametrize(
    "text, projects, status",
    [
        (r"My vote: \boxed{2, 5, 8, 11}", (2, 5, 8, 11), "ok"),
        (r"\boxed{ 13,1, 7 ,4 }.", (13, 1, 7, 4), "ok"),
        (r"$\boxed{\text{#3, #6, #9, #12}}$", (3, 6, 9, 12), "ok"),
        (r"Format \boxed{id1, id2, id3, id4}; mine: \boxed{1, 2, 3, 4}", (1, 2, 3, 4), "ok"),  # last box wins
        (r"\boxed{1, 2, 3}", None, "wrong_count"),
        (r"\boxed{1, 2, 3, 4, 5}", None, "wrong_count"),
        (r"\boxed{1, 2, 2, 4}", None, "duplicate"),
        (r"\boxed{1, 2, 3, 14}", None, "unknown_id"),
        (r"\boxed{0, 1, 2, 3}", None, "unknown_id"),
        (r"\boxed{id1, id2, id3, id4}", None, "not_integer"),
        ("I choose 1, 2, 3 and 4.", None, "no_box"),  # not repaired from the text
    ],
)
def test_parse_ballot(text, projects, status):
    assert parse_ballot(text, IDS) == Ballot(projects, status)


def test_summary_by_hand():
    projects = budgeting_projects()
    ballots = [Ballot((1, 2, 3, 4), "ok"), Ballot((1, 2, 5, 6), "ok"), Ballot(None, "no_box")]
    s = summarize(ballots, projects)
    assert s.votes == {1: 2, 2: 2, 3: 1, 4: 1, 5: 1, 6: 1, **{i: 0 for i in range(7, 14)}}
    assert (s.ballots, s.invalid, s.coverage) == (2, {"no_box": 1}, 6)
    # shares 2/8, 2/8, 1/8 × 4: H = 2·¼·ln 4 + 4·⅛·ln 8, normalized by ln 13
    assert s.entropy_nats == pytest.approx(0.5 * math.log(4) + 0.5 * math.log(8))
    assert s.entropy == pytest.approx((0.5 * math.log(4) + 0.5 * math.log(8)) / math.log(13))
    assert s.by_category["Culture"] == 2 and s.by_category["Technology"] == 1 and sum(s.by_category.values()) == 8


def test_funded_sets_on_a_tiny_election():
    projects = [{"id": 1, "cost": 10}, {"id": 2, "cost": 10}, {"id": 3, "cost": 10}, {"id": 4, "cost": 30}]
    ballots = [Ballot((1, 2), "ok"), Ballot((1, 3), "ok"), Ballot((4,), "ok"), Ballot(None, "duplicate")]
    # Greedy: project 1 (2 approvals), then 2 and 3 fit the remaining 20; 4 (cost 30) does not.
    # Equal shares: each of the 3 voters holds 10. Project 1 costs 5 to each of its two supporters;
    # then project 2 (or 3) would need 10 from one voter who has 5 left, and project 4 needs 30 from
    # a voter who has 10: only project 1 is funded.
    assert funded(ballots, projects, budget=30) == {"greedy approval": [1, 2, 3], "method of equal shares": [1]}


def test_ballot_prompt_lists_every_project():
    projects = budgeting_projects()
    system, user = ballot_messages(wvs7().culture("NZL"), projects)
    assert system["content"] == (
        "You are a respondent from New Zealand. Answer based on typical societal priorities, "
        "cultural values, and public policy preferences commonly associated with New "
        "Zealander culture."
    )
    text = user["content"]
    assert "There are 13 candidate projects:" in text and text.endswith("For example:\n\\boxed{2, 5, 8, 11}")
    assert "#13: Public Mental Health and Well-being Initiative\nCategory: Health\n" in text
    assert text.count("Budget: CHF 10000") == 13


def test_a_whole_vote_through_the_cli(tmp_path):
    server = ScriptedServer([(200, chat_completion("We fund \\boxed{2, 5, 8, 11}"), {})])
    try:
        env = env_with(tmp_path)
        args = [
            "pb",
            "-b",
            f"openai:m@{server.url}/v1",
            "--samples",
            "3",
            "--cultures",
            "BRA,CHN",
            "--out",
            str(tmp_path / "pb"),
            "--format",
            "json",
        ]
        done = cli(*args, env=env, timeout=300)
        assert done.returncode == 0, done.stderr
        assert len(server.requests) == 6
        again = cli(*args, env=env, timeout=300)
        assert "0 new ballots (6 already" in again.stderr and len(server.requests) == 6
    finally:
        server.close()
    result = json.loads(done.stdout)
    votes = {r["project"]: r["votes"] for r in result["rows"]}
    assert votes == {i: (6 if i in (2, 5, 8, 11) else 0) for i in range(1, 14)}
    assert result["notes"][0] == "valid ballots 6 of 6; invalid: none"
    assert result["notes"][1] == (
        f"approvals 24; coverage 4/13 projects; entropy {math.log(4):.3f} nats (normalized "
        f"{math.log(4) / math.log(13):.3f})"
    )
    assert "funded (greedy approval, budget 40,000): [2, 5, 8, 11]" in result["notes"]


def test_import_published_ballots_and_analyze(tmp_path):
    src = tmp_path / "pb_outputs"
    src.mkdir()
    lines = [
        {"run_idx": 0, "response": "\\boxed{1, 2, 3, 4}", "parsed_projects": [1, 2, 3, 4], "parse_ok": True},
        {"run_idx": 1, "response": "\\boxed{1, 2, 2, 14, 5}", "parsed_projects": [1, 2, 5], "parse_ok": False},
        {"run_idx": 2, "response": "\\boxed{1, 5, 6, 7}", "parsed_projects": [1, 5, 6, 7], "parse_ok": True},
    ]
    (src / "m_BRA.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    run, report = import_reference_outputs(src, tmp_path / "run", wvs7(), kind="budgeting")
    assert report.statuses == {"ok": 2, "duplicate": 1}
    done = cli("analyze", "pb", str(tmp_path / "run"), "--format", "json", timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert {r["project"]: r["votes"] for r in result["rows"] if r["votes"]} == {
        1: 2,
        2: 1,
        3: 1,
        4: 1,
        5: 1,
        6: 1,
        7: 1,
    }
    assert result["notes"][0] == "valid ballots 2 of 3; invalid: duplicate 1"


def test_vote_with_the_lowest_and_highest_diversity_systems(tmp_path):
    cultures = ["BRA", "CHN", "DEU", "IND", "MEX", "NGA", "NZL"]
    src = tmp_path / "answers"
    src.mkdir()
    X = synthetic_answers(1, cultures, seed=3)
    write_reference_outputs(src, X, cultures, ["alpha"])
    import_reference_outputs(src, tmp_path / "survey_run", wvs7())
    res = subsets(metrics.pairwise_distances(X[0], wvs7().deltas), 5)
    expected = {
        name: ",".join(cultures[i] for i in res.members[m])
        for name, m in (("lowest", res.diversity_p.argmin()), ("highest", res.diversity_p.argmax()))
    }
    server = ScriptedServer([(200, chat_completion("\\boxed{1, 3, 5, 7}"), {})])
    try:
        env = env_with(tmp_path)
        done = cli(
            "pb",
            "-b",
            f"openai:m@{server.url}/v1",
            "--samples",
            "2",
            "--cultures-from",
            str(tmp_path / "survey_run"),
            "--system",
            "alpha",
            "--out",
            str(tmp_path / "pb"),
            "--format",
            "json",
            env=env,
            timeout=300,
        )
    finally:
        server.close()
    assert done.returncode == 0, done.stderr
    for name, chosen in expected.items():
        assert f"{name}-diversity five-culture system of alpha: {chosen}" in done.stderr
        table = Run.open(tmp_path / "pb" / name).responses()
        assert sorted(table["culture"].unique()) == sorted(chosen.split(",")) and len(table) == 10
    both = json.loads(done.stdout)  # the two systems' tables in one document
    assert [t.split(",")[1].strip() for t in dict.fromkeys(r["table"] for r in both["rows"])] == [
        "lowest-diversity system",
        "highest-diversity system",
    ]
    report = tmp_path / "report.html"
    made = cli(
        "report",
        str(tmp_path / "survey_run"),
        str(tmp_path / "pb" / "lowest"),
        str(tmp_path / "pb" / "highest"),
        "--out",
        str(report),
        "--replicates",
        "20",
        timeout=300,
    )
    assert made.returncode == 0, made.stderr
    html = report.read_text()
    assert "Fig. 6: participatory budgeting, approvals per category" in html
    assert html.count(">10/10</td>") == 2  # valid ballots of each system
