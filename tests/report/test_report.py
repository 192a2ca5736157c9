"""The analyses from the command line on imported runs, and the HTML report in a real headless Chromium."""

import json

import pytest

from culturescope.survey import wvs7
from helpers.browser import render
from helpers.clitools import cli as run_cli
from helpers.synthetic import synthetic_answers, write_reference_outputs

CULTURES = ["BRA", "CHN", "MEX", "NGA", "NZL", "DEU", "IND"]
NAMES = ["alpha", "beta", "gamma"]
HOSTILE = '<script>console.error("injected")</script><img src=x onerror="console.error(1)">'


def cli(*args):
    return run_cli(*args, timeout=300)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """Three synthetic backbones on seven cultures, imported like published outputs; one response
    of beta is hostile HTML that fails to parse."""
    root = tmp_path_factory.mktemp("report")
    src = root / "outputs"
    src.mkdir()
    write_reference_outputs(src, synthetic_answers(3, CULTURES, seed=4), CULTURES, NAMES)
    path = src / "beta_BRA_system.jsonl"
    lines = path.read_text().splitlines()
    lines[0] = json.dumps({"idx": 0, "q_id": "Q1", "response": HOSTILE})
    path.write_text("\n".join(lines) + "\n")
    assert cli("import", str(src), "--out", str(root / "run")).returncode == 0
    return root / "run"


def analyze(*args):
    result = cli("analyze", *args, "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_analyze_commands(run_dir):
    land = analyze("landscape", str(run_dir))
    assert [r["system"] for r in land["rows"]] == NAMES and land["notes"][0].startswith("Pearson r (Diversity_P")
    per_item = analyze("landscape", str(run_dir), "--per-item", "alpha,gamma")["rows"]
    assert len(per_item) == 223 and set(per_item[0]) == {"item", "alpha D_q", "alpha A_q", "gamma D_q", "gamma A_q"}
    assert all(0 <= r["alpha D_q"] <= 1 for r in per_item)
    s = wvs7()
    no_human = {it.id for it in s.items if all(s.majority(c, it.id) is None for c in CULTURES)}
    assert no_human == {"Q223"} and {r["item"] for r in per_item if r["gamma A_q"] is None} == no_human
    assert all(0 <= r["gamma A_q"] <= 1 for r in per_item if r["item"] not in no_human)
    mixed = analyze("mixed", str(run_dir), "--cultures", "BRA,CHN,MEX,NGA,NZL")
    assert {r["configuration"] for r in mixed["rows"]} >= {"alignment-optimal", "diversity-optimal"}
    assert mixed["notes"][0].startswith("243 assignments")
    sub = analyze("subsets", str(run_dir), "--system", "beta", "--k", "3", "--top", "5")
    assert len(sub["rows"]) == 5 and sub["notes"][1].startswith("35 subsets of 3")
    assert sub["rows"][0]["diversity_p"] >= sub["rows"][-1]["diversity_p"]
    agents = analyze("agents", str(run_dir), "--system", "gamma")
    assert [r["k"] for r in agents["rows"]] == list(range(2, 8))
    boot = analyze("bootstrap", str(run_dir), "--replicates", "100")
    assert {(r["system"], r["metric"]) for r in boot["rows"]} >= {("alpha", "gap_p"), ("gamma", "diversity_s")}
    bad = cli("analyze", "subsets", str(run_dir), "--system", "delta")
    assert bad.returncode == 2 and "no system 'delta'; the runs have: alpha, beta, gamma" in bad.stderr


def test_report_is_escaped_and_renders_in_chromium(run_dir, tmp_path):
    out = tmp_path / "report.html"
    result = cli("report", str(run_dir), "--out", str(out), "--replicates", "200", "--per-item", "beta,alpha")
    assert result.returncode == 0, result.stderr
    html = out.read_text()
    assert HOSTILE not in html and "&lt;script&gt;console.error(&quot;injected&quot;)" in html
    assert html.count("<img ") == 6  # Fig. 1 left, 7, 1 right, 2, 3a, 3b, and nothing from the model
    assert "<img src=x" not in html
    assert "Fig. 1 (right): per-question (D_q, A_q)</figcaption>" in html
    shot = tmp_path / "report.png"
    errors, widths = render(out, shot)
    assert errors == []
    assert len(widths) == 6 and all(w and w > 300 for w in widths)
    assert shot.stat().st_size > 50_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
