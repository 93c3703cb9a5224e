"""Prune-and-Quantize: structural pruning is exact, accounting is the serialised size, the greedy
walk reaches flash and RAM budgets and yields a monotone Pareto front."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from convnet_opt.memory import Target, flash_bytes, ram_bytes, serialize
from convnet_opt.models import DSCNN, LeNet5, ResNet8
from convnet_opt.prune_quantize import (
    Point,
    PQConfig,
    account,
    apply_masks,
    compact,
    load_compressed,
    pareto_front,
    prune_groups,
    run_pq,
)
from convnet_opt.train import attach_quant, bake, evaluate, set_bits


def _randomise_bn(model):
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.1)


@pytest.mark.parametrize(("make", "shape", "n_groups"), [
    (lambda: LeNet5(size=16), (1, 16, 16), 4),
    (lambda: ResNet8(width=4), (3, 16, 16), 3),         # only inside residual blocks
    (lambda: DSCNN(width=8, blocks=2), (1, 20, 10), 3),  # stem and pointwise convs, through depthwise
])
def test_masked_equals_compacted(make, shape, n_groups):
    torch.manual_seed(0)
    model = make()
    _randomise_bn(model)
    groups = prune_groups(model)
    assert len(groups) == n_groups
    attach_quant(model)
    rng = np.random.default_rng(0)
    keeps = {g.producer: np.sort(rng.choice(g.channels, max(1, g.channels // 2), replace=False)) for g in groups}
    apply_masks(model, groups, keeps)
    model.eval()
    x = torch.randn(4, *shape)
    cm = compact(model, groups, keeps)
    assert torch.allclose(model(x), cm(x), atol=1e-5)
    assert sum(p.numel() for p in cm.parameters()) < sum(p.numel() for p in bake(model).parameters())
    bits = {name: b for name, b in zip([n for n, _ in cm.named_modules() if isinstance(_, torch.nn.Conv2d | torch.nn.Linear)],
                                       [8, 4, 3, 2, 6] * 10, strict=False)}
    set_bits(model, bits)
    for enc in ("dense", "lz4", "huffman"):
        flash, ram, cm = account(model, groups, keeps, bits, enc, shape)
        assert flash == len(serialize(cm, bits, enc))
        assert ram == ram_bytes(cm, shape, bits, enc)


def test_pareto_front_filtering():
    # (label, flash, ram, val, test): the front is chosen on validation; test is only reported
    pts = [Point("a", 100, 1, 0.95, 0.90), Point("b", 80, 1, 0.92, 0.99), Point("c", 60, 1, 0.90, 0.85),
           Point("d", 70, 1, 0.80, 0.99), Point("e", 40, 1, 0.85, 0.85)]
    assert [p.label for p in pareto_front(pts)] == ["a", "b", "c", "e"]
    assert [p.label for p in pareto_front(pts, key="test_acc")] == ["d", "e"]


def test_pq_walk_reaches_flash_and_ram_budgets(digits, trained_lenet, tmp_path):
    fp_acc = evaluate(trained_lenet, digits.x_test, digits.y_test)
    # RAM: the peak is conv1's ReLU (6x16x16 in + out = 3072 B), so 2600 B forces filter pruning there
    cfg = PQConfig([12 * 1024, 6 * 1024], 2600, "dense", eval_samples=200, finetune_epochs=0.25, lr=1e-3,
                   baseline_sparsities=(0.5, 0.9))
    res = run_pq(trained_lenet, digits, Target("test", 6 * 1024, 2600), cfg=cfg, out=tmp_path, pretrain_epochs=0)

    # the front (chosen on validation): memory strictly decreasing, validation accuracy non-increasing
    flash = [p.flash for p in res.front]
    acc = [p.val_acc for p in res.front]
    assert all(a > b for a, b in zip(flash, flash[1:], strict=False))
    assert all(a >= b for a, b in zip(acc, acc[1:], strict=False))
    assert len(res.walk) > 5 and res.walk[-1].flash <= 6 * 1024 and res.walk[-1].ram <= 2600
    assert res.walk[-1].channels["features.0"] < 6  # RAM forced conv1 filters out

    # one chosen model per budget, below it by accounting, and accounting == serialised length
    assert set(res.chosen) == {"12KiB", "6KiB"}
    for key, p in res.chosen.items():
        budget = float(key[:-3]) * 1024
        assert p.flash <= budget and p.ram <= 2600
        model, cfg_saved = load_compressed(tmp_path / "models" / f"budget_{key}.pt")
        assert len(serialize(model, cfg_saved["bits"], cfg_saved["encoder"])) == p.flash
        assert flash_bytes(model, cfg_saved["bits"], "dense") == p.flash
        assert ram_bytes(model, digits.input_shape, cfg_saved["bits"], "dense") == p.ram
        assert abs(evaluate(model, digits.x_test, digits.y_test) - p.test_acc) <= 1.5 / len(digits.y_test)

    # the float network the walk started from, for traces of uniform-precision points
    fp = LeNet5(in_ch=1, classes=10, size=16)
    fp.load_state_dict(torch.load(tmp_path / "models" / "fp32.pt", weights_only=True))
    assert evaluate(fp, digits.x_test, digits.y_test) == pytest.approx(fp_acc)

    # deep compression for little accuracy on this toy set
    best6 = res.chosen["6KiB"]
    assert res.fp32_bytes / best6.flash > 14
    assert best6.test_acc >= fp_acc - 0.05

    labels = [b.label for b in res.baselines]
    assert labels[:5] == ["uniform8", "uniform6", "uniform4", "uniform3", "uniform2"]
    assert all(b.flash > 0 for b in res.baselines) and set(res.baseline_gap) == set(labels)
    doc = json.loads((tmp_path / "pq.json").read_text())
    assert doc["front"][0]["flash"] == res.front[0].flash
    assert (tmp_path / "pq_front.png").stat().st_size > 1000
