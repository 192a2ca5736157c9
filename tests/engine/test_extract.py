import pytest

from culturescope.engine.extract import parse_boxed


@pytest.mark.parametrize(
    "text, answer, status",
    [
        (r"\boxed{3}", 3, "ok"),
        (r"Format: \boxed{number}. My answer: \boxed{2}", 2, "ok"),  # last box wins
        (r"\boxed{2} ... on reflection \boxed{ 4 }", 4, "ok"),
        (r"$\boxed{\text{3}}$", 3, "ok"),
        (r"\boxed{\textbf{10}}.", 10, "ok"),
        (r"\boxed{\text{\textbf{7}}}", 7, "ok"),
        (r"\boxed{$5$}", 5, "ok"),
        (r"\boxed {1}", 1, "ok"),
        (r"\boxed{3.}", 3, "ok"),
        (r"\boxed{3.5}", None, "not_integer"),
        (r"\boxed{3.0}", None, "not_integer"),
        (r"\boxed{\text{Agree}}", None, "not_integer"),
        (r"\boxed{1, 2}", None, "not_integer"),
        (r"\boxed{number}", None, "not_integer"),
        (r"\boxed{}", None, "empty"),
        (r"\boxed{\text{ }}", None, "empty"),
        ("I would say 3.", None, "no_box"),
        (r"\boxed{3", None, "no_box"),  # unbalanced
        ("", None, "no_box"),
        (None, None, "no_box"),
    ],
)
def test_parse_boxed_strict(text, answer, status):
    parsed = parse_boxed(text, reading="strict")
    assert (parsed.answer, parsed.status) == (answer, status)


def test_unbalanced_last_box_falls_back_to_previous_complete_one():
    assert parse_boxed(r"\boxed{2} then \boxed{4", reading="strict").answer == 2


@pytest.mark.parametrize("reading", ["faithful", "strict"])
def test_range_check_keeps_the_integer(reading):
    parsed = parse_boxed(r"\boxed{5}", n_options=4, reading=reading)
    assert (parsed.answer, parsed.status) == (5, "out_of_range")
    assert parse_boxed(r"\boxed{0}", n_options=4, reading=reading).status == "out_of_range"
    assert parse_boxed(r"\boxed{4}", n_options=4, reading=reading).status == "ok"
