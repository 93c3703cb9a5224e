"""iverilog on a synthesised mac_array netlist with zero-delay cell models written from Liberty,
driven cycle by cycle with the same bit matrix `GateSim.run` takes (inputs change at the falling
edge, first stimulus after a settled all-zero start) — the reference for toggle counts."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

from flow.engines.gatesim import verilog_cell_models
from flow.engines.model import FlatDesign
from flow.formats.vcd import VcdActivity, read_vcd
from tests.conftest import require_tool


def iverilog_toggles(tmp_path: Path, netlist: Path, design: FlatDesign, inputs: list[str], stim: np.ndarray,
                     lib: dict) -> VcdActivity:
    iverilog, vvp = require_tool("iverilog"), require_tool("vvp")
    (tmp_path / "cells.v").write_text(verilog_cell_models(lib, sorted(set(design.inst_cell))))
    (tmp_path / "stim.mem").write_text("\n".join("".join(str(b) for b in row[::-1]) for row in stim) + "\n")
    n_in = len(inputs)
    groups: dict[str, list[tuple[int, int]]] = {}
    for j, name in enumerate(inputs):
        base, _, rest = name.partition("[")
        groups.setdefault(base, []).append((int(rest[:-1]) if rest else 0, j))
    conns = [".clk(clk)"] + [
        f".{base}({{{', '.join(f'cur[{j}]' for _, j in sorted(bits, reverse=True))}}})" for base, bits in groups.items()]
    outs = {p.partition("[")[0] for p, d in zip(design.port_names, design.port_dir, strict=True) if d == "output"}
    tb = f"""`timescale 1ns/1ps
module tb;
  reg clk = 1'b0;
  reg [{n_in - 1}:0] cur = 0;
  reg [{n_in - 1}:0] mem [0:{len(stim) - 1}];
  integer k;
  mac_array dut({', '.join(conns + [f'.{o}()' for o in sorted(outs)])});
  initial begin
    $readmemb("stim.mem", mem);
    $dumpfile("sim.vcd"); $dumpvars(0, dut);
    #10;
    for (k = 0; k < {len(stim)}; k = k + 1) begin
      if (k > 0) clk = 1'b0;
      cur = mem[k];
      #5 clk = 1'b1;
      #5;
    end
    $finish;
  end
endmodule
"""
    (tmp_path / "tb.v").write_text(tb)
    subprocess.run([iverilog, "-g2012", "-o", "sim.vvp", "cells.v", str(netlist), "tb.v"], cwd=tmp_path,
                   check=True, capture_output=True, text=True)
    subprocess.run([vvp, "-n", "sim.vvp"], cwd=tmp_path, check=True, capture_output=True, text=True)
    return read_vcd(tmp_path / "sim.vcd", scope="tb/dut")

