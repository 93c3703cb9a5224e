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



def _port_decls(design: FlatDesign) -> tuple[dict[str, int], dict[str, int]]:
    """Top ports grouped into buses: name -> width, inputs and outputs."""
    ins: dict[str, int] = {}
    outs: dict[str, int] = {}
    for p, d in zip(design.port_names, design.port_dir, strict=True):
        base, _, rest = p.partition("[")
        w = int(rest[:-1]) + 1 if rest else 1
        tgt = ins if d == "input" else outs
        tgt[base] = max(tgt.get(base, 1), w)
    return ins, outs


def random_testbench(design: FlatDesign, top: str, clock: str, period_ns: float, cycles: int, seed: int = 1,
                     reset: str | None = None) -> str:
    """A self-checking-free testbench with parameters and `$display` (what makes simulators
    write `$comment` and parameter variables into the VCD): random inputs at each falling edge,
    `reset` high for the first two cycles, dump of everything under `tb`."""
    ins, outs = _port_decls(design)
    decl = [f"  reg [{w - 1}:0] {n} = 0;" if w > 1 else f"  reg {n} = 0;" for n, w in ins.items() if n != clock]
    decl += [f"  wire [{w - 1}:0] {n};" if w > 1 else f"  wire {n};" for n, w in outs.items()]
    conns = ", ".join(f".{n}({n})" for n in list(ins) + list(outs))
    drive = [f"      {n} = $random(seed);" for n in ins if n not in (clock, reset)]
    return f"""`timescale 1ns/1ps
module tb;
  parameter integer CYCLES = {cycles};
  parameter HALF = {period_ns / 2:.4f};
  integer seed = {seed};
  integer k;
  reg {clock} = 1'b0;
{chr(10).join(decl)}
  {top} dut({conns});
  always #(HALF) {clock} = ~{clock};
  initial begin
    $dumpfile("sim.vcd");
    $dumpvars(0, tb);
    for (k = 0; k < CYCLES; k = k + 1) begin
      @(negedge {clock});
{chr(10).join(drive)}
{f"      {reset} = (k < 2);" if reset else ""}
    end
    @(negedge {clock});
    $display("simulated %0d cycles", CYCLES);
    $finish;
  end
endmodule
"""


def simulate(tool: str, tmp_path: Path, netlist: Path, cells_v: str, tb: str) -> Path:
    """Run the testbench on the netlist with zero-delay cell models under `iverilog` or
    `verilator` (--binary --timing --trace); returns the VCD path."""
    (tmp_path / "cells.v").write_text(cells_v)
    (tmp_path / "tb.v").write_text(tb)
    if tool == "iverilog":
        iverilog, vvp = require_tool("iverilog"), require_tool("vvp")
        subprocess.run([iverilog, "-g2012", "-o", "sim.vvp", "cells.v", str(netlist), "tb.v"], cwd=tmp_path,
                       check=True, capture_output=True, text=True)
        subprocess.run([vvp, "-n", "sim.vvp"], cwd=tmp_path, check=True, capture_output=True, text=True)
    else:
        verilator = require_tool("verilator")
        subprocess.run([verilator, "--binary", "--timing", "--trace", "-Wno-fatal", "-Wno-lint", "-Wno-style",
                        "-O0", "--top-module", "tb", "-Mdir", "obj", "cells.v", str(netlist), "tb.v"],
                       cwd=tmp_path, check=True, capture_output=True, text=True)
        subprocess.run([str(tmp_path / "obj" / "Vtb")], cwd=tmp_path, check=True, capture_output=True, text=True)
    return tmp_path / "sim.vcd"
