#!/usr/bin/env bash
# GPU smoke: 3 GRPO steps of a tiny random Qwen2.5-VL (himed_train/tiny.py) in bfloat16 on
# one CUDA GPU, with the whole HiMed reward (offline clinical judge), no network, no download.
# Generation uses colocated vLLM when a vLLM in TRL 1.16's range is installed, else
# transformers. Prints ONE JSON line on stdout: per-level reward means, alpha1, step time
# and peak GPU memory (everything else goes to stderr).
#
#   bash scripts/gpu_smoke.sh              # on the GPU machine
#   bash scripts/gpu_smoke.sh --no-vllm    # force transformers generation
#   bash scripts/gpu_smoke.sh --dry-run    # the same path on CPU (float32): checks the script
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1
export VLLM_NO_USAGE_STATS=1 DO_NOT_TRACK=1

device=cuda
vllm=auto
for arg in "$@"; do
  case "$arg" in
    --dry-run) device=cpu; vllm=off ;;
    --no-vllm) vllm=off ;;
    *) echo "gpu_smoke.sh: unknown argument $arg (use --dry-run or --no-vllm)" >&2; exit 2 ;;
  esac
done

if [ "$device" = cuda ]; then
  if ! "$PY" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "gpu_smoke.sh: torch sees no CUDA GPU (use --dry-run to check the script on CPU)" >&2
    exit 1
  fi
  export CUDA_VISIBLE_DEVICES="${CUDA_VISIBLE_DEVICES:-0}"
fi

flags=(--steps 3 --prompts-per-step 2 --num-generations 4 --max-completion-length 32
       --device "$device")
if [ "$vllm" = auto ] && "$PY" - <<'PY'
import sys
from himed_train.preflight.packages import VLLM_SUPPORTED, base_version, installed_version
v = installed_version("vllm")
low, high = (base_version(x) for x in VLLM_SUPPORTED)
sys.exit(0 if v is not None and low <= base_version(v)[:3] <= high else 1)
PY
then
  flags+=(--vllm)
  # colocated vLLM runs inside this one process as rank 0 of a world of 1
  export RANK=0 LOCAL_RANK=0 WORLD_SIZE=1 MASTER_ADDR=127.0.0.1 MASTER_PORT="${MASTER_PORT:-29511}"
  echo "gpu_smoke.sh: generating with colocated vLLM" >&2
else
  echo "gpu_smoke.sh: generating with transformers (no vLLM in TRL 1.16's range, or off)" >&2
fi

out="$(mktemp)"
trap 'rm -f "$out"' EXIT
"$PY" -m himed_train smoke "${flags[@]}" >"$out"
head -n -1 "$out" >&2       # anything a library printed on stdout
tail -n 1 "$out"            # the JSON summary
