"""Hand-computed STA and power on the linear hand library (every table is a plane, so the
numbers below are exact), cross-checked against OpenSTA on the same files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from flow.engines import power as pw
from flow.engines import sta
from flow.engines.sta import load_liberty as read_liberty
from tests.signoff.handlib import DFF_Q, HOLD, INV, SETUP, lin, write_lib
from tests.signoff.opensta import run_sta

NETLIST = """module top (clk, in1, out1);
  input clk;
  input in1;
  output out1;
  wire q1, n1, q2;
  DFF_X1 r1 (.D(in1), .CK(clk), .Q(q1));
  INV_X1 u1 (.A(q1), .ZN(n1));
  DFF_X1 r2 (.D(n1), .CK(clk), .Q(q2));
  INV_X1 u2 (.A(q2), .ZN(out1));
endmodule
"""
SDC = """create_clock -name clk -period 1.0 [get_ports clk]
set_input_delay 0.1 -clock clk [get_ports in1]
set_output_delay 0.2 -clock clk [get_ports out1]
set_clock_uncertainty 0.05 [get_clocks clk]
set_load 2.0 [get_ports out1]
set_input_transition 0.04 [get_ports in1]
"""
NS = 1e-9


@pytest.fixture(scope="module")
def hand(tmp_path_factory):
    d = tmp_path_factory.mktemp("hand")
    lib = write_lib(d / "hand.lib")
    (d / "top.v").write_text(NETLIST)
    (d / "top.sdc").write_text(SDC)
    design = sta.load_design([d / "top.v"], "top")
    tc = sta.load_constraints(d / "top.sdc", design)
    return d, read_liberty(lib), design, tc


def _q_and_inverter() -> tuple[dict, float, float, float, float]:
    """Flop Q (delay, slew) per edge and the inverter u1 after it, by hand from the tables."""
    # r1/Q and r2/Q drive one INV input (1 fF); clock ideal with 0 slew
    q = {"r": (lin(DFF_Q["cell_rise"], 0, 1.0), lin(DFF_Q["rise_transition"], 0, 1.0)),
         "f": (lin(DFF_Q["cell_fall"], 0, 1.0), lin(DFF_Q["fall_transition"], 0, 1.0))}
    # u1 drives r2/D (0.5 fF): Q fall -> ZN rise, Q rise -> ZN fall
    zr = q["f"][0] + lin(INV["cell_rise"], q["f"][1], 0.5)
    zr_s = lin(INV["rise_transition"], q["f"][1], 0.5)
    zf = q["r"][0] + lin(INV["cell_fall"], q["r"][1], 0.5)
    zf_s = lin(INV["fall_transition"], q["r"][1], 0.5)
    return q, zr, zr_s, zf, zf_s


def expected_setup() -> dict[str, float]:
    """Slack (ns) per endpoint, worked out from the table planes."""
    q, zr, zr_s, zf, zf_s = _q_and_inverter()
    req = 1.0 - 0.05
    r2 = min(req - lin(SETUP["rise_constraint"], zr_s, 0.0) - zr, req - lin(SETUP["fall_constraint"], zf_s, 0.0) - zf)
    r1 = min(req - lin(SETUP["rise_constraint"], 0.04, 0.0) - 0.1, req - lin(SETUP["fall_constraint"], 0.04, 0.0) - 0.1)
    o_r = q["f"][0] + lin(INV["cell_rise"], q["f"][1], 2.0)
    o_f = q["r"][0] + lin(INV["cell_fall"], q["r"][1], 2.0)
    out = req - 0.2 - max(o_r, o_f)
    return {"r1/D": r1, "r2/D": r2, "out1": out}


def expected_hold() -> dict[str, float]:
    q, zr, zr_s, zf, zf_s = _q_and_inverter()
    r2 = min(zr - 0.05 - lin(HOLD["rise_constraint"], zr_s, 0.0), zf - 0.05 - lin(HOLD["fall_constraint"], zf_s, 0.0))
    r1 = min(0.1 - 0.05 - lin(HOLD["rise_constraint"], 0.04, 0.0), 0.1 - 0.05 - lin(HOLD["fall_constraint"], 0.04, 0.0))
    o_r = q["f"][0] + lin(INV["cell_rise"], q["f"][1], 2.0)
    o_f = q["r"][0] + lin(INV["cell_fall"], q["r"][1], 2.0)
    out = min(o_r, o_f) + 0.2 - 0.05  # hold: arrival - (0 - output delay + uncertainty)
    return {"r1/D": r1, "r2/D": r2, "out1": out}


def test_setup_hold_to_the_femtosecond(hand):
    _, lib, design, tc = hand
    t = sta.analyze(design, lib, tc)
    got = dict(zip(t.endpoint_names, t.setup_slack, strict=True))
    for ep, exp in expected_setup().items():
        assert got[ep] == pytest.approx(exp * NS, abs=1e-18), ep
    goth = dict(zip(t.endpoint_names, t.hold_slack, strict=True))
    for ep, exp in expected_hold().items():
        assert goth[ep] == pytest.approx(exp * NS, abs=1e-18), ep
    assert t.setup_wns == pytest.approx(min(expected_setup().values()) * NS, abs=1e-18)
    assert t.setup_tns == 0.0
    # the worst path report walks r2 -> u2 -> out1
    p = t.setup_paths[0]
    assert [s.node for s in p.stages] == ["r2/CK", "r2/Q", "u2/A", "u2/ZN", "out1"]
    assert "slack (MET)" in t.report_checks("max")


def test_tight_clock_gives_tns(hand):
    _, lib, design, tc = hand
    tc2 = sta.TimingConstraints(**{**tc.__dict__, "clocks": [sta.ClockDef(
        **{**tc.clocks[0].__dict__, "period": 0.1 * NS, "waveform": (0.0, 0.05 * NS)})]})
    t = sta.analyze(design, lib, tc2)
    exp = {k: v - 0.9 for k, v in expected_setup().items()}
    assert t.setup_tns == pytest.approx(sum(min(v, 0) for v in exp.values()) * NS, abs=1e-17)


def test_multivoltage_level_shifter_and_derate(hand):
    _, lib, design, tc = hand
    base = sta.analyze(design, lib, tc)
    # same library twice but declared at two voltages: u1 on the "low" one
    ic = np.array([0 if n != "u1" else 1 for n in design.inst_names])
    t = sta.analyze(design, [lib, lib], tc, instance_corner=ic, voltages=[1.0, 0.8], level_shifter_delay=35e-12)
    got = dict(zip(t.endpoint_names, t.setup_slack, strict=True))
    ref = dict(zip(base.endpoint_names, base.setup_slack, strict=True))
    # r1->u1 and u1->r2 both cross supplies: two shifters on the r2/D path
    assert got["r2/D"] == pytest.approx(ref["r2/D"] - 70e-12, abs=1e-18)
    assert got["out1"] == pytest.approx(ref["out1"], abs=1e-18)
    der = np.array([1.0 if n != "u2" else 1.5 for n in design.inst_names])
    t = sta.analyze(design, lib, tc, derate=der)
    got = dict(zip(t.endpoint_names, t.setup_slack, strict=True))
    q = lin(DFF_Q["cell_rise"], 0, 1.0), lin(DFF_Q["rise_transition"], 0, 1.0)
    qf = lin(DFF_Q["cell_fall"], 0, 1.0), lin(DFF_Q["fall_transition"], 0, 1.0)
    arr = max(qf[0] + 1.5 * lin(INV["cell_rise"], qf[1], 2.0), q[0] + 1.5 * lin(INV["cell_fall"], q[1], 2.0))
    assert got["out1"] == pytest.approx((0.95 - 0.2 - arr) * NS, abs=1e-18)


def test_power_hand(hand):
    """Global activity 0.1/period: every term computed by hand (see handlib for the tables)."""
    _, lib, design, tc = hand
    t = sta.analyze(design, lib, tc)
    a = pw.sta_global_activity(design, t, 0.1, 0.5)
    p = pw.analyze_power(design, t, a)
    g = p.groups()
    f = 1e9 * 0.1  # transitions per second
    # CK pins (OpenSTA 3.1): mean of the rise and fall energies (3, 2 fJ) at duty 1 per clock
    # transition, 2 transitions per ns
    assert g["Sequential"]["internal"] == pytest.approx(2 * 2.5e-15 * 2e9, rel=1e-9)
    assert g["Sequential"]["switching"] == pytest.approx(2 * 0.5 * 1e-15 * f, rel=1e-9)
    assert g["Sequential"]["leakage"] == pytest.approx(100e-9, rel=1e-9)
    # INV leakage: 10 nW when A, 20 nW when !A, each weighted 1/2
    assert g["Combinational"]["leakage"] == pytest.approx(2 * 15e-9, rel=1e-9)
    assert g["Combinational"]["switching"] == pytest.approx(0.5 * 2.5e-15 * f, rel=1e-9)
    sr, sf = 0.006 + 0.005, 0.005 + 0.004  # r*/Q slews (ns)
    # one arc per inverter (weight 1), the mean of the output's rise and fall energies; the arc
    # is negative unate, so ZN rising is looked up at A's fall slew and vice versa
    e1 = ((1 + 2 * sf + 0.1 * 0.5) + (0.5 + 1 * sr + 0.05 * 0.5)) / 2
    e2 = ((1 + 2 * sf + 0.1 * 2.0) + (0.5 + 1 * sr + 0.05 * 2.0)) / 2
    assert g["Combinational"]["internal"] == pytest.approx((e1 + e2) * 1e-15 * f, rel=1e-9)


def test_against_opensta(hand):
    d, lib, design, tc = hand
    out = run_sta(f"""read_liberty {d / 'hand.lib'}
read_verilog {d / 'top.v'}
link_design top
read_sdc {d / 'top.sdc'}
report_checks -path_delay max -digits 6
report_checks -path_delay min -digits 6
set_power_activity -global -activity 0.1 -duty 0.5
report_power -digits 8
""", d)
    t = sta.analyze(design, lib, tc)
    setup, hold = out.slacks()
    assert t.setup_wns == pytest.approx(setup * NS, abs=1e-15)
    assert t.hold_wns == pytest.approx(hold * NS, abs=1e-15)
    p = pw.analyze_power(design, t, pw.sta_global_activity(design, t, 0.1, 0.5)).groups_sta2019()
    ref = out.power()
    for grp in ("Sequential", "Combinational"):
        for k, col in enumerate(("internal", "switching", "leakage", "total")):
            assert p[grp][col] == pytest.approx(ref[grp][k], rel=1e-5, abs=1e-12), (grp, col)


def test_paths_file(hand, tmp_path: Path):
    _, lib, design, tc = hand
    t = sta.analyze(design, lib, tc)
    doc = t.to_json()
    assert doc["setup_ws"] == pytest.approx(t.setup_wns)
    assert doc["setup_paths"][0]["endpoint"] == "out1"


def test_activity_crosses_flops(hand):
    """Default propagation: in1 (0.1 per 1 ns, duty 0.5) reaches r1/Q through ff next_state "D",
    then u1 (inverter) and r2; clock pins toggle twice per period."""
    _, lib, design, tc = hand
    t = sta.analyze(design, lib, tc)
    a = pw.propagate_activity(design, t, lib, input_activity=0.1, input_duty=0.3)
    names = design.node_names()
    for pin, duty in (("r1/Q", 0.3), ("u1/ZN", 0.7), ("r2/Q", 0.7), ("out1", 0.3)):
        k = names.index(pin)
        assert a.density[k] == pytest.approx(0.1 / NS), pin
        assert a.duty[k] == pytest.approx(duty), pin
    assert a.density[names.index("r1/CK")] == pytest.approx(2 / NS)
    assert "none" not in a.counts()
