"""Gate-level simulator vs iverilog on the same synthesised mac_array and the same stimulus:
every net's toggle count must be equal, and the drained accumulators must equal the Python
reference model."""

from __future__ import annotations

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
from flow.engines.gatesim import GateSim, SimulationError
from tests.signoff.ivsim import iverilog_toggles

pytestmark = pytest.mark.xdist_group("gatesim")
SHAPE = MacArrayShape(rows=2, cols=2, acc_w=20)  # as the mac_array_2x2 fixture


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


def test_gatesim_matches_iverilog_toggle_for_toggle(tmp_path, mac_array_2x2, nangate45):
    netlist, design, sim = mac_array_2x2
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

    ref = iverilog_toggles(tmp_path, netlist, design, sim.inputs, stim, nangate45.liberty())

    ours_by_net = dict(zip(design.net_names, ours.toggles.tolist(), strict=True))
    matched = [n for n in design.net_names if n in ref.toggles]
    assert len(matched) >= 0.9 * len(design.net_names), f"only {len(matched)} of {len(design.net_names)} nets named alike"
    diff = {n: (ours_by_net[n], ref.toggles[n]) for n in matched if ours_by_net[n] != ref.toggles[n]}
    assert not diff, f"{len(diff)} nets differ, e.g. {list(diff.items())[:5]}"
    assert sum(ours_by_net[n] for n in matched) > 20 * len(stim)  # the stimulus really switches logic


def test_gatesim_rejects_bad_stimulus_and_unknown_clock(mac_array_2x2, nangate45):
    _, design, sim = mac_array_2x2
    with pytest.raises(SimulationError, match="stimulus has 3 inputs"):
        sim.run(np.zeros((2, 3), dtype=np.uint8))
    with pytest.raises(SimulationError, match="clock port 'clock'"):
        GateSim(design, nangate45.liberty(), "clock")
