import json
import math

import numpy as np
import pytest

from culturescope.engine.store import Run
from culturescope.errors import CulturescopeError
from culturescope.methods.beyond_alignment.importers import import_reference_outputs
from culturescope.methods.beyond_alignment.score import evaluate_responses, human_reference, status_counts
from culturescope.survey import PAPER_CULTURES, wvs7
from helpers.reference_outputs import majority_text, write_model


@pytest.fixture
def outputs(tmp_path):
    src = tmp_path / "wvs_evaluation"
    src.mkdir()
    write_model(src, "oracle_v1.2", majority_text)
    write_model(src, "constant", lambda c, it: r"\boxed{1}" if it.id != "Q1" else "no idea")
    return src


def test_import_and_evaluate(outputs, tmp_path):
    survey = wvs7()
    run, report = import_reference_outputs(outputs, tmp_path / "run", survey)
    assert report.files == 10 and report.responses == 10 * 223
    table = Run.open(tmp_path / "run").responses()
    assert len(table) == 2230 and set(table["backbone"]) == {"oracle_v1.2", "constant"}
    assert run.manifest["backbones"] == ["constant", "oracle_v1.2"]

    scores = {s.label: s for s in evaluate_responses(table, survey, PAPER_CULTURES)[0]}
    human = human_reference(survey, PAPER_CULTURES)
    oracle = scores["oracle_v1.2"]
    # Answering with the majority reproduces the human reference exactly, code-0 majorities included.
    assert oracle.alignment == 1.0
    assert oracle.diversity_p == pytest.approx(human.diversity_p, abs=1e-12)
    assert oracle.diversity_s == pytest.approx(human.diversity_s, abs=1e-12)
    assert oracle.answered == human.answered
    # Missing human data gave "I cannot say." → counted as failures, raw text kept.
    failed = table[(table["backbone"] == "oracle_v1.2") & (table["status"] == "no_box")]
    assert len(failed) == 5 * 223 - sum(human.answered.values())
    assert set(failed["raw"]) == {"I cannot say."}
    # Code-0 majorities are out of range for the prompt's 1..n numbering but kept (faithful).
    assert (table["status"] == "out_of_range").sum() == sum(
        1 for c in PAPER_CULTURES for it in survey.items if survey.majority(c, it.id) == 0
    )

    constant = scores["constant"]
    assert constant.diversity_p == 0.0 and constant.diversity_s == 0.0
    assert constant.answered == {c: 222 for c in PAPER_CULTURES}
    expected = []
    for c in PAPER_CULTURES:  # Align by eq. 1, one item at a time
        sq = mx = 0.0
        for it in survey.items[1:]:
            m = survey.majority(c, it.id)
            if m is not None:
                sq += (1 - m) ** 2
                mx += it.delta**2
        expected.append(1 - math.sqrt(sq) / math.sqrt(mx))
    assert constant.alignment == pytest.approx(np.mean(expected))

    counts = status_counts(table).set_index(["backbone", "mode", "culture"])
    assert counts.loc[("constant", "sample", "BRA"), "no_box"] == 1


def test_strict_mode_drops_out_of_range_and_recodes(outputs, tmp_path):
    survey = wvs7()
    import_reference_outputs(outputs, tmp_path / "run", survey)
    table = Run.open(tmp_path / "run").responses()
    oracle = [s for s in evaluate_responses(table, survey, PAPER_CULTURES, "strict")[0] if s.label == "oracle_v1.2"][0]
    assert oracle.answered["BRA"] == 222 - 2  # BRA's two code-0 majorities (Q124, Q125) dropped
    assert oracle.alignment < 1.0  # faithful majorities differ from strict ones on 0-based items


def test_subset_of_cultures_and_missing_culture(outputs, tmp_path):
    import_reference_outputs(outputs, tmp_path / "run", wvs7())
    table = Run.open(tmp_path / "run").responses()
    two, _ = evaluate_responses(table, wvs7(), ["BRA", "CHN"])
    human = human_reference(wvs7(), ["BRA", "CHN"])
    oracle = [s for s in two if s.label == "oracle_v1.2"][0]
    assert oracle.diversity_p == oracle.diversity_s == pytest.approx(human.diversity_p)
    scores, coverage = evaluate_responses(table, wvs7(), ["BRA", "USA"])
    assert scores == []
    assert coverage.left_out == [f"{m} (static): no responses for USA" for m in ("constant", "oracle_v1.2")]
    with pytest.raises(CulturescopeError, match="--strict-complete.*constant \\(static\\): no responses for USA"):
        evaluate_responses(table, wvs7(), ["BRA", "USA"], strict=True)


def test_several_samples_are_averaged(tmp_path):
    survey = wvs7()
    run = Run.create(tmp_path / "run", {"kind": "test"})
    rows = []
    for sample, code in enumerate([1, 2]):
        for c, shift in (("BRA", 0), ("CHN", 1)):
            rows += [
                {
                    "system": "static",
                    "agent": c,
                    "culture": c,
                    "backbone": "m",
                    "mode": "sample",
                    "round": 0,
                    "item": it.id,
                    "sample": sample,
                    "answer": min(code + shift, len(it.options)),
                    "status": "ok",
                }
                for it in survey.items
            ]
    run.append(rows)
    (score,), _ = evaluate_responses(run.responses(), survey, ["BRA", "CHN"])
    assert score.samples == 2
    # Sample s puts BRA at code s+1 and CHN one step above wherever the scale allows it: eq. 3 by hand
    # over the items with Δ > 0, then the mean of the two samples' Div.
    n = np.array([len(it.options) for it in survey.items])
    informative = n > 1
    divs = []
    for code in (1, 2):
        gap = np.minimum(code + 1, n) - np.minimum(code, n)
        divs.append(np.sqrt((gap[informative] ** 2).sum() / ((n[informative] - 1) ** 2).sum()))
    assert score.diversity_p == pytest.approx(np.mean(divs), abs=1e-12)
    assert score.diversity_s == pytest.approx(np.mean(divs), abs=1e-12)  # two agents: the MST is the one edge
    assert score.answered == {"BRA": 446, "CHN": 446}


def test_truncated_jsonl_imports_the_rest_or_stops_when_strict(outputs, tmp_path):
    path = outputs / "constant_BRA_system.jsonl"
    text = path.read_text()
    path.write_text(text[: len(text) - 40])
    with pytest.raises(CulturescopeError) as err:
        import_reference_outputs(outputs, tmp_path / "strict", wvs7(), strict=True)
    message = str(err.value)
    assert "1 bad line(s)" in message and f"{path}: line 223: invalid JSON" in message
    assert not (tmp_path / "strict").exists()
    run, report = import_reference_outputs(outputs, tmp_path / "run", wvs7())
    assert report.bad_lines == [f"{path}: line 223: invalid JSON (Unterminated string starting at; truncated file?)"]
    assert report.responses == 10 * 223 - 1


def test_bad_lines_are_named_and_the_rest_imported(outputs, tmp_path):
    path = outputs / "constant_BRA_system.jsonl"
    lines = path.read_text().splitlines()
    lines[5] = json.dumps({"idx": 5, "q_id": "Q999", "response": "x"})
    lines[6] = json.dumps({"idx": 6, "response": "x"})
    path.write_text("\n".join(lines) + "\n")
    run, report = import_reference_outputs(outputs, tmp_path / "run", wvs7())
    assert report.bad_lines == [f"{path}: line 6: unknown q_id 'Q999'", f"{path}: line 7: missing field(s) q_id"]
    assert report.responses == 10 * 223 - 2
    assert run.manifest["source"]["skipped_lines"] == report.bad_lines


def test_unknown_culture_in_file_name(outputs, tmp_path):
    bad = outputs / "m_XYZ_system.jsonl"
    bad.write_text("")
    run, report = import_reference_outputs(outputs, tmp_path / "run", wvs7())
    assert report.bad_lines == [f"{bad}: culture 'XYZ' is not in survey wvs7; file skipped"]
    assert report.responses == 10 * 223


def test_run_store_survives_a_torn_last_line(tmp_path):
    run = Run.create(tmp_path / "run", {"kind": "test"})
    run.append(
        [
            {
                "system": "static",
                "agent": "BRA",
                "culture": "BRA",
                "backbone": "m",
                "round": 0,
                "item": "Q1",
                "sample": 0,
                "answer": 1,
                "status": "ok",
            }
        ]
    )
    with (run.path / "responses.jsonl").open("a") as fh:
        fh.write('{"system": "sta')
    with pytest.warns(UserWarning, match="incomplete last line"):
        table = Run.open(run.path).responses()
    assert len(table) == 1 and table.loc[0, "run"] == "run"
    # The run resumed: its first append cuts the torn tail, so no record is glued onto it.
    Run.open(run.path).append(
        [
            {
                "system": "static",
                "agent": "BRA",
                "culture": "BRA",
                "backbone": "m",
                "round": 0,
                "item": "Q2",
                "sample": 0,
                "answer": 2,
                "status": "ok",
            }
        ]
    )
    assert list(Run.open(run.path).responses()["item"]) == ["Q1", "Q2"]
    with pytest.raises(CulturescopeError, match="already holds a run"):
        Run.create(run.path, {})
    with pytest.raises(CulturescopeError, match="is not a culturescope run"):
        Run.open(tmp_path)
