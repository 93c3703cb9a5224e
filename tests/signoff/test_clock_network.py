"""The clock network walk (compiled, sta_kernels.clock_network): which clock owns each node when
two clocks meet, and the warnings in the order the walk finds them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from flow.engines import sta

NETLIST = """module top (ck1, ck2, d, q1, q2);
  input ck1, ck2, d;
  output q1, q2;
  wire a, b, m, n1;
  BUF_X1 b1 (.A(ck1), .Z(a));
  BUF_X1 b2 (.A(ck2), .Z(b));
  AND2_X1 g (.A1(a), .A2(b), .ZN(m));
  BUF_X1 b3 (.A(m), .Z(n1));
  DFF_X1 r1 (.D(d), .CK(n1), .Q(q1));
  DFF_X1 r2 (.D(d), .CK(a), .Q(q2));
endmodule
"""
SDC = """create_clock -name c1 -period 2 [get_ports ck1]
create_clock -name c2 -period 3 [get_ports ck2]
set_input_delay 0.1 -clock c1 [get_ports d]
set_output_delay 0.1 -clock c2 [get_ports {q1 q2}]
"""


def test_two_clocks_meeting_and_missing_sources(tmp_path: Path, nangate45_lib) -> None:
    (tmp_path / "n.v").write_text(NETLIST)
    (tmp_path / "c.sdc").write_text(SDC)
    design = sta.load_design([tmp_path / "n.v"], "top")
    tc = sta.load_constraints(tmp_path / "c.sdc", design, nangate45_lib)
    tc.clocks[0].sources.insert(0, "missing0")  # sources the SDC reader would have refused
    tc.clocks[1].sources.append("nope")
    t = sta.analyze(design, nangate45_lib, tc)
    # c1 walks first and owns the AND and everything behind it; c2 reaches g/ZN through g/A2 by
    # two edges (rise and fall arcs of the unate AND): two meetings, in walk order
    assert [w for w in t.warnings if "clock" in w] == [
        "clock c1: source 'missing0' not found",
        "node g/ZN reached by several clocks; keeping c1",
        "node g/ZN reached by several clocks; keeping c1",
        "clock c2: source 'nope' not found"]
    owner = {nm: int(c) for nm, c in zip(t.node_names, t.node_clock, strict=True) if c >= 0}
    assert owner["ck1"] == 0 and owner["b1/A"] == 0 and owner["g/A1"] == 0
    assert owner["b1/Z"] == 0 and owner["g/ZN"] == 0 and owner["b3/Z"] == 0 and owner["r1/CK"] == 0
    assert owner["r2/CK"] == 0 and owner["ck2"] == 1 and owner["b2/Z"] == 1 and owner["g/A2"] == 1
    assert "r1/Q" not in owner and "q1" not in owner  # launch arcs end the network
    assert np.isfinite(t.setup_wns)
