"""The real ``culturescope`` command, run in a subprocess as a user runs it."""

import os
import subprocess
import sys
import time


def cli(*args, env=None, timeout=600, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "culturescope", *args], capture_output=True, text=True, env=env, timeout=timeout, **kw
    )


def env_with(tmp_path, **extra) -> dict:
    """The environment with a request cache of the test's own."""
    return {**os.environ, "CULTURESCOPE_CACHE": str(tmp_path / "cache.sqlite"), **extra}


def lines(path):
    return path.read_text().count("\n") if path.exists() else 0


def wait_for_lines(path, n, proc, timeout=300):
    deadline = time.time() + timeout
    while lines(path) < n:
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline
        time.sleep(0.05)
