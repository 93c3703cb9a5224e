"""Gated clocks against `sta` 3.1 (issue #15): an integrated clock gate's output toggles as
GCK = CK & EN of its `clock_gate_clock_pin` / `clock_gate_enable_pin` (density
D(CK)·P(EN) + D(EN)·P(CK), duty P(CK)·P(EN); the test pin is ignored), the gated clock tree
and the flops it clocks take that activity, and unconnected outputs (a flop's QN) still cost
internal power. Sky130hd `dlclkp`/`sdlclkp` with a clock buffer after the gate, at the default
input activity and at `set_power_activity -input -duty 0.8`; Nangate45 flops with QN open."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from flow.engines import power as pw
from flow.engines import sta
from flow.stages.signoff import run_signoff
from tests.signoff.opensta import run_sta
from tests.signoff.test_power_opensta3 import _lib

SKY130 = """module top(clk, en, te, a, b, q1, q2);
  input clk, en, te, a, b;
  output q1, q2;
  wire enr, g1, g1b, g2;
  sky130_fd_sc_hd__dfxtp_1 re (.CLK(clk), .D(en), .Q(enr));
  sky130_fd_sc_hd__dlclkp_1 cg1 (.CLK(clk), .GATE(enr), .GCLK(g1));
  sky130_fd_sc_hd__clkbuf_1 cb (.A(g1), .X(g1b));
  sky130_fd_sc_hd__dfxtp_1 r1 (.CLK(g1b), .D(a), .Q(q1));
  sky130_fd_sc_hd__sdlclkp_1 cg2 (.CLK(clk), .GATE(en), .SCE(te), .GCLK(g2));
  sky130_fd_sc_hd__dfxtp_1 r2 (.CLK(g2), .D(b), .Q(q2));
endmodule
"""
SDC = """create_clock [get_ports clk] -name core_clock -period 2.0
set_input_delay 0.2 -clock core_clock [all_inputs -no_clocks]
set_output_delay 0.2 -clock core_clock [all_outputs]
set_load 0.01 [all_outputs]
"""
PINS = ("cg1/GCLK", "cb/A", "cb/X", "r1/CLK", "cg2/GCLK", "r2/CLK", "r1/Q", "r2/Q")

NANGATE = """module top(clk, a, b, q1, q2);
  input clk, a, b;
  output q1, q2;
  wire n1;
  DFF_X1 r1 (.D(a), .CK(clk), .Q(n1));
  DFF_X1 r2 (.D(n1), .CK(clk), .Q(q1));
  DFFR_X1 r3 (.D(b), .RN(a), .CK(clk), .Q(q2));
endmodule
"""


def _setup(tmp: Path, platform, netlist: str, sdc: str) -> tuple[Path, Path, str]:
    lib = _lib(tmp, platform)
    (tmp / "top.v").write_text(netlist)
    (tmp / "top.sdc").write_text(sdc)
    head = f"read_liberty {lib}\nread_verilog {tmp / 'top.v'}\nlink_design top\nread_sdc {tmp / 'top.sdc'}\n"
    return lib, tmp / "top.sdc", head


def _sta_activity(tmp: Path, script: str) -> tuple[dict[str, tuple[float, float]], dict]:
    """Pin (density 1/s, duty) by `get_property activity`, and the report_power groups."""
    tcl = script + "".join(f'puts "ACT {p} [get_property [get_pins {p}] activity]"\n' for p in PINS)
    ref = run_sta(tcl + "report_power -digits 8\n", tmp)
    act = {m.group(1): (float(m.group(2)), float(m.group(3)))
           for m in re.finditer(r"^ACT (\S+) (\S+) (\S+)", ref.stdout, re.M)}
    return act, ref.power()


def _instance_internal(stdout: str) -> dict[str, float]:
    """Flop instance -> internal power (W) of a `report_power -instances` table."""
    return {m.group(2): float(m.group(1)) for m in
            re.finditer(r"^\s*([-+]?\d\.\d+e[-+]\d+)\s+\S+\s+\S+\s+\S+\s+(r\d)\s*$", stdout, re.M)}


def _check(design, a: pw.PinActivity, p: pw.PowerResult, act: dict, groups: dict) -> None:
    names = design.node_names()
    for pin, (d, duty) in act.items():
        v = names.index_of(pin)
        assert a.density[v] == pytest.approx(d, rel=1e-3), pin
        assert a.duty[v] == pytest.approx(duty, abs=1e-3), pin
    g = p.groups()
    for name in ("Sequential", "Clock"):
        assert g[name]["internal"] == pytest.approx(groups[name][0], rel=0.02), name


def test_sky130_clock_gates_match_opensta(tmp_path, sky130hd):
    lib, sdc, head = _setup(tmp_path, sky130hd, SKY130, SDC)
    res = run_signoff([tmp_path / "top.v"], "top", {"c": sta.load_liberty(lib)}, sdc)
    act, groups = _sta_activity(tmp_path, head)
    # analytic: CK 1e9/s duty 1/2, enables 0.1 / 2 ns = 5e7/s duty 1/2 -> 1e9·½ + 5e7·½, ¼
    assert act["cg1/GCLK"] == pytest.approx((5.25e8, 0.25), rel=1e-3)
    assert act["cg2/GCLK"] == act["cg1/GCLK"]
    _check(res.design, res.activity["c"], res.power["c"], act, groups)


def test_sky130_clock_gate_enable_duty_matches_opensta(tmp_path, sky130hd):
    """`set_power_activity -input -activity 0.3 -duty 0.8`: the enables' duty sets the gated
    clock's (0.5 · 0.8), and the flops after the gate see a slower clock."""
    lib, sdc, head = _setup(tmp_path, sky130hd, SKY130, SDC)
    library = sta.load_liberty(lib)
    design = sta.load_design([tmp_path / "top.v"], "top")
    t = sta.analyze(design, library, sta.load_constraints(sdc, design, library))
    a = pw.propagate_activity(design, t, library, input_activity=0.3, input_duty=0.8)
    act, groups = _sta_activity(tmp_path, head + "set_power_activity -input -activity 0.3 -duty 0.8\n")
    assert act["cg2/GCLK"][1] == pytest.approx(0.4, abs=1e-3)
    _check(design, a, pw.analyze_power(design, t, a), act, groups)


def test_unconnected_flop_outputs_cost_internal_power(tmp_path, nangate45):
    """OpenSTA has a pin for every port: a flop's open QN toggles with IQN and costs its
    internal power (CK -> QN at no load), and its duty weighs the `when`s naming QN."""
    lib, sdc, head = _setup(tmp_path, nangate45, NANGATE, SDC)
    res = run_signoff([tmp_path / "top.v"], "top", {"c": sta.load_liberty(lib)}, sdc)
    ref = run_sta(head + "report_power -instances [get_cells r*] -digits 8\n", tmp_path)
    rows = _instance_internal(ref.stdout)
    p = res.power["c"]
    assert set(rows) == {"r1", "r2", "r3"}
    for k, nm in enumerate(p.inst_names):
        if nm in rows:
            assert p.internal[k] == pytest.approx(rows[nm], rel=1e-3), nm


def test_pin_activity_on_unconnected_flop_output(tmp_path, nangate45):
    """`set_power_activity -pins` on a flop's open QN (no net): OpenSTA annotates the pin, and
    r1's internal power follows it; ours, given the same pin activity, equals sta 3.1 per
    instance, and differs from the unannotated figure (the annotation is not dropped)."""
    lib, sdc, head = _setup(tmp_path, nangate45, NANGATE, SDC)
    library = sta.load_liberty(lib)
    design = sta.load_design([tmp_path / "top.v"], "top")
    t = sta.analyze(design, library, sta.load_constraints(sdc, design, library))
    ref = run_sta(head + "set_power_activity -pins [get_pins r1/QN] -activity 0.9 -duty 0.5\n"
                  "report_power -instances [get_cells r*] -digits 8\n", tmp_path)
    rows = _instance_internal(ref.stdout)
    period = 2.0e-9
    plain = pw.analyze_power(design, t, pw.propagate_activity(design, t))
    a = pw.propagate_activity(design, t, annotated={"r1/QN": (0.9 / period, 0.5)}, origin="user")
    assert a.n_open_ports > 0 and len(a.open_ports) == 1
    p = pw.analyze_power(design, t, a)
    assert set(rows) == {"r1", "r2", "r3"}
    for k, nm in enumerate(p.inst_names):
        assert p.internal[k] == pytest.approx(rows[nm], rel=1e-3), nm
    r1 = p.inst_names.index("r1")
    assert abs(p.internal[r1] - plain.internal[r1]) > 0.05 * plain.internal[r1]
