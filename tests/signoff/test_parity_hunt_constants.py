"""Tie cells are constants without any set_case_analysis, as OpenSTA 3.1's `Sim` seeds them: an
AND fed by a tie-low cell, an OR fed by a tie-high cell and a mux whose select is tied are not
timed through the blocked inputs (sta 3.1 reports no path to the first two outputs). Checked by
running `sta` 3.1 on the same files, both platforms; the tight output delays make the blocked
paths violate if they were timed."""

from __future__ import annotations

import math

import pytest

from flow.engines import sta
from tests.signoff.opensta import run_sta
from tests.signoff.test_sta_opensta3 import _lib

TOL = 5e-12

NETLISTS = {
    "nangate45": ("typical", "BUF_X1", """module top(clk, a, b, c, y_and, y_or, y_mux);
  input clk, a, b, c;
  output y_and, y_or, y_mux;
  wire q1, q2, q3, zero, one;
  DFF_X1 r1 (.D(a), .CK(clk), .Q(q1));
  DFF_X1 r2 (.D(b), .CK(clk), .Q(q2));
  DFF_X1 r3 (.D(c), .CK(clk), .Q(q3));
  LOGIC0_X1 t0 (.Z(zero));
  LOGIC1_X1 t1 (.Z(one));
  AND2_X1 u1 (.A1(zero), .A2(q1), .ZN(y_and));
  OR2_X1 u2 (.A1(q2), .A2(one), .ZN(y_or));
  MUX2_X1 u3 (.A(q1), .B(q3), .S(one), .Z(y_mux));
endmodule
"""),
    "sky130hd": (None, "sky130_fd_sc_hd__buf_1", """module top(clk, a, b, c, y_and, y_or, y_mux);
  input clk, a, b, c;
  output y_and, y_or, y_mux;
  wire q1, q2, q3, zero, one, one2, zero2;
  sky130_fd_sc_hd__dfxtp_1 r1 (.D(a), .CLK(clk), .Q(q1));
  sky130_fd_sc_hd__dfxtp_1 r2 (.D(b), .CLK(clk), .Q(q2));
  sky130_fd_sc_hd__dfxtp_1 r3 (.D(c), .CLK(clk), .Q(q3));
  sky130_fd_sc_hd__conb_1 t0 (.HI(one2), .LO(zero));
  sky130_fd_sc_hd__conb_1 t1 (.HI(one), .LO(zero2));
  sky130_fd_sc_hd__and2_1 u1 (.A(zero), .B(q1), .X(y_and));
  sky130_fd_sc_hd__or2_1 u2 (.A(q2), .B(one), .X(y_or));
  sky130_fd_sc_hd__mux2_1 u3 (.A0(q1), .A1(q3), .S(one), .X(y_mux));
endmodule
"""),
}


@pytest.mark.parametrize("plat", ["nangate45", "sky130hd"])
def test_tie_cells_are_constants_as_in_opensta(plat, request, tmp_path):
    platform = request.getfixturevalue(plat)
    corner, buf, netlist = NETLISTS[plat]
    period = 0.5 if plat == "nangate45" else 2.0
    lib = _lib(platform, corner or platform.default_corner, tmp_path)
    (tmp_path / "top.v").write_text(netlist)
    (tmp_path / "top.sdc").write_text(
        f"create_clock [get_ports clk] -name core_clock -period {period}\n"
        f"set_input_delay 0.05 -clock core_clock [all_inputs -no_clocks]\n"
        f"set_output_delay {period * 0.9} -clock core_clock [all_outputs]\n"
        f"set_driving_cell -lib_cell {buf} [all_inputs -no_clocks]\n")
    library = sta.load_liberty(lib)
    design = sta.load_design([tmp_path / "top.v"], "top")
    t = sta.analyze(design, library, sta.load_constraints(tmp_path / "top.sdc", design, library))
    ref = run_sta(f"read_liberty {lib}\nread_verilog {tmp_path / 'top.v'}\nlink_design top\n"
                  f"read_sdc {tmp_path / 'top.sdc'}\nreport_worst_slack -max -digits 6\n"
                  "report_worst_slack -min -digits 6\nreport_tns -digits 6\nreport_tns -min -digits 6\n"
                  "report_checks -to [all_outputs] -group_path_count 10 -digits 6\n", tmp_path)
    assert abs(t.setup_wns - ref.value("worst slack max") * 1e-9) < TOL, (t.setup_wns, ref.value("worst slack max"))
    assert abs(t.hold_wns - ref.value("worst slack min") * 1e-9) < TOL, (t.hold_wns, ref.value("worst slack min"))
    for ours, theirs in ((t.setup_tns, ref.value("tns max")), (t.hold_tns, ref.value("tns min"))):
        assert abs(ours - theirs * 1e-9) <= max(0.01 * abs(theirs) * 1e-9, 1e-15), (ours, theirs)
    slack = dict(zip(t.endpoint_names, t.setup_slack.tolist(), strict=True))
    for out in ("y_and", "y_or"):  # constant outputs: no path, in sta 3.1 as here
        assert f"Endpoint: {out} " not in ref.stdout
        assert math.isinf(slack.get(out, math.inf)), (out, slack.get(out))
    assert "Endpoint: y_mux" in ref.stdout and math.isfinite(slack["y_mux"])  # through the selected input
