#!/usr/bin/env bash
# GRPO with the HiMed reward in verl 0.9.x: Qwen2.5-VL-3B-Instruct, 8 GPUs, the paper's setting
# (verl_grpo_qwen2_5_vl_3b.yaml beside this file holds every hyperparameter).
#
#   DATA_DIR=/data/himed-verl bash himed_train/configs/verl_grpo_qwen2_5_vl_3b.sh [overrides...]
#
# DATA_DIR       folder with train.parquet and val.parquet (columns: docs/verl.md)
# MODEL          model path or hub id (default Qwen/Qwen2.5-VL-3B-Instruct; or the SFT output)
# REWARD_CONFIG  optional HiMed RewardConfig YAML/JSON (judge, schedule T, alpha_min...),
#                passed to compute_score as reward_kwargs.config in every reward worker
# HIMED_VERL_TRAINER  legacy (default): verl's legacy trainer (trainer.use_v1=false) with
#                HimedAgentLoopManager, which logs timing_s/himed_reward/<level>/mean (alpha1,
#                alpha2, every level) at every training step; v1: verl 0.9's v1 trainer, whose
#                training metrics have no channel for them (validation metrics only)
# HIMED_REWARDS_STEP_FILE / HIMED_REWARDS_MISSING  forwarded to verl's Ray actors
#                (ray_kwargs.ray_init.runtime_env.env_vars) when set
# Extra arguments are Hydra overrides (or Hydra flags: `--cfg job` prints the config only).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DATA_DIR="${DATA_DIR:?set DATA_DIR to the folder holding train.parquet and val.parquet}"
MODEL="${MODEL:-Qwen/Qwen2.5-VL-3B-Instruct}"

overrides=(
  "data.train_files=${DATA_DIR}/train.parquet"
  "data.val_files=${DATA_DIR}/val.parquet"
  "actor_rollout_ref.model.path=${MODEL}"
)
if [ -n "${REWARD_CONFIG:-}" ]; then
  overrides+=("+reward.custom_reward_function.reward_kwargs.config=${REWARD_CONFIG}")
fi
for name in HIMED_REWARDS_STEP_FILE HIMED_REWARDS_MISSING; do
  if [ -n "${!name:-}" ]; then
    overrides+=("+ray_kwargs.ray_init.runtime_env.env_vars.${name}=${!name}")
  fi
done
case "${HIMED_VERL_TRAINER:-legacy}" in
  v1) ;;
  legacy)
    overrides+=(
      "trainer.use_v1=false"
      "+actor_rollout_ref.rollout.agent.agent_loop_manager_class=himed_rewards.integrations.verl_agent_loop.HimedAgentLoopManager"
    )
    ;;
  *) echo "HIMED_VERL_TRAINER must be v1 or legacy, got ${HIMED_VERL_TRAINER}" >&2; exit 2 ;;
esac

exec "${PYTHON:-python3}" -m verl.trainer.main_ppo \
  --config-path "${HERE}" --config-name verl_grpo_qwen2_5_vl_3b \
  "${overrides[@]}" "$@"
