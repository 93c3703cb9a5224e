"""The headline pick with a statistical margin (`convnet_opt.selection`)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from convnet_opt.selection import Candidate, cheapest_within, correct, k_for, paired_loss


def test_paired_loss_counts_only_discordant_images():
    # 100 images: both right on 88, both wrong on 5, only the reference right on 5, only the point on 2
    ref = np.array([1] * 88 + [0] * 5 + [1] * 5 + [0] * 2, dtype=bool)
    pt = np.array([1] * 88 + [0] * 5 + [0] * 5 + [1] * 2, dtype=bool)
    loss, se = paired_loss(ref, pt)
    assert loss == pytest.approx(0.03)                      # (5 - 2) / 100
    # d = +1 x5, -1 x2, 0 x93: var = (7 - 100 * 0.03^2) / 99, se = sqrt(var / 100)
    assert se == pytest.approx(math.sqrt((7 - 0.09) / 99) / 10)
    assert se == pytest.approx(0.0264193, abs=1e-6)
    # unpaired, the two accuracies (0.93, 0.90) would have an SE of ~0.039: pairing is sharper
    assert se < math.sqrt(0.93 * 0.07 / 100 + 0.90 * 0.10 / 100)


def test_paired_loss_rejects_unpaired_vectors():
    with pytest.raises(ValueError, match="equally long"):
        paired_loss(np.ones(5, bool), np.ones(4, bool))


def test_k_for_one_sided_five_percent():
    # z_0.95 = 1.644854; the test-minus-validation error has SD SE_val * sqrt(1 + n_val / n_test)
    assert k_for(0.05, 4000, 10000) == pytest.approx(1.644854 * math.sqrt(1.4), abs=1e-5)
    assert k_for(0.05, 4000, 10000) == pytest.approx(1.94622, abs=1e-4)
    assert k_for(0.05, 5000, 10000) == pytest.approx(2.01453, abs=1e-4)
    assert k_for(0.5, 100, 100) == pytest.approx(0.0, abs=1e-9)
    assert k_for(0.025, 1, 1e12) == pytest.approx(1.959964, abs=1e-5)


def _front() -> list[Candidate]:
    # a synthetic P&Q front (flash decreasing, validation loss increasing; fractions)
    return [Candidate("a", 9000, 0.001, 0.0010), Candidate("b", 6000, 0.004, 0.0015),
            Candidate("c", 4000, 0.008, 0.0015), Candidate("d", 3000, 0.0095, 0.0030),
            Candidate("e", 2000, 0.014, 0.0030)]


def test_margin_changes_the_pick():
    front = _front()
    # plain rule: d's 0.95 pt loss is within 1 pt
    assert cheapest_within(front, 0.01, 0.0).label == "d"
    # one SE: d's bound 1.25 pt fails, c's 0.95 pt passes
    assert cheapest_within(front, 0.01, 1.0).label == "c"
    # k = 2: c's bound is 1.1 pt, b's 0.7 pt
    pick = cheapest_within(front, 0.01, 2.0)
    assert pick.label == "b" and pick.bound(2.0) == pytest.approx(0.007)
    # k = 6: b's bound 1.3 pt fails, a's 0.7 pt passes
    assert cheapest_within(front, 0.01, 6.0).label == "a"
    assert cheapest_within(front, 0.001, 1.0) is None


def test_strict_bar_and_ties():
    c = [Candidate("x", 10, 0.03, 0.0), Candidate("y", 10, 0.02, 0.0), Candidate("z", 20, 0.0, 0.0)]
    assert cheapest_within(c, 0.03, 2.0).label == "y"          # equal cost: the smaller loss
    assert cheapest_within(c[:1] + c[2:], 0.03, 2.0).label == "x"
    assert cheapest_within(c[:1] + c[2:], 0.03, 2.0, strict=True).label == "z"   # "< 3 pt"
    # an energy saving as a negative cost: the largest saving wins
    s = [Candidate("p", -0.6, 0.029, 0.002), Candidate("q", -0.5, 0.018, 0.002)]
    assert cheapest_within(s, 0.03, 0.0, strict=True).label == "p"
    assert cheapest_within(s, 0.03, 2.0, strict=True).label == "q"


def test_correct_is_per_image_and_paired(digits, trained_lenet):
    from convnet_opt.train import evaluate

    x, y = digits.x_val[:200], digits.y_val[:200]
    ok = correct(trained_lenet, x, y)
    assert ok.shape == (200,) and ok.dtype == bool
    assert ok.mean() == pytest.approx(evaluate(trained_lenet, x, y))
    loss, se = paired_loss(ok, ok)
    assert loss == 0.0 and se == 0.0


def _bench():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "convnet_lenet_mnist.py"
    spec = importlib.util.spec_from_file_location("convnet_lenet_mnist", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_benchmark_pick_uses_the_images_the_walk_did_not_score(digits, trained_lenet, tmp_path):
    """The benchmark's P&Q pick: walk points re-scored on validation images [n_walk:], paired with
    fp32; a point that is only good on the walk's images is not picked."""
    import argparse
    import copy
    import json

    import torch

    from convnet_opt.memory import fp32_bytes
    from convnet_opt.prune_quantize import Point, save_compressed
    from convnet_opt.train import evaluate

    bench = _bench()
    n_walk = 100
    xs, ys = digits.x_val[n_walk:], digits.y_val[n_walk:]
    noisy = copy.deepcopy(trained_lenet)
    with torch.no_grad():  # a damaged copy: clearly worse than fp32 on the selection images
        for p in noisy.parameters():
            p.add_(0.35 * p.abs().mean() * torch.randn(p.shape, generator=torch.Generator().manual_seed(1)))
    walk = []
    for label, m, flash, walk_val in (("int8", trained_lenet, 60000, 0.99), ("step1", noisy, 3000, 0.99)):
        pt = Point(label, flash, 1000, walk_val, float("nan"), {"features.0": 8}, {"features.0": 6})
        (tmp_path / "pq" / "walk").mkdir(parents=True, exist_ok=True)
        save_compressed(tmp_path / "pq" / "walk" / f"{label}.pt", m, pt, "lenet5", digits.input_shape, 10)
        walk.append({"label": label, "flash": flash, "val_acc": walk_val, "bits": pt.bits, "channels": pt.channels})
    (tmp_path / "pq" / "pq.json").write_text(json.dumps({"walk": walk}))
    args = argparse.Namespace(alpha=0.05)
    rec = bench.pq_select(0, args, digits, trained_lenet, tmp_path, {"config": {"eval_samples": n_walk}, "walk": 2})
    assert rec["selection_images"] == len(ys) and rec["k"] == pytest.approx(1.644854 * math.sqrt(1 + len(ys) / len(digits.y_test)), abs=1e-5)
    ref = correct(trained_lenet, xs, ys)
    loss_noisy, se_noisy = paired_loss(ref, correct(noisy, xs, ys))
    assert loss_noisy > 0.02  # the damaged copy is worse than 1 pt on the selection images
    by = {p["label"]: p for p in rec["points"]}
    assert by["int8"]["loss"] == 0.0 and by["int8"]["se"] == 0.0
    assert by["step1"]["loss"] == pytest.approx(loss_noisy) and by["step1"]["se"] == pytest.approx(se_noisy)
    assert by["step1"]["ratio"] == pytest.approx(fp32_bytes(trained_lenet) / 3000)
    # its walk accuracy (0.99) is ignored: the pick is the fp32-equivalent point, at both k
    assert rec["best"]["label"] == "int8" and rec["plain"]["label"] == "int8"
    assert rec["best"]["test_acc"] == pytest.approx(evaluate(trained_lenet, digits.x_test, digits.y_test))
    assert rec["best"]["test_loss"] == pytest.approx(0.0)
    # cached: the same k and walk give back the saved record
    assert bench.pq_select(0, args, digits, trained_lenet, tmp_path, {"config": {"eval_samples": n_walk}, "walk": 2}) == rec
