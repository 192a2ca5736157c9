"""The two readings of a ``\\boxed{n}`` reply: faithful (the reference implementation's parser: last box,
lowercased, ``\\text{}`` and backslashes removed, Python ``int()``) and strict (our tolerant one), and
how evaluation picks one without importing again."""

import json

import numpy as np
import pytest

from culturescope.engine.extract import parse_boxed
from culturescope.engine.store import Run
from culturescope.methods.beyond_alignment.importers import import_reference_outputs
from culturescope.methods.beyond_alignment.score import answer_matrix, read_answers
from culturescope.metrics import agreement as metrics
from culturescope.survey import wvs7
from helpers.clitools import cli

# reply, (answer, status) faithful, (answer, status) strict; four options
CASES = [
    (r"\boxed{3}", (3, "ok"), (3, "ok")),
    (r"\boxed{4.}", (None, "not_integer"), (4, "ok")),  # int("4.") fails
    (r"$\boxed{3}$", (3, "ok"), (3, "ok")),  # the dollars are outside the box
    (r"\boxed{$3$}", (None, "not_integer"), (3, "ok")),
    (r"\boxed{\text{2}}", (2, "ok"), (2, "ok")),
    (r"\boxed{\TEXT{2}}", (2, "ok"), (None, "not_integer")),  # lowercased first
    (r"\boxed{\textbf{2}}", (None, "not_integer"), (2, "ok")),  # "textbf{2}" once backslashes go
    (r"\boxed{\text{\text{2}}}", (2, "ok"), (2, "ok")),
    (r"\boxed{ 2 }", (2, "ok"), (2, "ok")),  # int() strips whitespace
    ("\\boxed{\n2\t}", (2, "ok"), (2, "ok")),
    (r"\boxed{+2}", (2, "ok"), (2, "ok")),
    (r"\boxed{1_0}", (10, "out_of_range"), (None, "not_integer")),  # int("1_0") == 10
    (r"\boxed{_1}", (None, "not_integer"), (None, "not_integer")),
    (r"\boxed{-1}", (-1, "out_of_range"), (-1, "out_of_range")),
    ("\\boxed{\uff13}", (3, "ok"), (None, "not_integer")),  # a full-width 3: int() reads Unicode digits
    (r"\boxed{2\,}", (None, "not_integer"), (2, "ok")),  # "2," once the backslash goes
    (r"\boxed{\quad 3}", (None, "not_integer"), (3, "ok")),
    (r"\boxed{{2}}", (None, "not_integer"), (None, "not_integer")),  # nested braces are kept
    (r"\boxed{\frac{4}{2}}", (None, "not_integer"), (None, "not_integer")),
    (r"Format: \boxed{number}. Mine: \boxed{2}", (2, "ok"), (2, "ok")),  # two boxes: the last
    (r"\boxed{2} or rather \boxed{3}", (3, "ok"), (3, "ok")),
    (r"\boxed{2} then \boxed{3", (None, "no_box"), (2, "ok")),  # the last box is never closed
    (r"\boxed {2}", (None, "no_box"), (2, "ok")),
    (r"\boxed{}", (None, "empty"), (None, "empty")),
    (r"\boxed{\text{ }}", (None, "empty"), (None, "empty")),
    ("I would say 3.", (None, "no_box"), (None, "no_box")),
    (None, (None, "no_box"), (None, "no_box")),
]


@pytest.mark.parametrize("text, faithful, strict", CASES)
def test_both_readings(text, faithful, strict):
    for reading, expected in (("faithful", faithful), ("strict", strict)):
        parsed = parse_boxed(text, 4, reading)
        assert (parsed.answer, parsed.status) == expected, reading


def test_faithful_is_the_default():
    assert parse_boxed(r"\boxed{4.}", 4) == parse_boxed(r"\boxed{4.}", 4, "faithful")


def write_outputs(directory, replies: dict[str, dict[str, str]]) -> None:
    """Reference-format files, one per culture: ``replies[culture][q_id]`` (others: the first option)."""
    directory.mkdir()
    for culture, special in replies.items():
        with (directory / f"m_{culture}_system.jsonl").open("w") as fh:
            for idx, it in enumerate(wvs7().items):
                fh.write(json.dumps({"idx": idx, "q_id": it.id, "response": special.get(it.id, r"\boxed{1}")}) + "\n")


# Q1 has four options; "4." and "$3$" are read by the tolerant parser only.
REPLIES = {"BRA": {"Q1": r"\boxed{4.}"}, "CHN": {"Q1": r"\boxed{$3$}"}}


def expected_scores(bra_q1: float, chn_q1: float) -> tuple[float, float]:
    """(Alignment, Diversity_P) of the two agents by eq. 1–3, one item at a time."""
    s = wvs7()
    x = {"BRA": {it.id: 1.0 for it in s.items}, "CHN": {it.id: 1.0 for it in s.items}}
    x["BRA"]["Q1"], x["CHN"]["Q1"] = bra_q1, chn_q1
    aligns = []
    for c in ("BRA", "CHN"):
        sq = mx = 0.0
        for it in s.items:
            m = s.majority(c, it.id)
            if x[c][it.id] == x[c][it.id] and m is not None and it.delta > 0:
                sq += (x[c][it.id] - m) ** 2
                mx += it.delta**2
        aligns.append(1 - np.sqrt(sq) / np.sqrt(mx))
    sq = mx = 0.0
    for it in s.items:
        a, b = x["BRA"][it.id], x["CHN"][it.id]
        if a == a and b == b and it.delta > 0:
            sq += (a - b) ** 2
            mx += it.delta**2
    return float(np.mean(aligns)), float(np.sqrt(sq) / np.sqrt(mx))


def scored(table, mode: str) -> tuple[float, float]:
    """(Alignment, Diversity_P) of the two agents from the answer matrix scoring builds under ``mode``."""
    X = answer_matrix(table, wvs7(), ["BRA", "CHN"], mode)
    mu = wvs7().majority_matrix(["BRA", "CHN"], "faithful")
    return metrics.alignment(X, mu, wvs7().deltas), metrics.diversity_p(metrics.pairwise_distances(X, wvs7().deltas))


def test_scoring_reads_the_stored_text_under_each_mode(tmp_path):
    write_outputs(tmp_path / "out", REPLIES)
    import_reference_outputs(tmp_path / "out", tmp_path / "run", wvs7())
    table = Run.open(tmp_path / "run").responses()
    # Import stores the faithful reading.
    q1 = table[table["item"] == "Q1"].set_index("culture")
    assert list(q1.loc[["BRA", "CHN"], "status"]) == ["not_integer", "not_integer"]
    strict = read_answers(table, wvs7(), "strict")
    q1 = strict[strict["item"] == "Q1"].set_index("culture")
    assert list(q1.loc[["BRA", "CHN"], "answer"]) == [4, 3] and set(q1["status"]) == {"ok"}
    assert scored(table, "faithful") == pytest.approx(expected_scores(np.nan, np.nan), abs=1e-12)
    assert scored(table, "strict") == pytest.approx(expected_scores(4, 3), abs=1e-12)


def test_a_run_stored_with_the_tolerant_reading_is_read_again(tmp_path):
    # Runs written before the two readings existed hold the tolerant parser's answer and status.
    write_outputs(tmp_path / "out", REPLIES)
    import_reference_outputs(tmp_path / "out", tmp_path / "new", wvs7())
    old = Run.create(tmp_path / "old", {"kind": "import"})
    rows = Run.open(tmp_path / "new").responses().drop(columns="run").to_dict("records")
    for row in rows:
        parsed = parse_boxed(row["raw"], 4, "strict")
        row |= {"answer": parsed.answer, "status": parsed.status} if row["item"] == "Q1" else {}
    old.append(rows)
    stored = old.responses()
    assert set(stored.loc[stored["item"] == "Q1", "status"]) == {"ok"}
    assert scored(stored, "faithful") == pytest.approx(expected_scores(np.nan, np.nan), abs=1e-12)
    assert scored(stored, "strict") == pytest.approx(expected_scores(4, 3), abs=1e-12)
    # A row without raw text keeps what it stores.
    bare = stored.assign(raw=None)
    assert scored(bare, "faithful") == pytest.approx(expected_scores(4, 3), abs=1e-12)


def test_cli_evaluate_mode_picks_the_reading(tmp_path):
    write_outputs(tmp_path / "out", REPLIES)
    import_reference_outputs(tmp_path / "out", tmp_path / "run", wvs7())
    shown = {}
    for mode in ("faithful", "strict"):
        res = cli("evaluate", str(tmp_path / "run"), "--cultures", "BRA,CHN", "--human-data", mode, "--format", "json")
        assert res.returncode == 0, res.stderr
        (row,) = json.loads(res.stdout)["systems"]
        shown[mode] = row
    assert shown["faithful"]["answered_BRA"] == "222/223" and shown["strict"]["answered_BRA"] == "223/223"
    assert shown["faithful"]["diversity_p"] == round(100 * expected_scores(np.nan, np.nan)[1], 2)
    assert shown["strict"]["diversity_p"] == round(100 * expected_scores(4, 3)[1], 2)
