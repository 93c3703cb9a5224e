"""Activity propagation against exact enumeration; propagated clocks against OpenSTA;
missing power data reported."""

from __future__ import annotations

import pytest

from flow.engines import activity as act
from flow.engines import power as pw
from flow.engines import sta
from tests.signoff.handlib import write_lib
from tests.signoff.opensta import ours_and_opensta

COMB_LIB = """library (comb) {
  delay_model : table_lookup; time_unit : "1ns"; voltage_unit : "1V"; leakage_power_unit : "1nW";
  capacitive_load_unit (1, ff); nom_voltage : 1.0;
  cell (AND2) { area : 1; pin (A) { direction : input; capacitance : 1; } pin (B) { direction : input; capacitance : 1; }
    pin (Y) { direction : output; function : "A & B";
      timing () { related_pin : "A"; timing_sense : positive_unate; cell_rise (scalar) { values ("0.01"); }
        cell_fall (scalar) { values ("0.01"); } rise_transition (scalar) { values ("0.01"); } fall_transition (scalar) { values ("0.01"); } }
      timing () { related_pin : "B"; timing_sense : positive_unate; cell_rise (scalar) { values ("0.01"); }
        cell_fall (scalar) { values ("0.01"); } rise_transition (scalar) { values ("0.01"); } fall_transition (scalar) { values ("0.01"); } } } }
  cell (OR2) { area : 1; pin (A) { direction : input; capacitance : 1; } pin (B) { direction : input; capacitance : 1; }
    pin (Y) { direction : output; function : "A | B";
      timing () { related_pin : "A B"; timing_sense : positive_unate; cell_rise (scalar) { values ("0.02"); }
        cell_fall (scalar) { values ("0.02"); } rise_transition (scalar) { values ("0.01"); } fall_transition (scalar) { values ("0.01"); } } } }
  cell (XOR2) { area : 1; pin (A) { direction : input; capacitance : 1; } pin (B) { direction : input; capacitance : 1; }
    pin (Y) { direction : output; function : "A ^ B";
      timing () { related_pin : "A B"; timing_sense : non_unate; cell_rise (scalar) { values ("0.03"); }
        cell_fall (scalar) { values ("0.03"); } rise_transition (scalar) { values ("0.01"); } fall_transition (scalar) { values ("0.01"); } } } }
}
"""
COMB_V = """module top (clk, a, b, c, d, y);
  input clk, a, b, c, d;
  output y;
  wire n1, n2;
  AND2 g1 (.A(a), .B(b), .Y(n1));
  OR2 g2 (.A(c), .B(d), .Y(n2));
  XOR2 g3 (.A(n1), .B(n2), .Y(y));
endmodule
"""


def test_propagation_matches_exact_enumeration(tmp_path):
    (tmp_path / "c.lib").write_text(COMB_LIB)
    (tmp_path / "c.v").write_text(COMB_V)
    (tmp_path / "c.sdc").write_text("create_clock -name clk -period 2.0 [get_ports clk]\n"
                                    "set_input_delay 0 -clock clk [get_ports {a b c d}]\n"
                                    "set_output_delay 0 -clock clk [get_ports y]\n")
    lib = sta.load_liberty(tmp_path / "c.lib")
    design = sta.load_design([tmp_path / "c.v"], "top")
    tc = sta.load_constraints(tmp_path / "c.sdc", design)
    t = sta.analyze(design, lib, tc)
    assert t.setup_wns == pytest.approx(2e-9 - 0.05e-9, abs=1e-18)  # 0.02 (OR) + 0.03 (XOR)
    a = pw.propagate_activity(design, t, lib, input_activity=0.3, input_duty=0.5,
                              annotated={"a": (0.1 / 2e-9, 0.8)})
    names = design.node_names()
    full = act.parse_function("(a & b) ^ (c | d)")
    duty = {"a": 0.8, "b": 0.5, "c": 0.5, "d": 0.5}
    dens = {"a": 0.1 / 2e-9, "b": 0.3 / 2e-9, "c": 0.3 / 2e-9, "d": 0.3 / 2e-9}
    k = names.index("g3/Y")
    # a fan-out-free circuit: gate-by-gate propagation is exact for the whole function
    assert a.duty[k] == pytest.approx(act.exact_probability(full, duty), rel=1e-12)
    assert a.density[k] == pytest.approx(act.najm_density(full, duty, dens), rel=1e-12)
    assert a.counts()["vcd"] >= 2 and a.counts()["input"] >= 3
    # no power tables at all in this library: an explicit warning with the count, not a silent 0
    p = pw.analyze_power(design, t, a)
    assert p.warnings and "3 cell type(s) without power data" in p.warnings[0]
    assert p.switching.sum() > 0


CLK_NETLIST = """module top (clk, in1, out1);
  input clk;
  input in1;
  output out1;
  wire q1, n1, q2, c1, c2;
  INV_X1 b1 (.A(clk), .ZN(c1));
  INV_X1 b2 (.A(c1), .ZN(c2));
  DFF_X1 r1 (.D(in1), .CK(clk), .Q(q1));
  INV_X1 u1 (.A(q1), .ZN(n1));
  DFF_X1 r2 (.D(n1), .CK(c2), .Q(q2));
  INV_X1 u2 (.A(q2), .ZN(out1));
endmodule
"""


@pytest.mark.parametrize("propagated", [False, True])
def test_clock_tree_ideal_and_propagated_vs_opensta(tmp_path, propagated):
    lib_p = write_lib(tmp_path / "hand.lib")
    sdc = ("create_clock -name clk -period 0.3 [get_ports clk]\nset_input_delay 0.1 -clock clk [get_ports in1]\n"
           "set_output_delay 0.2 -clock clk [get_ports out1]\nset_input_transition 0.02 [get_ports {in1 clk}]\n")
    if propagated:
        sdc += "set_propagated_clock [get_clocks clk]\n"
    t, ref = ours_and_opensta(tmp_path, lib_p, CLK_NETLIST, sdc, "report_tns -digits 6\n")
    setup, hold = ref.slacks()
    assert t.setup_wns == pytest.approx(setup * 1e-9, abs=1e-15)
    assert t.hold_wns == pytest.approx(hold * 1e-9, abs=1e-15)
    assert t.setup_tns == pytest.approx(ref.value("tns") * 1e-9, abs=1e-15)
