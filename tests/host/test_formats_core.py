"""Liberty, structural Verilog and SDC readers: values hand-read from the Nangate45 library, a
netlist round trip through the writer, SDC warnings with file:line, bad inputs with lines."""

from __future__ import annotations

import numpy as np
import pytest

from flow.engines.model import FlatDesign
from flow.errors import FormatError
from flow.formats.liberty import read_liberty
from flow.formats.sdc import read_sdc
from flow.formats.verilog import read_verilog, write_verilog


def test_nangate_values_read_by_hand(nangate45):
    lib = read_liberty(nangate45.corner("typical").liberty[0])
    assert lib["nom_voltage"] == pytest.approx(1.10)
    assert lib["time_unit"] == 1e-9 and lib["cap_unit"] == 1e-15
    inv = lib["cells"]["INV_X1"]
    assert inv["area"] == pytest.approx(0.532e-12)
    assert inv["leakage_power"] == pytest.approx(14.353185e-9)
    a = inv["pins"]["A"]
    assert a["direction"] == "input" and a["capacitance"] == pytest.approx(1.700230e-15)
    assert a["fall_capacitance"] == pytest.approx(1.549360e-15)
    assert inv["pins"]["ZN"]["function"] == "!A"
    arc = next(x for x in inv["timing_arcs"] if x["pin"] == "ZN" and x["related_pin"] == "A")
    assert arc["timing_sense"] == "negative_unate"
    fall = arc["tables"]["cell_fall"]
    assert fall["values"].shape == (7, 7)
    assert fall["values"][0, 0] == pytest.approx(0.00334769e-9)
    assert fall["values"][6, 0] == pytest.approx(-0.0102639e-9)
    assert fall["index_1"][1] == pytest.approx(0.00472397e-9)  # input transition, s
    assert fall["index_2"][6] == pytest.approx(60.73e-15)  # load, F
    dff = lib["cells"]["DFF_X1"]
    assert dff["is_sequential"] and dff["ff"]["next_state"] == "D" and dff["ff"]["clocked_on"] == "CK"
    setup = [x for x in dff["timing_arcs"] if x["timing_type"] == "setup_rising"]
    assert setup and setup[0]["related_pin"] == "CK"


def test_every_pdk_liberty_parses(nangate45, sky130hd):
    for plat in (nangate45, sky130hd):
        for corner in plat.corners:
            for path in plat.corner(corner).liberty:
                lib = read_liberty(path)
                assert len(lib["cells"]) > 100, path
                assert lib["nom_voltage"] > 0, path


@pytest.mark.parametrize("text, line, message", [
    ("library (x) {\n  cell (a) {\n    area : 1;\n", 4, r"unterminated group cell\(a\)"),
    ("library (x) {\n  cell (a) {\n    area : 1;\n  }\n}\n}\n", 6, "unbalanced '}'"),
    ("library (x) {\n  cell (a) {\n    @@@ ;\n  }\n}\n", 3, "unexpected Liberty text"),
])
def test_broken_liberty_names_line(tmp_path, text, line, message):
    p = tmp_path / "bad.lib"
    p.write_text(text)
    with pytest.raises(FormatError, match=message) as exc:
        read_liberty(p)
    assert exc.value.line == line and exc.value.path == p


def test_liberty_table_size_mismatch(tmp_path):
    p = tmp_path / "t.lib"
    p.write_text('library (x) {\n time_unit : "1ns";\n cell (a) {\n  pin (Z) {\n   direction : output;\n'
                 '   timing () {\n    related_pin : "A";\n    cell_rise (t) {\n     index_1 ("1, 2");\n'
                 '     index_2 ("1, 2");\n     values ("1, 2, 3");\n    }\n   }\n  }\n }\n}\n')
    with pytest.raises(FormatError, match="3 values for a 2×2 table"):
        read_liberty(p)


NETLIST = r"""
// escaped names, buses, assigns and a constant, as Yosys writes them
module top (clk, \in.bus , out, y);
  input clk;
  input [1:0] \in.bus ;
  output [2:0] out;
  output y;
  wire \u1.n[0] ;
  wire [1:0] w;
  assign y = out[0];
  INV_X1 \g[0].inv  (.A(\in.bus [0]), .ZN(\u1.n[0] ));
  NAND2_X1 n1 (.A1(\u1.n[0] ), .A2(\in.bus [1]), .ZN(w[1]));
  DFF_X1 r0 (.CK(clk), .D(w[1]), .Q(out[0]), .QN(w[0]));
  BUF_X1 b (.A(w[0]), .Z(out[1]));
  LOGIC0_X1 t (.Z(out[2]));
endmodule
"""


def _connectivity(d: FlatDesign) -> set[tuple[str, str, frozenset]]:
    """(instance, pin, names of everything on its net) — independent of net naming."""
    on_net: dict[int, set[str]] = {}
    for p in range(len(d.pin_name)):
        on_net.setdefault(int(d.pin_net[p]), set()).add(f"{d.inst_names[d.pin_inst[p]]}/{d.pin_name[p]}")
    for name, n in zip(d.port_names, d.port_net.tolist(), strict=True):
        on_net.setdefault(n, set()).add(name)
    return {(d.inst_names[d.pin_inst[p]], d.pin_name[p], frozenset(on_net[int(d.pin_net[p])]))
            for p in range(len(d.pin_name))}


def test_verilog_reader_and_writer_round_trip(tmp_path):
    src = tmp_path / "n.v"
    src.write_text(NETLIST)
    d = read_verilog([src], "top")
    assert d.inst_names == ["g[0].inv", "n1", "r0", "b", "t"]
    assert d.port_names == ["clk", "in.bus[1]", "in.bus[0]", "out[2]", "out[1]", "out[0]", "y"]
    # `assign y = out[0]` joins the two ports on one net, driven by the flop
    assert d.port_net[d.port_names.index("y")] == d.port_net[d.port_names.index("out[0]")]
    q = [p for p in range(len(d.pin_name)) if d.inst_names[d.pin_inst[p]] == "r0" and d.pin_name[p] == "Q"][0]
    assert d.pin_net[q] == d.port_net[d.port_names.index("y")]
    out = write_verilog(d, tmp_path / "w.v", "top")
    back = read_verilog([out], "top")
    assert back.inst_names == d.inst_names and back.inst_cell == d.inst_cell
    assert back.port_names == d.port_names and back.port_dir == d.port_dir
    assert _connectivity(back) == _connectivity(d)
    assert np.array_equal(np.diff(back.inst_pin_start), np.diff(d.inst_pin_start))


PLAIN = """module top (a, b, y);
  input a; input [1:0] b; output y;
  wire n1, n2, n1x;
  NAND2_X1 g1 (.A1(a), .A2(b[0]), .ZN(n1));
  NAND2_X1 g2 (.A1(n1), .A2(b[1]), .ZN(n2));
  INV_X1 g3 (.A(n2), .ZN(y));
  BUF_X1 g4 (.A(), .Z(n1x));
endmodule
"""


def test_plain_and_general_connection_paths_agree(tmp_path):
    """Plain `net`/`net[k]` connections take a loop-free path; one escaped name sends the same
    netlist through the general one: both give the nets in order of first use, and an empty
    `.A()` is no pin (not a shared unnamed net)."""
    plain, general = tmp_path / "p.v", tmp_path / "g.v"
    plain.write_text(PLAIN)
    general.write_text(PLAIN.replace(".ZN(n2)", ".ZN(\\n2 )"))
    a, b = read_verilog([plain], "top"), read_verilog([general], "top")
    assert a.net_names == ["a", "b[0]", "n1", "b[1]", "n2", "y", "n1x"]
    assert a.pin_name == ["A1", "A2", "ZN", "A1", "A2", "ZN", "A", "ZN", "Z"]
    assert a.pin_net.tolist() == [0, 1, 2, 2, 3, 4, 4, 5, 6]
    assert a.inst_pin_start.tolist() == [0, 3, 6, 8, 9]
    assert a.port_names == ["a", "b[1]", "b[0]", "y"] and a.port_net.tolist() == [0, 3, 1, 5]
    for f in ("net_names", "pin_name", "inst_names", "inst_cell", "port_names"):
        assert getattr(a, f) == getattr(b, f), f
    for f in ("pin_net", "pin_inst", "inst_pin_start", "port_net"):
        assert np.array_equal(getattr(a, f), getattr(b, f)), f


def test_verilog_errors_name_the_file(tmp_path):
    p = tmp_path / "bad.v"
    p.write_text("module a (x); input x; endmodule\n")
    with pytest.raises(FormatError, match="top module 'b' not found") as exc:
        read_verilog([p], "b")
    assert exc.value.path == p
    p.write_text("wire x;\n")
    with pytest.raises(FormatError, match="no module"):
        read_verilog([p], None)


def _netlist_and_sdc(tmp_path, sdc_text: str):
    """NETLIST read from tmp_path and an SDC file with `sdc_text` next to it."""
    v = tmp_path / "n.v"
    v.write_text(NETLIST)
    sdc = tmp_path / "c.sdc"
    sdc.write_text(sdc_text)
    return read_verilog([v], "top"), sdc


def test_sdc_object_patterns_follow_opensta(tmp_path):
    """As OpenSTA (checked with the Debian `sta`): in `get_*` patterns only `*` and `?` are
    wildcards, so `{out[1]}` is the bus bit and `[ou]*` is no character class; ORFS idioms
    (`all_inputs -no_clocks`, `delete_from_list`, `get_cells` for `-from`) work."""
    d, sdc = _netlist_and_sdc(tmp_path,
        "create_clock -name core -period 1 [get_ports clk]\n"
        "set_input_delay 0.1 -clock core [all_inputs -no_clocks]\n"
        "set_output_delay 0.2 -clock core [get_ports {out[1]}]\n"
        "set_output_delay 0.3 -clock core [delete_from_list [get_ports {out[?]}] [get_ports {out[1]}]]\n"
        "set_load 2 [get_ports {[ou]*}]\n"
        "set_false_path -from [get_cells {g[0].inv}] -to [get_ports y]\n")
    tc = read_sdc(sdc, d)
    assert sorted(x.port for x in tc.input_delays) == ["in.bus[0]", "in.bus[1]"]
    outs = {x.port: x.max for x in tc.output_delays}
    assert outs == pytest.approx({"out[1]": 0.2e-9, "out[2]": 0.3e-9, "out[0]": 0.3e-9})
    assert tc.port_load == {} and f"{sdc}:5: get_ports [ou]*: no match" in tc.warnings
    assert tc.false_paths == [{"from_clocks": [], "from": ["g[0].inv"], "to_clocks": [], "to": ["y"]}]


def test_sdc_variables_expr_and_warnings_with_lines(tmp_path):
    d, sdc = _netlist_and_sdc(tmp_path,
        "set clk_period 2.5\n"
        "create_clock -name core -period $clk_period [get_ports clk]\n"
        "set non_clk [lsearch -inline -all -not -exact [all_inputs] clk]\n"
        "set_input_delay [expr $clk_period * 0.2] -clock core $non_clk\n"
        "set_output_delay 0.3 -clock core [all_outputs]\n"
        "set_load 4 [all_outputs]\n"
        "set_multicycle_path 2 -to [all_outputs]\n"
        "frobnicate_timing 3\n")
    with pytest.raises(FormatError) as exc:  # a constraint the STA would drop is refused by default
        read_sdc(sdc, d)
    assert exc.value.line == 7 and "set_multicycle_path is not supported" in str(exc.value)
    tc = read_sdc(sdc, d, strict=False)
    assert [c.name for c in tc.clocks] == ["core"] and tc.clocks[0].period == pytest.approx(2.5e-9)
    assert sorted(x.port for x in tc.input_delays) == ["in.bus[0]", "in.bus[1]"]
    assert all(x.max == pytest.approx(0.5e-9) and x.min == pytest.approx(0.5e-9) for x in tc.input_delays)
    assert tc.port_load["out[1]"] == pytest.approx(4e-15)
    assert f"{sdc}:7: set_multicycle_path is not modelled by the embedded STA; ignored" in tc.warnings
    assert f"{sdc}:8: unknown SDC command 'frobnicate_timing'; ignored" in tc.warnings
    bad = tmp_path / "bad.sdc"
    bad.write_text("set a 1\ncreate_clock -period [expr {1 +}] [get_ports clk]\n")
    with pytest.raises(FormatError) as exc:
        read_sdc(bad, d)
    assert exc.value.line == 2
