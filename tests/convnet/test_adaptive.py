"""Adaptive ConvNets: energy model by hand, calibration from sign-off power, NSGA-II front on
shared weights, run-time controller."""

from __future__ import annotations

import json

import pytest
from torch import nn

from convnet_opt.adaptive import Controller, OperatingPoint, non_dominated, run_adaptive, shift_snap
from convnet_opt.energy import EnergyModel, calibrate, layer_energy, layer_work, network_energy
from flow.errors import ConfigError, FormatError


def toy_energy_model() -> EnergyModel:
    return EnergyModel("toy", rows=2, cols=2, clock_hz=1e8, mac_pj={8: 1.0, 4: 0.25, 2: 0.0625},
                       weight_pj_per_byte=2.0, act_pj_per_byte=1.0, leak_pj_per_cycle=0.5)


def test_energy_of_a_two_layer_net_by_hand():
    net = nn.Sequential(nn.Conv2d(1, 2, 3, bias=False), nn.ReLU(), nn.Flatten(), nn.Linear(32, 3))
    work = layer_work(net, (1, 6, 6))
    assert [(w.macs, w.params, w.in_elems, w.out_elems) for w in work] == [(288, 18, 36, 32), (96, 96, 32, 3)]
    em = toy_energy_model()
    # conv @4 bit: 288 MACs x 0.25 + 18 weights x 0.5 B x 2 + (36 + 32) x 0.5 B x 1 + ceil(288 / 8) x 0.5
    assert layer_energy(em, work[0], 4)["total"] == pytest.approx(72 + 18 + 34 + 18)
    # linear @2 bit: 96 x 0.0625 + 96 x 0.25 B x 2 + 35 x 0.25 B x 1 + ceil(96 / 16) x 0.5
    assert layer_energy(em, work[1], 2)["total"] == pytest.approx(6 + 48 + 8.75 + 3)
    assert layer_energy(em, work[1], 2)["cycles"] == 6
    assert network_energy(em, work, [4, 2]) == pytest.approx(142 + 65.75)
    assert network_energy(em, work, 8) == pytest.approx((288 + 36 + 68 + 36) + (96 + 192 + 35 + 12))
    with pytest.raises(ValueError, match="no MAC energy for 3 bits"):
        network_energy(em, work, 3)


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
    assert cal.leak_pj_per_cycle == pytest.approx(2.0) and cal.clock_hz == pytest.approx(5e8)
    assert calibrate(em, {"power__total": 0.016}).mac_pj[8] == pytest.approx((0.016 / em.clock_hz * 1e12 - 0.2) / 16)
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
    for p in pts:
        assert p.energy_pj == pytest.approx(network_energy(em, work, p.bits))
        assert p.saving == pytest.approx(1 - p.energy_pj / res.all8.energy_pj)
    assert res.all8.energy_pj == pytest.approx(network_energy(em, work, 8))
    # the original work: up to 35 % energy saving for < 3 % accuracy loss
    assert any(p.saving >= 0.35 and p.acc_loss < 0.03 for p in pts)
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
