"""A ConvNet's real workload on `designs/mac_array`: per-layer cycles, operand statistics and the
toggle count of every net of the synthesised accelerator, written as SAIF for power sign-off.

Mapping (weight-stationary, what the RTL supports): a conv layer is lowered to a matrix product
`Y[P, Cout] = A[P, K] · W[K, Cout]` (im2col, K = Cin/groups · kh · kw, P output pixels; a linear
layer has P = 1 per image). Operands are quantised symmetrically to the layer's bit width b
(weights per output channel, activations per layer — the signed PE multiplies a non-negative
ReLU output in b bits, so it uses b-1 magnitude bits), and 8/b of them are packed per byte. A
*tile* takes COLS output channels × ROWS packed words of K: PE(r, c) holds
`W[c, r·8/b : (r+1)·8/b]` and row r streams `A[t, same K slice]` for every pixel t. Every product
of the layer is computed exactly once, with its real operands — which is what the switching
activity depends on. (This simple RTL sums its accumulators over the stream instead of draining
per pixel; that changes what leaves the array, not what toggles inside the datapath.)

Tiles are independent, so each becomes one lane of `GateSim` (starting from reset); when a layer
has more tiles than `max_tiles`, a seeded uniform sample is simulated and its counts scaled — the
trace says how many were simulated.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from convnet_opt.mac_array_driver import (
    MAX_WORDS,
    MacArrayShape,
    pack_words,
    port_bit_matrix,
    reset_program,
    tile_program,
)
from convnet_opt.memory import quantize, weight_layers
from flow.engines.gatesim import GateSim

RESET_CYCLES = 2


@dataclass
class LayerWorkload:
    """Quantised operands of one layer for one inference: `weights[g]` (Cout_g, K) and
    `acts[g]` (P, K) per group g."""

    name: str
    kind: str
    bits: int
    weights: list[np.ndarray]
    acts: list[np.ndarray]

    @property
    def macs(self) -> int:
        return int(sum(w.shape[0] * w.shape[1] * a.shape[0] for w, a in zip(self.weights, self.acts, strict=True)))


@dataclass
class LayerTrace:
    name: str
    kind: str
    bits: int
    macs: int
    tiles: int
    simulated_tiles: int
    cycles: int
    utilisation: float
    weight_zero_fraction: float
    act_zero_fraction: float
    toggle_w: float  # mean bit toggles per weight-word bit between consecutive words of a stream
    toggle_a: float
    net_toggles: int = 0
    extra: dict = field(default_factory=dict)


def _quantize_acts(x: torch.Tensor, bits: int) -> np.ndarray:
    qmax = 2 ** (bits - 1) - 1
    scale = float(x.abs().max().clamp_min(1e-12)) / qmax
    return torch.clamp(torch.round(x / scale), -qmax - 1, qmax).to(torch.int64).numpy()


def layer_workloads(model: nn.Module, images: torch.Tensor, bits: int | Mapping[str, int] = 8) -> list[LayerWorkload]:
    """Run inference on `images` (B, C, H, W) and collect every conv/linear layer's quantised
    operands in execution order (the B images are one batch: P = B × pixels)."""
    layers = dict(weight_layers(model))
    inputs: dict[str, torch.Tensor] = {}
    order: list[str] = []
    hooks = []
    for name, mod in layers.items():
        def hook(m, inp, out, name=name) -> None:
            inputs[name] = inp[0].detach()
            order.append(name)
        hooks.append(mod.register_forward_hook(hook))
    model.eval()
    try:
        with torch.no_grad():
            model(images)
    finally:
        for h in hooks:
            h.remove()
    out = []
    for name in order:
        mod = layers[name]
        b = bits if isinstance(bits, int) else int(bits.get(name, 8))
        if b not in (8, 4, 2):
            raise ValueError(f"layer {name}: mac_array supports 8, 4 or 2 bits, not {b}")
        wq, _ = quantize(mod.weight, b)
        x = inputs[name]
        if isinstance(mod, nn.Conv2d):
            g = mod.groups
            cols = F.unfold(x, mod.kernel_size, dilation=mod.dilation, padding=mod.padding, stride=mod.stride)
            cols = cols.transpose(1, 2).reshape(-1, cols.shape[1])  # (B·L, Cin·kh·kw)
            aq = _quantize_acts(cols, b)
            k_g = wq.shape[1] * wq.shape[2] * wq.shape[3]
            co_g = wq.shape[0] // g
            ws = [wq[i * co_g:(i + 1) * co_g].reshape(co_g, k_g) for i in range(g)]
            acts = [aq[:, i * k_g:(i + 1) * k_g] for i in range(g)]
            out.append(LayerWorkload(name, "conv", b, ws, acts))
        else:
            aq = _quantize_acts(x.reshape(x.shape[0], -1), b)
            out.append(LayerWorkload(name, "linear", b, [wq], [aq]))
    return out


def layer_tiles(wl: LayerWorkload, shape: MacArrayShape) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(weight words (ROWS, COLS), activation words (N, ROWS)) per tile."""
    per = 8 // wl.bits
    kslice = shape.rows * per
    for w, a in zip(wl.weights, wl.acts, strict=True):
        co, k = w.shape
        kp = math.ceil(k / kslice) * kslice
        cp = math.ceil(co / shape.cols) * shape.cols
        wpad = np.zeros((cp, kp), dtype=np.int64)
        wpad[:co, :k] = w
        apad = np.zeros((a.shape[0], kp), dtype=np.int64)
        apad[:, :k] = a
        wwords = pack_words(wpad, wl.bits)  # (cp, kp/per)
        awords = pack_words(apad, wl.bits)  # (P, kp/per)
        for c0 in range(0, cp, shape.cols):
            for k0 in range(0, kp // per, shape.rows):
                ww = wwords[c0:c0 + shape.cols, k0:k0 + shape.rows].T
                aw = awords[:, k0:k0 + shape.rows]
                for t0 in range(0, len(aw), MAX_WORDS):
                    yield ww, aw[t0:t0 + MAX_WORDS]


def _word_toggle_rate(words: np.ndarray) -> float:
    """Mean fraction of bits that change between consecutive words of each stream (axis 0)."""
    if len(words) < 2:
        return 0.0
    x = np.bitwise_xor(words[1:], words[:-1]).astype(np.uint8)
    return float(np.unpackbits(x[..., None], axis=-1).mean())


@dataclass
class TraceResult:
    layers: list[LayerTrace]
    toggles: np.ndarray  # per net, scaled to the whole inference
    high_half_cycles: np.ndarray
    cycles: int
    per_layer_toggles: list[np.ndarray]


def simulate_workload(workloads: list[LayerWorkload], sim: GateSim, shape: MacArrayShape, *,
                      max_tiles: int = 64, seed: int = 0) -> TraceResult:
    """Gate-level simulation of every layer's tiles (sampled beyond `max_tiles`), scaled to the
    full layer; the toggles of the reset cycles that start each lane are not counted."""
    rng = np.random.default_rng(seed)
    traces, per_layer = [], []
    total_tog = np.zeros(sim.n_nets, dtype=np.float64)
    total_high = np.zeros(sim.n_nets, dtype=np.float64)
    total_cycles = 0
    reset = port_bit_matrix(reset_program(RESET_CYCLES), sim.inputs)
    base = sim.run(reset)
    for wl in workloads:
        tiles = list(layer_tiles(wl, shape))
        cycles = sum(shape.tile_cycles(len(a)) for _, a in tiles)
        pick = np.sort(rng.choice(len(tiles), max_tiles, replace=False)) if len(tiles) > max_tiles else np.arange(len(tiles))
        # lanes of equal length (tiles of one layer share N, except a chunked last stream)
        by_len: dict[int, list[int]] = {}
        for i in pick:
            by_len.setdefault(len(tiles[i][1]), []).append(int(i))
        tog = np.zeros(sim.n_nets, dtype=np.float64)
        high = np.zeros(sim.n_nets, dtype=np.float64)
        sim_cycles = 0
        for n, idx in by_len.items():
            progs = [port_bit_matrix(reset_program(RESET_CYCLES) + tile_program(shape, tiles[i][0], tiles[i][1], wl.bits),
                                     sim.inputs) for i in idx]
            res = sim.run(np.stack(progs, axis=2))
            tog += res.toggles - base.toggles * len(idx)
            high += res.high - base.high * len(idx)
            sim_cycles += shape.tile_cycles(n) * len(idx)
        scale = cycles / sim_cycles if sim_cycles else 0.0
        tog *= scale
        high *= scale
        total_tog += tog
        total_high += high
        total_cycles += cycles
        per_layer.append(tog)
        wz = float(np.mean([np.mean(w == 0) for w in wl.weights]))
        az = float(np.mean([np.mean(a == 0) for a in wl.acts]))
        tw = float(np.mean([_word_toggle_rate(np.stack([t[0] for t in tiles[:256]]))]))
        ta = float(np.mean([_word_toggle_rate(t[1]) for t in tiles[:64]]))
        traces.append(LayerTrace(
            name=wl.name, kind=wl.kind, bits=wl.bits, macs=wl.macs, tiles=len(tiles), simulated_tiles=len(pick),
            cycles=cycles, utilisation=wl.macs / (cycles * shape.rows * shape.cols * (8 // wl.bits)),
            weight_zero_fraction=wz, act_zero_fraction=az, toggle_w=tw, toggle_a=ta, net_toggles=int(tog.sum())))
    return TraceResult(traces, total_tog, total_high, total_cycles, per_layer)


def write_trace(out_dir: Path, result: TraceResult, design_name: str, net_names: list[str], clock_period_s: float,
                meta: Mapping | None = None) -> dict[str, Path]:
    """`trace.saif` (whole inference) and `trace.json` (per-layer table; also a FINE-VH policy
    trace: `vhflow finevh policy RUN --trace trace.json`)."""
    from flow.formats.saif import write_saif

    out_dir.mkdir(parents=True, exist_ok=True)
    duration = result.cycles * clock_period_s
    half = clock_period_s / 2
    nets = {n: (duration - h * half, h * half, int(round(t)))
            for n, t, h in zip(net_names, result.toggles, result.high_half_cycles, strict=True)}
    saif = write_saif(out_dir / "trace.saif", design_name, duration, nets)
    doc = {
        "design": design_name, "clock_period_s": clock_period_s, "cycles": result.cycles,
        "inference_time_s": duration, "macs": sum(ly.macs for ly in result.layers),
        "layers": [asdict(ly) for ly in result.layers], **(dict(meta) if meta else {}),
    }
    js = out_dir / "trace.json"
    js.write_text(json.dumps(doc, indent=1))
    return {"saif": saif, "json": js}


def quantised_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, bits: int | Mapping[str, int]) -> float:
    """Top-1 accuracy with every conv/linear layer's weights (per channel) and input activations
    (per tensor) quantised as the accelerator sees them."""
    layers = weight_layers(model)
    saved = {n: m.weight.data.clone() for n, m in layers}
    hooks = []
    try:
        for n, m in layers:
            b = bits if isinstance(bits, int) else int(bits.get(n, 8))
            q, scale = quantize(m.weight, b)
            shape = (-1,) + (1,) * (m.weight.dim() - 1)
            m.weight.data = torch.from_numpy(q).to(m.weight.dtype) * torch.from_numpy(scale).reshape(shape)

            def pre(mod, inp, b=b):
                t = inp[0]
                qmax = 2 ** (b - 1) - 1
                sc = t.abs().amax().clamp_min(1e-12) / qmax
                return (torch.clamp(torch.round(t / sc), -qmax - 1, qmax) * sc,)
            hooks.append(m.register_forward_pre_hook(pre))
        model.eval()
        with torch.no_grad():
            pred = model(x).argmax(dim=1)
        return float((pred == y).float().mean())
    finally:
        for h in hooks:
            h.remove()
        for n, m in layers:
            m.weight.data = saved[n]
