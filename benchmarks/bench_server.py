"""Loopback load test of the reward server: sustained pairs/s and p50/p99 latency.

Starts ``himed-rewards serve`` as a subprocess on 127.0.0.1 (a free port), sends a bounded
number of ``POST /v1/score_batch`` requests built from the IU X-ray fixture pairs at several
concurrencies with httpx, and compares with calling ``score_batch`` in process on the same
pairs and batch size. Every level stops after ``--requests`` requests or ``--max-seconds``,
whichever comes first, and the server is stopped at the end (SIGTERM, then kill).

    python benchmarks/bench_server.py                       # defaults: 1, 4, 16, 64 clients
    python benchmarks/bench_server.py --pairs-per-request 1 --concurrency 1 8 32
    python benchmarks/bench_server.py --overload            # admission control under overload

``--overload`` sends ``--overload-requests`` requests of ``--pairs-per-request`` pairs (256
by default there) from ``--overload-clients`` concurrent clients that give up after
``--client-timeout`` seconds, and reports answers by status, client timeouts, pairs the
server scored for requests nobody received (wasted work, from ``/metrics``), and whether
every 200 matches in-process scoring. A client retries a 503 after its ``Retry-After``
(for at most six client timeouts), as a well-behaved trainer would.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import statistics
import sys
import time
from pathlib import Path

import httpx
from _common import free_port, start_server, stop_server

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "iu_xray"


def load_pairs() -> list[tuple[str, str]]:
    with open(FIXTURES / "preds.csv", newline="") as f:
        preds = {row["study_id"]: row["report"] for row in csv.DictReader(f)}
    with open(FIXTURES / "gts.csv", newline="") as f:
        gts = {row["study_id"]: row["report"] for row in csv.DictReader(f)}
    return [(preds[i], gts[i]) for i in preds if i in gts]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def load_level(
    url: str,
    batches: list[dict],
    concurrency: int,
    requests: int,
    max_seconds: float,
    path: str = "/v1/score_batch",
) -> dict[str, float]:
    latencies: list[float] = []
    sent = 0
    stop_at = time.perf_counter() + max_seconds

    async def worker() -> None:
        # One client (one keep-alive connection) per worker: a shared httpx pool of many
        # connections costs the client far more CPU than the server spends per request.
        nonlocal sent
        async with httpx.AsyncClient(base_url=url, timeout=120) as client:
            while sent < requests and time.perf_counter() < stop_at:
                body = batches[sent % len(batches)]
                sent += 1
                t0 = time.perf_counter()
                if path == "/health":  # the HTTP stack alone, no scoring
                    response = await client.get(path)
                else:
                    response = await client.post(path, json=body)
                latencies.append(time.perf_counter() - t0)
                response.raise_for_status()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - start
    pairs = sum(len(batches[i % len(batches)]["completions"]) for i in range(len(latencies)))
    return {
        "requests": len(latencies),
        "requests_per_s": len(latencies) / wall,
        "pairs_per_s": pairs / wall,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * percentile(latencies, 99),
    }


def in_process(batches: list[dict], repeats: int) -> float:
    """Seconds per request-sized batch when calling score_batch directly (median of runs)."""
    from himed_rewards import score_batch

    times = []
    for i in range(repeats):
        body = batches[i % len(batches)]
        t0 = time.perf_counter()
        score_batch(body["completions"], body["references"], step=body["step"])
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def pairs_scored(url: str) -> int:
    text = httpx.get(f"{url}/metrics", timeout=30).text
    for line in text.splitlines():
        if line.startswith("himed_rewards_pairs_scored_total "):
            return int(float(line.split()[1]))
    raise RuntimeError("no himed_rewards_pairs_scored_total in /metrics")


async def overload(
    url: str, batches: list[dict], clients: int, requests: int, client_timeout: float
) -> dict[str, object]:
    """Bounded overload: ``requests`` requests from ``clients`` clients, each giving up after
    ``client_timeout`` seconds (and closing its connection, as a trainer's client would)."""
    codes: dict[str, int] = {}
    answered: list[tuple[int, list[float]]] = []
    sent = 0
    # Encoded once: the client's own JSON encoding would otherwise compete for the CPU.
    encoded = [json.dumps(b).encode() for b in batches]
    headers = {"content-type": "application/json"}

    def count(key: str) -> None:
        codes[key] = codes.get(key, 0) + 1

    async def worker() -> None:
        # One client per worker, made once: building an httpx client costs milliseconds of
        # CPU, which would starve the probe itself. A timed-out request closes its
        # connection (the server sees the client go); the next one opens a fresh one.
        nonlocal sent
        async with httpx.AsyncClient(base_url=url, timeout=client_timeout) as client:
            while sent < requests:
                index = sent
                sent += 1
                await one(client, index)

    async def one(client: httpx.AsyncClient, index: int) -> None:
        body = encoded[index % len(batches)]
        give_up = time.perf_counter() + 6 * client_timeout  # bounded retries of a 503
        response = None
        while True:
            try:
                response = await client.post("/v1/score_batch", content=body, headers=headers)
            except httpx.TimeoutException:
                count("client timeout")
                response = None
                break
            if response.status_code != 503 or time.perf_counter() > give_up:
                count(str(response.status_code))
                break
            count("503 (retried after Retry-After)")
            await asyncio.sleep(float(response.headers.get("retry-after", "1")))
        if response is not None and response.status_code == 200:
            answered.append((index % len(batches), response.json()["totals"]))

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return {"codes": codes, "answered": answered, "wall_s": time.perf_counter() - start}


def run_overload(args: argparse.Namespace, batches: list[dict]) -> None:
    from himed_rewards import score_batch

    expected = [
        [b.total for b in score_batch(x["completions"], x["references"], step=x["step"])]
        for x in batches
    ]
    port = free_port()
    extra = [] if args.max_queued_pairs is None else ["--max-queued-pairs", str(args.max_queued_pairs)]
    proc = start_server(port, ["--batch-wait-ms", str(args.batch_wait_ms), *extra])
    try:
        url = f"http://127.0.0.1:{port}"
        asyncio.run(load_level(url, batches, 2, 4, 30))  # server-side warmup
        before = pairs_scored(url)
        result = asyncio.run(
            overload(url, batches, args.overload_clients, args.overload_requests,
                     args.client_timeout)
        )  # fmt: skip
        time.sleep(args.client_timeout)  # let the server finish what is still queued
        scored = pairs_scored(url) - before
    finally:
        stop_server(proc)
    answered = result["answered"]
    matched = sum(totals == expected[i] for i, totals in answered)
    delivered = sum(len(t) for _, t in answered)
    print(
        f"\noverload: {args.overload_requests} requests x {args.pairs_per_request} pairs, "
        f"{args.overload_clients} clients, client timeout {args.client_timeout} s, "
        f"{result['wall_s']:.1f} s"
    )
    print("answers:", dict(sorted(result["codes"].items())))
    print(
        f"pairs scored by the server {scored:,}, delivered in 200s {delivered:,}, "
        f"wasted {scored - delivered:,} ({(scored - delivered) / max(scored, 1):.0%})"
    )
    print(f"200 answers matching in-process scoring: {matched}/{len(answered)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16, 64])
    parser.add_argument("--pairs-per-request", type=int, default=8)
    parser.add_argument("--requests", type=int, default=400, help="per concurrency level")
    parser.add_argument("--max-seconds", type=float, default=20.0, help="per concurrency level")
    parser.add_argument("--batch-wait-ms", type=float, default=5.0)
    parser.add_argument("--overload", action="store_true", help="run the overload probe only")
    parser.add_argument("--overload-clients", type=int, default=64)
    parser.add_argument("--overload-requests", type=int, default=128)
    parser.add_argument("--client-timeout", type=float, default=10.0)
    parser.add_argument("--max-queued-pairs", type=int, default=None, help="server setting")
    args = parser.parse_args()
    if args.overload and "--pairs-per-request" not in sys.argv:
        args.pairs_per_request = 256

    pairs = load_pairs()
    k = args.pairs_per_request
    batches = [
        {
            "completions": [p for p, _ in pairs[i : i + k]],
            "references": [r for _, r in pairs[i : i + k]],
            "step": 1000,
        }
        for i in range(0, len(pairs) - k + 1, k)
    ]
    if args.overload:
        run_overload(args, batches)
        return
    import himed_rewards

    if hasattr(himed_rewards, "warmup"):
        print(f"warmup: {himed_rewards.warmup():.2f} s (kernels compiled in this process)")
    in_process(batches, 5)  # first calls load data; not timed
    t_direct = in_process(batches, 60)
    direct_pairs_per_s = k / t_direct

    port = free_port()
    proc = start_server(port, ["--batch-wait-ms", str(args.batch_wait_ms)])
    try:
        url = f"http://127.0.0.1:{port}"
        asyncio.run(load_level(url, batches, 2, 20, 30))  # server-side warmup, not reported
        rows = []
        for c in args.concurrency:
            scored = asyncio.run(load_level(url, batches, c, args.requests, args.max_seconds))
            health = asyncio.run(
                load_level(url, batches, c, args.requests, args.max_seconds, "/health")
            )
            rows.append((c, scored, health))
    finally:
        stop_server(proc)

    print(
        f"\nloopback load test: {k} pairs/request, batch wait {args.batch_wait_ms} ms, "
        f"{os.cpu_count()} CPUs, IU X-ray fixture pairs"
    )
    print(
        f"in process score_batch: {1000 * t_direct:.2f} ms per {k} pairs = "
        f"{direct_pairs_per_s:,.0f} pairs/s"
    )
    print(
        f"{'clients':>7} {'requests':>8} {'req/s':>7} {'pairs/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'vs in-process':>14} {'GET /health req/s':>18}"
    )
    for c, r, h in rows:
        print(
            f"{c:>7} {r['requests']:>8.0f} {r['requests_per_s']:>7,.0f} {r['pairs_per_s']:>9,.0f} "
            f"{r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} "
            f"{r['pairs_per_s'] / direct_pairs_per_s:>13.2f}x {h['requests_per_s']:>18,.0f}"
        )
    print("(GET /health: the same client and HTTP stack without scoring, the loopback ceiling)")
    single = rows[0][1] if rows and rows[0][0] == 1 else None
    if single is not None:
        overhead = single["p50_ms"] - 1000 * t_direct
        print(
            f"server overhead at 1 client: {overhead:.2f} ms per request (p50 latency minus "
            f"in-process time for the same {k} pairs)"
        )


if __name__ == "__main__":
    main()
