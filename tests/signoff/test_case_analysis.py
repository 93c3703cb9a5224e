"""`set_case_analysis` (flow.engines.case_analysis): constants propagated through Liberty
functions, arcs from constant pins and through constant or insensitive outputs disabled — the
same worst setup and hold slack as OpenSTA 3.1 with the same command, per mode, on a hand netlist
and on mac_array's precision modes (sky130hd)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from flow.engines import case_analysis as ca
from flow.engines import sta
from tests.conftest import DESIGNS
from tests.signoff.opensta import run_sta

TOL = 5e-12  # s: the brief's bound per mode

P = "sky130_fd_sc_hd__"
# r1 -> long chain (4 xor stages) -> mux A1; r2 -> short (one buffer) -> mux A0; mux S from port sel;
# the and2 gates r3 with port en; the xor with port inv flips r4; every path ends at a flop
HAND = f"""module top(clk, sel, en, inv, r1_d, r2_d, r3_d, r4_d, y);
  input clk, sel, en, inv, r1_d, r2_d, r3_d, r4_d;
  output y;
  wire q1, q2, q3, q4, l1, l2, l3, l4, s0, m, a, x, nsel;
  {P}dfxtp_1 f1 (.CLK(clk), .D(r1_d), .Q(q1));
  {P}dfxtp_1 f2 (.CLK(clk), .D(r2_d), .Q(q2));
  {P}dfxtp_1 f3 (.CLK(clk), .D(r3_d), .Q(q3));
  {P}dfxtp_1 f4 (.CLK(clk), .D(r4_d), .Q(q4));
  {P}xor2_1 x1 (.A(q1), .B(q2), .X(l1));
  {P}xor2_1 x2 (.A(l1), .B(q2), .X(l2));
  {P}xor2_1 x3 (.A(l2), .B(q3), .X(l3));
  {P}xor2_1 x4 (.A(l3), .B(q4), .X(l4));
  {P}buf_1 b0 (.A(q2), .X(s0));
  {P}inv_1 i0 (.A(sel), .Y(nsel));
  {P}mux2_1 mx (.A0(s0), .A1(l4), .S(nsel), .X(m));
  {P}and2_1 g1 (.A(q3), .B(en), .X(a));
  {P}xor2_1 g2 (.A(q4), .B(inv), .X(x));
  {P}dfxtp_1 c1 (.CLK(clk), .D(m), .Q());
  {P}dfxtp_1 c2 (.CLK(clk), .D(a), .Q());
  {P}dfxtp_1 c3 (.CLK(clk), .D(x), .Q(y));
endmodule
"""
SDC = """create_clock -name clk -period 1.2 [get_ports clk]
set_input_delay 0.2 -clock clk [get_ports {sel en inv r1_d r2_d r3_d r4_d}]
set_output_delay 0.2 -clock clk [get_ports y]
set_input_transition 0.1 [all_inputs]
"""
MODES = {
    "none": "",
    "sel1": "set_case_analysis 1 [get_ports sel]\n",  # nsel = 0: the short A0 path
    "sel0": "set_case_analysis 0 [get_ports sel]\n",  # the long chain
    "en0_inv1": "set_case_analysis 0 [get_ports en]\nset_case_analysis 1 [get_ports inv]\n",
    "q2_rising": "set_case_analysis rising [get_pins f2/Q]\nset_case_analysis 1 [get_ports sel]\n",
    "pin_a0": "set_case_analysis 0 [get_pins mx/A1]\nset_case_analysis falling [get_ports r4_d]\n",
}


def _lib(plat, corner: str, d: Path) -> Path:
    src = Path(plat.corner(corner).liberty[0])
    lib = d / "cells.lib"
    lib.write_bytes(gzip.decompress(src.read_bytes()) if src.suffix == ".gz" else src.read_bytes())
    return lib


@pytest.fixture(scope="module")
def hand(tmp_path_factory, sky130hd):
    d = tmp_path_factory.mktemp("case_hand")
    (d / "top.v").write_text(HAND)
    lib = _lib(sky130hd, "ss_n40C_1v28", d)
    return d, lib, sta.load_liberty(lib), sta.load_design([d / "top.v"], "top")


def _ours(d: Path, name: str, sdc: str, design, library) -> sta.TimingResult:
    (d / f"{name}.sdc").write_text(sdc)
    return sta.analyze(design, library, sta.load_constraints(d / f"{name}.sdc", design, library))


def test_sdc_records_case_analysis(hand):
    d, _lib_p, library, design = hand
    tc = _write_and_load(d, SDC + MODES["q2_rising"] + "set_case_analysis zero {en}\n", design, library)
    assert tc.case_analysis == {"f2/Q": "rising", "sel": "1", "en": "0"}
    assert not any("set_case_analysis" in w for w in tc.warnings)


def _write_and_load(d: Path, text: str, design, library) -> sta.TimingConstraints:
    (d / "rec.sdc").write_text(text)
    return sta.load_constraints(d / "rec.sdc", design, library)


def test_bad_case_value_names_the_line(hand):
    from flow.errors import FormatError

    d, _lib_p, library, design = hand
    with pytest.raises(FormatError) as e:
        _write_and_load(d, SDC + "set_case_analysis 2 [get_ports sel]\n", design, library)
    assert e.value.line == 5


def test_constants_follow_liberty_functions(hand):
    """Hand-derived: sel=1 -> i0/Y=0 -> mux follows A0 (A1 arc off); en=0 -> g1/X=0 (its arcs off);
    inv=1 leaves g2 sensitive to q4 (xor); r4_d falling only falls."""
    _d, _lib_p, library, design = hand
    names = list(design.node_names())
    case = {"sel": "1", "en": "0", "inv": "1", "r4_d": "falling"}
    vals = dict(zip(names, ca.node_values(design, *_models(design, library), case, None).tolist(), strict=True))
    assert vals["i0/Y"] == ca.ZERO and vals["mx/S"] == ca.ZERO and vals["g1/X"] == ca.ZERO
    assert vals["c2/D"] == ca.ZERO and vals["g2/B"] == ca.ONE and vals["g2/X"] == ca.UNKNOWN
    assert vals["mx/X"] == ca.UNKNOWN and vals["r4_d"] == ca.FALLING and vals["f4/D"] == ca.UNKNOWN


def _models(design, library):
    """(cell models, instance -> model index, node directions) as the STA's graph builds them."""
    from flow.engines.model import TableBank

    g = sta._build_graph(design, [library], np.zeros(len(design.inst_names), dtype=np.int64), TableBank(),
                         sta.TimingConstraints(), None, 0.0, np.array([1.28]))
    return g.cells, g.inst_cell_idx, g.pin_dir


def test_case_modes_match_opensta(hand):
    d, lib, library, design = hand
    seen = set()
    for name, case in MODES.items():
        t = _ours(d, name, SDC + case, design, library)
        ref = run_sta(f"read_liberty {lib}\nread_verilog {d / 'top.v'}\nlink_design top\nread_sdc {d / (name + '.sdc')}\n"
                      "report_worst_slack -max -digits 6\nreport_worst_slack -min -digits 6\n", d)
        setup, hold = ref.value("worst slack max") * 1e-9, ref.value("worst slack min") * 1e-9
        assert abs(t.setup_wns - setup) < TOL, (name, t.setup_wns, setup)
        assert abs(t.hold_wns - hold) < TOL, (name, t.hold_wns, hold)
        seen.add(round(setup * 1e12))
    assert len(seen) >= 3  # the modes really time different paths


def _prec_pins(design) -> list[str]:
    """Q pins of the registers holding each PE's precision (nets `...pe.prec[b]`)."""
    out = []
    drv = {}
    for p, (nm, net) in enumerate(zip(design.pin_name, design.pin_net.tolist(), strict=True)):
        if nm == "Q":
            drv[net] = f"{design.inst_names[int(design.pin_inst[p])]}/Q"
    for k, net in enumerate(design.net_names):
        if net.rstrip().endswith(("pe.prec[0]", "pe.prec[1]")) and k in drv:
            out.append((net.rstrip()[-2], drv[k]))
    return out


def test_mac_array_precision_modes_match_opensta(tmp_path_factory, sky130hd):
    """mac_array 2×2 on sky130hd ss_n40C_1v28: each precision mode (8/4/2 bits: prec 0/1/2 on the
    PEs' precision registers) times only its paths; WNS per mode within 5 ps of OpenSTA 3.1, and
    lower precision frees slack."""
    from flow.synth import synthesize

    d = tmp_path_factory.mktemp("case_mac")
    src = DESIGNS / "mac_array/src"
    res = synthesize([src / "mac_pe.v", src / "mac_array.v"], "mac_array", sky130hd, d, clock_period_ns=10.0,
                     params={"ROWS": 2, "COLS": 2, "ACC_W": 20})
    lib = _lib(sky130hd, "ss_n40C_1v28", d)
    library = sta.load_liberty(lib)
    design = sta.load_design([res.netlist], "mac_array")
    pins = _prec_pins(design)
    assert sorted(b for b, _ in pins) == ["0", "1"]  # the array's precision register, shared by the PEs
    base = ("create_clock -name clk -period 10 [get_ports clk]\n"
            "set_input_delay 2 -clock clk [lsearch -inline -all -not -exact [all_inputs] [get_ports clk]]\n"
            "set_output_delay 2 -clock clk [all_outputs]\n")
    wns = {}
    for prec in (0, 1, 2):
        case = "".join(f"set_case_analysis {(prec >> int(b)) & 1} [get_pins {{{p}}}]\n" for b, p in pins)
        name = f"prec{prec}"
        t = _ours(d, name, base + case, design, library)
        ref = run_sta(f"read_liberty {lib}\nread_verilog {res.netlist}\nlink_design mac_array\n"
                      f"read_sdc {d / (name + '.sdc')}\nreport_worst_slack -max -digits 6\n", d)
        setup = ref.value("worst slack max") * 1e-9
        assert abs(t.setup_wns - setup) < TOL, (prec, t.setup_wns, setup)
        wns[prec] = t.setup_wns
    assert wns[2] > wns[0] + 50e-12 or wns[1] > wns[0] + 50e-12, wns  # a lower precision has more slack
