"""The batch arithmetic against TRL 1.16's own GRPOConfig checks, the launch-time world-size
guard, the flash-attn fallback and the ``check`` command line."""

from __future__ import annotations

import warnings
from importlib import resources
from pathlib import Path

import pytest

from himed_train.attention import resolve_attn_implementation
from himed_train.batch import batch_problems, reconcile_world_size, world_size_from_env
from himed_train.cli import main
from himed_train.config import GRPOSection, ModelSection

CONFIGS = Path(str(resources.files("himed_train").joinpath("configs")))


def section(**fields) -> GRPOSection:
    """A GRPOSection built without its validator, so invalid plans can be compared."""
    return GRPOSection.model_construct(**{"num_processes": 1, **fields})


# (prompts, G, per device, extra): checked by our rules and by a real trl.GRPOConfig
TRL_CASES = [
    (3, 4, 3, {}),
    (3, 4, 3, {"steps_per_generation": 1}),  # generation batch 3: not whole groups
    (3, 4, 3, {"steps_per_generation": 4}),
    (4, 4, 2, {"generation_batch_size": 10}),  # divides the global batch, not G
    (4, 4, 2, {"generation_batch_size": 9}),  # does not divide the global batch
    (4, 4, 2, {"generation_batch_size": 8, "steps_per_generation": 4}),  # both set
    (2, 4, 4, {"generation_batch_size": 16}),
]


@pytest.mark.parametrize(("prompts", "group", "per_device", "extra"), TRL_CASES)
def test_batch_rules_agree_with_trl(prompts, group, per_device, extra):
    pytest.importorskip("trl", reason="trl (train extra) is not installed")
    from trl import GRPOConfig

    plan = section(prompts_per_step=prompts, num_generations=group,
                   per_device_train_batch_size=per_device, extra=extra)  # fmt: skip
    ours = batch_problems(plan, 1)
    try:
        GRPOConfig(
            output_dir="unused", use_cpu=True, bf16=False, report_to=[],
            per_device_train_batch_size=per_device, num_generations=group,
            gradient_accumulation_steps=prompts * group // per_device, **extra,
        )  # fmt: skip
        trl_error = None
    except ValueError as err:
        trl_error = str(err)
    assert bool(ours) == (trl_error is not None), (ours, trl_error)


def test_world_size_guard_adjusts_loudly_or_refuses():
    paper = GRPOSection()  # 8 processes x 8 per device x 8 accumulation
    with pytest.warns(UserWarning, match=r"gradient_accumulation_steps 8 -> 16"):
        four = reconcile_world_size(paper, 4)
    assert four.num_processes * four.per_device_train_batch_size * \
        four.gradient_accumulation_steps == 512  # fmt: skip
    with pytest.raises(ValueError, match=r"started 6 training process\(es\).*no factor 3"):
        reconcile_world_size(paper, 6)
    with pytest.raises(ValueError, match=r"launch.world_size_mismatch: error"):
        reconcile_world_size(paper, 4, "error")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the planned world size changes nothing, silently
        assert reconcile_world_size(paper, 8) is paper


def test_world_size_comes_from_the_launcher(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "4")
    assert world_size_from_env() == 4
    monkeypatch.delenv("WORLD_SIZE")
    assert world_size_from_env() == 1
    monkeypatch.setenv("WORLD_SIZE", "four")
    with pytest.raises(ValueError, match="WORLD_SIZE must be an integer"):
        world_size_from_env()


def test_run_grpo_refuses_a_world_size_that_breaks_the_step(monkeypatch, tmp_path: Path):
    pytest.importorskip("trl", reason="trl (train extra) is not installed")
    from himed_train.config import TrainConfig
    from himed_train.grpo import run_grpo

    monkeypatch.setenv("WORLD_SIZE", "6")
    cfg = TrainConfig.model_validate({"data": {"dataset": "iu_xray", "paths": {
        "annotation_path": str(tmp_path / "a.json"), "images_dir": str(tmp_path)}}})  # fmt: skip
    with pytest.raises(ValueError, match=r"started 6 training process\(es\) but "
                                         r"grpo.num_processes is 8"):  # fmt: skip
        run_grpo(cfg)  # refused before the reward, the data or any model is touched


def test_flash_attention_falls_back_to_sdpa():
    from himed_train.attention import flash_attn_available

    if flash_attn_available():
        assert resolve_attn_implementation("flash_attention_2") == "flash_attention_2"
    else:
        with pytest.warns(UserWarning, match="falling back to sdpa"):
            assert resolve_attn_implementation("flash_attention_2") == "sdpa"
    with pytest.raises(TypeError, match="requested"):
        resolve_attn_implementation(2)  # type: ignore[arg-type]


def test_model_init_kwargs_use_the_fallback():
    pytest.importorskip("trl", reason="trl (train extra) is not installed")
    from himed_train.attention import flash_attn_available
    from himed_train.grpo import model_init_kwargs

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kwargs = model_init_kwargs(ModelSection(attn_implementation="flash_attention_2"))
    expected = "flash_attention_2" if flash_attn_available() else "sdpa"
    assert kwargs == {"dtype": "bfloat16", "attn_implementation": expected}


def test_check_cli_prints_the_table_and_fails_without_gpu(capsys):
    code = main(["check", str(CONFIGS / "grpo_qwen2_5_vl_3b_1gpu_debug.yaml")])
    out, err = capsys.readouterr()
    assert code == 1
    assert out.splitlines()[0].split() == ["check", "status", "detail"]
    assert "plan/batch" in out and "1 processes x 16 per device x 32 accumulation" in out
    assert "himed-train check: data/rows: mimic_cxr: FileNotFoundError" in err


def test_check_cli_rejects_an_impossible_plan(tmp_path: Path, capsys):
    bad = tmp_path / "six.yaml"
    bad.write_text("data: {dataset: iu_xray, paths: {}}\ngrpo: {num_processes: 6}\n")
    assert main(["check", str(bad)]) == 2
    assert "512 has no factor 3" in capsys.readouterr().err


LAYOUT_FILES = {
    "grpo_qwen2_5_vl_3b.yaml": "accelerate_zero3_8gpu.yaml",
    "grpo_qwen2_5_vl_3b_1node_6plus2.yaml": "accelerate_zero3_4gpu.yaml",
    "grpo_qwen2_5_vl_3b_1gpu_debug.yaml": "accelerate_zero3_1gpu_offload.yaml",
}


@pytest.mark.parametrize("name", sorted(LAYOUT_FILES))
def test_shipped_layouts_are_accepted_by_trl_and_accelerate(name: str):
    pytest.importorskip("trl", reason="trl (train extra) is not installed")
    from accelerate.commands.config.config_args import load_config_from_file

    from himed_train.config import TrainConfig
    from himed_train.grpo import make_grpo_config

    cfg = TrainConfig.from_file(CONFIGS / name)
    assert cfg.launch.accelerate_config == LAYOUT_FILES[name]
    accel = load_config_from_file(str(CONFIGS / LAYOUT_FILES[name]))
    assert accel.num_processes == cfg.grpo.num_processes
    assert str(accel.distributed_type) in ("DEEPSPEED", "DistributedType.DEEPSPEED")
    # every key is one TRL 1.16 knows; only the CPU of this machine is swapped in
    kwargs = {**cfg.grpo.to_trl_kwargs(), "bf16": False, "use_cpu": True, "report_to": []}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the flash-attn fallback warning where it is absent
        args = make_grpo_config(kwargs, cfg.model)
    assert args.gradient_accumulation_steps == cfg.grpo.gradient_accumulation_steps
    assert (args.beta, args.epsilon, args.learning_rate, args.num_generations) == (
        0.1, 0.2, 1e-6, 16
    )
    assert args.vllm_mode == cfg.grpo.vllm_mode


def test_check_cli_reports_a_broken_file_cleanly(tmp_path: Path, capsys):
    bad = tmp_path / "broken.yaml"
    bad.write_text("grpo: [unclosed\n")
    assert main(["check", str(bad)]) == 2
    assert "not valid YAML" in capsys.readouterr().err
    assert main(["check", str(tmp_path / "absent.yaml")]) == 2
    assert "config: no such file" in capsys.readouterr().err
