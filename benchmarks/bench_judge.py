"""Client-side throughput of ``LLMJudge`` against a fast local OpenAI-compatible server.

The question is whether the client can ever be the bottleneck of RL training: a real
verifier (vLLM on a GPU) answers a few hundred verdicts per second at best, so the client
must sustain far more (target: >= 2,000 verdicts/s). The server here is a minimal asyncio
HTTP/1.1 server in a separate process that answers every request at once with a valid
verdict, so the numbers measure our client: prompt building, the openai client, JSON
validation, bookkeeping. The server binds 127.0.0.1 only and stops with the benchmark.

Pairs are the 590 IU X-ray prediction/reference pairs from ``tests/fixtures`` (realistic
lengths), made distinct per request so no cache or de-duplication kicks in, except in the
row that measures the cache itself.

Run:  python benchmarks/bench_judge.py [--n 4000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "iu_xray"

_REPLY = json.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 0,
        "model": "bench",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {
                    "role": "assistant",
                    "content": json.dumps(
                        {
                            "accuracy_evidence": "No unsupported or contradicting finding.",
                            "relevance_evidence": "Critical findings first, concise.",
                            "completeness_evidence": "Omits the small left effusion.",
                            "accuracy": 9,
                            "relevance": 8,
                            "completeness": 6,
                        }
                    ),
                },
            }
        ],
        "usage": {"prompt_tokens": 800, "completion_tokens": 60, "total_tokens": 860},
    }
).encode()
_RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
    + str(len(_REPLY)).encode()
    + b"\r\n\r\n"
    + _REPLY
)
_MODELS = b'{"object": "list", "data": [{"id": "bench", "object": "model"}]}'
_MODELS_RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
    + str(len(_MODELS)).encode()
    + b"\r\n\r\n"
    + _MODELS
)


async def _serve_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            writer.write(_MODELS_RESPONSE if head.startswith(b"GET") else _RESPONSE)
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def _serve(port_file: str, lifetime_s: float) -> None:
    server = await asyncio.start_server(_serve_connection, "127.0.0.1", 0, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    Path(port_file).write_text(str(port))
    async with server:
        await asyncio.sleep(lifetime_s)  # bounded: the server stops by itself


def _start_server(lifetime_s: float) -> tuple[subprocess.Popen, str]:
    port_file = tempfile.mktemp(prefix="bench_judge_port_")
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", port_file, "--lifetime", str(lifetime_s)]
    )
    deadline = time.time() + 20
    while time.time() < deadline:
        if os.path.exists(port_file) and Path(port_file).read_text():
            url = f"http://127.0.0.1:{Path(port_file).read_text()}/v1"
            os.unlink(port_file)
            urllib.request.urlopen(url + "/models", timeout=5).read()
            return proc, url
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("benchmark server did not start")


def _pairs(n: int) -> tuple[list[str], list[str]]:
    def reports(name: str) -> list[str]:
        with open(FIXTURES / name, newline="") as f:
            return [row["report"] for row in csv.DictReader(f)]

    preds, refs = reports("preds.csv"), reports("gts.csv")
    candidates = [f"{preds[i % len(preds)]} (sample {i})" for i in range(n)]
    references = [refs[i % len(refs)] for i in range(n)]
    return candidates, references


def _best_rate(fn, n: int, repeats: int) -> float:
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        elapsed = time.perf_counter() - start
        assert len(out) == n and all(v.ok for v in out), "benchmark server must always succeed"
        best = max(best, n / elapsed)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4000, help="verdicts per timed call")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--lifetime", type=float, default=600.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve(args.serve, args.lifetime))
        return

    sys.path.insert(0, str(ROOT))
    from himed_rewards.judge import LLMJudge

    proc, url = _start_server(lifetime_s=600.0)
    rows = []
    try:
        candidates, references = _pairs(args.n)
        for concurrency in (16, 64, 256):
            with LLMJudge(url, "bench", concurrency=concurrency, use_cache=False) as judge:
                judge.score_batch(candidates[:200], references[:200])  # warm the pool

                def run_sync(j=judge):
                    return j.score_batch(candidates, references)

                rate = _best_rate(run_sync, args.n, args.repeats)
                rows.append((f"score_batch, concurrency={concurrency}", rate))

        with LLMJudge(url, "bench", concurrency=64, use_cache=False) as judge:

            async def many_batches(j=judge):
                # A GRPO step: many small groups scored concurrently by the reward layer.
                size = 16
                chunks = [
                    j.ascore_batch(candidates[i : i + size], references[i : i + size])
                    for i in range(0, args.n, size)
                ]
                return [v for chunk in await asyncio.gather(*chunks) for v in chunk]

            rate = _best_rate(lambda: asyncio.run(many_batches()), args.n, args.repeats)
            rows.append(("ascore_batch, groups of 16, concurrency=64", rate))

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "judge.sqlite"
            with LLMJudge(url, "bench", concurrency=64, cache_path=path) as judge:
                judge.score_batch(candidates, references)  # fill the cache
                rate = _best_rate(
                    lambda: judge.score_batch(candidates, references), args.n, args.repeats
                )
                rows.append(("cache hits (SQLite WAL)", rate))
    finally:
        proc.kill()
        proc.wait()

    print(f"\nLLMJudge client throughput, {args.n} verdicts per call, best of {args.repeats}")
    print(f"{'path':<46} {'verdicts/s':>12}")
    print("-" * 59)
    for name, rate in rows:
        print(f"{name:<46} {rate:>12,.0f}")


if __name__ == "__main__":
    main()
