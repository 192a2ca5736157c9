"""The real console entry point, run as a user runs it."""

import csv
import io
import json
import subprocess
import sys

import pytest

from culturescope.backends import BackboneSpec
from culturescope.engine import lock
from culturescope.engine.prompts import prompts
from culturescope.engine.rundir import digest
from culturescope.engine.store import Run
from culturescope.survey import wvs7
from helpers.clitools import cli as run_cli
from helpers.clitools import env_with
from helpers.reference_outputs import majority_text, write_model


def cli(*args, env=None):
    return run_cli(*args, env=env, timeout=180)


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
    result = cli("import", str(src), "--out", str(tmp_path / "run"))
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
    strict = cli("import", str(src), "--out", str(tmp_path / "strict"), "--strict-complete")
    one_error(strict, f"{path}: line 223: invalid JSON")
    done = cli("import", str(src), "--out", str(tmp_path / "run"))
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
    strict = cli("survey", "show", "Q122", "--country", "CAN", "--human-data", "strict")
    assert "code 0" not in strict.stdout
    listing = cli("cultures").stdout
    assert "New Zealander" in listing and "195/223" in listing
    assert "Q249" in cli("survey", "show").stdout


# One grammar (issue 15): --format, --human-data / --answer-mode, --out, item selection, -b and --role,
# --survey; the old spellings keep working for one release with one deprecation line each.

SCRIPTED = ["-b", "scripted:culture"]


def works(result, *lines):
    assert result.returncode == 0, result.stderr
    for line in lines:
        assert line in result.stderr.splitlines(), result.stderr


def items_of(run_dir):
    return list(dict.fromkeys(Run.open(run_dir).responses()["item"]))


def test_only_and_per_dimension_choose_exactly_the_items_asked(tmp_path):
    env = env_with(tmp_path)
    base = ["run", *SCRIPTED, "--cultures", "BRA,CHN", "--format", "json"]
    only = cli(*base, "--only", "Q3,Q1,Q57", "--out", str(tmp_path / "only"), env=env)
    works(only)
    assert items_of(tmp_path / "only") == ["Q3", "Q1", "Q57"]
    assert Run.open(tmp_path / "only").manifest["experiment"]["items"] == ["Q3", "Q1", "Q57"]
    assert json.loads(only.stdout)["systems"][0]["answered_BRA"] == "3/3"
    first = {}
    for it in wvs7().items:
        first.setdefault(it.dimension, it.id)
    per = cli(*base, "--per-dimension", "1", "--limit", "4", "--out", str(tmp_path / "per"), env=env)
    works(per)
    assert items_of(tmp_path / "per") == list(first.values())[:4]
    one_error(cli(*base, "--only", "Q1", "--per-dimension", "1"), "--only and --per-dimension exclude each other")


def test_a_run_chosen_by_limit_alone_keeps_its_directory_and_resumes(tmp_path):
    """A run directory written before --only/--per-dimension existed: its manifest, as that version wrote
    it (no item list), is still this experiment's, so the same command resumes it."""
    spec = BackboneSpec.parse("scripted:culture")
    old = {
        "survey": "wvs7",
        "system": "static",
        "cultures": ["BRA", "CHN"],
        "modes": ["sample"],
        "samples": 1,
        "limit": 2,
        "prompts": prompts("culturescope.methods.beyond_alignment", "beyond_alignment"),
        "backbones": [spec.as_dict() | {"decoding": spec.decoding().as_dict()}],
    }
    folder = tmp_path / "runs" / f"scripted-culture-{digest(old)}"
    Run.create(folder, {"kind": "run", "experiment": old})
    lock.release(folder)  # this test process wrote the old run; the command below resumes it
    args = ["run", *SCRIPTED, "--cultures", "BRA,CHN", "--limit", "2"]
    first = run_cli(*args, env=env_with(tmp_path), cwd=tmp_path, timeout=180)  # default directory: the same digest
    works(
        first,
        f"run directory: {folder.relative_to(tmp_path)}",
        f"scripted-culture [sample]: 4 new responses (0 already in {folder.relative_to(tmp_path)})",
    )
    again = cli(*args, "--out", str(folder), env=env_with(tmp_path))
    works(again, f"scripted-culture [sample]: 0 new responses (4 already in {folder})")
    assert Run.open(folder).manifest["experiment"] == old


@pytest.fixture(scope="module")
def scored_runs(tmp_path_factory):
    """Three small runs on the scripted backend: Beyond Alignment (two backbones), DEF, Cultural Palette."""
    root = tmp_path_factory.mktemp("grammar")
    env = env_with(root)
    made = {
        "static": ["run", *SCRIPTED, "-b", "scripted:first", "--cultures", "BRA,CHN,NGA", "--limit", "5"],
        "simulate": [
            "simulate",
            "run",
            *SCRIPTED,
            "--cultures",
            "USA",
            "--respondents",
            "2",
            "--variant",
            "none",
            "--only",
            "Q1,Q2",
        ],
        "palette": ["palette", "run", *SCRIPTED, "--cultures", "NGA,NZL", "--only", "Q1,Q2", "--method", "vanilla"],
    }
    for name, args in made.items():
        works(cli(*args, "--out", str(root / name), env=env))
    return root, env


@pytest.mark.parametrize(
    "command",
    [
        ["evaluate", "{static}"],
        ["analyze", "landscape", "{static}"],
        ["simulate", "score", "{simulate}"],
        ["palette", "score", "{palette}"],
    ],
    ids=["evaluate", "analyze landscape", "simulate score", "palette score"],
)
def test_format_json_and_csv_parse(scored_runs, command):
    root, env = scored_runs
    args = [a.format(static=root / "static", simulate=root / "simulate", palette=root / "palette") for a in command]
    as_json = cli(*args, "--format", "json", env=env)
    works(as_json)
    document = json.loads(as_json.stdout)
    assert set(document) >= {"title", "rows", "notes"} and document["rows"]
    as_csv = cli(*args, "--format", "csv", env=env)
    works(as_csv)
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert len(rows) == len(document["rows"])
    assert list(rows[0]) == list(dict.fromkeys(k for r in document["rows"] for k in r))
    for row, expected in zip(rows, document["rows"]):
        for key, value in expected.items():
            shown = "" if value is None else json.dumps(value) if isinstance(value, (dict, list)) else str(value)
            assert row[key] == shown


def test_deprecated_spellings_work_with_one_line_each(scored_runs, tmp_path):
    root, env = scored_runs
    static, simulated = str(root / "static"), str(root / "simulate")
    old_json = cli("evaluate", static, "--json", "--mode", "strict", env=env)
    works(old_json, "--json is deprecated; use --format json", "--mode is deprecated; use --human-data strict")
    assert json.loads(old_json.stdout)["mode"] == "strict"
    works(cli("survey", "show", "Q1", "--mode", "strict"), "--mode is deprecated; use --human-data strict")
    probs = cli(
        "run",
        *SCRIPTED,
        "--cultures",
        "BRA,CHN",
        "--limit",
        "1",
        "--mode",
        "probs",
        "--out",
        str(tmp_path / "probs"),
        env=env,
    )
    works(probs, "--mode is deprecated; use --answer-mode probs")
    assert Run.open(tmp_path / "probs").manifest["experiment"]["modes"] == ["probs"]
    src = tmp_path / "out"
    src.mkdir()
    write_model(src, "m", majority_text, cultures=["BRA"])
    works(
        cli("import", str(src), str(tmp_path / "imported")),
        "import SOURCE DEST is deprecated; use import SOURCE --out DEST",
    )
    assert len(Run.open(tmp_path / "imported").responses()) == 223
    report = tmp_path / "report.html"
    works(cli("report", simulated, "-o", str(report), env=env), "-o/--output is deprecated; use --out")
    assert report.stat().st_size > 0
    palette = cli(
        "palette",
        "run",
        *SCRIPTED,
        "--meta",
        "scripted:first",
        "--continent-backbone",
        "Asia=scripted:first",
        "--cultures",
        "NGA",
        "--only",
        "Q1",
        "--method",
        "palette",
        "--out",
        str(tmp_path / "pal"),
        env=env,
    )
    works(
        palette,
        "--meta is deprecated; use --role meta=scripted:first",
        "--continent-backbone is deprecated; use --role CONTINENT=SPEC",
    )
    manifest = Run.open(tmp_path / "pal").manifest["experiment"]
    assert manifest["meta"]["name"] == "scripted-first"
    assert list(manifest["continent_backbones"]) == ["Asia"]
    judged = cli(
        "simulate",
        "judge",
        simulated,
        "--judge",
        "scripted:first",
        "--rate",
        "1",
        "--out",
        str(tmp_path / "judge"),
        env=env,
    )
    works(judged, "--judge is deprecated; use --role judge=scripted:first")
    written = cli(
        "palette",
        "synthesize",
        "-g",
        "scripted:first",
        "--limit",
        "1",
        "--max-tokens",
        "8",
        "--out",
        str(tmp_path / "data"),
        env=env,
    )
    works(written, "--generator/-g is deprecated; use -b scripted:first")
    trained = cli(
        "palette",
        "train",
        str(tmp_path / "data"),
        "--base",
        str(tmp_path / "none.gguf"),
        "--out",
        str(tmp_path / "models"),
        env=env,
    )
    assert trained.returncode == 2 and trained.stderr.splitlines() == [
        f"--base is deprecated; use --role base={tmp_path / 'none.gguf'}",
        "error: the base model (--role base=MODEL) is 'embedded', a GGUF file or a local model directory; "
        f"got '{tmp_path / 'none.gguf'}'",
    ]


def test_roles_and_backbones_are_one_clear_error(tmp_path):
    one_error(
        cli("simulate", "judge", str(tmp_path), "--role", "jduge=embedded"),
        "unknown role 'jduge' for simulate judge; its roles: judge",
    )
    one_error(
        cli("palette", "train", str(tmp_path), "--role", "meta=embedded"),
        "unknown role 'meta' for palette train; its roles: base",
    )
    one_error(
        cli("simulate", "rephrase", "-b", "embedded", "-b", "embedded", "--out", str(tmp_path / "x")),
        "simulate rephrase takes one --backbone (the rephrasing model), not 2",
    )


def test_survey_by_name_or_directory(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "items.json").write_text('[{"Q_id": "A", "question": "A?", "option": ["yes", "no"]}]')
    (folder / "reference.json").write_text('{"BRA": {"A": {"1": 0.75, "2": 0.25}}, "CHN": {"A": {"2": 1.0}}}')
    shown = cli("survey", "show", "A", "--survey", str(folder), "--format", "json")
    works(shown)
    assert [(r["country"], r["majority"]) for r in json.loads(shown.stdout)["rows"]] == [("BRA", 1), ("CHN", 2)]
    assert "Q249" in cli("survey", "show", "--survey", "wvs7", "--format", "csv").stdout
    one_error(cli("cultures", "--survey", str(tmp_path / "nowhere")), "give 'wvs7' or a directory with items.json")
    one_error(
        cli("cultures", "--survey", str(folder), "--items", str(folder / "items.json")),
        "--survey and --items/--reference/--cultures-file exclude each other",
    )
