"""Adapters that make HiMed-RL rewards one or two lines of another RL framework's config.

- :mod:`himed_rewards.integrations.verl` (``compute_score``, ``compute_score_batch``),
  :mod:`himed_rewards.integrations.verl_manager` (step-aware reward-loop manager) and
  :mod:`himed_rewards.integrations.verl_agent_loop` (legacy-trainer agent-loop manager)
- :mod:`himed_rewards.integrations.openrlhf` (``reward_func`` file for ``--reward.remote_url``)
- :mod:`himed_rewards.integrations.easyr1` (batch ``compute_score``, ``REWARD_TYPE = "batch"``;
  the step from EasyR1's own ``experiment_log.jsonl``)
- :mod:`himed_rewards.integrations.slime` (``reward`` for ``--custom-rm-path`` with or without
  ``--group-rm``, the ``stamp_step`` sample hook, ``log_rollout`` metrics)
- :mod:`himed_rewards.integrations.step` (where the training step comes from when a framework
  does not hand it over: published step file, fixed step, step clock, warn-once default)

Each adapter only reshapes inputs and outputs around the public ``score_batch`` /
``ascore_batch``; none imports its framework (verl only when a manager class is looked up).
"""
