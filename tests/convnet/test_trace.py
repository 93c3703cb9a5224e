"""ConvNet workload → mac_array trace: tiling covers every product once, cycle counts by hand,
toggles of a real layer's tiles equal iverilog's, SAIF round trip, and the end-to-end command."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from convnet_opt.mac_array_driver import (
    MacArrayShape,
    port_bit_matrix,
    reference_accumulators,
    reset_program,
    tile_program,
)
from convnet_opt.trace import layer_tiles, layer_workloads, simulate_workload, write_trace
from flow.formats.saif import read_saif
from tests.signoff.ivsim import iverilog_toggles

pytestmark = pytest.mark.xdist_group("gatesim")
SHAPE = MacArrayShape(2, 2, 20)


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 3, 3)
        self.fc = nn.Linear(3 * 4 * 4, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.conv(x)).flatten(1))


@pytest.fixture(scope="module")
def workloads():
    torch.manual_seed(1)
    return Tiny(), torch.randn(2, 1, 6, 6)


@pytest.mark.parametrize("bits", [8, 4, 2])
def test_tiles_compute_every_product_once(workloads, bits):
    model, x = workloads
    wls = layer_workloads(model, x, bits)
    assert [w.name for w in wls] == ["conv", "fc"]
    conv = wls[0]
    # conv: Cout 3, K = 1·3·3 = 9, P = 2 images × 4 × 4 pixels
    assert conv.weights[0].shape == (3, 9) and conv.acts[0].shape == (32, 9) and conv.macs == 3 * 9 * 32
    per = 8 // bits
    tiles = list(layer_tiles(conv, SHAPE))
    # ceil(3 / COLS) column blocks × ceil(9 / (ROWS · per)) K blocks
    assert len(tiles) == 2 * -(-9 // (2 * per))
    # Σ over tiles of what the array accumulates == Σ over all products of the layer
    total = sum(int(np.sum(_signed(reference_accumulators(w, a, bits, 40), 40))) for w, a in tiles)
    assert total == int(np.sum(conv.weights[0].astype(np.int64) @ conv.acts[0].T.astype(np.int64)))
    # cycles: per tile ROWS + 1 + N + COLS + ROWS with N = 32 words
    assert sum(SHAPE.tile_cycles(len(a)) for _, a in tiles) == len(tiles) * (2 + 1 + 32 + 2 + 2)


def _signed(v: np.ndarray, bits: int) -> np.ndarray:
    v = np.asarray(v, dtype=np.int64)
    return np.where(v >= 1 << (bits - 1), v - (1 << bits), v)


def test_trace_toggles_equal_iverilog_on_real_layer_operands(tmp_path, workloads, mac_array_2x2, nangate45):
    netlist, design, sim = mac_array_2x2
    model, x = workloads
    wl = layer_workloads(model, x[:1], 4)[0]
    tiles = list(layer_tiles(wl, SHAPE))[:2]
    prog = reset_program(2)
    for w, a in tiles:
        prog += tile_program(SHAPE, w, a, 4)
    stim = port_bit_matrix(prog, sim.inputs)
    ours = sim.run(stim)
    ref = iverilog_toggles(tmp_path, netlist, design, sim.inputs, stim, nangate45.liberty())
    got = dict(zip(design.net_names, ours.toggles.tolist(), strict=True))
    matched = [n for n in design.net_names if n in ref.toggles]
    assert len(matched) >= 0.9 * len(design.net_names)
    assert all(got[n] == ref.toggles[n] for n in matched)
    assert sum(got.values()) > 0


def test_simulated_workload_and_saif(tmp_path, workloads, mac_array_2x2):
    _, design, sim = mac_array_2x2
    model, x = workloads
    wls = layer_workloads(model, x, 8)
    full = simulate_workload(wls, sim, SHAPE, max_tiles=1000)
    assert full.cycles == sum(ly.cycles for ly in full.layers)
    assert [ly.simulated_tiles for ly in full.layers] == [ly.tiles for ly in full.layers]
    # the linear layer streams one word per image: utilisation = MACs / (cycles · PEs)
    fc = full.layers[1]
    assert fc.utilisation == pytest.approx(fc.macs / (fc.cycles * 4))
    # sampling half of the tiles scales the counts to the same order
    half = simulate_workload(wls, sim, SHAPE, max_tiles=max(ly.tiles for ly in full.layers) // 2, seed=3)
    assert half.cycles == full.cycles
    assert half.toggles.sum() == pytest.approx(full.toggles.sum(), rel=0.25)
    # SAIF round trip: toggle counts and time at 1 per net
    paths = write_trace(tmp_path, full, "mac_array", design.net_names, 3e-9, {"images": 2})
    back = read_saif(paths["saif"], "mac_array")
    assert back.duration == pytest.approx(full.cycles * 3e-9, rel=1e-6)
    for k in (0, 17, len(design.net_names) - 1):
        n = design.net_names[k]
        assert back.toggles[n] == round(full.toggles[k])
        assert back.high_time[n] == pytest.approx(full.high_half_cycles[k] * 1.5e-9, abs=2e-12)
    doc = json.loads(paths["json"].read_text())
    assert doc["cycles"] == full.cycles and doc["macs"] == sum(w.macs for w in wls)


def test_lower_precision_switches_less(workloads, mac_array_2x2):
    """Operand isolation in the PE: the same layer at 2 bits toggles fewer nets per MAC than at 8."""
    _, _, sim = mac_array_2x2
    model, x = workloads
    per_mac = {}
    for b in (8, 2):
        r = simulate_workload(layer_workloads(model, x, b)[:1], sim, SHAPE, max_tiles=100)
        per_mac[b] = r.toggles.sum() / r.layers[0].macs
    assert per_mac[2] < 0.6 * per_mac[8]
