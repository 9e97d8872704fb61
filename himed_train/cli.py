"""``himed-train``: cold-start SFT, GRPO with the HiMed reward, and an offline CPU smoke run.

    himed-train sft   --config himed_train/configs/sft_qwen2_5_vl_3b.yaml
    himed-train grpo  --config himed_train/configs/grpo_qwen2_5_vl_3b.yaml
    himed-train smoke --steps 2          # last stdout line: JSON summary
    himed-train check himed_train/configs/grpo_qwen2_5_vl_3b.yaml   # preflight, no GPU

For multi-GPU runs launch through accelerate, e.g.
``accelerate launch --config_file himed_train/configs/accelerate_zero3_8gpu.yaml
-m himed_train.cli grpo --config ...``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and docs).

    Examples:
        >>> build_parser().parse_args(["smoke", "--steps", "3"]).steps
        3
    """
    parser = argparse.ArgumentParser(prog="himed-train", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (("sft", "cold-start SFT (TRL SFTTrainer)"),
                            ("grpo", "GRPO with the HiMed reward (TRL GRPOTrainer)")):  # fmt: skip
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--config", required=True, help="training YAML/JSON (see docs/training.md)")
    check = sub.add_parser("check", help="preflight a launch plan (no GPU needed)")
    check.add_argument("config", help="himed_train GRPO config or verl recipe (YAML/JSON)")
    check.add_argument(
        "--accelerate-config", default=None, help="override launch.accelerate_config"
    )
    smoke = sub.add_parser("smoke", help="N GRPO steps of a tiny Qwen2.5-VL on CPU, offline")
    smoke.add_argument("--steps", type=int, default=2, help="GRPO steps (default 2)")
    smoke.add_argument("--seed", type=int, default=0)
    smoke.add_argument("--prompts-per-step", type=int, default=2)
    smoke.add_argument("--num-generations", type=int, default=4)
    smoke.add_argument("--max-completion-length", type=int, default=24)
    smoke.add_argument("--schedule-t", type=int, default=10_000, help="reward schedule T")
    smoke.add_argument("--sync", action="store_true", help="use the synchronous reward form")
    smoke.add_argument(
        "--device", choices=("cpu", "cuda"), default="cpu",
        help="cpu (float32, default) or cuda (bfloat16 on the first GPU)",
    )  # fmt: skip
    smoke.add_argument(
        "--vllm", action="store_true", help="generate with colocated vLLM (needs --device cuda)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``himed-train`` script; returns the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s"
    )
    try:
        if args.command == "smoke":
            from himed_train.smoke import run_smoke

            summary = run_smoke(
                args.steps,
                seed=args.seed,
                prompts_per_step=args.prompts_per_step,
                num_generations=args.num_generations,
                max_completion_length=args.max_completion_length,
                schedule_t=args.schedule_t,
                use_async=not args.sync,
                device=args.device,
                use_vllm=args.vllm,
            )
            sys.stdout.flush()
            print(json.dumps(summary), flush=True)
            return 0
        if args.command == "check":
            return _check(args.config, args.accelerate_config)
        from himed_train.config import TrainConfig

        config = TrainConfig.from_file(args.config)
        if args.command == "sft":
            from himed_train.sft import run_sft

            run_sft(config)
        else:
            from himed_train.grpo import run_grpo

            run_grpo(config)
        return 0
    except (ValueError, FileNotFoundError) as err:  # bad config or data: no traceback
        print(f"himed-train {args.command}: error: {err}", file=sys.stderr)
        return 2


def _check(config: str, accelerate_config: str | None) -> int:
    """Print the preflight table; 1 when any check failed, each failure restated on stderr."""
    from himed_train.preflight import failures, render_table, run_preflight

    results = run_preflight(config, accelerate_config=accelerate_config)
    print(render_table(results), flush=True)
    for result in failures(results):
        print(f"himed-train check: {result.name}: {result.detail}", file=sys.stderr)
    return 1 if failures(results) else 0


if __name__ == "__main__":
    sys.exit(main())
