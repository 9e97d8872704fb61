"""Client-side throughput of ``LLMJudge`` against a fast local OpenAI-compatible server.

The question is whether the client can ever be the bottleneck of RL training: a real
verifier (vLLM on a GPU) answers a few hundred verdicts per second at best, so the client
must sustain far more (target: >= 2,000 verdicts/s). The server here is a raw asyncio
protocol in a separate process that answers every request at once with one precomputed
valid reply (about 15-30 us of CPU per request, measured and printed), so the numbers
measure our client: request building, the openai client, JSON validation, bookkeeping.
The server binds 127.0.0.1 only and stops with the benchmark.

On a 2-core machine client and server share the CPUs, so two configurations are reported:
``shared`` (no pinning: the OS places both) and ``pinned`` (server on core 1, client on
core 0 with ``sched_setaffinity``, as ``taskset`` would). Each row also prints the CPU time
per verdict of the client process and of the server process, which is robust to other load
on the machine; the load average is printed too, since throughput is not.

Pairs are the 590 IU X-ray prediction/reference pairs from ``tests/fixtures`` (realistic
lengths), made distinct per request so no cache or de-duplication kicks in, except in the
row that measures the cache itself.

Run:  python benchmarks/bench_judge.py [--n 4000] [--repeats 3] [--config shared|pinned|both]
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


class _FastReply(asyncio.Protocol):
    """Answers each complete HTTP/1.1 request on a keep-alive connection with ``_RESPONSE``
    (or the model list for a GET), parsing only the head and ``Content-Length``: as cheap a
    server as asyncio allows, so the benchmark measures the client."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.buf = b""
        self.need = -1  # body bytes still expected for the current request; -1: reading a head
        self.reply = b""

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data
        out = []
        while True:
            if self.need < 0:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    break
                head = buf[:end].lower()
                at = head.find(b"content-length:")
                stop = head.find(b"\r\n", at)
                self.need = int(head[at + 15 : stop if stop > 0 else None]) if at >= 0 else 0
                self.reply = _MODELS_RESPONSE if head.startswith(b"get") else _RESPONSE
                buf = buf[end + 4 :]
            if len(buf) < self.need:
                break
            buf, self.need = buf[self.need :], -1
            out.append(self.reply)
        self.buf = buf
        if out:
            self.transport.write(b"".join(out))


async def _serve(port_file: str, lifetime_s: float) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_FastReply, "127.0.0.1", 0, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    Path(port_file).write_text(str(port))
    async with server:
        await asyncio.sleep(lifetime_s)  # bounded: the server stops by itself


def _start_server(lifetime_s: float, cpu: int | None) -> tuple[subprocess.Popen, str]:
    port_file = tempfile.mktemp(prefix="bench_judge_port_")
    command = [sys.executable, __file__, "--serve", port_file, "--lifetime", str(lifetime_s)]
    if cpu is not None:
        command += ["--cpu", str(cpu)]
    proc = subprocess.Popen(command)
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


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pairs(n: int) -> tuple[list[str], list[str]]:
    def reports(name: str) -> list[str]:
        with open(FIXTURES / name, newline="") as f:
            return [row["report"] for row in csv.DictReader(f)]

    preds, refs = reports("preds.csv"), reports("gts.csv")
    candidates = [f"{preds[i % len(preds)]} (sample {i})" for i in range(n)]
    references = [refs[i % len(refs)] for i in range(n)]
    return candidates, references


def _best_rate(fn, n: int, repeats: int, server_pid: int) -> tuple[float, float, float]:
    """Best verdicts/s over ``repeats`` calls, with the client's and the server's CPU
    microseconds per verdict in that call."""
    best = (0.0, 0.0, 0.0)
    for _ in range(repeats):
        server_cpu = _cpu_seconds(server_pid)
        client_cpu = time.process_time()
        start = time.perf_counter()
        out = fn()
        elapsed = time.perf_counter() - start
        client_us = 1e6 * (time.process_time() - client_cpu) / n
        server_us = 1e6 * (_cpu_seconds(server_pid) - server_cpu) / n
        assert len(out) == n and all(v.ok for v in out), "benchmark server must always succeed"
        if n / elapsed > best[0]:
            best = (n / elapsed, client_us, server_us)
    return best


def _measure(url: str, server_pid: int, n: int, repeats: int) -> list[tuple[str, tuple]]:
    from himed_rewards.judge import LLMJudge

    rows = []
    candidates, references = _pairs(n)
    for concurrency in (16, 64, 256):
        with LLMJudge(url, "bench", concurrency=concurrency, use_cache=False) as judge:
            judge.score_batch(candidates[:200], references[:200])  # warm the pool

            def run_sync(j=judge):
                return j.score_batch(candidates, references)

            rate = _best_rate(run_sync, n, repeats, server_pid)
            rows.append((f"score_batch, concurrency={concurrency}", rate))

    with LLMJudge(url, "bench", concurrency=64, use_cache=False) as judge:

        async def many_batches(j=judge):
            # A GRPO step: many small groups scored concurrently by the reward layer.
            size = 16
            chunks = [
                j.ascore_batch(candidates[i : i + size], references[i : i + size])
                for i in range(0, n, size)
            ]
            return [v for chunk in await asyncio.gather(*chunks) for v in chunk]

        rate = _best_rate(lambda: asyncio.run(many_batches()), n, repeats, server_pid)
        rows.append(("ascore_batch, groups of 16, concurrency=64", rate))

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "judge.sqlite"
        with LLMJudge(url, "bench", concurrency=64, cache_path=path) as judge:
            judge.score_batch(candidates, references)  # fill the cache
            rate = _best_rate(
                lambda: judge.score_batch(candidates, references), n, repeats, server_pid
            )
            rows.append(("cache hits (SQLite WAL)", rate))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4000, help="verdicts per timed call")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--config",
        choices=("shared", "pinned", "both"),
        default="both",
        help="shared: no CPU pinning; pinned: server on core 1, client on core 0",
    )
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--cpu", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--lifetime", type=float, default=600.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        if args.cpu is not None:
            os.sched_setaffinity(0, {args.cpu})
        asyncio.run(_serve(args.serve, args.lifetime))
        return

    sys.path.insert(0, str(ROOT))
    all_cpus = os.sched_getaffinity(0)
    configs = ("shared", "pinned") if args.config == "both" else (args.config,)
    if "pinned" in configs and len(all_cpus) < 2:
        raise SystemExit("--config pinned needs at least 2 CPUs")
    results = []
    for config in configs:
        pinned = config == "pinned"
        proc, url = _start_server(lifetime_s=600.0, cpu=max(all_cpus) if pinned else None)
        # Set before any judge exists: its loop thread inherits the calling thread's mask.
        os.sched_setaffinity(0, {min(all_cpus)} if pinned else all_cpus)
        try:
            results.append((config, _measure(url, proc.pid, args.n, args.repeats)))
        finally:
            os.sched_setaffinity(0, all_cpus)
            proc.kill()
            proc.wait()

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\nLLMJudge client throughput, {args.n} verdicts per call, best of {args.repeats}")
    print(f"CPUs: {len(all_cpus)}; load average (1, 5, 15 min) at the end: {load}")
    print("shared: client and server unpinned; pinned: server on core 1, client on core 0")
    print(f"{'config':<7} {'path':<44} {'verdicts/s':>11} {'client us/v':>12} {'server us/v':>12}")
    print("-" * 90)
    for config, rows in results:
        for name, (rate, client_us, server_us) in rows:
            print(f"{config:<7} {name:<44} {rate:>11,.0f} {client_us:>12,.0f} {server_us:>12,.0f}")


if __name__ == "__main__":
    main()
