"""Option-order perturbations: items shown reordered and renumbered, answers mapped back to the item's codes."""

import pandas as pd
import pytest

from culturescope.backends import BackboneSpec
from culturescope.engine.cache import RequestCache
from culturescope.engine.session import in_item_codes
from culturescope.errors import CulturescopeError
from culturescope.methods.beyond_alignment.exposure import round_requests, shown
from culturescope.methods.beyond_alignment.run import Experiment, execute
from culturescope.methods.beyond_alignment.score import read_answers
from culturescope.survey import Item, OptionOrder, wvs7
from culturescope.survey.order import Shown, probs_to_original, reordered, to_original, to_shown

REVERSED4 = {"name": "reversed", "shown": [4, 3, 2, 1]}
STEM = "How important is family in your life? Choose only one of the following options (e.g., 1, 2, 3, ...): "


def test_reversed_four_options_answer_one_is_code_four():
    s = wvs7()
    it, how = OptionOrder.parse("reversed").shown(s.item("Q1"))
    perm = how.codes
    assert how.as_dict() == {"name": "reversed", "shown": [4, 3, 2, 1]}
    assert it.question == STEM + "1. Not at all important 2. Not very important 3. Rather important 4. Very important"
    assert to_original(1, perm) == 4 and to_original(4, perm) == 1 and to_shown(4, perm) == 1
    assert to_original(7, perm) == 7  # a number that names no option stays as written (out of range)
    assert probs_to_original([0.1, 0.2, 0.3, 0.4], perm) == [0.4, 0.3, 0.2, 0.1]


def test_shuffled_permutation_by_hand():
    s = wvs7()
    order = OptionOrder.parse("shuffled:1")
    it, how = order.shown(s.item("Q1"))
    perm = how.codes
    # pinned: random.Random("1:Q1").shuffle([1, 2, 3, 4])
    assert how.as_dict() == {"name": "shuffled:1", "shown": [3, 4, 1, 2]}
    assert it.question == STEM + "1. Not very important 2. Not at all important 3. Very important 4. Rather important"
    # shown 3 is "Very important", code 1; shown 1 "Not very important", code 3
    assert [to_original(k, perm) for k in (1, 2, 3, 4)] == [3, 4, 1, 2]
    assert probs_to_original([0.1, 0.2, 0.3, 0.4], perm) == [0.3, 0.4, 0.1, 0.2]
    assert [to_shown(to_original(k, perm), perm) for k in (1, 2, 3, 4)] == [1, 2, 3, 4]
    # one permutation per item, the same on every draw; another seed gives others
    perms = {i.id: order.permutation(i) for i in s.items}
    assert all(sorted(p) == list(range(1, len(i.options) + 1)) for i, p in zip(s.items, perms.values()))
    assert perms == {i.id: OptionOrder.parse("shuffled:1").permutation(i) for i in s.items}
    assert sum(perms[i.id] != OptionOrder.parse("shuffled:2").permutation(i) for i in s.items) > 100
    assert OptionOrder.parse("shuffled").name == "shuffled:0"


def test_zero_coded_item_maps_to_the_human_share_of_the_same_option():
    s = wvs7()
    item = s.item("Q119")  # human codes 0..4: 0 = "Hard to say", the first option
    assert "Q119" in s.zero_based_items()
    it, how = OptionOrder.parse("reversed").shown(item)
    perm = how.codes
    assert it.options[4] == "Hard to say" and it.question.endswith("3. Agree 4. Strongly agree 5. Hard to say")
    code = to_original(5, perm)  # the model picks "Hard to say", shown as 5
    assert code == 1 and item.options[code - 1] == "Hard to say"
    human = s.shares["BRA"]["Q119"]
    assert s.on_options("Q119", human)[code] == human[0] == pytest.approx(0.12258796821793416)
    probs = probs_to_original([0.6, 0.0, 0.0, 0.0, 0.4], perm)  # shown 1 "Strongly disagree", 5 "Hard to say"
    assert probs == [0.4, 0.0, 0.0, 0.0, 0.6] and item.options[4] == "Strongly disagree"


def test_record_is_stored_in_the_item_codes_with_its_order():
    record = {"answer": 1, "probs": [0.7, 0.1, 0.1, 0.1], "raw": "\\boxed{1}", "status": "ok"}
    stored = in_item_codes(record, Shown("reversed", (4, 3, 2, 1)))
    assert stored["answer"] == 4 and stored["probs"] == [0.1, 0.1, 0.1, 0.7] and stored["raw"] == "\\boxed{1}"
    assert stored["order"] == {"name": "reversed", "shown": [4, 3, 2, 1]} and in_item_codes(record, None) is record


def test_bad_orders_and_items_without_numbered_options():
    for bad in ("sideways", "reversed:3", "shuffled:x"):
        with pytest.raises(CulturescopeError, match="option order"):
            OptionOrder.parse(bad)
    plain = Item("X1", "Do you agree?", ("Yes", "No"))
    with pytest.raises(CulturescopeError, match="X1: its question does not end with its numbered options"):
        reordered(plain, (2, 1))


def test_digest_unchanged_for_the_original_order():
    s = wvs7()
    spec = [BackboneSpec.parse("scripted:first")]
    original = Experiment(spec, ["BRA"], option_order="original").describe(s)
    assert "option_order" not in original and original == Experiment(spec, ["BRA"]).describe(s)
    assert Experiment(spec, ["BRA"], option_order="Shuffled").describe(s)["option_order"] == "shuffled:0"


@pytest.mark.parametrize("reading", ["faithful", "strict"])
def test_scripted_run_under_reversed_order_is_read_in_item_codes(tmp_path, reading):
    """scripted:last picks the last shown option (probs) and writes \\boxed{2} (text): under the reversed
    order that is code 1 and code n − 1 of each item, also when the raw text is read again."""
    s = wvs7()
    items = ["Q1", "Q119", "Q57"]
    ex = Experiment([BackboneSpec.parse("scripted:last")], ["BRA", "NZL"], ["sample", "probs"], item_ids=items)
    ex.option_order = "reversed"
    run = execute(ex, s, tmp_path / "run", RequestCache(tmp_path / "c.sqlite"))
    t = read_answers(run.responses(), s, reading)
    n = {i: len(s.item(i).options) for i in items}
    probs = t[t["mode"] == "probs"]
    assert (probs["answer"] == 1).all()
    assert all(p == [1.0] + [0.0] * (n[i] - 1) for p, i in zip(probs["probs"], probs["item"]))
    text = t[t["mode"] == "sample"]
    assert text["raw"].str.endswith("\\boxed{2}").all()
    assert list(text["answer"]) == [float(n[i] - 1) for i in text["item"]]
    assert all(o == {"name": "reversed", "shown": list(range(n[i], 0, -1))} for o, i in zip(t["order"], t["item"]))


def test_exposure_shows_codes_by_their_shown_number():
    s = wvs7()
    q1 = s.item("Q1")
    order = OptionOrder.parse("reversed")
    previous = [
        {"culture": "BRA", "item": "Q1", "sample": 0, "raw": None, "answer": 1, "order": REVERSED4},
        {"culture": "CHN", "item": "Q1", "sample": 0, "raw": "\\boxed{2}", "answer": 3, "order": REVERSED4},
    ]
    assert shown(previous[0], "answer") == "4" and shown(previous[1], "raw") == "\\boxed{2}"

    requests = round_requests(s, ["BRA", "CHN"], [q1], pd.DataFrame(previous), 1, 1, "answer", order=order)
    chn = {r.agent: r for r in requests}["CHN"]
    assert chn.order.codes == (4, 3, 2, 1) and "Brazilian: 4\n" in chn.messages[1]["content"]
    assert "1. Not at all important" in chn.messages[1]["content"]


def test_python_api_takes_the_order(tmp_path):
    import culturescope as cs

    r = cs.run("scripted:last", items=["Q1"], option_order="reversed", out=tmp_path / "r", cache=tmp_path / "c.sqlite")
    assert set(r.responses["answer"]) == {1} and r.runs[0].manifest["experiment"]["option_order"] == "reversed"


def test_an_order_resumes_in_its_directory_and_another_is_refused(tmp_path):
    s, cache = wvs7(), RequestCache(tmp_path / "c.sqlite")
    ex = Experiment([BackboneSpec.parse("scripted:culture")], ["BRA", "CHN"], ["probs"], item_ids=["Q1", "Q2"])
    ex.option_order = "shuffled:4"
    run = execute(ex, s, tmp_path / "run", cache)
    first = run.responses()
    again = execute(ex, s, tmp_path / "run", cache).responses()
    assert len(first) == len(again) == 4  # resumed: nothing asked twice
    assert ex.default_dir(s) != Experiment(ex.backbones, ex.cultures, ["probs"], item_ids=["Q1", "Q2"]).default_dir(s)
    ex.option_order = "reversed"
    with pytest.raises(CulturescopeError, match="holds a different experiment"):
        execute(ex, s, tmp_path / "run", cache)
