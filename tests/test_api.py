"""The Python API: the README's snippet runs; scores are the formulas' values; any Backend object
answers; runs reopen; the Parquet export holds what the run holds."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import culturescope
from culturescope.backends.base import Completion
from culturescope.survey import wvs7

README = Path(__file__).parents[1] / "README.md"


def test_readme_python_api_snippet_runs(tmp_path, monkeypatch, capsys):
    text = README.read_text()
    snippet = re.search(r"### From Python.*?```python\n(.*?)```", text, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    exec(compile(snippet, "README.md", "exec"), {})
    printed = capsys.readouterr().out
    assert "alignment" in printed and "diversity_p" in printed
    export = tmp_path / "runs/api-embedded/export"
    assert len(pd.read_parquet(export / "responses.parquet")) == 30  # 3 cultures × 10 items, probs
    assert (tmp_path / "runs/api-embedded/report.html").stat().st_size > 10_000
    both = culturescope.load_run(tmp_path / "runs/api-embedded", tmp_path / "runs/api-scripted").scores
    assert set(both["backbone"]) == {"SmolLM2-135M-Instruct", "scripted-culture"}


class Agreeable:
    """A user's own backend: answers the middle option of every item."""

    id = "test:agreeable"
    name = "agreeable"
    concurrency = 2
    supports_probs = False
    knobs = frozenset()

    async def chat(self, messages, decoding, sample):
        return Completion("I would say \\boxed{2}.")

    async def option_probs(self, messages, prefix, n_options):
        raise AssertionError("not asked: supports_probs is False")


def test_a_backend_object_answers_and_scores_are_the_formulas_values(tmp_path):
    cultures = ["BRA", "NGA", "USA"]
    results = culturescope.run(
        [Agreeable(), "scripted:culture"], cultures=cultures, limit=8, answer_modes=["sample"], out=tmp_path / "run"
    )
    responses = results.responses
    assert set(responses["backbone"]) == {"agreeable", "scripted-culture"}
    assert (responses.loc[responses["backbone"] == "agreeable", "answer"] == 2).all()
    scores = results.scores.set_index(["backbone", "metric"])["value"]
    survey = wvs7()
    mu, delta = survey.majority_matrix(cultures, "faithful")[:, :8], survey.deltas[:8]
    ok = np.isfinite(mu)
    align = [1 - np.sqrt(((2 - m[k]) ** 2).sum()) / np.sqrt((delta[k] ** 2).sum()) for m, k in zip(mu, ok)]
    assert scores["agreeable", "alignment"] == pytest.approx(np.mean(align))
    assert scores["agreeable", "diversity_p"] == 0.0 and scores["agreeable", "diversity_s"] == 0.0
    # scripted:culture answers by culture, so its agents differ: Div (eq. 3) pairwise, by hand
    X = np.stack(
        [
            responses[(responses["backbone"] == "scripted-culture") & (responses["culture"] == c)]
            .set_index("item")
            .loc[[it.id for it in survey.items[:8]], "answer"]
            .to_numpy(float)
            for c in cultures
        ]
    )
    div = [np.sqrt(((X[i] - X[j]) ** 2).sum() / (delta**2).sum()) for i in range(3) for j in range(i + 1, 3)]
    assert scores["scripted-culture", "diversity_p"] == pytest.approx(np.mean(div))
    assert scores["scripted-culture", "diversity_p"] > 0


def test_load_run_and_parquet_keep_every_response(tmp_path):
    made = culturescope.run("scripted:uniform", cultures=["CHN", "MEX"], limit=5, out=tmp_path / "run")
    again = culturescope.load_run(tmp_path / "run")
    pd.testing.assert_frame_equal(again.scores, made.scores)
    folder = again.to_parquet(tmp_path / "export")
    back = pd.read_parquet(folder / "responses.parquet")
    assert len(back) == len(made.responses) == 10
    assert [json.loads(p) for p in back["probs"]] == [[0.25] * 4] * 10 or all(
        np.allclose(json.loads(p), np.full(len(json.loads(p)), 1 / len(json.loads(p)))) for p in back["probs"]
    )
    pd.testing.assert_frame_equal(pd.read_parquet(folder / "scores.parquet"), made.scores)


def test_bad_input_is_one_clear_error(tmp_path):
    with pytest.raises(culturescope.errors.CulturescopeError, match="unknown backbone 'nope:x'"):
        culturescope.run("nope:x", out=tmp_path / "run")
    with pytest.raises(culturescope.errors.CulturescopeError, match="is not a culturescope run"):
        culturescope.load_run(tmp_path)
    made = culturescope.run("scripted:first", cultures=["BRA", "CHN"], limit=2, out=tmp_path / "run")
    with pytest.raises(culturescope.errors.CulturescopeError, match="survey 'missing': give 'wvs7' or a directory"):
        culturescope.score(made.responses, survey="missing")


def test_run_asks_the_items_given(tmp_path):
    made = culturescope.run("scripted:culture", cultures=["BRA", "CHN"], items=["Q3", "Q1"], out=tmp_path / "run")
    assert list(dict.fromkeys(made.responses["item"])) == ["Q3", "Q1"] and len(made.responses) == 4
    assert made.runs[0].manifest["experiment"]["items"] == ["Q3", "Q1"]
    with pytest.raises(culturescope.errors.CulturescopeError, match="unknown item 'Q9999'"):
        culturescope.run("scripted:culture", items=["Q9999"], out=tmp_path / "bad")
