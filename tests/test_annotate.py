"""`annotate` against a real HTTP server on 127.0.0.1 that also misbehaves (429, 500, junk, slowness)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from nuner_jax.data.annotate.client import AnnotationRequestError, ChatClient, ClientConfig
from nuner_jax.data.annotate.prompt import messages
from nuner_jax.data.annotate.run import annotate

SENTENCES = [
    "Barack Obama visited Berlin in June.",
    "Apple sells the iPhone in California.",
    "The concept of justice matters.",
    "Marie Curie won the Nobel Prize twice.",
    "Tokyo hosted the Olympic Games.",
    "Python is a programming language loved by data scientists.",
    "The Amazon river flows through Brazil.",
    "Serena Williams won at Wimbledon.",
]

ANSWERS = {
    0: "Barack Obama <> politician <> person active in politics\nBerlin <> city <> large town\nJune <> month <> a month",
    1: "Apple <> company <> business\nSure! Here are the entities:\niPhone <> smartphone <> mobile phone\nCalifornia <> us state",
    2: "justice <> concept <> an idea",  # the paper drops sentences with the concept "concept"
    3: "Marie Curie <> scientist <> person doing science\nNobel Prize <> award <> a prize\nMars <> planet <> not in text",
    4: "Tokyo <> city <> large town\nOlympic Games <> sports event <> competition",
    5: "Python <> programming language <> language for software\ndata scientists <> occupation <> a job",
    6: "Amazon <> river <> natural stream\nBrazil <> country <> nation",
    7: "Serena Williams <> tennis player <> athlete\nWimbledon <> tennis tournament <> competition",
}


class FakeLLM:
    """Answers by sentence; per-sentence scripts of failures before the answer."""

    def __init__(self, scripts: dict[int, list] | None = None, hang_on: int | None = None):
        self.scripts = {k: list(v) for k, v in (scripts or {}).items()}
        self.hang_on = hang_on
        self.requests: Counter = Counter()
        self.auth_headers: list[str] = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                text = body["messages"][-1]["content"].split("Input: ")[-1].split("\nOutput:")[0]
                idx = SENTENCES.index(text)
                with fake.lock:
                    fake.requests[idx] += 1
                    fake.auth_headers.append(self.headers.get("Authorization", ""))
                    action = fake.scripts.get(idx, []).pop(0) if fake.scripts.get(idx) else "ok"
                    first_time = fake.requests[idx] == 1
                if fake.hang_on == idx and first_time:
                    time.sleep(30)
                    return
                if isinstance(action, int):
                    self.send_response(action)
                    if action == 429:
                        self.send_header("Retry-After", "0")
                    self.end_headers()
                    return
                if action == "slow":
                    time.sleep(1.5)
                if action == "garbage":
                    payload = b"this is not json"
                else:
                    payload = json.dumps({"choices": [{"message": {"content": ANSWERS[idx]}}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                try:
                    self.wfile.write(payload)
                except BrokenPipeError:
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


@pytest.fixture
def sentences_file(tmp_path):
    path = tmp_path / "raw.jsonl"
    path.write_text("".join(json.dumps({"id": f"s{i}", "text": t}) + "\n" for i, t in enumerate(SENTENCES)))
    return path


def _cfg(url, **kw):
    return ClientConfig(base_url=url, model="fake", timeout_s=1.0, max_retries=3, backoff_s=0.01, **kw)


def test_annotate_parses_locates_retries_and_caches(sentences_file, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_LLM_KEY", "sk-secret-value")
    llm = FakeLLM({1: [429, 500], 4: ["slow"], 6: ["garbage"]})
    try:
        out = tmp_path / "out.jsonl"
        summary = annotate(sentences_file, out, _cfg(llm.url, api_key_env="FAKE_LLM_KEY"), concurrency=4)
        records = [json.loads(line) for line in out.open()]
        assert [r["id"] for r in records] == ["s0", "s1", "s3", "s4", "s5", "s6", "s7"]  # input order; s2 dropped
        s1 = next(r for r in records if r["id"] == "s1")
        assert s1["output"] == ["Apple <> company <> business", "iPhone <> smartphone <> mobile phone",
                                "California <> us state"]
        s3 = next(r for r in records if r["id"] == "s3")
        assert all("Mars" not in line for line in s3["output"])
        assert llm.requests[1] == 3 and llm.requests[4] == 2 and llm.requests[6] == 2
        assert summary.requested == 8 and summary.failed == 0
        reasons = [json.loads(line)["reason"] for line in out.with_suffix(".rejects.jsonl").open()]
        assert "answer line skipped: no '<>' separator" in reasons
        assert "annotation skipped: span not found in text" in reasons
        assert "sentence dropped: concept 'concept' (as in the paper)" in reasons
        assert set(llm.auth_headers) == {"Bearer sk-secret-value"}
        for path in tmp_path.iterdir():  # the key is never written to disk
            assert b"sk-secret-value" not in path.read_bytes()

        before = sum(llm.requests.values())
        again = annotate(sentences_file, tmp_path / "again.jsonl", _cfg(llm.url),
                         cache_path=out.with_suffix(".cache.sqlite"))
        assert sum(llm.requests.values()) == before and again.cached == 8  # a rerun costs nothing
        assert (tmp_path / "again.jsonl").read_text() == out.read_text()
    finally:
        llm.close()


def test_requests_that_keep_failing_are_reported(sentences_file, tmp_path):
    llm = FakeLLM({0: [500] * 10, 3: [400]})
    try:
        summary = annotate(sentences_file, tmp_path / "o.jsonl", _cfg(llm.url), concurrency=2)
        assert summary.failed == 2
        rejects = [json.loads(line) for line in (tmp_path / "o.rejects.jsonl").open()]
        failed = {r["where"]: r["reason"] for r in rejects if r["reason"].startswith("request failed")}
        assert "gave up after 4 attempts (HTTP 500)" in failed["s0"] and "HTTP 400" in failed["s3"]
        assert llm.requests[3] == 1  # a 400 is not retried
    finally:
        llm.close()


def test_timeout_is_retried():
    llm = FakeLLM({0: ["slow", "slow"]})
    try:
        client = ChatClient(_cfg(llm.url))
        assert client.complete(messages(SENTENCES[0])).startswith("Barack Obama")
        assert llm.requests[0] == 3
        with pytest.raises(AnnotationRequestError):
            ChatClient(ClientConfig(base_url="http://127.0.0.1:9/v1", timeout_s=0.5, max_retries=1,
                                    backoff_s=0.01)).complete(messages("x"))
    finally:
        llm.close()


def test_killed_run_resumes_without_repeating_answered_requests(sentences_file, tmp_path):
    llm = FakeLLM(hang_on=5)  # the 6th sentence's first request never gets an answer
    try:
        out = tmp_path / "killed.jsonl"
        cache = out.with_suffix(".cache.sqlite")
        code = (
            "import sys; from nuner_jax.data.annotate.run import annotate; "
            "from nuner_jax.data.annotate.client import ClientConfig; "
            f"annotate(sys.argv[1], sys.argv[2], ClientConfig(base_url='{llm.url}', model='fake', timeout_s=60), "
            "concurrency=1)"
        )
        proc = subprocess.Popen([sys.executable, "-c", code, str(sentences_file), str(out)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while time.time() < deadline and llm.requests[5] == 0:
            time.sleep(0.1)
        assert llm.requests[5] == 1
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        answered = sqlite3.connect(str(cache)).execute("SELECT COUNT(*) FROM responses").fetchone()[0]
        assert answered == 5
        summary = annotate(sentences_file, out, _cfg(llm.url))
        assert summary.cached == 5 and summary.requested == 3
        assert all(llm.requests[i] == 1 for i in range(8) if i != 5)  # no answered request is sent twice
        assert llm.requests[5] == 2  # the one in flight at the kill had no answer
    finally:
        llm.close()


def test_bad_input_lines_and_empty_input(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"id": "a", "text": "Paris is nice."}\n{broken\n{"id": "c"}\n\xff\xfe\n')
    llm = FakeLLM()
    try:
        empty = tmp_path / "empty.txt"
        empty.write_text("\n\n")
        with pytest.raises(ValueError, match="no sentences to annotate"):
            annotate(empty, tmp_path / "o.jsonl", _cfg(llm.url))
        from nuner_jax.data.annotate.run import read_sentences
        from nuner_jax.data.example import Rejects

        rejects = Rejects()
        got = read_sentences(bad, rejects)
        assert got == [("a", "Paris is nice.")]
        assert [r["where"] for r in rejects.items] == [2, 3, 4]
        assert "not UTF-8" in rejects.items[2]["reason"]
    finally:
        llm.close()
