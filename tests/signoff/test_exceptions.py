"""SDC exceptions (false path, max delay, clock uncertainty split) against OpenSTA."""

from __future__ import annotations

import re

import numpy as np
import pytest

from tests.signoff.handlib import write_lib
from tests.signoff.opensta import ours_and_opensta
from tests.signoff.test_sta_hand import NETLIST, SDC


@pytest.mark.parametrize("extra", [
    "set_false_path -to [get_ports out1]\n",
    "set_false_path -from [get_ports in1]\n",
    "set_max_delay 0.05 -to [get_pins r2/D]\n",
    "set_clock_uncertainty -setup 0.07 [get_clocks clk]\nset_clock_uncertainty -hold 0.02 [get_clocks clk]\n",
])
def test_exceptions_match_opensta(tmp_path, extra):
    lib = write_lib(tmp_path / "hand.lib")
    t, ref = ours_and_opensta(tmp_path, lib, NETLIST, SDC + extra)
    setup, hold = ref.slacks()
    assert t.setup_wns == pytest.approx(setup * 1e-9, abs=1e-15)
    assert t.hold_wns == pytest.approx(hold * 1e-9, abs=1e-15)


# two registers converge on rc/D: ra through three inverters (the critical path), rb directly
P2P_NETLIST = """module top (clk, a, b, y);
  input clk, a, b;
  output y;
  wire qa, qb, n1, n2, n3, d, y0;
  DFF_X1 ra (.D(a), .CK(clk), .Q(qa));
  DFF_X1 rb (.D(b), .CK(clk), .Q(qb));
  INV_X1 i1 (.A(qa), .ZN(n1));
  INV_X1 i2 (.A(n1), .ZN(n2));
  INV_X1 i3 (.A(n2), .ZN(n3));
  NAND2_X1 g (.A1(n3), .A2(qb), .ZN(d));
  DFF_X1 rc (.D(d), .CK(clk), .Q(y0));
  BUF_X1 o (.A(y0), .Z(y));
endmodule
"""
P2P_SDC = """create_clock -name clk -period 0.2 [get_ports clk]
set_input_delay 0.0 -clock clk [lsearch -inline -all -not -exact [all_inputs] clk]
set_output_delay 0.0 -clock clk [get_ports y]
"""


@pytest.fixture(scope="module")
def nangate_typ(nangate45, tmp_path_factory):
    import gzip
    from pathlib import Path

    src = Path(nangate45.corner("typical").liberty[0])
    lib = tmp_path_factory.mktemp("lib") / "typ.lib"
    text = (gzip.decompress(src.read_bytes()) if src.suffix == ".gz" else src.read_bytes()).decode()
    # without SPEF OpenSTA would add the library's default wire load, we time zero wire: drop it
    lib.write_text(re.sub(r"^\s*default_wire_load\w*\s*:[^;]*;", "", text, flags=re.M))
    return lib


@pytest.mark.parametrize(("extra", "endpoint"), [
    ("set_false_path -from [get_cells ra] -to [get_pins rc/D]\n", "rc/D"),
    ("set_false_path -from [get_pins ra/CK] -to [get_cells rc]\n", "rc/D"),
    ("set_false_path -from [get_cells ra]\n", "rc/D"),
    ("set_false_path -from [get_cells {ra rb}] -to [get_pins rc/D]\n", "rc/D"),
    ("set_false_path -from [get_ports a] -to [get_pins ra/D]\nset_false_path -from [get_cells rc] -to [get_ports y]\n",
     "y"),
])
def test_point_to_point_false_paths_match_opensta(tmp_path, nangate_typ, extra, endpoint):
    """`-from` registers, clock pins or ports, `-to` pins, cells or ports: the design's worst
    slacks and the endpoint's own are OpenSTA's (an endpoint left without paths has none in
    OpenSTA's report and +inf here), and the endpoint's slack moved (the exception matters)."""
    report = "".join(f"report_checks -path_delay {k} -to [get_{'ports' if endpoint == 'y' else 'pins'} {endpoint}]"
                     " -digits 6\n" for k in ("max", "min"))
    (tmp_path / "base").mkdir()
    base, _ = ours_and_opensta(tmp_path / "base", nangate_typ, P2P_NETLIST, P2P_SDC)
    t, ref = ours_and_opensta(tmp_path, nangate_typ, P2P_NETLIST, P2P_SDC + extra, report)
    slacks = ref.slacks()
    assert t.setup_wns == pytest.approx(slacks[0] * 1e-9, abs=1e-15)
    assert t.hold_wns == pytest.approx(slacks[1] * 1e-9, abs=1e-15)
    k = t.endpoint_names.index(endpoint)
    ours_ep = [x for x in (t.setup_slack[k], t.hold_slack[k]) if np.isfinite(x)]
    assert ours_ep == pytest.approx([x * 1e-9 for x in slacks[2:]], abs=1e-15)
    kb = base.endpoint_names.index(endpoint)
    assert (t.setup_slack[k], t.hold_slack[k]) != (base.setup_slack[kb], base.hold_slack[kb])
    assert not any("not supported" in w or "not found" in w for w in t.warnings), t.warnings
