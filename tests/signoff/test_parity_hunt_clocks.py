"""Clocks of unrelated periods, against `sta` 3.1 on the same files: OpenSTA checks a launch edge
against the closest capture edge over the clocks' common period (its cycle accounting), so with
1.2 ns and 1.7 ns (+0.2 ns) clocks the setup relation is 0.1 ns (12.0 -> 12.1 ns), not the
0.2 ns of cycle 0. Register-to-register crossings both ways, a recovery check from an input
on a virtual clock, and I/O on a third period; both platforms."""

from __future__ import annotations

import pytest

from flow.engines import sta
from flow.engines.cycle_accounting import separations
from tests.signoff.opensta import run_sta
from tests.signoff.test_sta_opensta3 import _lib

TOL = 5e-12

CELLS = {  # platform: (corner, async-reset flop, plain flop, inverter, buffer) with pin names
    "nangate45": ("typical", ("DFFR_X1", "D", "CK", "RN", "Q"), ("DFF_X1", "D", "CK", "Q"), ("INV_X1", "A", "ZN"),
                  ("BUF_X1", "A", "Z")),
    "sky130hd": (None, ("sky130_fd_sc_hd__dfrtp_1", "D", "CLK", "RESET_B", "Q"), ("sky130_fd_sc_hd__dfxtp_1", "D", "CLK", "Q"),
                 ("sky130_fd_sc_hd__inv_1", "A", "Y"), ("sky130_fd_sc_hd__buf_1", "A", "X")),
}


def _netlist(plat: str) -> str:
    _, (ff_r, d_r, ck_r, rn, q_r), (ff, d_, ck, q), (inv, ia, iy), (buf, ba, bx) = CELLS[plat]
    return f"""module top(clk1, clk2, rst_n, a, y, z);
  input clk1, clk2, rst_n, a;
  output y, z;
  wire n0, q1, n1, q2, n2, q3;
  {buf} ui (.{ba}(a), .{bx}(n0));
  {ff_r} r1 (.{d_r}(n0), .{ck_r}(clk1), .{rn}(rst_n), .{q_r}(q1));
  {inv} u1 (.{ia}(q1), .{iy}(n1));
  {ff_r} r2 (.{d_r}(n1), .{ck_r}(clk2), .{rn}(rst_n), .{q_r}(q2));
  {buf} u2 (.{ba}(q2), .{bx}(n2));
  {ff} r3 (.{d_}(n2), .{ck}(clk1), .{q}(q3));
  {buf} uo (.{ba}(q3), .{bx}(y));
  {inv} uz (.{ia}(q2), .{iy}(z));
endmodule
"""


def _sdc(p1: float, p2: float, w2: tuple[float, float], pv: float, drv: str) -> str:
    return f"""current_design top
create_clock [get_ports clk1] -name core_clock -period {p1}
create_clock [get_ports clk2] -name clk2 -period {p2} -waveform {{{w2[0]} {w2[1]}}}
create_clock -name vclk -period {pv}
set_clock_uncertainty 0.04 [all_clocks]
set_clock_latency 0.11 [get_clocks vclk]
set_clock_latency -source 0.06 [get_clocks vclk]
set_clock_latency 0.09 [get_clocks core_clock]
set_input_delay [expr {pv} * 0.2] -clock vclk [all_inputs -no_clocks]
set_output_delay [expr {pv} * 0.2] -clock vclk [all_outputs]
set_driving_cell -lib_cell {drv} [all_inputs -no_clocks]
set_load 2.0 [all_outputs]
"""


@pytest.mark.parametrize("plat", ["nangate45", "sky130hd"])
@pytest.mark.parametrize("clocks", [
    (1.2, 1.7, (0.2, 1.0), 1.2),   # common period 20.4 ns: setup 0.1 ns at 12.0 -> 12.1
    (3.0, 1.1, (0.0, 0.55), 2.3),  # capture faster than launch, inputs on a third period
    (2.0, 1.3, (0.4, 0.9), 0.7),
])
def test_unrelated_periods_match_opensta(plat, clocks, request, tmp_path):
    assert_matches_opensta(plat, lambda buf: _sdc(*clocks, buf), request, tmp_path)


def assert_matches_opensta(plat: str, sdc, request, tmp_path) -> None:
    """Setup/hold WNS within TOL and TNS within 1 % of `sta` 3.1 on the two-clock hunt netlist,
    constrained by `sdc(driving_cell)`."""
    platform = request.getfixturevalue(plat)
    corner, *_, (buf, _, _) = CELLS[plat]
    lib = _lib(platform, corner or platform.default_corner, tmp_path)
    (tmp_path / "top.v").write_text(_netlist(plat))
    (tmp_path / "top.sdc").write_text(sdc(buf))
    library = sta.load_liberty(lib)
    design = sta.load_design([tmp_path / "top.v"], "top")
    t = sta.analyze(design, library, sta.load_constraints(tmp_path / "top.sdc", design, library))
    ref = run_sta(f"read_liberty {lib}\nread_verilog {tmp_path / 'top.v'}\nlink_design top\n"
                  f"read_sdc {tmp_path / 'top.sdc'}\nreport_worst_slack -max -digits 6\n"
                  "report_worst_slack -min -digits 6\nreport_tns -digits 6\nreport_tns -min -digits 6\n", tmp_path)
    assert abs(t.setup_wns - ref.value("worst slack max") * 1e-9) < TOL, (t.setup_wns, ref.value("worst slack max"))
    assert abs(t.hold_wns - ref.value("worst slack min") * 1e-9) < TOL, (t.hold_wns, ref.value("worst slack min"))
    for ours, theirs in ((t.setup_tns, ref.value("tns max")), (t.hold_tns, ref.value("tns min"))):
        assert abs(ours - theirs * 1e-9) <= max(0.01 * abs(theirs) * 1e-9, 1e-15), (ours, theirs)


def test_separations_are_the_closest_edges():
    """The cycle accounting alone: same clock one period and no hold offset; 1.2 vs 1.7+0.2 ns:
    setup 0.1 ns (12.0 -> 7 * 1.7 + 0.2 = 12.1) and hold 0 (3.6 = 2 * 1.7 + 0.2)."""
    assert separations(1e-9, 0.0, 1e-9, 0.0) == pytest.approx((1e-9, 0.0))
    assert separations(1e-9, 0.5e-9, 1e-9, 0.0) == pytest.approx((0.5e-9, 0.5e-9))
    s, h = separations(1.2e-9, 0.0, 1.7e-9, 0.2e-9)
    assert s == pytest.approx(0.1e-9) and h == pytest.approx(0.0, abs=1e-18)


def test_report_clock_edge_lines_match_opensta(nangate45, tmp_path):
    """report_checks' clock lines of paths launched and captured on falling edges (`-clock_fall`
    I/O delays): "clock vclk (fall edge)" with the edge time as delay and time, as sta 3.1."""
    from flow.engines.sta_report import format_path

    lib = _lib(nangate45, "typical", tmp_path)
    (tmp_path / "top.v").write_text(_netlist("nangate45"))
    (tmp_path / "top.sdc").write_text(_sdc(1.2, 1.2, (0.0, 0.6), 1.2, "BUF_X1")
                                      + "set_output_delay 0.2 -clock vclk -clock_fall [get_ports y]\n"
                                      "set_input_delay 0.5 -clock vclk -clock_fall [get_ports a]\n")
    library = sta.load_liberty(lib)
    design = sta.load_design([tmp_path / "top.v"], "top")
    t = sta.analyze(design, library, sta.load_constraints(tmp_path / "top.sdc", design, library))
    head = f"read_liberty {lib}\nread_verilog {tmp_path / 'top.v'}\nlink_design top\nread_sdc {tmp_path / 'top.sdc'}\n"
    # (hold paths are left out: sta 3.1 prints them in the launch cycle its cycle accounting met
    # first, e.g. launch 1.2 / capture 0.6 where we print 0.0 / -0.6; same slack)
    for endpoint, kind in (("y", "max"), ("r1/D", "max")):
        ref = run_sta(head + f"report_checks -path_delay {kind} -to {endpoint} -fields {{slew cap fanout}}\n", tmp_path)
        path = next(p for p in (t.setup_paths if kind == "max" else t.hold_paths) if p.endpoint == endpoint)
        ours = [ln for ln in format_path(t, path).splitlines() if "edge)" in ln]
        theirs = [ln for ln in ref.stdout.splitlines() if "edge)" in ln]
        assert ours == theirs and any("fall edge" in ln for ln in theirs), (endpoint, kind, ours, theirs)
