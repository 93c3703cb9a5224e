"""SystemVerilog input through slang (SYNTH_HDL_FRONTEND = "slang"): a package in its own file
listed after the module that imports it, an enum from it, and an unpacked array port — what
stops Yosys' own reader on ibex. The synthesised netlist is simulated (flow/engines/gatesim.py)
against a Python model of the RTL."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from flow.errors import FormatError

PKG = """package alu_pkg;
  localparam int W = 4;
  typedef logic [W-1:0] word_t;
  typedef enum logic [1:0] {OP_ADD, OP_XOR, OP_AND} op_e;
endpackage
"""

ALU = """module alu import alu_pkg::*; (
  input  logic  clk,
  input  op_e   op,
  input  word_t a [2],
  output word_t y
);
  always_ff @(posedge clk)
    case (op)
      OP_ADD:  y <= a[0] + a[1];
      OP_XOR:  y <= a[0] ^ a[1];
      default: y <= a[0] & a[1];
    endcase
endmodule
"""


def _write(tmp_path: Path, alu: str = ALU) -> Path:
    (tmp_path / "alu.sv").write_text(alu)
    (tmp_path / "alu_pkg.sv").write_text(PKG)
    (tmp_path / "alu.sdc").write_text("create_clock -name clk -period 2.0 [get_ports clk]\n")
    cfg = tmp_path / "config.toml"
    cfg.write_text('DESIGN_NAME = "alu"\nPLATFORM = "nangate45"\nVERILOG_FILES = ["alu.sv", "alu_pkg.sv"]\n'
                   'SDC_FILE = "alu.sdc"\nSYNTH_HDL_FRONTEND = "slang"\n')
    return cfg


def test_sv_packages_and_unpacked_ports(tmp_path, nangate45):
    from flow.engines.gatesim import GateSim
    from flow.engines.sta import load_design
    from flow.runner import run_flow

    run = run_flow(_write(tmp_path), runs_dir=tmp_path / "runs", tag="sv", to_stage="synth")
    d = load_design([run.run_dir / "01_synth" / "alu.v"], "alu")
    assert sorted(p for p in d.port_names if p.startswith("a[")) == sorted(f"a[{k}]" for k in range(8))
    sim = GateSim(d, nangate45.liberty("typical"), "clk")
    rng = np.random.default_rng(3)
    stim = rng.integers(0, 2, size=(64, len(sim.inputs)), dtype=np.uint8)
    y = sim.run(stim, [f"y[{k}]" for k in range(4)]).outputs

    def word(name: str, bits: range, cycle: int) -> int:
        return sum(int(stim[cycle, sim.input_index(f"{name}[{b}]")]) << k for k, b in enumerate(bits))

    got = [sum(int(y[f"y[{k}]"][c, 0]) << k for k in range(4)) for c in range(64)]
    # a packed [0:1][3:0] keeps a[0] (the first element) in the high bits, as the unpacked a[0]
    want = []
    for c in range(64):
        a0, a1, op = word("a", range(4, 8), c), word("a", range(0, 4), c), word("op", range(0, 2), c)
        want.append((a0 + a1) & 15 if op == 0 else a0 ^ a1 if op == 1 else a0 & a1)
    assert got == want


def test_sv_error_names_file_and_line(tmp_path, nangate45):
    from flow.runner import run_flow

    bad = ALU.replace("OP_XOR:  y <= a[0] ^ a[1];", "OP_XOR:  y <= a[0] ^ ;")
    with pytest.raises(FormatError) as err:
        run_flow(_write(tmp_path, bad), runs_dir=tmp_path / "runs", tag="bad", to_stage="synth")
    assert err.value.line == 10 and Path(str(err.value.path)).name == "alu.sv"
