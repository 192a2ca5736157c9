import json

import numpy as np
import pytest

from culturescope.errors import CulturescopeError
from culturescope.methods.beyond_alignment.score import human_reference
from culturescope.survey import PAPER_CULTURES, load_survey, wvs7


def test_wvs7_shape():
    s = wvs7()
    assert len(s.items) == 223 and len(s.cultures) == 19
    counts = {}
    for it in s.items:
        counts[len(it.options)] = counts.get(len(it.options), 0) + 1
    assert counts == {4: 92, 10: 39, 2: 30, 3: 30, 5: 21, 11: 9, 7: 1, 8: 1}
    assert s.items[0].delta == 3 and s.items[0].dimension == "Social Values, Attitudes & Stereotypes"
    missing = sum(1 for c in s.cultures for it in s.items if not s.shares[c.code].get(it.id))
    assert missing == 64  # PROVENANCE.md


def test_paper_human_reference():
    # Paper §5: 44.07 / 39.37 for BRA, CHN, MEX, NGA, NZL.
    h = human_reference(wvs7(), PAPER_CULTURES)
    assert round(100 * h.diversity_p, 2) == 44.07
    assert round(100 * h.diversity_s, 2) == 39.37
    assert h.alignment == 1.0
    assert h.answered == {"BRA": 222, "CHN": 195, "MEX": 222, "NGA": 222, "NZL": 220}


def test_zero_based_items_are_the_eighteen_of_the_data():
    zb = wvs7().zero_based_items()
    assert zb == {"Q119", *(f"Q{n}" for n in range(122, 130)), *(f"Q{n}" for n in range(241, 250))}


def test_faithful_majority_keeps_code_zero_strict_recodes():
    s = wvs7()
    # CAN Q119: code 0 ("hard to say", option 1 in the prompt) has 30.1 %, the largest share.
    assert s.majority("CAN", "Q119", "faithful") == 0
    assert s.majority("CAN", "Q119", "strict") == 1
    # BRA Q119: code 3 (35.1 %) is "Disagree", option 4 in the prompt's 1..5 numbering.
    assert s.majority("BRA", "Q119", "faithful") == 3
    assert s.majority("BRA", "Q119", "strict") == 4


def test_ties():
    s = wvs7()
    # BRA Q231: codes 3 and 4 tie; file order lists 3 first. MEX Q204: 5 before 1.
    assert s.majority("BRA", "Q231", "faithful") == 3
    assert s.majority("MEX", "Q204", "faithful") == 5
    assert s.majority("MEX", "Q204", "strict") == 1  # lowest code


def test_missing_pair_is_nan():
    s = wvs7()
    assert s.majority("CHN", "Q223") is None
    mu = s.majority_matrix(["CHN"])
    assert np.isnan(mu[0, s.item_index("Q223")])
    assert np.isfinite(mu).sum() == 195


def test_unknown_culture():
    with pytest.raises(CulturescopeError, match="unknown culture 'XYZ'"):
        wvs7().resolve_cultures("BRA,xyz", [])


def _write(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def test_user_survey_json_and_csv_agree(tmp_path):
    items = [
        {"Q_id": "A", "question": "A?", "option": ["yes", "no"]},
        {"Q_id": "B", "question": "B?", "option": ["1", "2", "3"], "dimension": "d"},
    ]
    ref = {"BRA": {"A": {"1": 0.7, "2": 0.3}, "B": {"3": 0.5, "1": 0.5}}, "CHN": {"A": {"2": 1.0}, "B": {}}}
    js = load_survey(_write(tmp_path, "i.json", items), _write(tmp_path, "r.json", ref))
    cs = load_survey(
        _write(tmp_path, "i.csv", "Q_id,question,options,dimension\nA,A?,yes|no,\nB,B?,1|2|3,d\n"),
        _write(
            tmp_path,
            "r.csv",
            "country,Q_id,answer,share\nBRA,A,1,0.7\nBRA,A,2,0.3\nBRA,B,3,0.5\nBRA,B,1,0.5\nCHN,A,2,1.0\nUSA,ZZ,1,1\n",
        ),
        _write(
            tmp_path,
            "c.csv",
            "code,country,culture\nBRA,Brazil,Brazilian\nCHN,China,Chinese\nUSA,United States,American\n",
        ),
    )
    assert js.items == cs.items
    for s in (js, cs):
        np.testing.assert_array_equal(s.majority_matrix(["BRA", "CHN"]), [[1, 3], [2, np.nan]])
    assert [c.code for c in js.cultures] == ["BRA", "CHN"]


@pytest.mark.parametrize(
    "name, content, message",
    [
        (
            "i.json",
            '[{"Q_id": "A", "question": "A?", "option": ["x"]}]',
            r"i.json: item 1 \(A\): 'option' must be a list of at least two",
        ),
        (
            "i.json",
            '[{"Q_id": "A", "question": "A?", "option": ["x", "y"]},\n {"Q_id": "A"',
            r"i.json: line 2, column \d+: invalid JSON",
        ),
        ("i.json", '[{"question": "A?", "option": ["x", "y"]}]', r"item 1: 'Q_id' must be a non-empty string"),
        ("i.json", '[{"Q_id": "A", "question": "", "option": ["x", "y"]}]', r"item 1 \(A\): 'question'"),
        (
            "i.json",
            '[{"Q_id": "A", "question": "a", "option": ["x", "y"]},'
            ' {"Q_id": "A", "question": "b", "option": ["x", "y"]}]',
            r"item 2 \(A\): duplicate Q_id",
        ),
        ("i.json", '{"Q_id": "A"}', "top level: expected a list of items"),
        ("i.csv", "Q_id,question\nA,A?\n", "header: missing column"),
        ("i.csv", "Q_id,question,options\nA,A?,x|y\nB,B?,x\n", r"i.csv: row 3 \(B\): 'option'"),
    ],
)
def test_malformed_items_file(tmp_path, name, content, message):
    ref = _write(tmp_path, "r.json", {"BRA": {}})
    with pytest.raises(CulturescopeError, match=message):
        load_survey(_write(tmp_path, name, content), ref)


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"BRA": {"A": {"one": 0.5}}}', r"country BRA, item A: answer code 'one' is not an integer"),
        ('{"BRA": {"A": {"1": 1.5}}}', r"country BRA, item A: share 1.5 is outside \[0, 1\]"),
        ('{"BRA": {"A": {"1": "x"}}}', r"share 'x' is not a number"),
        ('{"BRA": ["A"]}', r"country BRA: expected an object of items"),
        ('{"XYZ": {"A": {"1": 1}}}', r"countries XYZ have no entry in the cultures table"),
    ],
)
def test_malformed_reference_file(tmp_path, content, message):
    items = _write(tmp_path, "i.json", [{"Q_id": "A", "question": "A?", "option": ["x", "y"]}])
    with pytest.raises(CulturescopeError, match=message):
        load_survey(items, _write(tmp_path, "r.json", content))


def test_missing_file(tmp_path):
    with pytest.raises(CulturescopeError, match="cannot read file"):
        load_survey(tmp_path / "nope.json", tmp_path / "r.json")


def test_budgeting_projects_cover_the_thirteen_sections():
    import json as _json

    from culturescope.survey import budgeting_projects
    from culturescope.survey.wvs7 import data_dir

    projects = budgeting_projects()
    sections = [d["dimension"] for d in _json.loads((data_dir() / "dimensions.json").read_text())["dimensions"]]
    assert [p["id"] for p in projects] == list(range(1, 14))
    assert sorted(p["dimension"] for p in projects) == sorted(sections)
