#!/usr/bin/env bash
# Install the `train` extra's stack for himed_train (CPU). Idempotent: pip skips what is there.
# torch FIRST: the pinned 2.13.0 is a CPU build found on local disk; an unpinned torch
# requirement would pull a multi-GB CUDA build. torchvision is deliberately not installed
# (PyPI's build does not import beside this torch); himed_train works without it.
# Every install takes the exact versions in constraints.txt (scripts/lock_constraints.py).
set -euo pipefail
constraints="$(cd "$(dirname "$0")/.." && pwd)/constraints.txt"
python3 -m pip install --quiet -c "$constraints" torch==2.13.0
python3 -m pip install --quiet -c "$constraints" \
  "trl==1.16.*" transformers accelerate peft datasets tokenizers qwen-vl-utils pillow
python3 - <<'PY'
import torch, transformers, trl
print(f"himed_train stack: torch {torch.__version__}, transformers {transformers.__version__}, trl {trl.__version__}")
PY
