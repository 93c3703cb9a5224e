"""SPEF names as IEEE 1481 and OpenSTA 3.1 read them: escaped Verilog identifiers (hierarchy-like
dots, `$`, `/`, brackets), buses and bits of escaped buses. We write the SPEF, then both our
reader and `sta` 3.1 read it with zero dropped nets."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from flow.engines import sta
from flow.engines.parasitics import Parasitics
from flow.formats.spef import SpefNet, read_spef, spef_name, spef_node, write_spef
from tests.signoff.opensta import run_sta

NETLIST = r"""module top(clk, a, \b.x[0] , y, z);
  input clk;
  input [1:0] a;
  input \b.x[0] ;
  output [1:0] y;
  output z;
  wire \dpath.a_lt_b$in0[13] ;
  wire [2:0] \u0.r0.rcnt ;
  wire \q/w ;
  wire n1;
  wire [1:0] bus;
  INV_X1 \u1/inv (.A(a[0]), .ZN(\dpath.a_lt_b$in0[13] ));
  INV_X1 u2 (.A(\dpath.a_lt_b$in0[13] ), .ZN(\u0.r0.rcnt [2]));
  DFF_X1 \r.reg[3] (.D(\u0.r0.rcnt [2]), .CK(clk), .Q(bus[1]));
  NAND2_X1 u3 (.A1(bus[1]), .A2(\b.x[0] ), .ZN(\q/w ));
  INV_X1 u4 (.A(\q/w ), .ZN(y[0]));
  INV_X1 u5 (.A(a[1]), .ZN(n1));
  INV_X1 u6 (.A(n1), .ZN(y[1]));
  BUF_X1 u7 (.A(n1), .Z(z));
endmodule
"""


def design_spef(design: sta.FlatDesign, path: Path, r: float = 20.0) -> list[SpefNet]:
    """Driver/loads star around one internal node per net, names as the route stage gives them."""
    pin = [f"{design.inst_names[i]}:{p}" for i, p in zip(design.pin_inst.tolist(), design.pin_name, strict=True)]
    names = pin + list(design.port_names)
    pnet = np.concatenate([design.pin_net, design.port_net])
    nets = []
    for k, nm in enumerate(design.net_names):
        idx = np.flatnonzero(pnet == k)
        if idx.size < 2:
            continue
        hub = f"{nm}:1"
        caps = {hub: 1e-15, **{names[i]: 0.5e-15 for i in idx}}
        nets.append(SpefNet(nm, sum(caps.values()), [(names[i], "B") for i in idx], caps,
                            [(hub, names[i], r) for i in idx]))
    write_spef(path, "top", nets)
    return nets


def test_spef_names_escaped():
    assert spef_name("dpath.a_lt_b$in0[13]") == r"dpath\.a_lt_b\$in0[13]"
    assert spef_name("u0.r0.rcnt [2]") == r"u0\.r0\.rcnt[2]"  # a bit of an escaped bus
    assert spef_name("q/w") == r"q\/w"
    assert spef_name("b.x[0]", port=True) == r"b\.x\[0\]" and spef_name("a[0]", port=True) == "a[0]"
    assert spef_node("u1/inv:ZN") == r"u1\/inv:ZN" and spef_node("r.reg[3]:D") == r"r\.reg[3]:D"


def test_escaped_names_read_by_us_and_opensta(tmp_path, nangate45):
    src = Path(nangate45.corner("typical").liberty[0])
    lib = tmp_path / "typ.lib"
    lib.write_bytes(gzip.decompress(src.read_bytes()) if src.suffix == ".gz" else src.read_bytes())
    (tmp_path / "top.v").write_text(NETLIST)
    design = sta.load_design([tmp_path / "top.v"], "top")
    # `\u0.r0.rcnt [2]` is bit 2 of the escaped bus `\u0.r0.rcnt `, named as its declaration's bit
    assert "u0.r0.rcnt[2]" in design.net_names and not any(" " in nm for nm in design.net_names)
    nets = design_spef(design, tmp_path / "top.spef")
    assert len(nets) == 12
    par = Parasitics.from_spef(read_spef(tmp_path / "top.spef"), design)
    assert par.warnings == [] and len(par.trees) == len(nets)
    # every RC tree is rooted at its driver: the load gets the Elmore delay R * (hub + load side)
    # + R * (load side), load side = 0.5 fF wire + 1 fF pin
    d = par.load_delays(design.net_names.index("dpath.a_lt_b$in0[13]"), "u1/inv/ZN", {"u2/A": 1e-15})
    assert d["u2/A"] == pytest.approx(20.0 * (1e-15 + 1.5e-15) + 20.0 * 1.5e-15, rel=1e-9, abs=0)
    ref = run_sta(f"read_liberty {lib}\nread_verilog {tmp_path / 'top.v'}\nlink_design top\n"
                  f"read_spef {tmp_path / 'top.spef'}\nreport_parasitic_annotation -report_unannotated\n", tmp_path)
    assert "Warning" not in ref.stdout, ref.stdout
    # the only unannotated driver is the flop's unconnected QN
    assert "Found 1 unannotated drivers." in ref.stdout and "r.reg\\[3\\]/QN" in ref.stdout, ref.stdout
    assert "Found 0 partially unannotated drivers." in ref.stdout
