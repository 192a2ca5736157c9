"""`culturescope simulate`: DEF respondents and the baselines end to end, against a real HTTP server on
127.0.0.1 (request shapes: memory, CCSV steps, judge, rephrasing) and the embedded model (every variant;
a killed run resumes into exactly the responses of an uninterrupted one)."""

import json
import signal
import subprocess
import sys

import pytest
from scipy import stats

from culturescope.engine.store import Run
from culturescope.survey import wvs7
from helpers.browser import render
from helpers.clitools import cli, env_with, wait_for_lines
from helpers.servers import ScriptedServer, chat_completion

ANSWER = "Answer: 2. Rather important.\nExplanation: Family matters. More words."
CLEANED = "Answer: 2. Rather important.\nExplanation: Family matters."


@pytest.fixture
def server():
    servers = []

    def start(*texts):
        servers.append(ScriptedServer([(200, chat_completion(t), {}) for t in texts]))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def test_memory_conversation_sent_to_the_server(tmp_path, server):
    srv = server(ANSWER)
    out = tmp_path / "run"
    items = ["Q1", "Q2", "Q3", "Q4", "Q5"]
    done = cli(
        "simulate",
        "run",
        "-b",
        f"openai:m@{srv.url}/v1",
        "--cultures",
        "USA",
        "--respondents",
        "3",
        "--only",
        ",".join(items),
        "--max-memory",
        "2",
        "--out",
        str(out),
        env=env_with(tmp_path),
    )
    assert done.returncode == 0, done.stderr
    table = Run.open(out).responses()
    assert len(table) == 15 and (table["status"] == "ok").all() and (table["answer"] == 2).all()
    limits = {int(r.sample): r.trace["memory_limit"] for r in table.itertuples()}
    questions = [wvs7().item(i).question for i in items]
    seen = 0
    for request in srv.requests:
        body = request["json"]
        respondent = body["seed"]  # seed = base seed 0 + respondent index: config is drawn per respondent
        messages = body["messages"]
        k = next(n for n, q in enumerate(questions) if q in messages[-1]["content"])
        assert "I want you to act as a citizen from United States living in " in messages[-1]["content"]
        memory = messages[:-1]
        assert len(memory) == 2 * min(k, limits[respondent])
        remembered = [questions.index(m["content"].removeprefix("Request: ")) for m in memory[::2]]
        assert remembered == sorted(remembered) and all(r < k for r in remembered)
        assert all(m["content"] == CLEANED for m in memory[1::2])
        assert body["temperature"] in (0.0, 1.0)
        seen += 1
    assert 10 <= seen <= 15  # greedy respondents in the same state and memory share one request
    traces = {int(r.sample): r.trace for r in table.itertuples()}
    assert all(t["location"] and t["config"]["seed"] == s for s, t in traces.items())


def test_ccsv_single_chains_its_steps(tmp_path, server):
    """Greedy like the other baselines: the two critiques (and rewrites) are one request each."""
    initial, critique, rewrite = "Answer: 1. Explanation: first.", "crit A", "Answer: 4"
    srv = server(initial, critique, rewrite, "Response 2")
    out = tmp_path / "run"
    done = cli(
        "simulate",
        "run",
        "-b",
        f"openai:m@{srv.url}/v1",
        "--cultures",
        "CHN",
        "--respondents",
        "3",
        "--only",
        "Q1",
        "--variant",
        "ccsv-single",
        "--decodes",
        "2",
        "--out",
        str(out),
        env=env_with(tmp_path),
    )
    assert done.returncode == 0, done.stderr
    texts = [r["json"]["messages"][-1]["content"] for r in srv.requests]
    assert len(texts) == 4 and all(r["json"]["temperature"] == 0 for r in srv.requests)
    assert "I want you to act as a citizen from China." in texts[0]
    assert f"Response: {initial}" in texts[1] and "citizens of China" in texts[1]
    assert f"Response: {initial}" in texts[2] and texts[2].count(critique) == 2
    assert f"Response 1:\n{rewrite}" in texts[3] and f"Response 2:\n{rewrite}" in texts[3]
    table = Run.open(out).responses()
    assert len(table) == 3 and (table["raw"] == rewrite).all() and (table["answer"] == 4).all()
    trace = table["trace"].iloc[0]
    assert trace["chosen"] == 1 and trace["critiques"] == [critique] * 2 and trace["initial"] == initial


def test_identical_greedy_requests_are_sent_once(tmp_path, server):
    srv = server(ANSWER)
    out = tmp_path / "run"
    done = cli(
        "simulate",
        "run",
        "-b",
        f"openai:m@{srv.url}/v1",
        "--cultures",
        "USA",
        "--respondents",
        "5",
        "--only",
        "Q1,Q2",
        "--variant",
        "none,cao",
        "--out",
        str(out),
        env=env_with(tmp_path),
    )
    assert done.returncode == 0, done.stderr
    assert len(srv.requests) == 4  # 2 items × 2 prompts, not × 5 respondents
    table = Run.open(out).responses()
    assert len(table) == 20 and table.groupby("system")["sample"].nunique().to_dict() == {"cao": 5, "none": 5}
    scored = cli("simulate", "score", str(out), "--format", "json", env=env_with(tmp_path))
    rows = [r for r in json.loads(scored.stdout)["rows"] if r["culture"] == "USA"]
    assert [r["Diversity %"] for r in rows] == [0, 0]  # Table 1 and 4: no diversity without modifications


def test_judge_and_rephrase_with_a_server(tmp_path, server):
    env = env_with(tmp_path)
    answers = server(ANSWER)
    run = tmp_path / "run"
    made = cli(
        "simulate",
        "run",
        "-b",
        f"openai:m@{answers.url}/v1",
        "--cultures",
        "USA,CHN",
        "--respondents",
        "2",
        "--only",
        "Q1,Q2",
        "--variant",
        "def,cao",
        "--out",
        str(run),
        env=env,
    )
    assert made.returncode == 0, made.stderr
    judge = server("Thinking.\nProblems: cv, ff")
    judged = cli(
        "simulate",
        "judge",
        str(run),
        "--role",
        f"judge=openai:j@{judge.url}/v1",
        "--rate",
        "0.5",
        "--out",
        str(tmp_path / "judge"),
        "--format",
        "json",
        env=env,
    )
    assert judged.returncode == 0, judged.stderr
    rows = {r["system"]: r for r in json.loads(judged.stdout)["rows"]}
    assert rows["def"]["judged"] == 4 and rows["cao"]["judged"] == 4  # half of 8 responses each
    assert rows["def"]["cv"] == 100 and rows["def"]["qc"] == 0
    assert "Model response: " + ANSWER in judge.requests[0]["json"]["messages"][0]["content"]
    assert judge.requests[0]["json"]["temperature"] == 0.0

    writer = server('"How much does your family matter to you?"')
    survey_dir = tmp_path / "rephrased"
    done = cli(
        "simulate",
        "rephrase",
        "-b",
        f"openai:w@{writer.url}/v1",
        "--variants",
        "1",
        "--out",
        str(survey_dir),
        env=env,
    )
    assert done.returncode == 0, done.stderr
    items = json.loads((survey_dir / "items.json").read_text())
    by_id = {it["Q_id"]: it for it in items}
    assert len(items) == 2 * 223
    assert by_id["Q1~1"]["question"].startswith("How much does your family matter to you? Choose only one")
    assert (
        by_id["Q1~1"]["question"].endswith("4. Not at all important") and by_id["Q1~1"]["option"][0] == "Very important"
    )
    sent = [r["json"]["messages"][0]["content"] for r in writer.requests]
    assert len(sent) == 223 and any(t.endswith("Question: How important is family in your life?") for t in sent)
    reference = json.loads((survey_dir / "reference.json").read_text())
    assert reference["USA"]["Q1~1"] == reference["USA"]["Q1"]
    survey_args = [
        "--items",
        str(survey_dir / "items.json"),
        "--reference",
        str(survey_dir / "reference.json"),
        "--cultures-file",
        str(survey_dir / "cultures.json"),
    ]
    over = cli(
        "simulate",
        "run",
        "-b",
        f"openai:m@{answers.url}/v1",
        "--cultures",
        "USA",
        "--respondents",
        "2",
        "--only",
        "Q1,Q1~1",
        "--out",
        str(tmp_path / "variants"),
        "--measure",
        "js",
        "--survey",  # the rephrased survey's directory; the score below reads the same files one by one
        str(survey_dir),
        env=env,
    )
    assert over.returncode == 0, over.stderr
    scored = cli("simulate", "score", str(tmp_path / "variants"), "--format", "json", *survey_args, env=env)
    (row,) = json.loads(scored.stdout)["rows"]
    assert row["n_test"] == 2 and row["valid %"] == 100


def test_profiles_map_and_ttest_commands(tmp_path, server):
    env = env_with(tmp_path)
    srv = server(ANSWER)
    run = tmp_path / "run"
    made = cli(
        "simulate",
        "run",
        "-b",
        f"openai:a@{srv.url}/v1",
        "-b",
        f"openai:b@{srv.url}/v1",
        "--cultures",
        "USA",
        "--respondents",
        "2",
        "--per-dimension",
        "1",
        "--variant",
        "def",
        "--out",
        str(run),
        env=env,
    )
    assert made.returncode == 0, made.stderr
    groups = tmp_path / "groups.json"
    groups.write_text(json.dumps({"USA": {"age:<=29": {"Q1": {"1": 0.5, "2": 0.4}}, "age:50+": {"Q1": {"2": 0.2}}}}))
    prof = cli("simulate", "profiles", str(run), "--groups", str(groups), "--format", "json", env=env)
    assert prof.returncode == 0, prof.stderr
    rows = json.loads(prof.stdout)["rows"]
    assert {(r["group"], r["share %"]) for r in rows if r["backbone"] == "a"} == {("age:<=29", 100.0), ("age:50+", 0.0)}
    mapped = cli("simulate", "map", str(run), "--format", "json", env=env)
    assert mapped.returncode == 0, mapped.stderr
    subjects = [r["subject"] for r in json.loads(mapped.stdout)["rows"]]
    assert subjects == ["a · def · USA", "b · def · USA", "human · USA"]
    tested = cli("simulate", "ttest", str(run), "--group-a", "a", "--group-b", "b", "--format", "json", env=env)
    assert tested.returncode == 0, tested.stderr
    (row,) = json.loads(tested.stdout)["rows"]
    assert row["t"] == 0 and row["n1"] == row["n2"] == 12  # the same answers: no difference
    missing = cli("simulate", "ttest", str(run), "--group-a", "a", "--group-b", "zzz", env=env)
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "no backbone 'zzz'" in missing.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["--variant", "def,magic"], "unknown variant(s) magic"),
        (["--only", "Q1,Q9999"], "unknown item 'Q9999'"),
        (["--cultures", "XXX"], "unknown culture 'XXX'"),
        (["--respondents", "0"], "respondents must be at least 1"),
        (["--measure", "cosine"], "unknown divergence 'cosine'"),
        (["--top-ks", "5,x"], "top_k values must be whole numbers"),
    ],
)
def test_bad_input_is_one_clear_line(tmp_path, args, message):
    done = cli("simulate", "run", *args, "--out", str(tmp_path / "r"), env=env_with(tmp_path))
    assert done.returncode == 2 and message in done.stderr and done.stderr.count("\n") == 1


def test_every_variant_on_the_embedded_model_and_exact_resume(tmp_path):
    common = ["--cultures", "USA", "--respondents", "2", "--only", "Q1,Q2,Q122", "--decodes", "1"]  # Q122: zero-coded
    variants = "def,def-no-prompt,def-no-config,def-no-memory,none,cao,ccsv-single,ccsv-list,probs"
    whole = tmp_path / "whole"
    done = cli("simulate", "run", *common, "--variant", variants, "--out", str(whole), env=env_with(tmp_path / "a"))
    assert done.returncode == 0, done.stderr
    table = Run.open(whole).responses()
    sizes = table.groupby("system").size().to_dict()
    assert sizes == {v: 6 for v in variants.split(",") if v != "probs"} | {"probs": 3}
    assert not table.duplicated(["system", "agent", "item", "sample"]).any()
    # the probs system's KL per value dimension by a second route: scipy's entropy against the shipped
    # shares, Q122's code 0 ("Disagree") as option 1
    raw = wvs7().shares["USA"]
    gold = {"Q1": [raw["Q1"][c] for c in (1, 2, 3, 4)], "Q2": [raw["Q2"][c] for c in (1, 2, 3, 4)],
            "Q122": [raw["Q122"][c] for c in (0, 1, 2)]}  # fmt: skip
    kl = {r.item: stats.entropy(r.probs, gold[r.item]) for r in table[table["system"] == "probs"].itertuples()}
    scored = json.loads(cli("simulate", "score", str(whole), "--format", "json", env=env_with(tmp_path / "a")).stdout)
    (row,) = [r for r in scored["rows"] if r["system"] == "probs"]
    social = wvs7().item("Q1").dimension
    assert row[social] == pytest.approx((kl["Q1"] + kl["Q2"]) / 2) and row["Migration"] == pytest.approx(kl["Q122"])
    assert "option by option" in scored["title"]
    assert "Diversity %" in done.stdout and "def-no-memory" in done.stdout

    # DEF alone, killed after 2 responses, resumed with an empty cache: the same answers and memories
    resumed = tmp_path / "resumed"
    args = [sys.executable, "-m", "culturescope", "simulate", "run", *common, "--variant", "def", "--out", str(resumed)]
    env = env_with(tmp_path / "b")
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_lines(resumed / "responses.jsonl", 2, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    (tmp_path / "b" / "cache.sqlite").unlink()
    again = cli(*args[3:], env=env)
    assert again.returncode == 0, again.stderr
    key = ["agent", "item"]
    a = table[table["system"] == "def"].sort_values(key)[["agent", "item", "raw", "trace"]].reset_index(drop=True)
    b = Run.open(resumed).responses().sort_values(key)[["agent", "item", "raw", "trace"]].reset_index(drop=True)
    assert a.equals(b)


def test_simulation_report_is_escaped_and_renders_in_chromium(tmp_path, server):
    env = env_with(tmp_path)
    hostile = 'Answer: 1. <script>console.error("x")</script>\nExplanation: <img src=x onerror="console.error(1)">.'
    srv = server(hostile)
    run, judged = tmp_path / "run", tmp_path / "judge"
    made = cli(
        "simulate",
        "run",
        "-b",
        f"openai:m@{srv.url}/v1",
        "--cultures",
        "USA,CHN",
        "--respondents",
        "2",
        "--only",
        "Q1,Q57,Q106",
        "--variant",
        "def,ccsv-single",
        "--decodes",
        "1",
        "--out",
        str(run),
        env=env,
    )
    assert made.returncode == 0, made.stderr
    judge = server("Problems: rp")
    assert (
        cli(
            "simulate",
            "judge",
            str(run),
            "--role",
            f"judge=openai:j@{judge.url}/v1",
            "--rate",
            "0.2",
            "--out",
            str(judged),
            env=env,
        ).returncode
        == 0
    )
    groups = tmp_path / "groups.csv"
    groups.write_text("country,group,item,code,share\nUSA,gender:male,Q1,1,0.9\nUSA,gender:female,Q1,1,0.8\n")
    out = tmp_path / "report.html"
    args = ["report", str(run), str(judged), "--out", str(out), "--groups", str(groups), "--case-item", "Q57"]
    done = cli(*args, env=env)
    assert done.returncode == 0, done.stderr
    html = out.read_text()
    for heading in [
        "Survey simulation (DEF)",
        "(Table 1)",
        "Fig. 7: cultural variation map",
        "Case: Q57",
        "Fig. 4: answer distributions on Q57",
        "Figs. 11–12",
        "Fig. 9: problems found by the judge",
    ]:
        assert heading in html
    assert "<script>" not in html and "&lt;script&gt;console.error(&quot;x&quot;)" in html
    assert "&quot;critiques&quot;" in html  # CCSV's steps in the case view
    assert html.count("<img ") == 5 and "<img src=x" not in html
    errors, widths = render(out, tmp_path / "report.png")
    assert errors == [] and len(widths) == 5 and all(w and w > 300 for w in widths)
    plain = cli("report", str(run), "--out", str(tmp_path / "plain.html"), env=env)
    assert plain.returncode == 0, plain.stderr
    text = (tmp_path / "plain.html").read_text()
    assert "No demographic split" in text and "No judge verdicts" in text
