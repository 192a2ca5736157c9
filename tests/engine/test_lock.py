"""One writer per run directory: two real processes, a holder killed with SIGKILL, stale and foreign
lock files, and readers that meet a half-written last line."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from culturescope.engine import lock
from culturescope.engine.store import Run
from culturescope.errors import CulturescopeError
from helpers.clitools import cli, env_with, lines, wait_for_lines
from helpers.reference_outputs import majority_text, write_model
from helpers.servers import ScriptedServer

KEY = ["system", "backbone", "mode", "agent", "item", "round", "sample"]


def slow_server(delay):
    def respond(body, n):
        time.sleep(delay)
        return "Answer: 2\n\\boxed{2}"

    return ScriptedServer([], respond=respond)


def config(path, url):
    backbone = {"name": "slow", "provider": "openai", "model": "m", "base_url": url, "concurrency": 2}
    path.write_text(json.dumps({"backbones": [backbone], "cultures": ["BRA", "CHN"], "limit": 20, "modes": ["sample"]}))
    return path


def test_second_process_stops_at_once_and_a_killed_holder_is_taken_over(tmp_path):
    server = slow_server(0.15)
    try:
        out = tmp_path / "r"
        args = ["run", "--config", str(config(tmp_path / "exp.yaml", server.url + "/v1")), "--out", str(out)]
        env = env_with(tmp_path)
        first = subprocess.Popen(
            [sys.executable, "-m", "culturescope", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        wait_for_lines(out / "responses.jsonl", 4, first)
        holder = json.loads((out / ".lock").read_text())
        assert holder["pid"] == first.pid and holder["host"] == socket.gethostname()

        # A reader meanwhile sees whole rows only, never a half-written one.
        seen = Run.open(out).responses()
        assert len(seen) >= 4 and not seen.duplicated(KEY).any() and seen["raw"].notna().all()

        started = time.monotonic()
        second = cli(*args, env=env)
        assert second.returncode == 2 and time.monotonic() - started < 30
        err = [line for line in second.stderr.strip().splitlines() if not line.startswith("run directory:")]
        assert err == [
            f"error: {out} is in use by another culturescope process (PID {first.pid} on {holder['host']} since "
            f"{holder['started']}); wait for it to finish or choose another --out"
        ]
        assert first.poll() is None  # the second process stopped while the first was still writing

        first.send_signal(signal.SIGKILL)
        first.wait()
        kept = lines(out / "responses.jsonl")
        assert 4 <= kept < 40
        third = cli(*args, env=env)
        assert third.returncode == 0, third.stderr
        assert f"taking over the lock of {out}: PID {first.pid} on {holder['host']}" in third.stderr
        assert f"{40 - kept} new responses ({kept} already" in third.stderr.replace("\n", " ")
        table = Run.open(out).responses()
        assert len(table) == 40 and not table.duplicated(KEY).any()
        assert not (out / ".lock").exists()  # released at exit
    finally:
        server.close()


def helper(directory):
    """A separate Python process that takes the lock of ``directory``."""
    code = f"from culturescope.engine import lock; lock.acquire({str(directory)!r}); print('held')"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def test_lock_is_per_process_and_released(tmp_path):
    run = Run.create(tmp_path / "run", {"kind": "test"})
    lock.acquire(run.path)  # the same process again: fine
    (tmp_path / "link").symlink_to(run.path)
    lock.acquire(tmp_path / "link")  # the same directory by another path: still this process's
    refused = helper(run.path)
    assert refused.returncode != 0 and f"PID {os.getpid()} on {socket.gethostname()}" in refused.stderr
    lock.release(tmp_path / "link")
    assert not (run.path / ".lock").exists()
    assert helper(run.path).stdout == "held\n"


def test_stale_lock_of_a_dead_process_is_taken_over(tmp_path, capsys):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    (tmp_path / ".lock").write_text(json.dumps({"pid": gone.pid, "host": socket.gethostname(), "started": "then"}))
    lock.acquire(tmp_path)
    try:
        assert f"PID {gone.pid} on {socket.gethostname()} since then is no longer running" in capsys.readouterr().err
        assert json.loads((tmp_path / ".lock").read_text())["pid"] == os.getpid()
    finally:
        lock.release(tmp_path)


def test_lock_of_another_host_is_never_taken_over(tmp_path):
    (tmp_path / ".lock").write_text(json.dumps({"pid": 1, "host": "node-17", "started": "then"}))
    with pytest.raises(CulturescopeError, match=r"PID 1 on node-17 since then, which cannot be checked.*delete"):
        lock.acquire(tmp_path)
    assert lock._identity(tmp_path) not in lock._held


def test_reader_skips_a_last_line_cut_inside_a_character(tmp_path):
    run = Run.create(tmp_path / "run", {"kind": "test"})
    run.append([{"system": "static", "agent": "BRA", "item": "Q1", "raw": "Não"}])
    whole = json.dumps({"system": "static", "agent": "BRA", "item": "Q2", "raw": "São"}, ensure_ascii=False).encode()
    cut = whole[: whole.index("ã".encode()) + 1]  # the first byte of a two-byte character
    with (run.path / "responses.jsonl").open("ab") as fh:
        fh.write(cut)
    with pytest.warns(UserWarning, match="incomplete last line"):
        table = Run.open(run.path).responses()
    assert list(table["raw"]) == ["Não"]
    lock.release(run.path)


@pytest.mark.parametrize(
    "command",
    [
        ["run", "-b", "scripted:culture", "--cultures", "BRA", "--limit", "2"],
        ["exposure", "-b", "scripted:culture", "--cultures", "BRA,CHN", "--limit", "2"],
        ["pb", "-b", "scripted:culture", "--cultures", "BRA"],
        ["simulate", "run", "-b", "scripted:culture", "--cultures", "USA", "--respondents", "1", "--only", "Q1"],
        ["palette", "run", "-b", "scripted:culture", "--cultures", "NGA", "--only", "Q1", "--method", "vanilla"],
        ["import", "REFERENCE"],
    ],
    ids=lambda c: " ".join(c[:2]),
)
def test_every_command_that_writes_a_run_takes_the_lock(tmp_path, command):
    if command == ["import", "REFERENCE"]:
        src = tmp_path / "reference"
        src.mkdir()
        write_model(src, "oracle", majority_text, cultures=["BRA"])
        command = ["import", str(src)]
    out = tmp_path / "busy"
    lock.acquire(out)  # this test process is the writer
    try:
        done = cli(*command, "--out", str(out), env=env_with(tmp_path))
    finally:
        lock.release(out)
    assert done.returncode == 2
    assert f"error: {out} is in use by another culturescope process (PID {os.getpid()} on" in done.stderr
    assert not (out / "responses.jsonl").exists()
