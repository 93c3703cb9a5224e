"""FINE-VH: policies (hand case and ordering), supply fit, UPF round trip, and a flow run."""

from __future__ import annotations

import json

import numpy as np
import pytest

from flow.formats.upf import read_upf, write_upf
from plugins.finevh import policy as pol
from plugins.finevh.supply import AlphaPower, fit_alpha_power
from plugins.finevh.voltage import Curve
from tests.conftest import DESIGNS

VOLTS = [1.28, 1.44, 1.76]


def hand_model(hop_energy: float = 0.0, hop_time: float = 0.0) -> pol.SystemModel:
    """f_nom 100 MHz; slow mode 40 MHz at 4 pJ/cycle, fast 100 MHz at 7 pJ/cycle, nominal 10 pJ;
    DVFS levels at the three corners; no leakage (so every energy is a hand sum)."""
    delay = Curve(VOLTS, [25e-9, 15e-9, 10e-9], "delay")
    energy = Curve(VOLTS, [4e-12, 5.5e-12, 10e-12], "energy")
    leak = Curve(VOLTS, [1e-30] * 3, "leakage")
    levels = [pol.Mode(f"c{v}", 1 / d, e, 0.0, v) for v, d, e in zip(VOLTS, [25e-9, 15e-9, 10e-9], [4e-12, 5.5e-12, 10e-12],
                                                                      strict=True)]
    return pol.SystemModel(1e8, levels[-1], levels, pol.Mode("fast", 1e8, 7e-12, 0.0), pol.Mode("slow", 4e7, 4e-12, 0.0, 1.28),
                           delay, energy, leak, Curve(VOLTS, np.array([[25e-9, 4e-9], [15e-9, 2.4e-9], [10e-9, 1.6e-9]]), "delay"),
                           Curve(VOLTS, np.array([[1e-12, 3e-12], [1.4e-12, 4.1e-12], [2.5e-12, 7.5e-12]]), "energy"),
                           Curve(VOLTS, np.full((3, 2), 1e-30), "leakage"), hop_energy=hop_energy, hop_time=hop_time,
                           regulator_time=0.0, decap_f=0.0)


def test_alpha_power_fit_reproduces_delays():
    ap = fit_alpha_power([1.1, 0.95], [1.0e-9, 1.5e-9])
    assert ap.delay_scale(0.95, 1.1) == pytest.approx(1.5, rel=1e-6)
    v = [1.76, 1.44, 1.40, 1.28]
    truth = AlphaPower(0.7, 1.4)
    ap = fit_alpha_power(v, [truth.delay_scale(x, 1.76) for x in v])
    assert ap.vt == pytest.approx(0.7, abs=0.02) and ap.alpha == pytest.approx(1.4, abs=0.05)


def test_policies_hand_case():
    """1 ms at 70 % load then 1 ms at 30 %: FINE-VH time-shares fast (100 MHz) and slow (40 MHz)."""
    m = hand_model(hop_energy=1e-9, hop_time=10e-9)
    tr = [pol.Interval(1e-3, 7e4), pol.Interval(1e-3, 3e4)]
    r = pol.compare(m, tr)
    assert r["nominal"].energy_j == pytest.approx(10e-12 * 1e5)
    # interval 1: hop up and back down (2 × 10 ns); fast time t_f solves 1e8·t_f + 4e7·(1 ms − 20 ns − t_f) = 7e4
    t_f = (7e4 - 4e7 * (1e-3 - 20e-9)) / (1e8 - 4e7)
    n_f = 1e8 * t_f
    e1 = 7e-12 * n_f + 4e-12 * (7e4 - n_f) + 2 * 1e-9
    e2 = 4e-12 * 3e4  # 30 % < f_L/f_nom: slow mode only, no hop
    assert r["finevh"].energy_j == pytest.approx(e1 + e2, rel=1e-9)
    assert r["finevh"].timeline[0]["hops"] == 2 and r["finevh"].timeline[1]["hops"] == 0
    # realistic DVFS: 70 MHz needs the 1.76 V level (1.44 V gives 66.7 MHz); 30 MHz the 1.28 V level
    assert r["dvfs"].energy_j == pytest.approx(10e-12 * 7e4 + 4e-12 * 3e4)
    # ideal DVFS: the voltage whose interpolated delay is 1/70 MHz, energy interpolated there
    v = m.chip_delay.voltage_for_delay(1 / 7e7)
    assert 1.44 < v < 1.76 and float(m.chip_delay(v)) == pytest.approx(1 / 7e7, rel=1e-6)
    assert r["ideal_dvfs"].energy_j == pytest.approx(float(m.chip_energy(v)) * 7e4 + 4e-12 * 3e4, rel=1e-9)
    assert all(x.misses == 0 for x in r.values())
    sv = pol.savings(r)
    assert sv["finevh_vs_dvfs_pct"] == pytest.approx(100 * (1 - (e1 + e2) / r["dvfs"].energy_j))
    # the per-island bound: island 0 needs 1/70 MHz on a 25/15/10 ns curve, island 1 never leaves 1.28 V
    assert r["ideal_islands"].energy_j <= r["finevh"].energy_j
    assert r["ideal_islands"].timeline[1]["v_islands"] == [1.28, 1.28]


def test_misses_are_not_compared():
    """A demand above the fast mode's clock misses the deadline under every policy, and a policy
    with misses gets no saving figure."""
    m = hand_model()
    r = pol.compare(m, [pol.Interval(1e-3, 1.2e5)])
    assert all(x.misses == 1 for x in r.values())
    assert set(pol.savings(r).values()) == {None}
    m.fast = pol.Mode("fast", 0.9e8, 7e-12, 0.0)  # a fast mode slower than f_nom (switch IR drop)
    r = pol.compare(m, [pol.Interval(1e-3, 0.95e5)])
    assert r["finevh"].misses == 1 and r["dvfs"].misses == 0 and pol.savings(r)["finevh_vs_dvfs_pct"] is None


def test_convnet_frames_vary_demand(tmp_path):
    """Frames scheduled for 8-bit layers: a 4-bit layer uses half of its slot, a 2-bit one a quarter;
    the idle phase between frames runs no cycles."""
    doc = {"layers": [{"name": "a", "macs": 1000, "bits": 8, "cycles": 1000},
                      {"name": "b", "macs": 1000, "bits": 4, "cycles": 500},
                      {"name": "c", "macs": 2000, "bits": 2, "cycles": 500}]}
    tr = pol.convnet_frames(doc, 1e6, load=0.8, idle=0.25, frames=2)
    assert len(tr) == 8
    deadline = 4000 / (1e6 * 0.8)
    loads = [iv.cycles / iv.duration / 1e6 for iv in tr[:3]]
    assert loads == pytest.approx([0.8, 0.4, 0.2])
    assert sum(iv.duration for iv in tr[:3]) == pytest.approx(deadline)
    assert tr[3].cycles == 0 and tr[3].duration == pytest.approx(deadline / 3)
    (tmp_path / "t.json").write_text(json.dumps(doc | {"frame_load": 0.8, "idle_fraction": 0.25, "frames": 2}))
    assert [iv.cycles for iv in pol.read_trace(tmp_path / "t.json", 1e6)] == [iv.cycles for iv in tr]
    (tmp_path / "bad.json").write_text('{"intervals": [{"duration_s": -1, "cycles": 3}]}')
    with pytest.raises(Exception, match="bad.json.*duration must be positive"):
        pol.read_trace(tmp_path / "bad.json", 1e6)


def test_policy_model_round_trip():
    m = hand_model(hop_energy=2e-9)
    back = pol.SystemModel.from_json(json.loads(json.dumps(m.to_json())))
    tr = pol.synthetic_trace(1e8, n=10, interval_s=1e-4)
    assert {p: r.energy_j for p, r in pol.compare(back, tr).items()} == {p: r.energy_j for p, r in pol.compare(m, tr).items()}


def test_upf_round_trip_and_errors(tmp_path):
    from plugins.finevh.plugin import build_upf

    doc = {"vddh": "typical", "vddl": "slow", "rail_voltage": {"typical": 1.1, "slow": 0.95}}
    upf = build_upf(["isl0", "isl1"], {"isl0": ["u1", "u2"], "isl1": ["u3"]},
                    [(0, 0, 1e-5, 1e-5), (1e-5, 0, 2e-5, 1e-5)], doc)
    write_upf(upf, tmp_path / "a.upf")
    back = read_upf(tmp_path / "a.upf")
    assert back.domains() == {"PD_TOP": [], "PD_isl0": ["u1", "u2"], "PD_isl1": ["u3"]}
    sw = back.switches()
    assert sw["SW_isl0_H"]["input"] == ["vin", "VDDH"] and sw["SW_isl0_L"]["input"] == ["vin", "VDDL"]
    assert sw["SW_isl1_H"]["control"] == ["ctrl", "hop_isl1"]
    assert [c.option("-area") for c in back.of("set_domain_area")][1] == ["10.000", "0.000", "20.000", "10.000"]
    (tmp_path / "b.upf").write_text("create_power_domain PD -elements {a b\n")
    with pytest.raises(Exception, match=r"b.upf:1: unterminated"):
        read_upf(tmp_path / "b.upf")
    (tmp_path / "c.upf").write_text("create_power_domain PD\nmake_coffee now\n")
    with pytest.raises(Exception, match=r"c.upf:2: unsupported UPF command 'make_coffee'"):
        read_upf(tmp_path / "c.upf")


def test_flow_with_islands(tmp_path, nangate45):
    from flow.runner import run_flow

    res = run_flow(DESIGNS / "gcd/config.toml", runs_dir=tmp_path, tag="fvh", overrides=["FINEVH_ISLANDS=3"])
    # the routed mixed-rail design is not repaired at its own rails (yet): sign-off may report violations
    assert res.status in ("completed", "completed_with_violations") and res.metrics["finevh__islands"] == 3
    run = res.run_dir
    isl = json.loads(next(run.glob("*_finevh_islands/islands.json")).read_text())
    # islands cover every cell exactly once
    from flow.engines.sta import load_design

    design = load_design([next(run.glob("*_synth/gcd.v"))], "gcd")
    assert sorted(isl["instances"]) == sorted(design.inst_names)
    assert sum(i["cells"] for i in isl["islands"]) == len(design.inst_names)
    # every crossing net has a level shifter at each receiving island
    assert res.metrics["finevh__level_shifters"] == sum(len([r for r in rec if r != drv]) for _, drv, rec in isl["crossings"])
    # fences respected by the placer, and the mixed-rail design meets timing
    assert res.metrics["placement__fence__violations"] == 0 and res.metrics["detailedplace__design__violations"] == 0
    assert res.metrics["finevh__timing__setup__ws__mixed"] >= 0
    place = np.load(next(run.glob("*_place/placement.npz")))
    fences = json.loads(next(run.glob("*_finevh_islands/fences.json")).read_text())["regions"]
    names = [str(n) for n in place["inst_names"]]
    for reg in fences:
        x0, y0, x1, y1 = reg["rects"][0]
        for inst in reg["instances"][:50]:
            k = names.index(inst)
            assert x0 - 1e-12 <= place["x"][k] and place["x"][k] + place["w"][k] <= x1 + 1e-12
            assert y0 - 1e-12 <= place["y"][k] and place["y"][k] + place["h"][k] <= y1 + 1e-12
    assert read_upf(next(run.glob("*_finevh_islands/gcd.upf"))).domains().keys() >= {"PD_isl0", "PD_isl1", "PD_isl2"}
    report = (run / "report.html").read_text()
    assert "FINE-VH islands and policy" in report and "level shifters modelled" in report
    # Nangate45's low corner is another process and temperature: the report says so plainly
    assert "differs from VDDH (typical, typical 25.0 °C) in process and temperature" in report


def test_activity_weights_the_cut():
    """Net weights scale the clique edges: a busy net (weight 3) between two cells weighs three
    times an idle one, so METIS keeps its ends together."""
    from flow.engines.model import FlatDesign
    from plugins.finevh.partition import cell_graph, partition

    # a chain of 6 cells: c0-c1-c2-c3-c4-c5 (nets n0..n4), each net 2 pins
    inst_pin_start = np.arange(0, 12 + 1, 2)
    pin_inst = np.repeat(np.arange(6), 2)
    pin_net = np.array([-1, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, -1])
    d = FlatDesign([f"c{i}" for i in range(6)], ["INV_X1"] * 6, inst_pin_start, pin_inst, ["A", "ZN"] * 6,
                   pin_net, [f"n{i}" for i in range(5)], [], [], np.zeros(0, dtype=np.int64))
    plain = cell_graph(d)
    assert plain[2, 3] == pytest.approx(1.0) and plain[0, 1] == pytest.approx(1.0)
    weights = np.array([1.0, 1.0, 3.0, 1.0, 1.0])  # n2 = c2-c3 is busy
    g = cell_graph(d, net_weight=weights)
    assert g[2, 3] == pytest.approx(3.0) and g[3, 2] == pytest.approx(3.0) and g[1, 2] == pytest.approx(1.0)
    unweighted = partition(plain, 2, np.ones(6), seed=0)
    assert unweighted[2] != unweighted[3]  # the balanced cut of a chain is in the middle
    island = partition(g, 2, np.ones(6), seed=0)
    assert island[2] == island[3]  # the busy net is not cut


def test_level_shifter_insertion_by_hand():
    """Chain a(isl0) -> b(isl1), a -> c(isl0), a -> d(isl2), b -> e(isl1): net n0 crosses into
    islands 1 and 2 (one shifter each, sinks moved behind them, c stays on n0); n1 stays inside."""
    from flow.engines.model import FlatDesign
    from plugins.finevh.level_shifters import crossings, insert_level_shifters

    d = FlatDesign(["a", "b", "c", "d", "e"], ["BUF"] * 5, np.arange(0, 11, 2), np.repeat(np.arange(5), 2),
                   ["A", "Z"] * 5, np.array([-1, 0, 0, 1, 0, -1, 0, -1, 1, -1]), ["n0", "n1"], [], [],
                   np.zeros(0, dtype=np.int64))
    island = np.array([0, 1, 0, 2, 1])
    is_drv = np.array([p == "Z" for p in d.pin_name])
    assert crossings(d, island, is_drv) == [(0, 0, [1, 2])]
    ins = insert_level_shifters(d, island, is_drv, "LS", "A", "X")
    out = ins.design
    assert ins.island == [1, 2] and ins.driver_island == [0, 0] and ins.net == ["n0", "n0"]
    net = {(out.inst_names[i], p): out.net_names[n] if n >= 0 else None
           for i, p, n in zip(out.pin_inst.tolist(), out.pin_name, out.pin_net.tolist(), strict=True)}
    ls1, ls2 = ins.names
    assert net[(ls1, "A")] == net[(ls2, "A")] == "n0" == net[("c", "A")]
    assert net[("b", "A")] == net[(ls1, "X")] == "n0_ls_isl1"
    assert net[("d", "A")] == net[(ls2, "X")] == "n0_ls_isl2"
    assert net[("e", "A")] == "n1" and out.inst_cell[-2:] == ["LS", "LS"]


def test_flow_inserts_real_level_shifters_on_sky130(tmp_path, sky130hd, capsys):
    """Sky130 has a level-shifter cell: every island-to-island net reaches a foreign island only
    through one, shifters sit fixed inside their island's fence without overlaps, and sign-off
    times and powers them from their Liberty."""
    from flow.engines.sta import load_design
    from flow.runner import run_flow
    from flow.stages.signoff import corner_library
    from plugins.finevh.level_shifters import driver_mask

    res = run_flow(DESIGNS / "gcd/config.sky130hd.toml", runs_dir=tmp_path, tag="ls",
                   overrides=["FINEVH_ISLANDS=3", "FINEVH_VDDL_CORNER=ss_n40C_1v44",
                              # buffering/sizing is not what this checks (and must not move the shifters)
                              "REPAIR_DESIGN=false", "REPAIR_TIMING=false"])
    assert res.status in ("completed", "completed_with_violations")
    run = res.run_dir
    doc = json.loads(next(run.glob("*_finevh_islands/islands.json")).read_text())
    cell = sky130hd.level_shifter["cell"]
    assert doc["level_shifters_inserted"] and doc["level_shifter_cell"] == cell
    design = load_design([next(run.glob("*_finevh_islands/gcd.finevh.v"))], "gcd")
    ls_insts = [i for i, c in enumerate(design.inst_cell) if c == cell]
    assert len(ls_insts) == res.metrics["finevh__level_shifters"] == len(doc["level_shifter_cells"]) > 0
    island = np.array([doc["instances"][n] for n in design.inst_names])
    cls = {i["name"]: i["rail_class"] for i in doc["islands"]}
    drv = driver_mask(design, corner_library(sky130hd, doc["vddh"]))
    for n in range(len(design.net_names)):
        pins = np.flatnonzero(design.pin_net == n)
        d_pins = pins[drv[pins]]
        if d_pins.size != 1:
            continue
        d_isl = island[design.pin_inst[d_pins[0]]]
        for p in pins[~drv[pins]]:
            i = design.pin_inst[p]
            if cls[island[i]] > cls[d_isl]:  # a higher-rail island is entered only through a shifter
                assert design.inst_cell[i] == cell, (design.net_names[n], design.inst_names[i])
    # fixed at their slots, inside their island's fence, overlapping no cell and no tap
    place = np.load(next(run.glob("*_place/placement.npz")))
    x, y, w, h = place["x"], place["y"], place["w"], place["h"]
    fences = {r: tuple(v) for r, v in doc["fences"].items()}
    for i in ls_insts:
        info = doc["level_shifter_cells"][design.inst_names[i]]
        assert (x[i], y[i]) == pytest.approx((info["x"], info["y"]), abs=1e-12)
        fx0, fy0, fx1, fy1 = fences[info["island"]]
        assert fx0 - 1e-12 <= x[i] and x[i] + w[i] <= fx1 + 1e-12 and fy0 - 1e-12 <= y[i] and y[i] + h[i] <= fy1 + 1e-12
        others = np.concatenate([np.column_stack([x, y, x + w, y + h])[np.arange(x.size) != i],
                                 np.column_stack([place["tap_x"], place["tap_y"], place["tap_x"] + place["tap_w"],
                                                  place["tap_y"] + place["tap_h"]])])
        over = ((others[:, 0] < x[i] + w[i] - 1e-12) & (x[i] < others[:, 2] - 1e-12)
                & (others[:, 1] < y[i] + h[i] - 1e-12) & (y[i] < others[:, 3] - 1e-12))
        assert not over.any()
    assert res.metrics["detailedplace__design__violations"] == 0
    defs = next(run.glob("*_place/gcd.place.def")).read_text()
    assert defs.count(f"{cell} + FIXED") == len(ls_insts)
    # sign-off sees them as cells with power of their own
    pw = np.load(next(run.glob("*_signoff/power_instances.npz")))
    names = [str(n) for n in pw["inst_names"]]
    ls_power = [float(pw["internal_w"][names.index(design.inst_names[i])] + pw["leakage_w"][names.index(design.inst_names[i])])
                for i in ls_insts]
    assert all(p > 0 for p in ls_power)
    assert f"{len(ls_insts)} level shifters ({cell}) inserted into the netlist" in (run / "report.html").read_text()
    # `finevh policy` reads the same signed-off model (shifters, switches) from either stage's file
    from flow.errors import ConfigError
    from plugins.finevh.plugin import policy_cmd

    part = json.loads(next(run.glob("*_finevh_partition/islands.json")).read_text())
    assert part["policy_model"] == doc["policy_model"] and part["level_shifters_planned"] == len(ls_insts)
    # the routed run itself answers with finevh_signoff's routed model (and its routed checks)
    policy_cmd(run, None, True)
    routed = json.loads(capsys.readouterr().out)
    assert routed["islands_file"].endswith("_finevh_signoff/islands.json")
    assert routed["post_route_fast_mode_slack_s"] is not None
    # after repair, CTS and hold buffering every load entered from a lower rail is still behind a
    # shifter (the same rule as the insertion check above, on the final netlist)
    assert res.metrics["finevh__routed__unshifted_crossings"] == 0
    isl_only = tmp_path / "islands_only"
    (isl_only / "03_finevh_islands").mkdir(parents=True)
    (isl_only / "03_finevh_islands/islands.json").write_text(json.dumps(doc))
    policy_cmd(isl_only, None, True)
    full = json.loads(capsys.readouterr().out)
    only = tmp_path / "partition_only"
    (only / "02_finevh_partition").mkdir(parents=True)
    (only / "02_finevh_partition/islands.json").write_text(json.dumps(part))
    policy_cmd(only, None, True)
    alone = json.loads(capsys.readouterr().out)
    assert alone["policies"] == full["policies"] and alone["level_shifters"] == full["level_shifters"] == len(ls_insts)
    assert full["hop_energy_j"] > 0 and full["fast_leak_w"] > 0
    # an islands file without the signed-off model is refused, not re-modelled without overheads
    del part["policy_model"]
    (only / "02_finevh_partition/islands.json").write_text(json.dumps(part))
    with pytest.raises(ConfigError, match="no signed-off FINE-VH policy model"):
        policy_cmd(only, None, True)


def test_slack_binned_islands_never_mix_rails():
    """Cells binned by rail class first: no island mixes classes, each bin gets islands in
    proportion, and a bin smaller than the minimum island joins the next faster one (never slower)."""
    import scipy.sparse as sp

    from plugins.finevh.partition import slack_binned_islands

    n = 400
    rng = np.random.default_rng(1)
    a = rng.integers(0, n, 1600)
    b = rng.integers(0, n, 1600)
    g = sp.coo_matrix((np.ones(a.size), (a, b)), shape=(n, n)).tocsr()
    g = (g + g.T).tocsr()
    g.setdiag(0)
    cls = np.where(np.arange(n) < 300, 0, 2)
    cls[:5] = 1  # 5 cells that need the middle rail: too few for an island of 10
    island, rail = slack_binned_islands(g, cls, 8, np.ones(n), min_size=10)
    assert np.all(np.bincount(island) >= 10) and rail.size == island.max() + 1
    assert {int(c) for c in rail} == {0, 2}
    assert np.all(rail[island[:5]] == 2)  # they went up to the top rail, not down to VDDL
    for i in range(rail.size):
        members = np.flatnonzero(island == i)
        assert len({bool(c == 0) for c in cls[members]}) == 1  # VDDL cells never share with faster ones
    assert np.sum(rail == 0) == 6 and np.sum(rail == 2) == 2  # 295 : 105 cells of 8 islands
    # the top class keeps its own island however small: its cells cannot run slower
    cls2 = np.zeros(n, dtype=np.int64)
    cls2[:3] = 1
    island2, rail2 = slack_binned_islands(g, cls2, 4, np.ones(n), min_size=10)
    assert np.all(rail2[island2[:3]] == 1) and np.sum(island2 == island2[0]) == 3


def test_routed_signoff_rejects_a_failing_fast_mode(tmp_path):
    """The final sign-off times the fast mode with routed parasitics at the SDC clock; FINE-VH's
    clock may be shorter, which costs the difference. A negative result removes every saving."""
    from plugins.finevh.plugin import post_route_check, vhflow_metrics

    doc = {"policy_model": hand_model().to_json(), "clock_period_s": 9e-9, "sdc_period_s": 10e-9}
    (tmp_path / "islands.json").write_text(json.dumps(doc))
    state = {"islands": tmp_path / "islands.json", "timing": tmp_path / "timing.json"}
    (tmp_path / "timing.json").write_text(json.dumps({"corners": {"mixed": {"setup_ws": 1.5e-9}}, "setup_ws": 1.5e-9}))
    assert post_route_check(state, doc) == pytest.approx(0.5e-9)
    ok = vhflow_metrics(state, tmp_path)
    assert ok["finevh__signoff__fast_mode__meets"] == 1 and "finevh__saving__finevh_vs_nominal_pct" in ok
    (tmp_path / "timing.json").write_text(json.dumps({"corners": {"mixed": {"setup_ws": 0.7e-9}}, "setup_ws": 0.7e-9}))
    bad = vhflow_metrics(state, tmp_path)
    assert bad["finevh__signoff__fast_mode__ws"] == pytest.approx(-0.3)
    assert bad["finevh__signoff__fast_mode__meets"] == 0 and not any(k.startswith("finevh__saving") for k in bad)
    assert post_route_check({"islands": state["islands"]}, doc) is None  # before sign-off: no claim either way
