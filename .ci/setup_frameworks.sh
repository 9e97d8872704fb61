#!/usr/bin/env bash
# The RL frameworks the adapter tests drive through their own code (tests/integrations):
# verl 0.9.1 and OpenRLHF 0.11.2 from PyPI. Both pin a training stack (vLLM, flash-attn,
# DeepSpeed, other transformers versions) that their reward paths never import, so they and
# the CPU-side packages those paths do import are installed --no-deps at exact versions.
# Idempotent: pip skips what is already there.
set -euo pipefail
PY="${PYTHON:-python3}"
"$PY" -m pip install --quiet --no-deps \
  verl==0.9.1 ray==2.60.0 tensordict==0.10.0 omegaconf==2.3.0 hydra-core==1.3.2 \
  antlr4-python3-runtime==4.9.3 codetiming==1.4.0 msgpack==1.1.2 protobuf==6.33.1 \
  pyvers==0.1.0 cachetools==6.2.1 torchdata==0.11.0 TransferQueue==0.1.11 pyzmq==27.3.0 \
  msgspec==0.23.0 prometheus_client==0.26.0 \
  openrlhf==0.11.2 \
  aiohttp==3.14.5 aiohappyeyeballs==2.7.1 aiosignal==1.4.0 frozenlist==1.8.0 multidict==7.2.1 \
  propcache==0.5.4 yarl==1.25.1 pylatexenc==2.11
# What ray and OpenRLHF import that nothing above brings on a fresh machine; with their own
# dependencies, at the versions in constraints.txt.
"$PY" -m pip install --quiet -c "$(dirname "$0")/../constraints.txt" \
  jsonschema orjson importlib_metadata
# Fail here, loudly, rather than let the adapter tests skip: every module they drive imports.
"$PY" - <<'PY'
import importlib.metadata as md

import openrlhf.utils.agent  # noqa: F401
import verl.experimental.agent_loop  # noqa: F401
import verl.experimental.reward_loop.reward_manager.naive  # noqa: F401
import verl.trainer.ppo.reward  # noqa: F401
import verl.workers.reward_manager.naive  # noqa: F401
from verl.protocol import DataProto  # noqa: F401

print("frameworks: " + ", ".join(f"{n} {md.version(n)}" for n in ("verl", "openrlhf", "ray")))
PY
