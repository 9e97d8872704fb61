#!/usr/bin/env python3
"""Speed and validity of the offline clinical labeler and judge (one core, pure Python).

Prints:
1. labeler throughput (reports/s) on the 3,851 IU X-ray reports, best of N passes;
2. judge throughput (pairs/s) on the 590 IU X-ray prediction/reference pairs;
3. per-finding precision / recall / F1 against the OpenI human gold standard, and the
   micro-F1 over the 13 gold findings with support (positive labels; and positive or
   uncertain, for comparison), on all 3,851 reports and on the held-out fifth;
4. the judge's ordering accuracy on IU X-ray laterality and severity corruptions and its
   RadJudge pass count (30 cases).

Usage: python benchmarks/bench_clinical.py [--passes 5]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from himed_rewards.clinical import OfflineClinicalJudge, label_report  # noqa: E402
from himed_rewards.clinical.evaluation import (  # noqa: E402
    build_corruptions,
    load_iu_gold,
    micro_f1,
    ordering_accuracy,
    run_radjudge,
    score_labels,
)

FIXTURES = ROOT / "tests" / "fixtures"


def _fmt(value: float | None) -> str:
    return "  -  " if value is None else f"{value:.3f}"


def bench_labeler(texts: list[str], passes: int) -> float:
    best = float("inf")
    for _ in range(passes):
        t0 = time.perf_counter()
        for text in texts:
            label_report(text)
        best = min(best, time.perf_counter() - t0)
    return len(texts) / best


def bench_judge(passes: int) -> float:
    def read(name: str) -> list[str]:
        with open(FIXTURES / "iu_xray" / name, newline="", encoding="utf-8") as fh:
            return [row["report"] for row in csv.DictReader(fh)]

    preds, gts = read("preds.csv"), read("gts.csv")
    judge = OfflineClinicalJudge()
    best = float("inf")
    for _ in range(passes):
        t0 = time.perf_counter()
        judge.score_batch(preds, gts)
        best = min(best, time.perf_counter() - t0)
    return len(preds) / best


def kendall_tau_b(x: list[float], y: list[float]) -> float:
    """Kendall's tau-b (ties in either variable handled), O(n^2): fine for 590 pairs."""
    concordant = discordant = ties_x = ties_y = 0
    for i in range(len(x)):
        for j in range(i + 1, len(x)):
            dx, dy = x[i] - x[j], y[i] - y[j]
            if dx == 0 and dy == 0:
                continue
            if dx == 0:
                ties_x += 1
            elif dy == 0:
                ties_y += 1
            elif (dx > 0) == (dy > 0):
                concordant += 1
            else:
                discordant += 1
    denominator = ((concordant + discordant + ties_x) * (concordant + discordant + ties_y)) ** 0.5
    return (concordant - discordant) / denominator


def print_surface_agreement(judge: OfflineClinicalJudge) -> None:
    """Kendall tau of the judge's total against the per-pair scores CXR-Report-Metric gives
    the 590 MoERad pairs. SembScore and RadCliQ are model/surface metrics, not radiologist
    ratings: a secondary check (a judge that ignores wording differences between two normal
    reports disagrees with them on purpose)."""
    folder = FIXTURES / "iu_xray"
    with open(folder / "report_scores.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    with open(folder / "gts.csv", encoding="utf-8") as f:
        refs = {r["study_id"]: r["report"] for r in csv.DictReader(f)}
    with open(folder / "preds.csv", encoding="utf-8") as f:
        ids = [r["study_id"] for r in csv.DictReader(f)]
    totals = [v.total for v in judge.score_batch([r["report"] for r in rows],
                                                 [refs[i] for i in ids])]
    for column, sign in (("semb_score", 1.0), ("RadCliQ-v1", -1.0), ("bleu_score", 1.0)):
        tau = kendall_tau_b(totals, [sign * float(r[column]) for r in rows])
        print(f"| Kendall tau-b vs {column} (590 MoERad pairs) | {len(rows)} | {tau:.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passes", type=int, default=5)
    args = parser.parse_args()
    pairs = load_iu_gold(FIXTURES / "iu_xray/indiana_reports.csv",
                         FIXTURES / "labels/openi_gld_std14.csv")  # fmt: skip
    texts = [text for text, _ in pairs]
    mean_chars = sum(map(len, texts)) / len(texts)
    print("| what | items | throughput (one core) |\n|---|---:|---:|")
    print(f"| label_report, IU reports ({mean_chars:.0f} chars avg) | {len(texts)} | "
          f"{bench_labeler(texts, args.passes):,.0f} reports/s |")  # fmt: skip
    print(f"| OfflineClinicalJudge.score_batch, IU pred/ref pairs | 590 | "
          f"{bench_judge(args.passes):,.0f} pairs/s |\n")  # fmt: skip

    strict = score_labels(pairs, label_report, strict=True)
    lenient = score_labels(pairs, label_report, strict=False)
    print("| finding | support | TP | FP | FN | precision | recall | F1 |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for s in strict.values():
        print(f"| {s.finding} | {s.support} | {s.tp} | {s.fp} | {s.fn} | "
              f"{_fmt(s.precision)} | {_fmt(s.recall)} | {_fmt(s.f1)} |")  # fmt: skip

    def with_support(scores):
        return [s for s in scores.values() if s.support and s.finding != "no_finding"]

    print(f"\nmicro-F1 over the {len(with_support(strict))} findings with support: "
          f"{micro_f1(with_support(strict)):.4f} (positive labels); "
          f"{micro_f1(with_support(lenient)):.4f} (positive or uncertain)")  # fmt: skip
    held = load_iu_gold(FIXTURES / "iu_xray/indiana_reports.csv",
                        FIXTURES / "labels/openi_gld_std14.csv", split="held_out")  # fmt: skip
    print(f"held-out fifth ({len(held)} reports): micro-F1 "
          f"{micro_f1(with_support(score_labels(held, label_report))):.4f} (positive labels)")

    judge = OfflineClinicalJudge()

    def totals(candidates: list[str], references: list[str]) -> list[float]:
        return [v.total for v in judge.score_batch(candidates, references)]

    print("\n| judge check | cases | result |\n|---|---:|---:|")
    for kind in ("laterality", "severity"):
        for name, subset in (("all", pairs), ("held-out", held)):
            triples = build_corruptions(subset, kind, label_report)
            print(f"| {kind} corruptions ({name}) | {len(triples)} | "
                  f"{ordering_accuracy(triples, totals):.3f} |")
    print_surface_agreement(judge)
    cases = json.loads((FIXTURES / "radjudge/radjudge_cases.json").read_text(encoding="utf-8"))
    results = run_radjudge(cases, lambda c, g: totals([c], [g])[0])
    failed = ", ".join(r.case for r in results if not r.passed)
    print(f"| RadJudge (failed: {failed}) | {len(results)} | "
          f"{sum(r.passed for r in results)} passed |")


if __name__ == "__main__":
    main()
