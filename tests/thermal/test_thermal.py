"""Thermal model against closed forms, conservation and refinement; HotSpot formats; CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from flow.engines.thermal import KELVIN, Layer, ThermalConfig, build_model, leakage_temperature_loop
from flow.errors import ConfigError, FormatError
from flow.formats.hotspot import Floorplan, Unit, read_flp, read_ptrace, write_flp, write_ptrace
from plugins.thermal_signoff.analysis import leakage_beta, solve_floorplan

W, H = 2e-3, 1e-3  # die 2 mm x 1 mm
A = W * H


def slab_cfg(rows=4, cols=4, r_convec=0.5, c_convec=0.0):
    return ThermalConfig(grid_rows=rows, grid_cols=cols, r_convec=r_convec, c_convec=c_convec, ambient=300.0)


def test_uniform_single_layer_matches_1d_closed_form():
    t, k = 0.5e-3, 150.0
    cfg = slab_cfg()
    model = build_model(W, H, cfg, layers=[Layer("die", t, k, 1.6e6)])
    P = 2.0
    T = model.steady(np.full((4, 4), P / 16))
    expect = 300.0 + P * (t / (2 * k * A) + cfg.r_convec)  # node centre to face + convection
    assert np.allclose(model.die_map(T), expect, rtol=0, atol=1e-9)


def test_two_layer_stack_is_series_resistance():
    (t1, k1), (t2, k2) = (0.15e-3, 100.0), (50e-6, 4.0)
    cfg = slab_cfg(rows=3, cols=5)
    model = build_model(W, H, cfg, layers=[Layer("die", t1, k1, 1.75e6), Layer("tim", t2, k2, 4e6)])
    P = 1.5
    T = model.steady(np.full((3, 5), P / 15))
    r_series = t1 / (2 * k1 * A) + t2 / (2 * k2 * A) + t2 / (2 * k2 * A) + cfg.r_convec
    assert model.die_map(T).mean() == pytest.approx(300.0 + P * r_series, abs=1e-9)


@pytest.mark.parametrize(("method", "tol"), [("cn", 2e-4), ("be", 1.5e-2)])
def test_lumped_rc_transient_is_exponential(method, tol):
    t, k, cv = 0.2e-3, 100.0, 1.75e6
    cfg = slab_cfg(rows=1, cols=1, r_convec=2.0, c_convec=0.05)
    model = build_model(W, H, cfg, layers=[Layer("die", t, k, cv)])
    R = t / (2 * k * A) + cfg.r_convec
    C = cv * t * A + cfg.c_convec
    tau = R * C
    P = 0.7
    steps = 200
    dt = tau / 40
    out = model.transient(np.full((steps, 1, 1), P), dt, method=method)[:, 0, 0]
    times = dt * np.arange(1, steps + 1)
    exact = 300.0 + P * R * (1 - np.exp(-times / tau))
    rise = P * R
    assert np.max(np.abs(out - exact)) / rise < tol


def test_energy_conservation_default_stack():
    cfg = ThermalConfig(grid_rows=24, grid_cols=24)
    model = build_model(10e-3, 8e-3, cfg)
    rng = np.random.default_rng(3)
    pmap = rng.random((24, 24)) * 0.1
    T = model.steady(pmap)
    assert model.heat_out(T) == pytest.approx(pmap.sum(), rel=1e-6)
    assert model.die_map(T).min() > cfg.ambient


def test_grid_refinement_converges():
    """A 1 W hotspot block (1/16 of the die) on a 4 mm die: peak temperature converges."""
    peaks = []
    for n in (8, 16, 32, 64):
        cfg = ThermalConfig(grid_rows=n, grid_cols=n)
        model = build_model(4e-3, 4e-3, cfg)
        p = np.zeros((n, n))
        q = n // 4
        p[q: 2 * q, q: 2 * q] = 1.0 / (q * q)
        peaks.append(model.die_map(model.steady(p)).max())
    d = np.abs(np.diff(peaks))
    assert d[2] < d[1] < d[0]
    assert d[2] < 0.25  # stated tolerance: 32x32 -> 64x64 moves the peak by less than 0.25 K


def test_leakage_loop_converges_and_detects_runaway():
    cfg = ThermalConfig(grid_rows=8, grid_cols=8)
    model = build_model(5e-3, 5e-3, cfg)
    dyn = np.full((8, 8), 5.0 / 64)
    leak = np.full((8, 8), 1.0 / 64)
    ok = leakage_temperature_loop(model, dyn, leak, cfg.ambient, beta=0.02)
    assert ok.converged and not ok.runaway and ok.leakage_map.sum() > 1.0
    T = model.die_map(ok.T)
    # fixed point: leakage equals the model evaluated at the converged temperature
    assert ok.leakage_map == pytest.approx(leak * np.exp(0.02 * (T - cfg.ambient)), rel=2e-3)
    bad = leakage_temperature_loop(model, dyn, np.full((8, 8), 40.0 / 64), cfg.ambient, beta=0.2, max_iter=200)
    assert bad.runaway and not bad.converged


def test_leakage_beta_from_corners():
    corners = {"tt25": {"groups": {"Combinational": {"leakage": 1e-6}}},
               "tt100": {"groups": {"Combinational": {"leakage": 8e-6}}}}
    info = {"tt25": ("typical", 1.8, 25.0), "tt100": ("typical", 1.8, 100.0)}
    beta, how = leakage_beta(corners, info, 0.02)
    assert beta == pytest.approx(math.log(8) / 75) and "tt25" in how
    assert leakage_beta({"tt25": corners["tt25"]}, info, 0.02)[0] == 0.02


def test_bad_parameters():
    with pytest.raises(ConfigError, match="k_chip"):
        build_model(1e-3, 1e-3, ThermalConfig(k_chip=0.0))
    with pytest.raises(ConfigError, match="negative"):
        build_model(1e-3, 1e-3, ThermalConfig(grid_rows=2, grid_cols=2)).steady(np.array([[1, -1], [0, 0]]))


# ---- HotSpot formats ---------------------------------------------------------------------------
def two_blocks(tmp_path):
    fp = Floorplan([Unit("core", 2e-3, 2e-3, 0, 0), Unit("cache", 2e-3, 2e-3, 2e-3, 0)])
    write_flp(fp, tmp_path / "a.flp")
    write_ptrace(["cache", "core"], np.array([[0.5, 3.0], [0.5, 1.0]]), tmp_path / "a.ptrace")
    return tmp_path / "a.flp", tmp_path / "a.ptrace"


def test_flp_ptrace_roundtrip_and_block_solve(tmp_path):
    flp, ptrace = two_blocks(tmp_path)
    fp = read_flp(flp)
    assert fp.names == ["core", "cache"] and fp.units[1].left == pytest.approx(2e-3) and not fp.warnings
    names, p = read_ptrace(ptrace, fp)
    assert names == ["cache", "core"] and p.shape == (2, 2)
    cfg = ThermalConfig(grid_rows=16, grid_cols=32)
    res = solve_floorplan(fp, names, p, cfg)
    assert res.power_w == pytest.approx(2.5)  # steady uses the mean of the trace
    assert res.heat_out_w == pytest.approx(2.5, rel=1e-6)
    core, cache = res.block_k
    assert core > cache > cfg.ambient
    tr = solve_floorplan(fp, names, p, cfg, transient=True, dt=1e-3)
    assert tr.block_k.shape == (2, 2) and tr.block_k[1, 0] < tr.block_k[0, 0]  # core cools after its power drops


def test_flp_bad_inputs(tmp_path, caplog):
    (tmp_path / "o.flp").write_text("a 1e-3 1e-3 0 0\nb 1e-3 1e-3 0.5e-3 0\n")
    assert "units a and b overlap" in read_flp(tmp_path / "o.flp").warnings[0]
    (tmp_path / "g.flp").write_text("a 1e-3 1e-3 0 0\nb 1e-3 1e-3 0 2e-3\n")
    assert "gaps" in read_flp(tmp_path / "g.flp").warnings[0]
    (tmp_path / "n.flp").write_text("# c\na 1e-3 x 0 0\n")
    with pytest.raises(FormatError, match=r"n.flp:2: unit a: non-numeric"):
        read_flp(tmp_path / "n.flp")
    flp, _ = two_blocks(tmp_path)
    (tmp_path / "m.ptrace").write_text("core dsp\n1 2\n")
    with pytest.raises(FormatError, match=r"m.ptrace:1: columns do not match the floorplan: unknown dsp; missing cache"):
        read_ptrace(tmp_path / "m.ptrace", read_flp(flp))
    (tmp_path / "neg.ptrace").write_text("core cache\n1 2\n1 -2\n")
    with pytest.raises(FormatError, match=r"neg.ptrace:3: negative or non-finite power \(unit cache\)"):
        read_ptrace(tmp_path / "neg.ptrace", read_flp(flp))


def test_cli_thermal(tmp_path, capsys):
    from flow.cli import main

    flp, ptrace = two_blocks(tmp_path)
    with pytest.raises(SystemExit) as e:
        main(["thermal", "--flp", str(flp), "--ptrace", str(ptrace), "--grid", "8x16", "--json",
              "--steady-file", str(tmp_path / "out.steady")])
    assert e.value.code == 0
    out = json.loads(capsys.readouterr().out)
    steady = dict(line.split("\t") for line in (tmp_path / "out.steady").read_text().splitlines())
    assert float(steady["core"]) - KELVIN == pytest.approx(out["units"]["core"], abs=0.01)
    with pytest.raises(SystemExit) as e:
        main(["thermal", "--flp", str(flp), "--ptrace", str(ptrace), "--grid", "8by8"])
    assert e.value.code == 2


# ---- thermal-aware DVFS ------------------------------------------------------------------------
def dvfs_case(t_max=70.0):
    from plugins.thermal_signoff.dvfs import OperatingPoint, Phase, ThermalDvfs

    pts = [OperatingPoint("a", 0.8, 0.5e9, 8, 1), OperatingPoint("b", 0.9, 0.8e9, 16, 1.5),
           OperatingPoint("c", 1.0, 1.0e9, 26, 2), OperatingPoint("d", 1.1, 1.2e9, 38, 3)]
    phases = [Phase("conv1", 2e6, 1.3), Phase("conv2", 4e6, 1.0), Phase("fc", 1e6, 0.6)]
    # a light package (τ ≈ 0.1 s) so that a 1.5 s horizon is long-run
    cfg = ThermalConfig(grid_rows=4, grid_cols=4, c_convec=0.2, t_sink=0.5e-3, s_sink=0.02, s_spreader=0.02,
                        t_spreader=0.3e-3)
    return ThermalDvfs(pts, phases, t_max, dt=2e-3, cfg=cfg)


def test_dvfs_policies_order_and_safety():
    from plugins.thermal_signoff.dvfs import run_policies, time_constant_s

    sim = dvfs_case()
    assert time_constant_s(sim) < 0.5
    res = {r.policy: r for r in run_policies(sim, 1.5)}
    assert res["static"].peak_c <= 70.0 and res["proactive"].peak_c <= 70.0 + 1e-6
    assert res["optimal"].peak_c <= 70.0 + 1e-6
    assert res["static"].inferences_per_s < res["proactive"].inferences_per_s
    assert res["optimal"].inferences_per_s >= 0.97 * res["proactive"].inferences_per_s
    shares = sim._optimal_plan()
    assert shares.sum(axis=1) == pytest.approx(np.ones(3))
    # the LP spends exactly the sustainable power on average (the thermal constraint is active)
    f = np.array([p.frequency for p in sim.points])
    cycles = np.array([ph.cycles for ph in sim.phases])
    t = shares * (cycles / (shares @ f))[:, None]  # time of each phase at each level
    pw = np.array([[sim.power(lv, ph.activity, 70.0) for lv in range(4)] for ph in sim.phases])
    assert (pw * t).sum() / t.sum() == pytest.approx(sim.sustainable_power(), rel=1e-6)


def test_dvfs_hand_case_single_point():
    """One operating point: every policy runs it; throughput = f / cycles per inference."""
    from plugins.thermal_signoff.dvfs import OperatingPoint, Phase, ThermalDvfs, run_policies

    sim = ThermalDvfs([OperatingPoint("only", 1.0, 1e9, 1.0, 0.0)], [Phase("all", 1e7, 1.0)], 200.0, dt=1e-3,
                      cfg=ThermalConfig(grid_rows=2, grid_cols=2))
    for r in run_policies(sim, 0.5):
        assert r.inferences_per_s == pytest.approx(100.0)
        assert r.energy_per_inference_j == pytest.approx(1.0 / 100.0)


def test_dvfs_reads_convnet_trace(tmp_path):
    from plugins.thermal_signoff.dvfs import read_workload

    p = tmp_path / "trace.json"
    p.write_text(json.dumps({"model": "lenet", "layers": [
        {"name": "c1", "cycles": 100, "toggle_w": 0.2, "toggle_a": 0.4},
        {"name": "c2", "cycles": 300, "toggle_w": 0.4, "toggle_a": 0.2},
        {"name": "f", "cycles": 50, "toggle_w": 0.1, "toggle_a": 0.1}]}))
    phases = read_workload(p)
    assert [ph.cycles for ph in phases] == [100, 300, 50]
    assert phases[0].activity == pytest.approx(0.3 / (0.7 / 3))
    (tmp_path / "bad.json").write_text('{"layers": [{"name": "x", "cycles": -1}]}')
    with pytest.raises(FormatError, match="positive cycles"):
        read_workload(tmp_path / "bad.json")


def test_placed_power_on_transient_approaches_steady_state():
    from plugins.thermal_signoff.analysis import solve_placed

    rng = np.random.default_rng(0)
    x, y = rng.uniform(0, 1e-3, 200), rng.uniform(0, 1e-3, 200)
    cfg = ThermalConfig(grid_rows=8, grid_cols=8, c_convec=0.5, t_sink=1e-3, s_sink=0.02, s_spreader=0.02)
    res = solve_placed(x, y, np.full(200, 0.01), np.full(200, 1e-4), (0, 0, 1e-3, 1e-3), cfg, 25.0, 0.02,
                       transient_steps=300, transient_dt=0.05)
    peaks = res.step_max_k
    assert np.all(np.diff(peaks) > -1e-9)  # monotone heating from ambient
    assert peaks[0] < res.die_map_k.max() and abs(peaks[-1] - res.die_map_k.max()) < 0.02
