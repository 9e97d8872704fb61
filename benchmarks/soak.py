"""Bounded soak: fresh GRPO batches scored in process and through the server, with a flaky judge.

Every step builds new completions from real report text (tests/fixtures: IU X-ray reports,
CC BY-NC-ND, used unmodified as sentence sources): for a few references it samples a
group of completions the way a policy would write them (kept, dropped, shuffled and
borrowed sentences, flipped negations, typos that coin new words, every format from
well-formed to unclosed tags and rambling). The same batch is scored by ``score_batch`` in
this process and by ``POST /v1/score_batch`` on a ``himed-rewards serve`` subprocess
bound to 127.0.0.1. Both use an LLM judge pointed at a local fake OpenAI-compatible server
(another subprocess, loopback only) that fails ``--fail-rate`` of its requests with a 500,
a reply slower than the judge's timeout, or garbage.

It prints the RSS of the three processes over time, the faults injected and survived, and
the sample accounting: every sample must come back scored (a finite total) or explicitly
skipped (no total, with the judge's error); anything else is lost. The server's low-level
rewards must equal the in-process ones. Exit status 1 if a sample was lost or mismatched.

    python benchmarks/soak.py                      # 3 minutes
    python benchmarks/soak.py --minutes 10 --prompts 8 --group 8
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import multiprocessing
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from _common import free_port, start_server, stop_server

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "iu_xray"
sys.path.insert(0, str(REPO))

JUDGE_TIMEOUT_S = 1.0
LOW_LEVEL_FIELDS = ("token", "rouge_l", "meteor", "concept", "format", "low_level")


# -- the flaky judge (runs in its own process) ---------------------------------------------

def _verdict(rng: random.Random) -> str:
    axes = {name: rng.randint(0, 10) for name in ("accuracy", "relevance", "completeness")}
    return json.dumps({"accuracy_evidence": "consistent", "relevance_evidence": "focused",
                       "completeness_evidence": "covers the findings", **axes})


def _chat(content: str, model: str) -> dict:
    return {"id": "chatcmpl-soak", "object": "chat.completion", "created": 0, "model": model,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


def serve_flaky_judge(port_out, fail_rate: float, seed: int) -> None:
    """An OpenAI-compatible chat server on 127.0.0.1; ``GET /stats`` counts what it did."""
    rng = random.Random(seed)
    lock = threading.Lock()
    counts = {"requests": 0, "ok": 0, "http_500": 0, "too_slow": 0, "garbage": 0}
    garbage = ["<html><body>502 Bad Gateway</body></html>", '{"choices": [',
               "not json at all", json.dumps({"choices": []})]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:
            pass

        def _reply(self, code: int, body: bytes, kind: str = "application/json") -> None:
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            with lock:
                self._reply(200, json.dumps(counts).encode())

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            with lock:
                counts["requests"] += 1
                draw = rng.random()
                fault = rng.choice(("http_500", "too_slow", "garbage")) if draw < fail_rate \
                    else "ok"
                counts[fault] += 1
                content = _verdict(rng)
                junk = rng.choice(garbage)
            try:
                if fault == "http_500":
                    self._reply(500, b'{"error": {"message": "injected failure"}}')
                elif fault == "too_slow":
                    time.sleep(2 * JUDGE_TIMEOUT_S)  # the judge has given up by then
                    self._reply(200, json.dumps(_chat(content, body.get("model", "?"))).encode())
                elif fault == "garbage":
                    if junk.startswith("<html"):
                        self._reply(200, junk.encode(), "text/html")
                    else:  # a 200 whose message is not a verdict, or a broken body
                        reply = _chat(junk, body.get("model", "?")) if rng.random() < 0.5 else None
                        self._reply(200, json.dumps(reply).encode() if reply else junk.encode())
                else:
                    self._reply(200, json.dumps(_chat(content, body.get("model", "?"))).encode())
            except (BrokenPipeError, ConnectionResetError):
                pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    port_out.put(httpd.server_address[1])
    httpd.serve_forever(poll_interval=0.1)


# -- fresh GRPO batches from real report text -----------------------------------------------

_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def load_reports() -> list[tuple[str, str]]:
    """(findings, impression) of the IU X-ray reports that have both."""
    out = []
    with (FIXTURES / "indiana_reports.csv").open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["findings"].strip() and row["impression"].strip():
                out.append((row["findings"].strip(), row["impression"].strip()))
    return out


def _sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE.split(text) if s]


def _flip_negation(sentence: str, rng: random.Random) -> str:
    if " no " in sentence:
        return sentence.replace(" no ", " ", 1)
    if sentence.startswith("No "):
        return sentence[3:].capitalize()
    return "No " + sentence[0].lower() + sentence[1:] if rng.random() < 0.5 else sentence


def _typo(sentence: str, rng: random.Random) -> str:
    words = sentence.split()
    i = rng.randrange(len(words))
    word = words[i]
    if len(word) > 3:
        j = rng.randrange(len(word) - 1)
        words[i] = word[:j] + word[j + 1] + word[j] + word[j + 2:]  # a new, unseen word
    return " ".join(words)


def _body(reference: str, pool: list[str], rng: random.Random) -> str:
    kept = [s for s in _sentences(reference) if rng.random() < 0.75]
    kept += [rng.choice(pool) for _ in range(rng.randint(0, 3))]
    rng.shuffle(kept)
    kept = [_flip_negation(s, rng) if rng.random() < 0.1 else s for s in kept]
    kept = [_typo(s, rng) if rng.random() < 0.1 else s for s in kept]
    return " ".join(kept) or rng.choice(pool)


def make_completion(findings: str, impression: str, pool: list[str], rng: random.Random) -> str:
    finding, summary = _body(findings, pool, rng), _body(impression, pool, rng)
    think = " ".join(rng.choice(pool) for _ in range(rng.randint(1, 3)))
    shape = rng.random()
    if shape < 0.6:
        return (f"<think>{think}</think>\n<finding>{finding}</finding>\n"
                f"<impression>{summary}</impression>")
    if shape < 0.7:
        return f"<finding>{finding}</finding><impression>{summary}</impression>"
    if shape < 0.8:
        return f"<think>{think}<finding>{finding}<impression>{summary}"  # unclosed tags
    if shape < 0.85:
        return f"{finding} {summary}"  # no tags
    if shape < 0.9:
        return f"<think>{think}</think><finding>{finding}</finding>" * 3  # repeated blocks
    if shape < 0.95:  # rambling, a few KB
        return f"<think>{think * rng.randint(5, 40)}</think><finding>{finding * 8}</finding>"
    return ""


def make_batch(reports, pool, prompts: int, group: int, rng: random.Random):
    completions, references = [], []
    for findings, impression in rng.sample(reports, prompts):
        reference = f"{findings} {impression}"
        for _ in range(group):
            completions.append(make_completion(findings, impression, pool, rng))
            references.append(reference)
    return completions, references


# -- processes, RSS, accounting --------------------------------------------------------------

def rss_mb(pid: int | str = "self") -> float:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def stop(proc) -> None:
    if proc is None:
        return
    if isinstance(proc, subprocess.Popen):
        stop_server(proc)
        return
    proc.terminate()
    proc.join(timeout=10)


class Ledger:
    """Per-path sample accounting: scored, explicitly skipped, lost."""

    def __init__(self) -> None:
        self.scored = self.skipped = self.lost = 0
        self.skip_reasons: dict[str, int] = {}
        self.lost_examples: list[str] = []

    def sample(self, total, error) -> None:
        if isinstance(total, (int, float)) and not isinstance(total, bool) \
                and math.isfinite(total):
            self.scored += 1
        elif total is None and isinstance(error, str) and error:
            self.skipped += 1
            reason = error.split(":")[0][:40]
            self.skip_reasons[reason] = self.skip_reasons.get(reason, 0) + 1
        else:
            self.lose(f"total={total!r} error={error!r}")

    def lose(self, why: str, count: int = 1) -> None:
        self.lost += count
        if len(self.lost_examples) < 5:
            self.lost_examples.append(why[:200])

    def line(self) -> str:
        return f"scored {self.scored}, skipped {self.skipped}, lost {self.lost}"


def post_batch(client, completions, references, step, retries: int = 3):
    """The server's breakdowns, or (None, error) after ``retries`` transport failures."""
    import httpx

    last = ""
    for attempt in range(retries):
        try:
            response = client.post("/v1/score_batch", json={
                "completions": completions, "references": references, "step": step})
            if response.status_code == 200:
                return response.json()["breakdowns"], attempt
            last = f"HTTP {response.status_code}: {response.text[:200]}"
        except httpx.HTTPError as exc:
            last = f"{type(exc).__name__}: {exc}"
        time.sleep(0.5 * (attempt + 1))
    return None, last


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--prompts", type=int, default=4, help="references per GRPO step")
    parser.add_argument("--group", type=int, default=8, help="completions per reference")
    parser.add_argument("--fail-rate", type=float, default=0.2, help="judge requests that fail")
    parser.add_argument("--report-every", type=float, default=20.0, help="seconds between rows")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import httpx

    from himed_rewards import RewardConfig, score_batch

    rng = random.Random(args.seed)
    reports = load_reports()
    pool = [s for findings, impression in reports for s in _sentences(f"{findings} {impression}")]
    context = multiprocessing.get_context("spawn")
    port_queue = context.Queue()
    judge_proc = context.Process(target=serve_flaky_judge,
                                 args=(port_queue, args.fail_rate, args.seed), daemon=True)
    judge_proc.start()
    judge_url = f"http://127.0.0.1:{port_queue.get(timeout=60)}"
    workdir = Path(tempfile.mkdtemp(prefix="himed-soak-"))
    spec = {"kind": "llm", "base_url": f"{judge_url}/v1", "model": "fake-judge",
            "timeout": JUDGE_TIMEOUT_S, "max_retries": 2, "backoff_base": 0.05,
            "backoff_max": 0.5, "on_failure": "skip"}
    config_path = workdir / "server-reward.json"
    config_path.write_text(json.dumps(
        {"semantic": {**spec, "cache_path": str(workdir / "server-cache.sqlite")}}))
    config = RewardConfig(semantic={**spec, "cache_path": str(workdir / "inproc-cache.sqlite")})
    server = None
    ledgers = {"in-process": Ledger(), "server": Ledger()}
    mismatches = retried_requests = steps = samples = 0
    max_diff = 0.0
    try:
        port = free_port()
        server = start_server(port, ["--config", str(config_path)], timeout_s=180)
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120)
        print(f"soak: {args.minutes:g} min, {args.prompts} x {args.group} completions per step, "
              f"judge fails {args.fail_rate:.0%} (500 / slower than {JUDGE_TIMEOUT_S:g} s / "
              f"garbage), server pid {server.pid}, judge pid {judge_proc.pid}", flush=True)
        print(f"{'t_s':>6} {'steps':>6} {'samples':>8} {'rss_inproc_mb':>14} "
              f"{'rss_server_mb':>14} {'rss_judge_mb':>13} {'judge_faults':>13}", flush=True)
        start = time.monotonic()
        end = start + 60 * args.minutes
        next_row = start
        while time.monotonic() < end:
            completions, references = make_batch(reports, pool, args.prompts, args.group, rng)
            step = steps * 8
            n = len(completions)
            try:
                local = score_batch(completions, references, step=step, config=config)
                for b in local:
                    ledgers["in-process"].sample(b.total, b.semantic_error)
            except Exception as exc:  # must not happen: counted as lost
                local = None
                ledgers["in-process"].lose(f"score_batch raised {type(exc).__name__}: {exc}", n)
            remote, info = post_batch(client, completions, references, step)
            if remote is None or len(remote) != n:
                ledgers["server"].lose(f"request failed: {info}", n)
            else:
                retried_requests += info > 0
                for i, b in enumerate(remote):
                    ledgers["server"].sample(b.get("total"), b.get("semantic_error"))
                    if local is not None:
                        diff = max(abs(b[f] - getattr(local[i], f)) for f in LOW_LEVEL_FIELDS)
                        max_diff = max(max_diff, diff)
                        mismatches += diff > 1e-9
            steps += 1
            samples += n
            now = time.monotonic()
            if now >= next_row or now >= end:
                faults = json.loads(httpx.get(judge_url + "/stats", timeout=5).text)
                injected = faults["requests"] - faults["ok"]
                print(f"{now - start:6.0f} {steps:6d} {samples:8d} {rss_mb():14.1f} "
                      f"{rss_mb(server.pid):14.1f} {rss_mb(judge_proc.pid):13.1f} "
                      f"{injected:13d}", flush=True)
                next_row = now + args.report_every
        faults = json.loads(httpx.get(judge_url + "/stats", timeout=5).text)
        print(f"\njudge requests {faults['requests']}: ok {faults['ok']}, injected faults "
              f"{faults['requests'] - faults['ok']} (500: {faults['http_500']}, too slow: "
              f"{faults['too_slow']}, garbage: {faults['garbage']}); all survived "
              f"(no exception reached the caller)")
        judge = config.semantic
        if hasattr(judge, "stats"):
            print(f"in-process judge stats: {json.dumps(judge.stats.snapshot())}")
        for name, ledger in ledgers.items():
            print(f"{name:>10}: {samples} samples: {ledger.line()}; skip reasons "
                  f"{ledger.skip_reasons}")
            for example in ledger.lost_examples:
                print(f"            lost: {example}")
        print(f"server low-level rewards vs in-process: {mismatches} mismatches "
              f"(max |diff| {max_diff:.2e}); server requests retried by the client: "
              f"{retried_requests}")
        lost = sum(ledger.lost for ledger in ledgers.values())
        print(f"samples lost: {lost}")
        return 1 if lost or mismatches else 0
    finally:
        stop(server)
        stop(judge_proc)
        close = getattr(config.semantic, "close", None)
        if callable(close):
            close()
        shutil.rmtree(workdir, ignore_errors=True)  # the two verdict caches and the config


if __name__ == "__main__":
    sys.exit(main())
