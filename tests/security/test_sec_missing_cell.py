"""A netlist cell that no Liberty defines: `vhflow sta`/`power` exit 2 naming the netlist line of
its first instance, instead of timing the design with that cell silently untimed."""

from __future__ import annotations

import pytest

NETLIST = """module top (a, y);
  input a;
  output y;
  wire n1;
  INV_X1 u1 (.A(a), .ZN(n1));
  MYSTERY_X9 u2 (.A(n1), .ZN(y));
endmodule
"""


@pytest.mark.parametrize("command", ["sta", "power"])
def test_cell_missing_from_liberty_is_bad_input(tmp_path, nangate45, vhflow_real, command):
    lib = nangate45.corner("typical").liberty[0]
    (tmp_path / "top.v").write_text(NETLIST)
    (tmp_path / "top.sdc").write_text("create_clock -name clk -period 1\n")
    rc, _out, err = vhflow_real(command, "--lib", str(lib), "--netlist", str(tmp_path / "top.v"), "--top", "top",
                                "--sdc", str(tmp_path / "top.sdc"))
    assert rc == 2, err
    assert "top.v:6: cell 'MYSTERY_X9' is in no Liberty library given" in err, err


def test_known_cells_still_time(tmp_path, nangate45, vhflow_real):
    lib = nangate45.corner("typical").liberty[0]
    (tmp_path / "top.v").write_text(NETLIST.replace("MYSTERY_X9", "INV_X2"))
    (tmp_path / "top.sdc").write_text("create_clock -name clk -period 1\n")
    rc, _out, err = vhflow_real("sta", "--lib", str(lib), "--netlist", str(tmp_path / "top.v"), "--top", "top",
                               "--sdc", str(tmp_path / "top.sdc"))
    assert rc == 0, err
