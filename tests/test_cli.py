"""The real console entry point, run as a user runs it."""

import json
import subprocess
import sys

from clitools import cli as run_cli
from test_import_evaluate import majority_text, write_model


def cli(*args):
    return run_cli(*args, timeout=120)


def test_evaluate_human_reference_table():
    result = cli("evaluate")
    assert result.returncode == 0, result.stderr
    assert "human reference" in result.stdout
    row = next(line for line in result.stdout.splitlines() if "human reference" in line and "44.07" in line)
    assert "39.37" in row and "100.00" in row


def test_evaluate_json_and_csv():
    data = json.loads(cli("evaluate", "--format", "json", "--cultures", "bra,chn,mex,nga,nzl").stdout)
    assert data["human_reference"]["diversity_p"] == 44.07
    assert data["cultures"] == ["BRA", "CHN", "MEX", "NGA", "NZL"]
    csv_out = cli("evaluate", "--format", "csv").stdout.splitlines()
    assert csv_out[0].startswith("backbone,system,mode,round,samples,alignment,diversity_p,diversity_s")
    assert csv_out[1].startswith("human reference,human,-,0,1,100.0,44.07,39.37")


def test_import_then_evaluate(tmp_path):
    src = tmp_path / "out"
    src.mkdir()
    write_model(src, "oracle", majority_text)
    result = cli("import", str(src), str(tmp_path / "run"))
    assert result.returncode == 0, result.stderr
    assert "imported 1115 responses from 5 files" in result.stdout
    data = json.loads(cli("evaluate", str(tmp_path / "run"), "--format", "json").stdout)
    (oracle,) = data["systems"]
    assert (oracle["alignment"], oracle["diversity_p"], oracle["diversity_s"]) == (100.0, 44.07, 39.37)
    assert oracle["answered_CHN"] == "195/223"


def one_error(result, fragment):
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and fragment in lines[0], result.stderr


def test_unknown_culture_is_one_message():
    one_error(cli("evaluate", "--cultures", "BRA,ATL"), "unknown culture 'ATL'; known cultures: AUS")


def test_malformed_survey_is_one_message(tmp_path):
    items = tmp_path / "items.json"
    items.write_text('[{"Q_id": "A", "question": "A?", "option": ["yes", "no"]}, {"Q_id": "B", "option": []}]')
    ref = tmp_path / "ref.json"
    ref.write_text('{"BRA": {"A": {"1": 1.0}}}')
    one_error(
        cli("evaluate", "--items", str(items), "--reference", str(ref), "--cultures", "BRA"),
        f"{items}: item 2 (B): 'question' must be a non-empty string",
    )


def test_truncated_jsonl_is_one_line_and_the_rest_is_imported(tmp_path):
    src = tmp_path / "out"
    src.mkdir()
    write_model(src, "m", majority_text, cultures=["BRA"])
    path = src / "m_BRA_system.jsonl"
    path.write_text(path.read_text()[:-30])
    one_error(cli("import", str(src), str(tmp_path / "strict"), "--strict-complete"), f"{path}: line 223: invalid JSON")
    done = cli("import", str(src), str(tmp_path / "run"))
    assert done.returncode == 0, done.stderr
    assert "imported 222 responses from 1 files" in done.stdout
    assert f"left out {path}: line 223: invalid JSON" in done.stdout.replace("\n", "")


def test_not_a_run_is_one_message(tmp_path):
    one_error(cli("evaluate", str(tmp_path)), "is not a culturescope run")


#: What building the commands must not import (issue 15): each costs tenths of a second at start-up.
HEAVY = ("pandas", "scipy", "matplotlib", "numpy", "llama_cpp", "pabutools", "openai", "anthropic", "torch")


def test_building_the_commands_imports_no_heavy_library():
    """`culturescope --help` stays fast: the command tree, with every parameter Typer reads, is built
    without the numeric, plotting or model libraries; the commands import them when they run."""
    code = (
        "import sys; from typer.main import get_command; from culturescope.cli.main import build; "
        f"get_command(build()); print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_usage_error_exits_nonzero():
    result = cli("evaluate", "--format", "xml")
    assert result.returncode == 2 and "xml" in result.stderr


def test_survey_show_and_cultures():
    shown = cli("survey", "show", "Q122", "--country", "CAN")
    assert shown.returncode == 0 and "code 0" in shown.stdout  # the 0-based quirk is visible
    strict = cli("survey", "show", "Q122", "--country", "CAN", "--mode", "strict")
    assert "code 0" not in strict.stdout
    listing = cli("cultures").stdout
    assert "New Zealander" in listing and "195/223" in listing
    assert "Q249" in cli("survey", "show").stdout
