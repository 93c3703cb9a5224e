"""Two tristate drivers on one RC net against `sta` 3.1 (issue #15): Nangate45 `TBUF_X1` and
sky130hd `ebufn_1`, enabled by a flop and its inverse, driving a bus that feeds a buffer to an
output and an inverter to a flop. The bus's SPEF is a real RC tree: drivers at either end of a
resistor chain with the loads off inner nodes, so each driver sees the other's pin through
the wire (OpenSTA reduces the one network from each driver for its DMP delay); every other
net is a star. Compared: every endpoint's setup and hold slack, the late arrival and slew at
the bus pins, and `report_power` by group (default activities)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from flow.engines import sta
from flow.formats.spef import SpefNet, write_spef
from flow.stages.signoff import run_signoff
from tests.signoff.opensta import run_sta
from tests.signoff.test_latch_borrowing import _match_endpoints
from tests.signoff.test_sta_opensta3 import _lib

CELLS = {
    "nangate45": dict(corner="typical", ff="DFF_X1", ck="CK", buf="BUF_X1", bo="Z", inv="INV_X1", io="ZN",
                      tri="TBUF_X1", en="EN", load=3.0),  # fF
    "sky130hd": dict(corner="tt_025C_1v80", ff="sky130_fd_sc_hd__dfxtp_1", ck="CLK", buf="sky130_fd_sc_hd__buf_1",
                     bo="X", inv="sky130_fd_sc_hd__inv_1", io="Y", tri="sky130_fd_sc_hd__ebufn_1", en="TE_B",
                     load=0.003),  # pF
}


def _netlist(c: dict) -> str:
    def ff(n: str, d: str, q: str) -> str:
        return f"  {c['ff']} {n} (.D({d}), .{c['ck']}(clk), .Q({q}));"
    return "\n".join([
        "module top(clk, a, b, s, y, q);", "  input clk, a, b, s;", "  output y, q;", "  wire d1, d2, e1, e2, bus, n1;",
        ff("r1", "a", "d1"), ff("r2", "b", "d2"), ff("rs", "s", "e1"), f"  {c['inv']} u0 (.A(e1), .{c['io']}(e2));",
        f"  {c['tri']} t1 (.A(d1), .{c['en']}(e1), .Z(bus));", f"  {c['tri']} t2 (.A(d2), .{c['en']}(e2), .Z(bus));",
        f"  {c['buf']} u1 (.A(bus), .{c['bo']}(y));", f"  {c['inv']} u2 (.A(bus), .{c['io']}(n1));", ff("r3", "n1", "q"),
        "endmodule", ""])


def _spef(design: sta.FlatDesign, path, r_scale: float) -> None:
    """bus: t1:Z - bus:1 - bus:2 - bus:3 - t2:Z with u1:A off bus:1 and u2:A off bus:3; the
    other nets a star around one node."""
    names = design.node_names()
    n_pins = len(design.pin_name)
    pnet = np.concatenate([design.pin_net, design.port_net])
    nets = []
    for k, net in enumerate(design.net_names):
        mem = [names[v].replace("/", ":") if v < n_pins else names[v] for v in np.flatnonzero(pnet == k).tolist()]
        if len(mem) < 2:
            continue
        if net == "bus":
            caps = {"bus:1": 4e-15, "bus:2": 6e-15, "bus:3": 3e-15, "t1:Z": 0.5e-15, "t2:Z": 0.5e-15,
                    "u1:A": 0.3e-15, "u2:A": 0.3e-15}
            res = [("t1:Z", "bus:1", 120.0), ("bus:1", "bus:2", 400.0), ("bus:2", "bus:3", 300.0),
                   ("bus:3", "t2:Z", 80.0), ("bus:1", "u1:A", 50.0), ("bus:3", "u2:A", 60.0)]
        else:
            caps = {f"{net}:1": 2e-15, **{m: 0.4e-15 for m in mem}}
            res = [(f"{net}:1", m, 40.0) for m in mem]
        nets.append(SpefNet(net, sum(caps.values()), [(m, "B") for m in mem], caps,
                            [(x, y, r * r_scale) for x, y, r in res]))
    write_spef(path, "top", nets)


@pytest.mark.parametrize("r_scale", [1.0, 5.0])
@pytest.mark.parametrize("platform", sorted(CELLS))
def test_tristate_bus_on_rc_net_matches_opensta(tmp_path, request, platform, r_scale):
    c = CELLS[platform]
    lib = _lib(request.getfixturevalue(platform), c["corner"], tmp_path)
    (tmp_path / "top.v").write_text(_netlist(c))
    (tmp_path / "top.sdc").write_text(
        "create_clock [get_ports clk] -name clk -period 1.0\nset_clock_uncertainty 0.02 [all_clocks]\n"
        "set_input_delay 0.1 -clock clk [get_ports {a b s}]\nset_output_delay 0.2 -clock clk [get_ports y]\n"
        f"set_load {c['load']} [get_ports y]\n")
    design = sta.load_design([tmp_path / "top.v"], "top")
    _spef(design, tmp_path / "top.spef", r_scale)
    res = run_signoff([tmp_path / "top.v"], "top", {"c": sta.load_liberty(lib)}, tmp_path / "top.sdc",
                      spef=tmp_path / "top.spef")
    t = res.timing["c"]
    pins = ["t1/Z", "t2/Z", "u1/A", "u2/A", f"u2/{c['io']}", "r3/D", f"u1/{c['bo']}"]
    props = "".join(f'puts "P {p}' + "".join(f" [get_property [get_pins {p}] {k}]" for k in
                                             ("arrival_max_rise", "arrival_max_fall", "slew_max_rise", "slew_max_fall"))
                    + '"\n' for p in pins)
    ref = run_sta(f"read_liberty {lib}\nread_verilog {tmp_path / 'top.v'}\nlink_design top\n"
                  f"read_sdc {tmp_path / 'top.sdc'}\nread_spef {tmp_path / 'top.spef'}\n"
                  "report_checks -path_delay max -group_path_count 20 -format end -digits 6\n"
                  "report_checks -path_delay min -group_path_count 20 -format end -digits 6\n"
                  f"{props}report_power -digits 8\n", tmp_path)
    _match_endpoints(t, ref.stdout, {"r1/D", "r2/D", "r3/D", "rs/D", "y"})
    names = list(t.node_names)
    rows = re.findall(r"^P (\S+) (\S+) (\S+) (\S+) (\S+)$", ref.stdout, re.M)
    assert len(rows) == len(pins)
    for pin, *vals in rows:
        k = names.index(pin)
        mine = [*t.node_arrival[k].tolist(), *t.node_slew[k].tolist()]
        assert mine == pytest.approx([float(v) * 1e-9 for v in vals], abs=1e-12), pin
    # the two drivers see different wire delays to the loads: the RC matters
    k1, k2 = names.index("t1/Z"), names.index("u1/A")
    assert t.node_arrival[k2].max() - t.node_arrival[k1].max() > 5e-12
    rp, g = ref.power(), res.power["c"].groups()
    total = rp["Total"][3]
    assert res.power["c"].totals()["total"] == pytest.approx(total, rel=0.01)
    for name in ("Sequential", "Combinational"):
        for k, col in enumerate(("internal", "switching", "leakage", "total")):
            assert g[name][col] == pytest.approx(rp[name][k], rel=0.02, abs=1e-6 * total), (name, col)


@pytest.mark.parametrize("platform", sorted(CELLS))
def test_tristate_bus_vcd_power_matches_opensta(tmp_path, request, platform):
    """The same bus with an iverilog VCD: the cell models drive `z` while Liberty's
    `three_state` holds (they drove the bus from both buffers: half its values x), and
    Nangate45's flops leave QN open, which `read_vcd` annotates from the cell's scope (OpenSTA
    has a pin per port; QN's activity enters the flop's internal power and leakage). Groups
    within 2 %, total within 1 %, the same annotation counts (flow test_power_opensta3.compare)."""
    from flow.engines.gatesim import verilog_cell_models
    from flow.formats.liberty import read_liberty
    from tests.signoff.test_power_opensta3 import _simulate, compare

    c = CELLS[platform]
    lib = _lib(request.getfixturevalue(platform), c["corner"], tmp_path)
    (tmp_path / "top.v").write_text(_netlist(c))
    (tmp_path / "top.sdc").write_text("create_clock [get_ports clk] -name clk -period 1.0\n"
                                      "set_input_delay 0.1 -clock clk [get_ports {a b s}]\n")
    model = verilog_cell_models(read_liberty(lib), [c["tri"]])
    assert "1'bz" in model
    design = sta.load_design([tmp_path / "top.v"], "top")
    _spef(design, tmp_path / "top.spef", 5.0)
    vcd = _simulate("iverilog", tmp_path, lib, tmp_path / "top.v", "top", 1.0, 80, reset=None)
    bus = re.search(r"\$var wire 1 (\S+) bus \$end", vcd.read_text()).group(1)
    values = re.findall(rf"^([01xz]){re.escape(bus)}$", vcd.read_text(), re.M)
    assert len(values) > 20 and values[1:].count("x") == 0  # one driver at a time, no contention
    p, a, ref = compare(tmp_path, lib, tmp_path / "top.v", "top", tmp_path / "top.sdc", activity=vcd,
                        scope="tb/dut", spef=tmp_path / "top.spef")
    open_ports = 4 if platform == "nangate45" else 0  # DFF_X1's QN
    assert len(a.open_ports) == open_ports and a.annotation_counts()["vcd"] == 30 + open_ports
