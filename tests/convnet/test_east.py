"""EAST: encoder-shaped pruning makes the encoded image smaller than magnitude pruning at the
same sparsity, and the adaptive schedule meets an encoded-size budget at lower sparsity."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch

from convnet_opt.east import (
    EASTConfig,
    east_train,
    encoded_size,
    shaped_masks,
    sizes_at_equal_sparsity,
    snap_pow2,
)
from convnet_opt.encoders import encode
from convnet_opt.memory import quantize, serialize
from convnet_opt.train import attach_quant, bake, evaluate, train


@pytest.fixture
def q4_lenet(digits, trained_lenet):
    attach_quant(trained_lenet, 4)
    train(trained_lenet, digits, epochs=1, lr=1e-3, seed=1)
    return trained_lenet


def test_shaped_masks_are_blocks_and_grow():
    torch.manual_seed(0)
    w = {"a": torch.randn(8, 4, 3, 3), "b": torch.randn(10, 64)}
    m = shaped_masks(w, 0.5, "block", bits=4, block_bytes=8)   # 16 elements per block
    for name in w:
        flat = m[name].reshape(-1)
        blocks = flat[: flat.numel() // 16 * 16].reshape(-1, 16)
        assert torch.all((blocks.sum(1) == 0) | (blocks.sum(1) == 16))  # whole blocks only
    total = sum(t.numel() for t in w.values())
    zeros = sum(int((t == 0).sum()) for t in m.values())
    assert abs(zeros / total - 0.5) < 16 / total + 1e-9
    masked = {k: t * m[k] for k, t in w.items()}
    m2 = shaped_masks(masked, 0.7, "block", bits=4, block_bytes=8)
    assert all(torch.all(m2[k] <= m[k]) for k in w)  # masks only grow
    rows = shaped_masks(w, 0.3, "row", bits=4)["b"]
    assert torch.all((rows.sum(1) == 0) | (rows.sum(1) == 64))


def test_snap_keeps_qmax_and_few_levels():
    q = torch.arange(-7, 8, dtype=torch.float32)
    s = snap_pow2(q, 4)
    assert set(s.abs().tolist()) == {0.0, 1.0, 2.0, 4.0, 7.0}
    assert s[0] == -7 and s[-1] == 7


def test_east_smaller_than_magnitude_at_equal_sparsity(q4_lenet):
    rows = sizes_at_equal_sparsity(q4_lenet, [0.5, 0.8], "lz4", bits=4)
    for r in rows:
        assert r["shaped"] < 0.85 * r["magnitude"], r
        assert r["weight_sparsity_shaped"] >= r["sparsity"] - 0.01
        assert r["weight_sparsity_magnitude"] >= r["sparsity"] - 0.01
    huff = sizes_at_equal_sparsity(q4_lenet, [0.5], "huffman", bits=4)[0]
    assert huff["shaped"] < huff["magnitude"]


def test_east_meets_budget_with_less_sparsity(digits, q4_lenet):
    dense = encoded_size(q4_lenet, 4, "lz4")
    budget = int(0.45 * dense)
    runs = {}
    for shape in ("block", "element"):
        model = copy.deepcopy(q4_lenet)
        cfg = EASTConfig(budget, "lz4", 4, shape=shape, epochs=2, rounds=8, lr=1e-3)
        runs[shape] = east_train(model, digits, cfg)
        assert runs[shape].size_bytes <= budget
        assert runs[shape].size_bytes == len(serialize(bake(model), 4, "lz4"))
        assert runs[shape].test_acc == evaluate(model, digits.x_test, digits.y_test)
        sizes = [h["size"] for h in runs[shape].history]
        assert sizes[0] > budget and min(sizes) <= budget * 1.02
    east, mag = runs["block"], runs["element"]
    assert east.sparsity < mag.sparsity - 0.05
    assert east.test_acc >= mag.test_acc - 0.02


def test_encoded_size_is_really_encoded(q4_lenet):
    b = bake(q4_lenet)
    w = dict(b.named_modules())["classifier.1"].weight
    q, _ = quantize(w, 4)
    assert len(encode("lz4", q, 4)) < len(encode("dense", q, 4)) + 64
    assert encoded_size(q4_lenet, 4, "dense") == len(serialize(b, 4, "dense"))
    assert np.array_equal(q, quantize(dict(bake(q4_lenet).named_modules())["classifier.1"].weight, 4)[0])


def test_cli_east(tmp_path):
    from typer.testing import CliRunner

    from convnet_opt.cli import app

    r = CliRunner().invoke(app, ["east", "--dataset", "digits", "--limit", "400", "--epochs", "2", "--budget-kib", "6",
                                 "--sparse-epochs", "1", "--encoder", "lz4", "--bits", "4", "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert "vs magnitude" in r.output
    assert "block" in r.output and "element" in r.output
    assert (tmp_path / "east.json").exists() and (tmp_path / "east.png").exists()
    # the baseline a user would pick: magnitude pruning with the encoder needing the least sparsity
    doc = json.loads((tmp_path / "east.json").read_text())
    need = {k: v for k, v in doc["magnitude_sparsity_needed"].items() if v is not None}
    assert doc["magnitude_best"]["encoder"] == min(need, key=need.get)
    assert doc["magnitude_best"]["size_bytes"] <= 6 * 1024 and "(best encoder)" in r.output


def test_magnitude_sparsity_for_budget_is_the_least_that_fits(q4_lenet):
    from convnet_opt.baselines import magnitude_sparsity_for
    from convnet_opt.east import apply_sparsity

    dense = encoded_size(q4_lenet, 4, "csr")
    budget = int(0.5 * dense)
    s = magnitude_sparsity_for(q4_lenet, budget, 4, "csr")
    for sp, fits in ((s, True), (s - 0.01, False)):
        m = copy.deepcopy(q4_lenet)
        apply_sparsity(m, sp, "element", 4)
        assert (encoded_size(m, 4, "csr") <= budget) == fits
    assert magnitude_sparsity_for(q4_lenet, 10, 4, "csr") is None  # 10 bytes: nothing fits
