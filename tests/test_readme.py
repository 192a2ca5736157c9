"""Every command of the README runs, in the order written, in a directory of its own, on the embedded
model and on published outputs shaped like the real ones. A line whose comment says "needs" (a paid
key, a GPU server, the train extra) is skipped; the quick start is what `.ci/run` runs itself."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.published_layout import make_published

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text()
QUICK_START = ["bash install.sh && .venv/bin/culturescope run", "bash .ci/run"]


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, re.S)


def commands() -> list[tuple[str, str]]:
    """(command, comment) of every line of every bash block after the quick start."""
    found = []
    for block in blocks("bash")[1:]:
        for line in block.splitlines():
            command, _, comment = line.partition(" #")
            if command.strip():
                found.append((command.strip(), comment))
    return found


def test_the_quick_start_is_two_commands_and_ci_runs_them():
    assert blocks("bash")[0].splitlines() == QUICK_START
    ci = (ROOT / ".ci/run").read_text()
    assert "bash install.sh" in ci and ".venv/bin/pytest" in ci


def test_every_readme_command_runs(tmp_path):
    make_published(tmp_path)  # wvs_evaluation/, wvs_evaluation_interaction*/, wvs_pb_evaluation/
    env = {**os.environ, "CULTURESCOPE_CACHE": str(tmp_path / "cache.sqlite")}
    ran, skipped = [], []
    for command, comment in commands():
        if "needs " in comment:
            skipped.append(command)
            continue
        argv = shlex.split(command)
        if argv[0] == "culturescope":
            argv = [sys.executable, "-m", "culturescope", *argv[1:]]
        done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        ran.append(command)
    assert len(ran) >= 20
    assert (tmp_path / "runs/quick/report.html").exists() and (tmp_path / "quick.html").exists()
    assert len(skipped) <= 4, skipped  # a paid key, a GPU server or the train extra, each marked


def test_every_readme_python_block_runs(tmp_path):
    """The metrics snippet prints what its comment says; the API snippet is run by tests/test_api.py."""
    for block in blocks("python"):
        if "culturescope.run(" in block:
            continue
        done = subprocess.run([sys.executable, "-c", block], cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        expected = re.findall(r"# ([0-9.]+), ([0-9.]+)", block)
        if expected:
            printed = [float(x) for x in done.stdout.split()]
            assert printed == pytest.approx([float(x) for x in expected[-1]], abs=5e-5)
