"""Real HTTP servers on 127.0.0.1 for the backend tests.

- ``ScriptedServer``: a small real HTTP server that answers from a script (status, JSON body,
  headers) and records every request, for retry, error and request-shape tests.
- ``LlamaServer``: ``python -m llama_cpp.server`` serving the embedded model, a real
  OpenAI-compatible server.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def chat_completion(content: str, logprobs: dict | None = None) -> dict:
    """A minimal OpenAI chat.completion body (with the reply's ``logprobs`` where given)."""
    return {
        "id": "c1",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "logprobs": logprobs,
                "message": {"role": "assistant", "content": content},
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13},
    }


class JsonHandler(BaseHTTPRequestHandler):
    """A quiet request handler that answers JSON (or bytes of another ``content_type``)."""

    def send_json(self, status: int, payload, headers=None, content_type: str = "application/json") -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class LocalServer:
    """An HTTP server on 127.0.0.1 in a daemon thread: ``serve(handler)`` starts it, ``url`` names it."""

    def serve(self, handler: type[BaseHTTPRequestHandler], path: str = "") -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class ScriptedServer(LocalServer):
    """Answers request n with ``script[n]`` (the last entry repeats): (status, body, headers); or, with
    ``respond``, with a chat completion of ``respond(request_json, n)`` (or the (status, body) it
    returns)."""

    def __init__(self, script: list[tuple[int, dict, dict]], respond=None):
        self.script = script
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(JsonHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with outer.lock:
                    outer.requests.append(
                        {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "json": body}
                    )
                    n = len(outer.requests)
                if respond:
                    answer = respond(body, n)  # reply text, or (status, body) for any other answer
                    status, payload = answer if isinstance(answer, tuple) else (200, chat_completion(answer))
                    headers = {}
                else:
                    status, payload, headers = outer.script[min(len(outer.requests), len(outer.script)) - 1]
                self.send_json(status, payload, headers)

        self.serve(Handler)


class LlamaServer:
    """The llama.cpp OpenAI-compatible server with the embedded model, on a given port."""

    def __init__(self, model: Path, port: int, log: Path, threads: int | None = None):
        self.port, self.url = port, f"http://127.0.0.1:{port}/v1"
        self.log_path = log
        self.log = log.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "llama_cpp.server",
                "--model",
                str(model),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--n_ctx",
                "2048",
                "--model_alias",
                "smollm2",
                *(["--n_threads", str(threads), "--n_threads_batch", str(threads)] if threads else []),
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited with {self.proc.returncode}; see {log}")
            try:
                urllib.request.urlopen(f"{self.url}/models", timeout=2)
                return
            except OSError:
                time.sleep(0.3)
        self.kill()
        raise RuntimeError("llama_cpp.server did not start within 120 s")

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()
        self.log.close()


class CapacityServer(LocalServer):
    """An OpenAI-compatible chat server that works on at most ``capacity`` requests at once: a request
    that arrives while ``capacity`` are in flight is answered 429 (with ``Retry-After`` where given);
    the others take ``delay`` seconds. Records (time, prompt, status, requests in flight on arrival)."""

    def __init__(self, capacity: int, delay: float, retry_after: str | None = None):
        self.capacity, self.in_flight, self.log = capacity, 0, []
        self.lock = threading.Lock()
        outer = self

        class Handler(JsonHandler):
            protocol_version = "HTTP/1.1"  # kept-alive connections, as real servers

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with outer.lock:
                    busy = outer.in_flight
                    status = 429 if busy >= outer.capacity else 200
                    outer.in_flight += status == 200
                    outer.log.append((time.monotonic(), body["messages"][-1]["content"], status, busy))
                if status == 200:
                    time.sleep(delay)
                    with outer.lock:
                        outer.in_flight -= 1
                    payload = chat_completion("Answer: 1\n\\boxed{1}")
                else:
                    payload = {"error": {"message": "too many requests in flight", "type": "rate_limit"}}
                limited = status == 429 and retry_after is not None
                self.send_json(status, payload, {"Retry-After": retry_after} if limited else None)

        self.serve(Handler, "/v1")
