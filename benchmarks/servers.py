"""What the HTTP benchmarks share: a free local port, and a server process started and waited for."""

import socket
import subprocess
import sys
import time
import urllib.request


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def llama_server(model, port: int, threads: int) -> list[str]:
    """The command of llama-cpp-python's OpenAI-compatible server for ``model`` on 127.0.0.1:``port``."""
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1"]
    return cmd + [
        "--port",
        str(port),
        "--n_ctx",
        "2048",
        "--n_threads",
        str(threads),
        "--n_threads_batch",
        str(threads),
    ]


def start_server(cmd: list[str], port: int, log, name: str = "llama_cpp.server") -> subprocess.Popen:
    """Start ``cmd`` (logging into ``log``) and return once it answers /v1/models on ``port``."""
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 300
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{name} exited with {proc.returncode}; see {log.name}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2)
            return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit(f"{name} did not start within 300 s")
