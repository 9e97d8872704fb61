"""``himed-train check`` on the shipped layouts and on broken plans.

Only the GPU inventory / CUDA build is injected (no GPU here); packages, files, the
accelerate configs, the verifier (a real loopback HTTP server) and the reward are real.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import pytest

from himed_train.config import TrainConfig
from himed_train.preflight import CudaInfo, GpuInfo, failures, preflight_config, render_table
from himed_train.preflight.packages import VLLM_SUPPORTED, base_version, installed_version
from himed_train.preflight.probes import probe_cuda

CONFIGS = Path(str(resources.files("himed_train").joinpath("configs")))
LAYOUTS = {
    # file: (training processes, GPUs on node 0, where the verifier runs)
    "grpo_qwen2_5_vl_3b.yaml": (8, 8, "remote"),
    "grpo_qwen2_5_vl_3b_1node_6plus2.yaml": (4, 8, "local"),
    "grpo_qwen2_5_vl_3b_1gpu_debug.yaml": (1, 1, None),
}


def h100s(count: int) -> CudaInfo:
    return CudaInfo("12.8", [GpuInfo("NVIDIA H100 80GB HBM3", 79.2)] * count, source="injected")


def package_failures_expected() -> set[str]:
    """The FAIL rows this machine's packages must produce on a DeepSpeed + vLLM layout."""
    expected = set()
    if installed_version("deepspeed") is None:
        expected.add("packages/deepspeed")
    vllm = installed_version("vllm")
    low, high = (base_version(v) for v in VLLM_SUPPORTED)
    if vllm is None or not low <= base_version(vllm)[:3] <= high:
        expected.add("packages/vllm")
    return expected


def shipped(name: str, data_paths: dict[str, str], verifier_url: str) -> TrainConfig:
    """A shipped layout with its data pointed at the tiny release and its verifier at the
    loopback server (``remote`` layouts keep saying remote: the URL is then a tunnel)."""
    cfg = TrainConfig.from_file(CONFIGS / name)
    cfg.data = cfg.data.model_validate({"dataset": "iu_xray", "paths": data_paths})
    cfg.reward.verifier.base_url = verifier_url
    if LAYOUTS[name][2] == "remote":
        cfg.launch.verifier_placement = "remote"
    return cfg


def rows(results) -> dict[str, list]:
    table: dict[str, list] = {}
    for r in results:
        table.setdefault(r.name, []).append(r)
    return table


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_shipped_layouts_pass_except_missing_packages(
    name: str, tiny_iu_xray, loopback_verifier
):
    cfg = shipped(name, tiny_iu_xray, loopback_verifier.url)
    processes, gpus, verifier = LAYOUTS[name]
    g = cfg.grpo
    # the paper's step and optimiser settings on every layout
    assert (g.prompts_per_step, g.num_generations, g.learning_rate) == (32, 16, 1e-6)
    assert (g.epsilon, g.beta, g.loss_type) == (0.2, 0.1, "grpo")
    assert g.num_processes * g.per_device_train_batch_size * g.gradient_accumulation_steps == 512
    assert g.num_processes == processes

    results = preflight_config(cfg, base=CONFIGS, probe=lambda: h100s(gpus))
    table = rows(results)
    failed = {r.name for r in failures(results)}
    assert failed == package_failures_expected(), render_table(results)
    for key in ("plan/batch", "plan/gpus", "gpus/visible", "plan/generation", "plan/verifier",
                "memory/trainer", "launch/accelerate", "data/rows", "reward/warm"):  # fmt: skip
        assert [r.status for r in table[key]] == ["ok"], render_table(results)
    if verifier is None:
        assert table["verifier/endpoint"][0].status == "skip"
        assert loopback_verifier.requests == []
    else:
        assert table["verifier/verdict"][0].status == "ok"
        assert "accuracy 0.90, relevance 0.80, completeness 0.70" in table["verifier/verdict"][0].detail
        assert loopback_verifier.requests[0]["model"] == "qwen3-30b-a3b"
    if verifier == "local":
        assert table["memory/verifier"][0].status == "ok"
        assert table["memory/generation"][0].status == "ok"


def test_without_a_gpu_the_failures_say_so(tiny_iu_xray, loopback_verifier):
    cfg = shipped("grpo_qwen2_5_vl_3b_1gpu_debug.yaml", tiny_iu_xray, loopback_verifier.url)
    results = preflight_config(cfg, base=CONFIGS, probe=probe_cuda)  # the real probe, CPU here
    table = rows(results)
    cuda = probe_cuda()
    if cuda.gpu_count:
        pytest.skip("this machine has a GPU")
    assert table["gpus/visible"][0].detail == "no CUDA GPU visible here (the plan needs 1 on this node)"
    if cuda.torch_cuda is None:
        assert "is a CPU build (torch.version.cuda is None)" in table["packages/torch"][0].detail
    assert {r.name for r in failures(results)} - package_failures_expected() <= {
        "gpus/visible", "packages/torch"
    }


def test_all_gpus_training_with_a_local_verifier_is_refused(tiny_iu_xray, loopback_verifier):
    # the layout of the issue: 8 GPUs train while the verifier is expected on the same node
    cfg = shipped("grpo_qwen2_5_vl_3b.yaml", tiny_iu_xray, loopback_verifier.url)
    cfg.launch.verifier_placement = "auto"
    results = preflight_config(cfg, base=CONFIGS, probe=lambda: h100s(8))
    (row,) = rows(results)["plan/verifier"]
    assert row.status == "FAIL" and "launch.verifier_gpus is 0" in row.detail


def test_six_training_processes_cannot_hold_the_papers_step():
    with pytest.raises(ValueError, match=r"512 has no factor 3; process counts that divide 64"):
        TrainConfig.model_validate({
            "data": {"dataset": "iu_xray", "paths": {}},
            "grpo": {"num_processes": 6, "per_device_train_batch_size": 8},
        })  # fmt: skip


def test_accelerate_process_count_must_match(tiny_iu_xray, loopback_verifier):
    cfg = shipped("grpo_qwen2_5_vl_3b.yaml", tiny_iu_xray, loopback_verifier.url)
    results = preflight_config(
        cfg, base=CONFIGS, probe=lambda: h100s(8),
        accelerate_config=CONFIGS / "accelerate_zero3_4gpu.yaml",
    )  # fmt: skip
    (row,) = rows(results)["launch/accelerate"]
    assert row.status == "FAIL"
    assert "num_processes 4 != grpo.num_processes 8" in row.detail


def test_memory_without_deepspeed_does_not_fit(tiny_iu_xray, loopback_verifier):
    cfg = shipped("grpo_qwen2_5_vl_3b.yaml", tiny_iu_xray, loopback_verifier.url)
    cfg.launch.accelerate_config = None  # plain DDP: every GPU holds the whole Adam state
    results = preflight_config(cfg, base=CONFIGS, probe=lambda: h100s(8))
    (row,) = rows(results)["memory/trainer"]
    assert row.status == "FAIL" and "optimizer 41.9" in row.detail and "does not fit" in row.detail


def test_too_few_gpus_and_small_gpus(tiny_iu_xray, loopback_verifier):
    cfg = shipped("grpo_qwen2_5_vl_3b_1node_6plus2.yaml", tiny_iu_xray, loopback_verifier.url)
    small = CudaInfo("12.8", [GpuInfo("NVIDIA A100-SXM4-40GB", 39.4)] * 4)
    table = rows(preflight_config(cfg, base=CONFIGS, probe=lambda: small))
    assert table["gpus/visible"][0].detail == "4 GPU(s) visible, the plan needs 8"
    assert table["memory/gpus"][0].status == "warn"
    assert table["memory/verifier"][0].status == "ok"  # 28.4 GiB of weights per 40 GB GPU
    cfg.launch.verifier_gpus = 1  # 56.9 GiB of bf16 weights on one 40 GB GPU
    (row,) = rows(preflight_config(cfg, base=CONFIGS, probe=lambda: small))["memory/verifier"]
    assert row.status == "FAIL" and "too little KV cache" in row.detail


def test_server_mode_without_generation_gpus_is_refused(tiny_iu_xray, loopback_verifier):
    cfg = shipped("grpo_qwen2_5_vl_3b_1node_6plus2.yaml", tiny_iu_xray, loopback_verifier.url)
    cfg.launch.generation_gpus = 0
    table = rows(preflight_config(cfg, base=CONFIGS, probe=lambda: h100s(8)))
    assert table["plan/generation"][0].status == "FAIL"
    assert "no GPU runs trl vllm-serve" in table["plan/generation"][0].detail
    assert table["plan/gpus"][0].status == "warn"  # two GPUs idle


def test_verifier_not_serving_the_model_or_answering_garbage(tiny_iu_xray, loopback_verifier):
    cfg = shipped("grpo_qwen2_5_vl_3b_1node_6plus2.yaml", tiny_iu_xray, loopback_verifier.url)
    loopback_verifier.models = ["some-other-model"]
    table = rows(preflight_config(cfg, base=CONFIGS, probe=lambda: h100s(8)))
    assert table["verifier/reachable"][0].status == "FAIL"
    assert "not reward.verifier.model 'qwen3-30b-a3b'" in table["verifier/reachable"][0].detail

    loopback_verifier.models = ["qwen3-30b-a3b"]
    loopback_verifier.reply = '{"accuracy": 11}'
    table = rows(preflight_config(cfg, base=CONFIGS, probe=lambda: h100s(8)))
    assert table["verifier/verdict"][0].status == "FAIL"
    assert table["verifier/verdict"][0].detail.startswith("no valid verdict: ")
    assert table["reward/warm"][0].status == "warn"  # the reward skipped the sample: None


def test_unreachable_verifier_and_unreadable_data(tmp_path: Path, tiny_iu_xray, loopback_verifier):
    url = loopback_verifier.url
    loopback_verifier.close()  # nothing listens on that port any more
    paths = dict(tiny_iu_xray, annotation_path=str(tmp_path / "missing.json"))
    cfg = shipped("grpo_qwen2_5_vl_3b_1node_6plus2.yaml", paths, url)
    table = rows(preflight_config(cfg, base=CONFIGS, probe=lambda: h100s(8)))
    assert table["verifier/reachable"][0].status == "FAIL"
    assert "ConnectError" in table["verifier/reachable"][0].detail
    assert table["data/rows"][0].status == "FAIL"
    assert "missing.json" in table["data/rows"][0].detail


def test_vllm_range_is_the_one_trl_checks():
    trl = pytest.importorskip("trl", reason="trl (train extra) is not installed")
    source = Path(trl.__file__).with_name("import_utils.py").read_text(encoding="utf-8")
    found = re.search(
        r'Version\("([\d.]+)"\) <= _vllm_base_version <= Version\("([\d.]+)"\)', source
    )
    assert found is not None, "TRL's vLLM version check moved: update VLLM_SUPPORTED"
    assert found.groups() == VLLM_SUPPORTED


def test_vllm_outside_the_range_fails(tiny_iu_xray):
    from himed_train.preflight.packages import package_checks

    cfg = TrainConfig.model_validate({"data": {"dataset": "iu_xray", "paths": tiny_iu_xray}})
    for version, status in (("0.33.0", "FAIL"), ("0.21.1", "FAIL"), ("0.24.0+cu129", "ok"),
                            ("0.31.0", "ok")):  # fmt: skip
        versions = {"vllm": version}
        results = package_checks(cfg, None, h100s(8),
                                  version_of=lambda d, v=versions: v.get(d) or installed_version(d))
        (row,) = [r for r in results if r.name == "packages/vllm"]
        assert row.status == status, (version, row.detail)


def test_verl_recipe_dispatch(tmp_path: Path):
    import yaml

    from himed_train.preflight import run_preflight

    recipe = {
        "data": {"train_batch_size": 32},
        "actor_rollout_ref": {
            "model": {"path": "Qwen/Qwen2.5-VL-3B-Instruct"},
            "actor": {"ppo_mini_batch_size": 32, "ppo_micro_batch_size_per_gpu": 8,
                      "optim": {"lr": 1e-6}, "clip_ratio": 0.2, "kl_loss_coef": 0.1},
            "rollout": {"name": "vllm", "n": 16},
        },
        "trainer": {"n_gpus_per_node": 8, "nnodes": 1},
    }  # fmt: skip
    path = tmp_path / "verl_grpo.yaml"
    path.write_text(yaml.safe_dump(recipe))
    table = rows(run_preflight(path, probe=lambda: h100s(8)))
    assert table["plan/batch"][0].status == "ok"
    assert "512 completions per step" in table["plan/batch"][0].detail
    assert table["plan/paper"][0].status == "ok"
    assert table["gpus/visible"][0].status == "ok"
    assert "packages/verl" in table

    recipe["actor_rollout_ref"]["actor"]["ppo_micro_batch_size_per_gpu"] = 48
    path.write_text(yaml.safe_dump(recipe))
    (row,) = rows(run_preflight(path, probe=lambda: h100s(8)))["plan/batch"]
    assert row.status == "FAIL" and "ppo_micro_batch_size_per_gpu 48" in row.detail


def test_extras_pin_the_vllm_range_and_deepspeed():
    import tomllib

    root = Path(__file__).resolve().parents[2]
    extras = tomllib.loads((root / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    low, high = VLLM_SUPPORTED
    assert f"vllm>={low},<={high}" in extras["gpu"]
    assert extras["vllm"] == [f"vllm>={low},<={high}"]
    assert any(req.startswith("deepspeed") for req in extras["gpu"])
    assert any(req.startswith("flash-attn") for req in extras["flash"])


def test_verl_launch_script_is_read_as_its_overrides(tmp_path: Path):
    from himed_train.preflight import run_preflight

    (tmp_path / "recipe.yaml").write_text(
        "data: {train_batch_size: 64}\n"
        "actor_rollout_ref: {actor: {ppo_mini_batch_size: 32, ppo_micro_batch_size_per_gpu: 8,"
        " optim: {lr: 1.0e-6}, clip_ratio: 0.2, kl_loss_coef: 0.1}, rollout: {n: 16}}\n"
    )
    script = tmp_path / "recipe.sh"
    script.write_text(
        "#!/usr/bin/env bash\n"
        "python3 -m verl.trainer.main_ppo \\\n"
        "    data.train_batch_size=32 \\\n"
        "    reward.custom_reward_function.path=pkg://himed_rewards.integrations.verl \\\n"
        "    reward.custom_reward_function.name=compute_score \\\n"
        "    trainer.n_gpus_per_node=8 +trainer.nnodes=1 \"$@\"\n"
    )
    table = rows(run_preflight(script, probe=lambda: h100s(8)))
    assert table["plan/batch"][0].status == "ok"  # the script's 32 overrides the YAML's 64
    assert table["plan/paper"][0].status == "ok"
    assert table["reward/function"][0].detail == "pkg://himed_rewards.integrations.verl:compute_score"

    script.write_text(script.read_text().replace("name=compute_score", "name=no_such_fn"))
    (row,) = rows(run_preflight(script, probe=lambda: h100s(8)))["reward/function"]
    assert row.status == "FAIL" and "no function 'no_such_fn'" in row.detail


@pytest.mark.parametrize("name", ["verl_grpo_qwen2_5_vl_3b.yaml", "verl_grpo_qwen2_5_vl_3b.sh"])
def test_shipped_verl_recipe_passes_except_missing_packages(name: str):
    # The recipe shipped for verl (docs/verl.md), checked as `himed-train check` reads it,
    # with 8 H100s injected: only what this CPU box lacks (vLLM) may fail.
    from himed_train.preflight import run_preflight

    root = Path(__file__).resolve().parents[2]
    table = rows(run_preflight(root / "himed_train" / "configs" / name, probe=lambda: h100s(8)))
    failed = {check for check, found in table.items() if any(r.status == "FAIL" for r in found)}
    assert failed <= {"packages/vllm"}, {c: [r.detail for r in table[c]] for c in failed}
    assert table["plan/paper"][0].status == "ok"
    assert "512 completions per step" in table["plan/batch"][0].detail
    assert table["reward/function"][0].status == "ok"
