"""Plots write real PNG and SVG files (matplotlib, Agg backend)."""

from __future__ import annotations

import json
import struct
import xml.etree.ElementTree as ET

import pytest

pytest.importorskip("matplotlib")

from himed_rewards import LinearSchedule  # noqa: E402
from himed_rewards.plots import (  # noqa: E402
    load_scores,
    plot_distributions,
    plot_schedule,
    plot_training,
    training_series,
)


def assert_png(path, min_size=(900, 600)):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk
    assert width >= min_size[0] and height >= min_size[1]
    # pHYs chunk: pixels per metre; 300 dpi = 11811 px/m.
    at = data.index(b"pHYs")
    x_ppm, y_ppm, unit = struct.unpack(">IIB", data[at + 4:at + 13])
    assert unit == 1 and round(x_ppm * 0.0254) == 300 == round(y_ppm * 0.0254)


def assert_pdf(path):
    assert path.read_bytes()[:5] == b"%PDF-"


def assert_svg(path, must_contain=()):
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg")
    text = path.read_text(encoding="utf-8")
    for needle in must_contain:
        assert needle in text


def test_schedule_plot(tmp_path):
    png, svg, pdf = plot_schedule(LinearSchedule(T=10_000, alpha_min=0.1), 15_000, tmp_path)
    assert_png(png)
    assert_pdf(pdf)
    # text stays text in the SVG: the title names the schedule, the axes say what and in what
    assert_svg(svg, ["T=10000", "training step", "(optimizer steps)", "weight (0-1)"])


def test_training_plot_from_trl_trainer_state(tmp_path):
    history = [{"step": s, "loss": 1.0 / (s + 1), "rewards/HimedReward/mean": 0.1 * s,
                "reward": 0.1 * s, "himed/total": 0.1 * s, "himed/format": 1.0 - 0.1 * s,
                "himed/token": 0.01 * s, "himed/semantic": 0.2 * s, "himed/alpha1": 1 - s / 20,
                "himed/alpha2": s / 20} for s in range(1, 11)]
    history.append({"step": 10, "train_runtime": 12.0})  # TRL's final summary entry
    log = tmp_path / "trainer_state.json"
    log.write_text(json.dumps({"global_step": 10, "log_history": history}))
    series = training_series(history)
    assert set(series) == {"rewards/HimedReward/mean", "reward", "himed/total", "himed/format",
                           "himed/token", "himed/semantic", "himed/alpha1", "himed/alpha2"}
    assert series["himed/token"][0] == list(range(1, 11))
    png, svg, pdf = plot_training(log, tmp_path / "out")
    assert_png(png)
    assert_pdf(pdf)
    # one panel per level, each titled; the three identical total curves are drawn once
    assert_svg(svg, ["Token level (BLEU-4)", "Format", "reward (-1 or +1)",
                     "Semantic level (judge)", "Schedule weights", "training step",
                     "himed/total = reward = rewards/HimedReward/mean"])


def test_training_plot_without_reward_keys_fails_clearly(tmp_path):
    log = tmp_path / "log.jsonl"
    log.write_text('{"step": 1, "loss": 0.3}\n')
    with pytest.raises(ValueError, match="no reward keys found"):
        plot_training(log, tmp_path)


def test_distributions_plot(tmp_path):
    for name, values in (("a", [0.1, 0.4, 0.5]), ("b", [0.6, 0.7, None])):
        rows = [{"id": str(i), "system": name, "rougeL": v, "himed": v}
                for i, v in enumerate(values)]
        (tmp_path / f"{name}.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    assert load_scores(tmp_path / "b.jsonl") == ("b", {"rougeL": [0.6, 0.7],
                                                       "himed": [0.6, 0.7]})
    png, svg, pdf = plot_distributions([tmp_path / "a.jsonl", tmp_path / "b.jsonl"],
                                       tmp_path / "o")
    assert_png(png)
    assert_pdf(pdf)
    # human titles instead of raw keys, labelled axes, means in the legend
    assert_svg(svg, ["ROUGE-L F1", "HiMed total reward", "reports (count)", "score (0-1)",
                     "a (mean 0.333, n=3)", "b (mean 0.650, n=2)"])
    with pytest.raises(ValueError, match="not in every file"):
        plot_distributions([tmp_path / "a.jsonl"], tmp_path, metrics=["bleu9"])
