"""The real ``culturescope`` command, run in a subprocess as a user runs it."""

import os
import subprocess
import sys


def cli(*args, env=None, timeout=600, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "culturescope", *args], capture_output=True, text=True, env=env, timeout=timeout, **kw
    )


def env_with(tmp_path, **extra) -> dict:
    """The environment with a request cache of the test's own."""
    return {**os.environ, "CULTURESCOPE_CACHE": str(tmp_path / "cache.sqlite"), **extra}
