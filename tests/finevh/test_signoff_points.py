"""FINE-VH operating points on gcd (sky130hd ss_n40C): energy vs voltage against sign-off at every
Liberty corner, every mode the policy uses re-timed independently by the flow's sign-off and
meeting timing, and a wrong rail choice rejected."""

from __future__ import annotations

import re

import numpy as np
import pytest

from flow.engines import sta
from tests.conftest import DESIGNS


@pytest.fixture(scope="module")
def gcd_sky130(tmp_path_factory, sky130hd):
    from flow.synth import synthesize
    from plugins.finevh.voltage import voltage_only_corners

    out = tmp_path_factory.mktemp("gcd130")
    syn = synthesize([DESIGNS / "gcd/src/gcd.v"], "gcd", sky130hd, out, clock_period_ns=2.8)
    sdc = (DESIGNS / "gcd/src/constraint.sky130hd.sdc").read_text()
    corners = voltage_only_corners(sky130hd)
    libs = {c: sky130hd.liberty(c) for c in corners}
    design = sta.load_design([syn.netlist], "gcd")
    (out / "gcd.sdc").write_text(sdc)
    return out, syn.netlist, sdc, design, libs


def _sdc_at(sdc: str, period_s: float) -> str:
    return re.sub(r"set clk_period [0-9.]+", f"set clk_period {period_s * 1e9:.6f}", sdc)


def test_voltage_curves_against_signoff(gcd_sky130, sky130hd):
    from flow.stages.signoff import run_signoff
    from plugins.finevh.operating import SignoffModel
    from plugins.finevh.study import sweep_corners
    from plugins.finevh.voltage import Curve, leave_one_out

    out, netlist, _, design, libs = gcd_sky130
    assert list(libs) == ["ss_n40C_1v28", "ss_n40C_1v35", "ss_n40C_1v40", "ss_n40C_1v44", "ss_n40C_1v76"]
    sm = SignoffModel(design, libs, sta.load_constraints(out / "gcd.sdc", design, libs["ss_n40C_1v76"]))
    sw = sweep_corners(sm)
    volts = sm.volts
    e = np.array([p.e_dyn_cycle for p in sw.at_nominal])
    assert np.all(np.diff(e) > 0) and np.all(np.diff([p.period for p in sw.min_period]) < 0)
    # the flow's own sign-off (run_signoff, SDC clock) gives the same energy per cycle at each corner
    period = sm.period
    assert period == pytest.approx(4.0e-9)  # the SDC's clock
    for j, c in enumerate(libs):
        ref = run_signoff([netlist], "gcd", {c: libs[c]}, out / "gcd.sdc", design=design).power[c]
        e_ref = float(np.sum(ref.internal) + np.sum(ref.switching)) * period
        assert e[j] == pytest.approx(e_ref, rel=1e-9)
    # between corners the curve is a model: leaving each inner corner out, it predicts sign-off there
    # within 2 % (energy) — not a two-point V² law, which is off by far more
    loo = leave_one_out(volts, e, "energy")
    assert loo.max() < 0.02
    v2 = e[-1] * (volts / volts[-1]) ** 2
    assert np.max(np.abs(v2[:-1] / e[:-1] - 1)) > 0.05
    curve = Curve(volts, e, "energy")
    assert [curve(v) for v in volts] == pytest.approx(list(e), rel=1e-12)
    # delay: the fastest verified clock at each corner, interpolated within 2 % too
    assert leave_one_out(volts, [p.period for p in sw.min_period], "delay").max() < 0.02
    assert all(p.meets for p in sw.min_period)


def test_modes_are_retimed_by_signoff_and_wrong_rails_rejected(gcd_sky130, sky130hd):
    from flow.formats.verilog import write_verilog
    from flow.stages.signoff import run_signoff
    from plugins.finevh.operating import SignoffModel
    from plugins.finevh.study import build, level_shifter_cell, nominal_clock, retime, sweep_corners

    out, _, sdc, design, libs = gcd_sky130
    sm = SignoffModel(design, libs, sta.load_constraints(out / "gcd.sdc", design, libs["ss_n40C_1v76"]))
    sm = retime(sm, nominal_clock(sm, 4))
    sw = sweep_corners(sm)
    ls = level_shifter_cell(sky130hd, libs["ss_n40C_1v76"])
    fv = build(sm, sw, [3, 4], 3, platform=sky130hd, ls_cell=ls)
    assert fv.fast.meets and fv.slow.meets and fv.level_shifters > 0
    assert fv.system.fast.f == pytest.approx(1 / sm.period) and fv.system.slow.f < fv.system.fast.f
    # independent re-timing: the netlist with its level shifters written out, the SDC re-evaluated at
    # each mode's clock, the flow's sign-off with each instance on its rail's Liberty
    vpath = out / "gcd_ls.v"
    write_verilog(fv.design_ls, vpath, "gcd")
    for name, pt, coi in (("fast", fv.fast, fv.corner_of_inst_fast),
                          ("slow", fv.slow, np.full(len(fv.design_ls.inst_names), 3))):
        (out / f"{name}.sdc").write_text(_sdc_at(sdc, pt.period))
        res = run_signoff([vpath], "gcd", libs, out / f"{name}.sdc", instance_corner=coi)
        assert res.timing["mixed"].setup_wns >= -1e-13, name
        cells = np.array(res.design.inst_cell)
        assert np.sum(cells == ls[0]) == fv.level_shifters
        # and its energy per cycle agrees with the mode's (same rails, same activity rule)
        p = res.power["mixed"]
        e = float(np.sum(p.internal) + np.sum(p.switching)) * pt.period
        assert e == pytest.approx(pt.e_dyn_cycle, rel=0.02), name
    # a wrong rail choice: the most critical island moved onto VDDL misses timing and is rejected
    hot = int(np.argmax([np.min(sw.through_slack[4][fv.island == i]) * -1 for i in range(fv.rail_class.size)]))
    isl_all = np.concatenate([fv.island, -np.ones(fv.level_shifters, dtype=np.int64)])
    wrong = fv.corner_of_inst_fast.copy()
    wrong[isl_all == hot] = 0
    sm_ls = SignoffModel(fv.design_ls, libs, sm.tc)
    assert not sm_ls.point(wrong).meets
    # and when every cell is offered VDDL (no margin at all), the verification promotes islands
    # until the fast mode meets timing: the failing assignment never becomes a mode
    forced = build(sm, sw, [3, 4], 3, platform=sky130hd, ls_cell=ls, margin=-10.0)
    assert forced.promotions >= 1 and forced.fast.meets


def test_one_netlist_carries_the_union_of_every_modes_shifters(gcd_sky130, sky130hd):
    """Two operating modes of one islanded netlist with different rail classes: each mode is built
    with the level shifters of the union of both modes' low-to-high crossings (counted here by
    enumerating nets), the same count in both, more than either mode needs alone, every shifter
    cell in the netlist each mode is timed with, and each mode still re-timed to meet its clock."""
    from plugins.finevh import level_shifters as lsh
    from plugins.finevh.operating import SignoffModel
    from plugins.finevh.study import build, level_shifter_cell, nominal_clock, retime, sweep_corners

    out, _, _, design, libs = gcd_sky130
    sm = SignoffModel(design, libs, sta.load_constraints(out / "gcd.sdc", design, libs["ss_n40C_1v76"]))
    sm = retime(sm, nominal_clock(sm, 4))
    sw = sweep_corners(sm)
    ls = level_shifter_cell(sky130hd, libs["ss_n40C_1v76"])
    a = build(sm, sw, [3, 4], 4, platform=sky130hd, ls_cell=ls)
    k = a.rail_class.size
    assert 0 < int(np.sum(a.rail_class == 0)) < k  # some islands on VDDL, some hopping
    # a second mode in which the rails of the islands are the other way round (every island may
    # be up in one mode and down in the other: the worst case for the union)
    other = 1 - a.rail_class
    drv = lsh.driver_mask(design, libs["ss_n40C_1v76"])

    def count(*classes: np.ndarray) -> int:
        return sum(len(r) for _, _, r in lsh.crossings(design, a.island, drv,
                                                       needs=lambda x, y: any(c[x] < c[y] for c in classes)))

    own, union = count(a.rail_class), count(a.rail_class, other)
    assert own == a.level_shifters and union > own and union > count(other)
    b = build(sm, sw, [3, 4], 4, platform=sky130hd, ls_cell=ls, island=a.island, hardware=(other,))
    assert np.array_equal(b.rail_class, a.rail_class) or b.promotions > 0
    assert b.level_shifters == count(b.rail_class, other)
    assert int(np.sum(np.array(b.design_ls.inst_cell) == ls[0])) == b.level_shifters
    assert bool(np.all(b.hopping)) and b.switch_area_um2 > a.switch_area_um2  # switched in some mode
    assert b.fast.meets and b.slow.meets
    # the union's extra shifters cost energy in the mode that does not need them
    assert b.fast.e_dyn_cycle > a.fast.e_dyn_cycle and b.slow.leakage > a.slow.leakage
