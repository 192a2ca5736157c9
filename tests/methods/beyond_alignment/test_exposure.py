"""Social exposure: the round-r prompt, resuming a multi-round run, the dynamics."""

import json
import signal
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from culturescope.engine.store import Run
from culturescope.methods.beyond_alignment.analyses.dynamics import drift, dynamics
from culturescope.methods.beyond_alignment.exposure import round_requests
from culturescope.methods.beyond_alignment.importers import import_reference_outputs
from culturescope.survey import wvs7
from helpers.clitools import cli, env_with, lines, wait_for_lines
from helpers.reference_outputs import majority_text, write_model

CULTURES = ["BRA", "CHN", "MEX"]


def previous_round():
    """Round-0 replies of three agents on Q1: one parsed, one unparsed text, one probs answer."""
    rows = [
        {"culture": "BRA", "item": "Q1", "sample": 0, "raw": "I think \\boxed{2}", "answer": 2},
        {"culture": "CHN", "item": "Q1", "sample": 0, "raw": "Family first.", "answer": None},
        {"culture": "MEX", "item": "Q1", "sample": 0, "raw": None, "answer": 1},
    ]
    return pd.DataFrame(rows)


def test_round_prompt_holds_exactly_the_others_previous_answers():
    s = wvs7()
    requests = round_requests(s, CULTURES, [s.items[0]], previous_round(), 1, 1, "raw")
    by_agent = {r.agent: r for r in requests}
    assert [r.round for r in requests] == [1, 1, 1]
    assert by_agent["BRA"].messages[0]["content"].startswith("You are a respondent from Brazil.")
    expected = (
        f"Question: {s.items[0].question}\n\n"
        "Here are answers from people of other cultures: Chinese: Family first.\nMexican: 1\n\n\n"
        "You may consider these answers before making your decision.\n\n"
        "Output format MUST be exactly: \\boxed{number}"
    )
    assert by_agent["BRA"].messages[1]["content"] == expected
    chn = by_agent["CHN"].messages[1]["content"]
    assert "Brazilian: I think \\boxed{2}\nMexican: 1\n" in chn and "Chinese:" not in chn
    shown_codes = round_requests(s, CULTURES, [s.items[0]], previous_round(), 1, 1, "answer")
    assert "Brazilian: 2\nChinese: N/A\n" in {r.agent: r for r in shown_codes}["MEX"].messages[1]["content"]


def test_drift_and_dynamics_by_hand():
    delta = np.array([2.0, 3.0])
    X = np.array([[1, 1], [3, 4], [1, np.nan]])
    # agent 0 vs mean of others (2, 4): √(1+9)/√(4+9); agent 1 vs (1, 1): √(4+9)/√13; agent 2: item 0 only
    np.testing.assert_allclose(drift(X, delta), [np.sqrt(10 / 13), 1.0, 0.5])
    same = np.array([[2, 2], [2, 2], [2, 2]], float)
    dyn = dynamics({0: X, 1: same}, np.array([[1, 1], [3, 4], [1, 2]], float), delta)
    assert dyn.diversity_p[1] == 0 and dyn.delta_d[1] == pytest.approx(-dyn.diversity_p[0])
    np.testing.assert_array_equal(dyn.drift[1], 0.0)


def test_multi_round_run_resumes_after_kill(tmp_path):
    env = env_with(tmp_path)
    out = tmp_path / "r"
    args = [
        sys.executable,
        "-m",
        "culturescope",
        "run",
        "--rounds",
        "2",
        "--limit",
        "12",
        "--answer-mode",
        "probs",
        "--cultures",
        ",".join(CULTURES),
        "--out",
        str(out),
    ]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    path = out / "responses.jsonl"
    wait_for_lines(path, 48, proc)  # past round 0 (36 answers)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    kept = lines(path)
    assert 48 <= kept < 108
    done = cli(*args[3:], env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "round 0: 0 new responses (36 already" in done.stderr
    table = Run.open(out).responses()
    assert len(table) == 3 * 12 * 3 and not table.duplicated(["agent", "item", "round", "sample"]).any()
    assert table.groupby("round").size().to_dict() == {0: 36, 1: 36, 2: 36}
    dyn = cli("analyze", "exposure", str(out), "--format", "json", env=env, timeout=120)
    rows = json.loads(dyn.stdout)["rows"]
    assert [r["round"] for r in rows] == [0, 1, 2] and rows[0]["ΔD"] == 0
    report = tmp_path / "report.html"
    made = cli("report", str(out), "--out", str(report), "--replicates", "20", env=env, timeout=300)
    assert made.returncode == 0, made.stderr
    assert "Fig. 4, 5 and 8: social exposure" in report.read_text()


def test_import_published_exposure_rounds(tmp_path):
    root = tmp_path / "published"
    for name in ("wvs_evaluation", "wvs_evaluation_interaction", "wvs_evaluation_interaction_round2"):
        (root / name).mkdir(parents=True)
        write_model(root / name, "m", majority_text, cultures=CULTURES)
    run, report = import_reference_outputs(root, tmp_path / "run", wvs7(), kind="exposure")
    table = run.responses()
    assert report.files == 9 and set(table["system"]) == {"exposure"}
    assert table.groupby("round").size().to_dict() == {0: 3 * 223, 1: 3 * 223, 2: 3 * 223}
    dyn = cli("analyze", "exposure", str(tmp_path / "run"), "--format", "json", timeout=120)
    rows = json.loads(dyn.stdout)["rows"]
    assert [r["round"] for r in rows] == [0, 1, 2]
    assert all(r["alignment"] == 100.0 and r["ΔD"] == 0 for r in rows)  # every round answers with the majority


def test_exposure_command_runs_and_reports(tmp_path):
    env = env_with(tmp_path)
    done = cli(
        "exposure",
        "--rounds",
        "1",
        "--limit",
        "2",
        "--cultures",
        "BRA,CHN",
        "--answer-mode",
        "probs",
        "--out",
        str(tmp_path / "r"),
        "--format",
        "json",
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)["rows"]
    assert [r["round"] for r in rows] == [0, 1] and rows[0]["system"] == "SmolLM2-135M-Instruct"
    assert Run.open(tmp_path / "r").responses().groupby("round").size().to_dict() == {0: 4, 1: 4}
