"""Adaptive ConvNets: energy model by hand, calibration from sign-off power, NSGA-II front on
shared weights, run-time controller."""

from __future__ import annotations

import json

import pytest
from torch import nn

from convnet_opt.adaptive import Controller, OperatingPoint, non_dominated, run_adaptive, shift_snap
from convnet_opt.energy import (
    EnergyModel,
    array_cycles,
    calibrate,
    layer_energy,
    layer_work,
    network_energy,
)
from flow.errors import ConfigError, FormatError


def toy_energy_model() -> EnergyModel:
    return EnergyModel("toy", rows=2, cols=2, clock_hz=1e8, mac_pj={8: 1.0, 4: 0.25, 2: 0.0625},
                       weight_pj_per_byte=2.0, act_pj_per_byte=1.0, leak_pj_per_cycle=0.5)


def test_energy_of_a_two_layer_net_by_hand():
    net = nn.Sequential(nn.Conv2d(1, 2, 3, bias=False), nn.ReLU(), nn.Flatten(), nn.Linear(32, 3))
    work = layer_work(net, (1, 6, 6))
    assert [(w.macs, w.params, w.in_elems, w.out_elems) for w in work] == [(288, 18, 36, 32), (96, 96, 32, 3)]
    assert [(w.groups, w.co_g, w.k_g, w.pixels) for w in work] == [(1, 2, 9, 16), (1, 3, 32, 1)]
    em = toy_energy_model()
    # the array's schedule (2x2 PEs): tiles = ceil(cout/2) x ceil(K/(2 rows x 8/b)), each
    # ROWS + 1 + N + COLS + ROWS cycles. conv @4 bit: 1 x ceil(9/4) = 3 tiles x (2+1+16+2+2)
    assert array_cycles(work[0], 4, 2, 2) == 3 * 23
    # linear @2 bit: ceil(3/2) x ceil(32/8) = 8 tiles x (2+1+1+2+2)
    assert array_cycles(work[1], 2, 2, 2) == 8 * 8
    # int8 storage: every precision reads 8 bits per weight
    # conv @4 bit: 288 MACs x 0.25 + 69 cycles x 0.5 + 18 weights x 1 B x 2 + (36 + 32) x 0.5 B x 1
    assert layer_energy(em, work[0], 4)["total"] == pytest.approx(72 + 34.5 + 36 + 34)
    # bit-plane storage reads b bits: 18 x 0.5 B x 2 instead
    assert layer_energy(em, work[0], 4, "bitplane")["total"] == pytest.approx(72 + 34.5 + 18 + 34)
    # linear @2 bit: 96 x 0.0625 + 64 x 0.5 + 96 x 1 B x 2 + 35 x 0.25 B x 1
    assert layer_energy(em, work[1], 2)["total"] == pytest.approx(6 + 32 + 192 + 8.75)
    assert layer_energy(em, work[1], 2)["cycles"] == 64
    assert network_energy(em, work, [4, 2]) == pytest.approx(176.5 + 238.75)
    assert network_energy(em, work, [4, 2], part="array") == pytest.approx(72 + 34.5 + 6 + 32)
    with pytest.raises(ValueError, match="no MAC energy for 3 bits"):
        network_energy(em, work, 3)
    with pytest.raises(ConfigError, match="bitplane"):
        em.check_storage("bitplane")  # the mac_array loads packed 8-bit words only


def test_broken_energy_model_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\nrows = 4\ncols = = 4\n')
    with pytest.raises(FormatError, match=r"bad.toml:3"):
        EnergyModel.load(bad)
    bad.write_text('name = "x"\nrows = 4\ncols = 4\nclock_hz = 1e8\n')
    with pytest.raises(FormatError, match=r"bad.toml: missing key 'mac_pj'"):
        EnergyModel.load(bad)
    with pytest.raises(ConfigError, match="no_such_model"):
        EnergyModel.load("no_such_model")


def test_calibrate_from_signoff(tmp_path):
    em = EnergyModel.load("mac_array")
    assert em.mac_pj[8] > em.mac_pj[4] > em.mac_pj[2] and em.rows * em.cols == 16
    doc = {"power__total": 0.016, "power__leakage__total": 0.001, "synth__clock__period_ns": 2.0}
    (tmp_path / "metrics.json").write_text(json.dumps(doc))
    cal = calibrate(em, tmp_path / "metrics.json")
    # 16 mW x 2 ns = 32 pJ per cycle, 2 pJ of it leakage, 30 pJ over 16 MACs
    assert cal.mac_pj[8] == pytest.approx(30 / 16)
    assert cal.mac_pj[4] / cal.mac_pj[8] == pytest.approx(em.mac_pj[4] / em.mac_pj[8])
    assert cal.cycle_pj is None  # a sign-off number replaces the per-cycle fit by leakage alone
    assert cal.leak_pj_per_cycle == pytest.approx(2.0) and cal.clock_hz == pytest.approx(5e8)
    assert calibrate(em, {"power__total": 0.016}).mac_pj[8] == pytest.approx(
        (0.016 / em.clock_hz * 1e12 - em.leak_pj_per_cycle) / 16)
    with pytest.raises(ValueError, match="power__total"):
        calibrate(em, {})


def test_shift_snap_uses_the_int8_weights():
    import torch

    q8 = torch.tensor([-128.0, -65, -64, -1, 0, 1, 31, 33, 127])
    assert shift_snap(4)(q8, 8).tolist() == [-128, -64, -64, 0, 0, 0, 32, 32, 112]
    assert shift_snap(2)(q8, 8).tolist() == [-128, -64, -64, 0, 0, 0, 0, 64, 64]


def test_non_dominated_and_controller():
    assert non_dominated([(3, 0.1), (1, 0.5), (2, 0.2), (2.5, 0.3), (1, 0.6)]) == [1, 2, 0]
    pts = [OperatingPoint([2], 10, 0.80), OperatingPoint([4], 20, 0.90), OperatingPoint([8], 40, 0.95)]
    ctl = Controller(pts, hysteresis=0.1)
    log = ctl.run([50, 30, 21, 21.5, 23, 5], mode="energy")
    assert [s["point"] for s in log] == [2, 1, 1, 1, 1, 0]  # 21..23 pJ does not go back up (hysteresis)
    assert [s["switched"] for s in log] == [False, True, False, False, False, True]
    assert [s["point"] for s in ctl.run([1.0, 0.0, 0.4, 1.0])] == [2, 0, 1, 2]  # battery maps onto [10, 44] pJ
    with pytest.raises(ValueError, match="trigger mode"):
        ctl.budget(1.0, "tea")


def test_nsga2_front_on_shared_weights(digits, trained_lenet, tmp_path):
    em = EnergyModel.load("mac_array")
    res = run_adaptive(trained_lenet, digits, em, pretrain_epochs=0, epochs=4, lr=1e-3, pop_size=12, n_gen=5,
                       eval_samples=300, out=tmp_path)
    pts = res.points
    assert len(pts) >= 3
    for a, b in zip(pts, pts[1:], strict=False):  # non-dominated: more energy buys more accuracy
        assert a.energy_pj < b.energy_pj and a.val_acc < b.val_acc
    work = layer_work(trained_lenet, digits.input_shape)
    for p in pts:  # one memory model: int8 weights read at every precision
        assert p.energy_pj == pytest.approx(network_energy(em, work, p.bits, "int8"))
        assert p.saving == pytest.approx(1 - p.energy_pj / res.all8.energy_pj)
    assert res.all8.energy_pj == pytest.approx(network_energy(em, work, 8))
    assert res.weight_storage == "int8"
    # activations are signed b-bit, as the PE multiplies them
    from convnet_opt.adaptive import ActQuant

    hooks = [h for m in trained_lenet.modules() for h in m._forward_pre_hooks.values() if isinstance(h, ActQuant)]
    assert len(hooks) == 5 and all(h.signed for h in hooks)
    # the headline: the largest saving within 3 points on validation, a front point
    best = res.best_under_3pt
    assert best in pts and res.all8.val_acc - best.val_acc < 0.03
    assert best.saving == max(p.saving for p in pts if res.all8.val_acc - p.val_acc < 0.03)
    assert best.saving > 0.2
    # every point's validation loss is paired with all-8-bit on the same 300 images
    for p in pts:
        assert p.val_loss == pytest.approx(res.all8.val_acc - p.val_acc, abs=1e-12)
        assert p.val_loss_se >= 0 and (p.val_loss_se > 0 or p.val_loss == 0)
        assert p.val_loss_se <= (1 + 1e-9) / (300 - 1) ** 0.5  # |d| <= 1 per image
    trace = json.loads((tmp_path / "switch_trace.json").read_text())
    assert len(trace) == 60 and any(s["switched"] for s in trace)
    assert res.trace_energy_pj < res.trace_energy_all8_pj
    assert (tmp_path / "adaptive.png").exists()


def test_cli_adaptive_with_signoff_and_trace(tmp_path):
    from typer.testing import CliRunner

    from convnet_opt.cli import app

    (tmp_path / "metrics.json").write_text(json.dumps({"power__total": 0.02, "synth__clock__period_ns": 3.0}))
    (tmp_path / "trace.json").write_text(json.dumps([1.0, 0.5, 0.1, 0.9]))
    args = ["adaptive", "--dataset", "digits", "--limit", "400", "--epochs", "2", "--switch-epochs", "1",
            "--pop", "6", "--gens", "2", "--signoff", str(tmp_path / "metrics.json"), "--trace", str(tmp_path / "trace.json"),
            "--out", str(tmp_path / "out")]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "trace: 4 steps" in r.output
    assert len(json.loads((tmp_path / "out" / "switch_trace.json").read_text())) == 4
    (tmp_path / "bad.json").write_text("{")
    r = CliRunner().invoke(app, [*args[:-2], "--trace", str(tmp_path / "bad.json"), "--out", str(tmp_path / "o2")])
    assert r.exit_code == 2
