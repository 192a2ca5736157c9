"""A third-party package adds a backend, a method and a metric through the culturescope.plugins entry
point: installed by pip into a directory of its own, it appears in the CLI and the Python API."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from culturescope.survey import wvs7

PLUGIN = Path(__file__).parent / "plugin_demo"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    source = tmp_path_factory.mktemp("src") / "plugin"
    shutil.copytree(PLUGIN, source)
    target = tmp_path_factory.mktemp("site")
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target"]
    subprocess.run([*pip, str(target), str(source)], check=True)
    return target


def _run(site: Path, *args: str) -> subprocess.CompletedProcess:
    env = os.environ | {"PYTHONPATH": str(site)}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=300)


def test_plugin_commands_appear_in_the_cli(site):
    shown = _run(site, "-m", "culturescope", "--help")
    assert shown.returncode == 0, shown.stderr
    assert "demo-count" in shown.stdout and "Demo plugin" in shown.stdout
    without = subprocess.run([sys.executable, "-m", "culturescope", "--help"], capture_output=True, text=True)
    assert "demo-count" not in without.stdout  # only the installed package adds it


def test_plugin_backend_method_and_metric_in_the_python_api(site, tmp_path):
    script = f"""
import json, culturescope
results = culturescope.run(["demo:second"], cultures=["BRA", "CHN"], limit=6, out={str(tmp_path / "run")!r})
scores = results.scores
demo = culturescope.score(results.responses.assign(system="demo"))
print(json.dumps({{
    "methods": sorted(culturescope.registry.methods()),
    "answers": results.responses["answer"].tolist(),
    "scores": {{m: v for m, v in zip(scores["metric"], scores["value"])}},
    "demo": sorted(zip(demo["method"], demo["culture"], demo["metric"], demo["value"])),
}}))
"""
    done = _run(site, "-c", "import culturescope.registry\n" + script)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["methods"] == ["beyond_alignment", "cultural_palette", "def_simulation", "demo"]
    assert found["answers"] == [2.0] * 12  # the plugin's backend answered every request
    assert found["scores"]["mean_answer"] == 2.0  # the plugin's metric, computed for the run's system
    survey = wvs7()
    mu = survey.majority_matrix(["BRA", "CHN"], "faithful")[:, :6]
    delta = survey.deltas[:6]
    align = [1 - np.sqrt(((2 - row) ** 2).sum()) / np.sqrt((delta**2).sum()) for row in mu]  # eq. 1
    assert found["scores"]["alignment"] == pytest.approx(np.mean(align))  # eq. 2; 0.72375 for these items
    assert found["scores"]["diversity_p"] == 0.0
    assert found["demo"] == [["demo", "BRA", "answers", 6], ["demo", "CHN", "answers", 6]]
    counted = _run(site, "-m", "culturescope", "demo-count", str(tmp_path / "run"))
    assert counted.returncode == 0, counted.stderr
    assert counted.stdout.strip() == "demo rows: 0"
