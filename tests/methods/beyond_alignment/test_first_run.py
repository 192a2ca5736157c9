"""What a run says when it ends: its reading beside humans and the published backbones, its report,
and the next command; and the default answer mode of the embedded model."""

import json
import re

import pytest

from culturescope.methods.beyond_alignment.cli.common import print_next_commands
from culturescope.methods.beyond_alignment.published import reading
from culturescope.methods.beyond_alignment.score import human_reference
from culturescope.survey import PAPER_CULTURES, Survey, wvs7
from helpers.clitools import cli, env_with

SPAN = "the paper's 18 backbones score 20.44–36.12 and humans 44.07"


def test_reading_places_a_system_among_the_published_backbones():
    assert reading("m", 43.14, 0.0, 44.07, True) == (
        f"m gives the same answer for every culture (Diversity_P 0.00, where {SPAN}), "
        "so this run checks the pipeline, not a culture."
    )
    assert reading("m", 43.14, 8.63, 44.07, True) == (
        f"m's agents differ from culture to culture less than any of the paper's backbones (Diversity_P 8.63, "
        f"where {SPAN}), and its Alignment 43.14 is below their 66.71–70.90."
    )
    # 14 of the published Diversity_P (Table 1) exceed 25.10: rank 15 of 19, counted by hand.
    assert "about as much as the paper's backbones (rank 15 of 19)" in reading("m", 68.0, 25.10, 44.07, True)
    assert "more than any" in reading("m", 71.0, 37.0, 44.07, True)
    assert "Alignment 71.00 is above" in reading("m", 71.0, 37.0, 44.07, True)
    assert reading("m", 50.0, 11.0, 44.0, False) == (
        "m's agents differ from culture to culture 25% as much as the countries do "
        "(Diversity_P 11.00, where humans score 44.00 on the same cultures and items)."
    )


def test_human_reference_on_a_slice_equals_a_survey_of_those_items():
    full = wvs7()
    ids = ["Q119", "Q1", "Q57", "Q106", "Q259"]  # Q119 is coded from 0, Q106 has 10 options
    sliced = Survey("slice", tuple(full.item(i) for i in ids), full.cultures, full.shares)
    for mode in ("faithful", "strict"):
        a = human_reference(full, PAPER_CULTURES, mode, ids)
        b = human_reference(sliced, PAPER_CULTURES, mode)
        assert (a.alignment, a.diversity_p, a.diversity_s) == pytest.approx((b.alignment, b.diversity_p, b.diversity_s))
        assert a.responses == {c: 5 for c in PAPER_CULTURES} and a.answered == b.answered
    assert human_reference(full, PAPER_CULTURES).diversity_p == pytest.approx(0.4407, abs=5e-5)


def test_next_commands_keep_the_job_and_change_the_backbone():
    printed = []

    class Err:
        def print(self, text, **_):
            printed.append(text)

    argv = ["run", "--per-dimension", "1", "-b", "embedded", "--out", "runs/x", "--cache=/tmp/c.sqlite", "--seed", "3"]
    print_next_commands(Err(), argv)
    assert printed == [
        "next: the same job on a real model",
        "  culturescope run --per-dimension 1 --seed 3 -b openai:MODEL@http://127.0.0.1:8000/v1    "
        "# your OpenAI-compatible server: vLLM, SGLang, llama.cpp, Ollama",
        "  culturescope run --per-dimension 1 --seed 3 -b openai:gpt-4o-mini    "
        "# OPENAI_API_KEY set; add --dry-run to see the cost first",
    ]


def test_the_embedded_model_answers_by_probs_unless_told(tmp_path):
    """A dry run counts output tokens by answer mode: probs 1 per request, sample 120."""
    env = env_with(tmp_path)
    for backbone, tokens in (("embedded", 60), ("openai:gpt-4o-mini", 60 * 120)):
        done = cli("run", "--dry-run", "--per-dimension", "1", "-b", backbone, "--format", "json", env=env)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["rows"][0]["output_tokens"] == tokens


def test_a_run_ends_with_its_reading_and_its_report(tmp_path):
    out = tmp_path / "quick"
    done = cli("run", "-b", "scripted:culture", "--per-dimension", "1", "--out", str(out), env=env_with(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "a slice of the survey (12 items): the human reference is scored on the same items" in done.stdout
    assert "human reference  │ -       │ 12/12" in done.stdout
    assert "reading: scripted-culture's agents differ from culture to culture" in done.stdout
    assert f"report: {out / 'report.html'}" in done.stderr
    page = (out / "report.html").read_text()
    assert "<b>Reading:</b> scripted-culture&#x27;s agents differ" in page
    assert "next:" not in done.stderr  # the next commands follow a run on the embedded model only
    # The report scores the humans on the slice too (44.07 on all 223 items), without the published points.
    asked = sorted({json.loads(line)["item"] for line in (out / "responses.jsonl").read_text().splitlines()})
    human = human_reference(wvs7(), PAPER_CULTURES, "faithful", asked)
    assert len(asked) == 12 and f"{100 * human.diversity_p:.2f}" != "44.07"
    cells = re.search(r">human reference</td>((?:<td[^>]*>[^<]*</td>){3})", page).group(1)
    assert re.findall(r">([^<]*)</td>", cells) == ["1", "100.00", f"{100 * human.diversity_p:.2f}"]
    assert "A slice of the survey (12 of 223 items)" in page
    assert "Published reference points" not in page


def test_a_run_with_nothing_scored_still_gets_its_report(tmp_path):
    """The 135M model in sample mode writes no \\boxed answer: the run keeps its replies and exits 0, and
    its report says why there are no scores."""
    out = tmp_path / "sampled"
    args = ["run", "--cultures", "NGA", "--limit", "1", "--answer-mode", "sample", "--out", str(out)]
    done = cli(*args, env=env_with(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "unparsed answers, SmolLM2-135M-Instruct [sample]: no_box 1" in done.stderr
    page = (out / "report.html").read_text()
    assert "no system has scored answers for all of NGA in round 0" in page and "no answer could be scored" in page
