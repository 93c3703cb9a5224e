"""Gate-level simulator vs iverilog on the same synthesised mac_array and the same stimulus:
every net's toggle count must be equal, and the drained accumulators must equal the Python
reference model."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from convnet_opt.mac_array_driver import (
    MacArrayShape,
    pack_words,
    port_bit_matrix,
    reference_accumulators,
    reset_program,
    tile_program,
)
from flow.engines.gatesim import GateSim, SimulationError, verilog_cell_models
from flow.engines.readers import read_verilog_fallback
from flow.formats.vcd import read_vcd
from flow.synth import synthesize
from tests.conftest import DESIGNS, require_tool

pytestmark = pytest.mark.xdist_group("gatesim")
SHAPE = MacArrayShape(rows=2, cols=2, acc_w=20)


@pytest.fixture(scope="module")
def mac_netlist(tmp_path_factory, nangate45):
    src = DESIGNS / "mac_array/src"
    res = synthesize([src / "mac_pe.v", src / "mac_array.v"], "mac_array", nangate45,
                     tmp_path_factory.mktemp("gs_syn"), clock_period_ns=3.0,
                     params={"ROWS": SHAPE.rows, "COLS": SHAPE.cols, "ACC_W": SHAPE.acc_w})
    design = read_verilog_fallback([res.netlist], "mac_array")
    return res.netlist, design, GateSim(design, nangate45.liberty(), "clk")


def _program(rng: np.random.Generator) -> tuple[list[dict[str, int]], list[tuple]]:
    prog = reset_program(2)
    tiles = []
    for bits, n in ((8, 5), (4, 4), (2, 3)):
        lo, hi = -(1 << (bits - 1)), 1 << (bits - 1)
        per = 8 // bits
        w = pack_words(rng.integers(lo, hi, (SHAPE.rows, SHAPE.cols * per)), bits)
        a = pack_words(rng.integers(lo, hi, (n, SHAPE.rows * per)), bits)
        start = len(prog)
        prog += tile_program(SHAPE, w, a, bits)
        tiles.append((start, w, a, bits))
    return prog, tiles


def test_gatesim_matches_iverilog_toggle_for_toggle(tmp_path, mac_netlist, nangate45):
    iverilog, vvp = require_tool("iverilog"), require_tool("vvp")
    netlist, design, sim = mac_netlist
    prog, tiles = _program(np.random.default_rng(3))
    stim = port_bit_matrix(prog, sim.inputs)
    ours = sim.run(stim, record=[f"out_data[{b}]" for b in range(SHAPE.cols * SHAPE.acc_w)] + ["out_valid"])

    # the drained rows equal the reference model (the simulator computes, not just toggles)
    out_bits = np.stack([ours.outputs[f"out_data[{b}]"][:, 0] for b in range(SHAPE.cols * SHAPE.acc_w)], axis=1)
    words = (out_bits.astype(np.int64) << np.arange(out_bits.shape[1])).sum(axis=1)
    for start, w, a, bits in tiles:
        ref = reference_accumulators(w, a, bits, SHAPE.acc_w)
        drain = start + SHAPE.tile_cycles(len(a)) - SHAPE.rows - 1  # rising edge that shows row 0
        for r in range(SHAPE.rows):
            assert ours.outputs["out_valid"][drain + r, 0] == 1
            got = [(int(words[drain + r]) >> (c * SHAPE.acc_w)) & ((1 << SHAPE.acc_w) - 1) for c in range(SHAPE.cols)]
            assert got == ref[r].tolist(), (bits, r)

    # iverilog on the same netlist with zero-delay models written from the Liberty functions
    (tmp_path / "cells.v").write_text(verilog_cell_models(nangate45.liberty(), sorted(set(design.inst_cell))))
    (tmp_path / "stim.mem").write_text("\n".join("".join(str(b) for b in row[::-1]) for row in stim) + "\n")
    n_in = len(sim.inputs)
    groups: dict[str, list[tuple[int, int]]] = {}
    for j, name in enumerate(sim.inputs):
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
    ref = read_vcd(tmp_path / "sim.vcd", scope="tb/dut")

    ours_by_net = dict(zip(design.net_names, ours.toggles.tolist(), strict=True))
    matched = [n for n in design.net_names if n in ref.toggles]
    assert len(matched) >= 0.9 * len(design.net_names), f"only {len(matched)} of {len(design.net_names)} nets named alike"
    diff = {n: (ours_by_net[n], ref.toggles[n]) for n in matched if ours_by_net[n] != ref.toggles[n]}
    assert not diff, f"{len(diff)} nets differ, e.g. {list(diff.items())[:5]}"
    assert sum(ours_by_net[n] for n in matched) > 20 * len(stim)  # the stimulus really switches logic


def test_gatesim_rejects_bad_stimulus_and_unknown_clock(mac_netlist, nangate45):
    _, design, sim = mac_netlist
    with pytest.raises(SimulationError, match="stimulus has 3 inputs"):
        sim.run(np.zeros((2, 3), dtype=np.uint8))
    with pytest.raises(SimulationError, match="clock port 'clock'"):
        GateSim(design, nangate45.liberty(), "clock")
