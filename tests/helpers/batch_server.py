"""A real HTTP server on 127.0.0.1 with the batch endpoints of OpenAI and Anthropic, in their shapes:

- OpenAI: ``POST /v1/files`` (multipart, purpose "batch"), ``POST /v1/batches``, ``GET /v1/batches``,
  ``GET /v1/batches/{id}``, ``GET /v1/files/{id}/content`` (output and error files), and the online
  ``POST /v1/chat/completions``;
- Anthropic: ``POST /v1/messages/batches``, ``GET /v1/messages/batches/{id}``, its ``results_url``
  (JSONL), and the online ``POST /v1/messages``.

Batches stay in progress while ``hold`` is set; then they end on the next poll. ``fail(custom_id,
attempt)`` names the items that fail (None: succeed; "error"/"expired"): ``attempt`` counts the
submissions holding that custom id. It records every submission (``submissions``) and every online
request (``online``). Replies are "Answer: k ... \\boxed{k}" with k from a hash of the messages, and
usage of 10 input and 3 output tokens.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler
from typing import Callable

from helpers.servers import JsonHandler, LocalServer, chat_completion

USAGE_IN, USAGE_OUT = 10, 3


def reply(messages) -> str:
    k = 1 + int(hashlib.sha256(json.dumps(messages).encode()).hexdigest(), 16) % 2
    return f"Answer: {k}\nExplanation: batched.\n\\boxed{{{k}}}"


def anthropic_message(text: str) -> dict:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-test",
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": USAGE_IN, "output_tokens": USAGE_OUT},
    }


class BatchServer(LocalServer):
    def __init__(self, fail: Callable[[str, int], str | None] = lambda cid, attempt: None) -> None:
        self.fail, self.hold = fail, True
        self.lock = threading.Lock()
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict] = {}  # id -> {"kind", "requests", "obj"}
        self.submissions: list[tuple[str, int]] = []  # (kind, number of requests)
        self.online: list[dict] = []
        self.bodies: list[dict] = []  # every batch request line as sent
        self.attempts: dict[str, int] = {}
        outer = self

        class Handler(JsonHandler):
            def do_POST(self):
                with outer.lock:
                    status, payload = outer.post(self)
                self.send_json(status, payload)

            def do_GET(self):
                with outer.lock:
                    status, payload, kind = outer.get(self.path)
                self.send_json(status, payload, content_type=kind)

        self.serve(Handler)

    # -- POST ------------------------------------------------------------------------------------

    def post(self, h: BaseHTTPRequestHandler) -> tuple[int, dict]:
        length = int(h.headers["Content-Length"])
        if h.path == "/v1/files":
            head = f"Content-Type: {h.headers['Content-Type']}\r\n\r\n".encode()
            form = BytesParser(policy=HTTP).parsebytes(head + h.rfile.read(length))
            parts = {p.get_param("name", header="content-disposition"): p for p in form.iter_parts()}
            fid = f"file-{len(self.files) + 1}"
            self.files[fid] = parts["file"].get_payload(decode=True)
            purpose = parts["purpose"].get_payload(decode=True).decode()
            return 200, self.file_object(fid, purpose, parts["file"].get_filename())
        body = json.loads(h.rfile.read(length))
        if h.path == "/v1/batches":
            lines = [json.loads(x) for x in self.files[body["input_file_id"]].decode().splitlines() if x.strip()]
            return 200, self.create("openai", lines, body)
        if h.path == "/v1/messages/batches":
            return 200, self.create("anthropic", body["requests"], body)
        if h.path == "/v1/chat/completions":
            self.online.append(body)
            return 200, chat_completion(reply(body["messages"])) | {"usage": _usage_openai()}
        if h.path == "/v1/messages":
            self.online.append(body)
            messages = ([{"role": "system", "content": body["system"]}] if body.get("system") else []) + body[
                "messages"
            ]
            return 200, anthropic_message(reply(messages))
        return 404, {"error": {"message": f"no route {h.path}"}}

    def create(self, kind: str, requests: list[dict], body: dict) -> dict:
        bid = f"{'batch' if kind == 'openai' else 'msgbatch'}_{len(self.batches) + 1}"
        self.submissions.append((kind, len(requests)))
        self.bodies.extend(requests)
        for r in requests:
            self.attempts[r["custom_id"]] = self.attempts.get(r["custom_id"], 0) + 1
        fates = {r["custom_id"]: self.fail(r["custom_id"], self.attempts[r["custom_id"]]) for r in requests}
        self.batches[bid] = {"kind": kind, "requests": requests, "fates": fates, "ended": False, "body": body}
        return self.view(bid)

    # -- GET -------------------------------------------------------------------------------------

    def get(self, path: str) -> tuple[int, object, str]:
        parts = path.split("?")[0].strip("/").split("/")
        if parts == ["v1", "batches"]:
            data = [self.view(b) for b in self.batches if self.batches[b]["kind"] == "openai"]
            first, last = (data[0]["id"], data[-1]["id"]) if data else (None, None)
            return 200, {"object": "list", "data": data, "first_id": first, "last_id": last, "has_more": False}, _J
        if parts[:2] == ["v1", "batches"] and len(parts) == 3:
            return 200, self.view(parts[2], poll=True), _J
        if parts[:2] == ["v1", "files"] and len(parts) == 4 and parts[3] == "content":
            return 200, self.files[parts[2]], "application/octet-stream"
        if parts[:3] == ["v1", "messages", "batches"] and len(parts) == 4:
            return 200, self.view(parts[3], poll=True), _J
        if parts[:3] == ["v1", "messages", "batches"] and parts[4:] == ["results"]:
            return 200, self.anthropic_results(parts[3]), "application/binary"
        return 404, {"error": {"message": f"no route {path}"}}, _J

    def view(self, bid: str, poll: bool = False) -> dict:
        """The batch as the provider shows it; a poll while not held ends it (and writes its files)."""
        b = self.batches[bid]
        if poll and not self.hold and not b["ended"]:
            b["ended"] = True
            if b["kind"] == "openai":
                self.openai_files(bid)
        n = len(b["requests"])
        failed = sum(1 for f in b["fates"].values() if f)
        if b["kind"] == "openai":
            done = b["ended"]
            return {
                "id": bid,
                "object": "batch",
                "endpoint": b["body"]["endpoint"],
                "errors": None,
                "input_file_id": b["body"]["input_file_id"],
                "completion_window": b["body"]["completion_window"],
                "status": "completed" if done else "in_progress",
                "output_file_id": b.get("output_file_id"),
                "error_file_id": b.get("error_file_id"),
                "created_at": 1_700_000_000,
                "in_progress_at": 1_700_000_001,
                "expires_at": 1_700_086_400,
                "completed_at": 1_700_000_100 if done else None,
                "request_counts": {"total": n, "completed": n - failed if done else 0, "failed": failed if done else 0},
                "metadata": None,
            }
        done = b["ended"]
        counts = {"processing": 0 if done else n, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        if done:
            for fate in b["fates"].values():
                counts[{None: "succeeded", "error": "errored", "expired": "expired"}[fate]] += 1
        return {
            "id": bid,
            "type": "message_batch",
            "processing_status": "ended" if done else "in_progress",
            "request_counts": counts,
            "ended_at": "2026-01-01T00:10:00Z" if done else None,
            "created_at": "2026-01-01T00:00:00Z",
            "expires_at": "2026-01-02T00:00:00Z",
            "archived_at": None,
            "cancel_initiated_at": None,
            "results_url": f"{self.url}/v1/messages/batches/{bid}/results" if done else None,
        }

    def openai_files(self, bid: str) -> None:
        b = self.batches[bid]
        out, err = [], []
        for n, r in enumerate(b["requests"]):
            fate = b["fates"][r["custom_id"]]
            line = {"id": f"batch_req_{bid}_{n}", "custom_id": r["custom_id"]}
            if fate is None:
                body = chat_completion(reply(r["body"]["messages"])) | {"usage": _usage_openai()}
                out.append(
                    line | {"response": {"status_code": 200, "request_id": f"req_{n}", "body": body}, "error": None}
                )
            elif fate == "error":
                error = {"error": {"message": "The server had an error", "type": "server_error", "code": None}}
                err.append(
                    line | {"response": {"status_code": 500, "request_id": f"req_{n}", "body": error}, "error": None}
                )
            else:
                expired = {
                    "code": "batch_expired",
                    "message": "This request could not be executed before the completion window expired.",
                }
                err.append(line | {"response": None, "error": expired})
        for key, lines in (("output_file_id", out), ("error_file_id", err)):
            if lines:
                fid = f"file-{len(self.files) + 1}"
                self.files[fid] = "".join(json.dumps(x) + "\n" for x in lines).encode()
                b[key] = fid

    def anthropic_results(self, bid: str) -> bytes:
        b = self.batches[bid]
        lines = []
        for r in b["requests"]:
            fate = b["fates"][r["custom_id"]]
            p = r["params"]
            messages = ([{"role": "system", "content": p["system"]}] if p.get("system") else []) + p["messages"]
            if fate is None:
                result = {"type": "succeeded", "message": anthropic_message(reply(messages))}
            elif fate == "error":
                result = {
                    "type": "errored",
                    "error": {"type": "error", "error": {"type": "api_error", "message": "Internal server error"}},
                }
            else:
                result = {"type": "expired"}
            lines.append({"custom_id": r["custom_id"], "result": result})
        return "".join(json.dumps(x) + "\n" for x in lines).encode()

    def file_object(self, fid: str, purpose: str, filename: str) -> dict:
        return {
            "id": fid,
            "object": "file",
            "bytes": len(self.files[fid]),
            "created_at": int(time.time()),
            "filename": filename,
            "purpose": purpose,
            "status": "processed",
        }


_J = "application/json"


def _usage_openai() -> dict:
    return {"prompt_tokens": USAGE_IN, "completion_tokens": USAGE_OUT, "total_tokens": USAGE_IN + USAGE_OUT}
