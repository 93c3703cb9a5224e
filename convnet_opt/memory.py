"""What a quantised (and pruned) ConvNet costs on a microcontroller-class target.

Flash (read-only): every conv/linear layer's weights quantised symmetric per output channel at
its bit width and stored with an encoder (measured by encoding), one float32 scale per output
channel, int32 biases. RAM (read-write): the peak over layers of input + output activation
buffers at 8 bits (ping-pong buffers for the sequential schedule). `serialize` writes exactly
the bytes the flash accounting counts, so the two can be checked against each other.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from convnet_opt.encoders import encode

TARGETS = Path(__file__).resolve().parent / "targets"


@dataclass
class Target:
    name: str
    flash_bytes: int
    ram_bytes: int

    @classmethod
    def load(cls, name_or_path: str | Path) -> Target:
        p = Path(name_or_path)
        if not p.exists():
            p = TARGETS / f"{name_or_path}.toml"
        doc = tomllib.loads(p.read_text())
        return cls(doc["name"], int(doc["flash_kib"] * 1024), int(doc["ram_kib"] * 1024))


def weight_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d | nn.Linear)]


def quantize(w: torch.Tensor, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric per-output-channel quantisation: (integers, scales)."""
    a = w.detach().reshape(w.shape[0], -1).double()
    qmax = 2 ** (bits - 1) - 1
    amax = a.abs().amax(dim=1)
    # an all-zero (pruned) channel gets scale 1 so its int32 bias (bias / scale * 2^8) stays representable
    scale = torch.where(amax > 0, amax / qmax, torch.ones_like(amax))
    q = torch.clamp(torch.round(a / scale[:, None]), -qmax - 1, qmax).to(torch.int64)
    return q.reshape(w.shape).numpy(), scale.numpy().astype(np.float32)


@dataclass
class LayerCost:
    name: str
    bits: int
    params: int
    nonzero: int
    weight_bytes: int
    scale_bytes: int
    bias_bytes: int

    @property
    def flash(self) -> int:
        return self.weight_bytes + self.scale_bytes + self.bias_bytes


def quantize_bias(bias: torch.Tensor, scale: np.ndarray) -> np.ndarray:
    """int32 bias in units of the weight scale / 2^8 (what is stored and what ONNX exports)."""
    return np.round(bias.detach().double().numpy() / (scale.astype(np.float64) + 1e-30) * 2**8).astype(np.int32)


def layer_blob(m: nn.Module, bits: int, encoder: str) -> tuple[bytes, bytes, bytes, np.ndarray]:
    q, scale = quantize(m.weight, bits)
    blob = encode(encoder, q, bits)
    scales = scale.tobytes()
    bias = quantize_bias(m.bias, scale).tobytes() if m.bias is not None else b""
    return blob, scales, bias, q


def flash_table(model: nn.Module, bits: dict[str, int] | int = 8, encoder: str = "dense") -> list[LayerCost]:
    rows = []
    for name, m in weight_layers(model):
        b = bits if isinstance(bits, int) else bits.get(name, 8)
        blob, scales, bias, q = layer_blob(m, b, encoder)
        rows.append(LayerCost(name, b, q.size, int(np.count_nonzero(q)), len(blob), len(scales), len(bias)))
    return rows


def serialize(model: nn.Module, bits: dict[str, int] | int = 8, encoder: str = "dense") -> bytes:
    """The flash image: per layer its encoded weights, scales and biases, concatenated."""
    out = bytearray()
    for name, m in weight_layers(model):
        b = bits if isinstance(bits, int) else bits.get(name, 8)
        blob, scales, bias, _ = layer_blob(m, b, encoder)
        out += blob + scales + bias
    return bytes(out)


def peak_activation_bytes(model: nn.Module, input_shape: tuple[int, ...], act_bytes: int = 1) -> tuple[int, list[int]]:
    """Peak of (input + output) buffer sizes over the leaf layers for one sample."""
    sizes: list[int] = []
    hooks = []

    def hook(mod, inp, out) -> None:
        sizes.append((inp[0][0].numel() + out[0].numel()) * act_bytes)

    for m in model.modules():
        if len(list(m.children())) == 0:
            hooks.append(m.register_forward_hook(hook))
    forward_once(model, input_shape, hooks)
    return max(sizes) if sizes else 0, sizes


def forward_once(model: nn.Module, input_shape: tuple[int, ...], hooks: list) -> None:
    """One eval-mode forward of a zero input (what the hooks record), then remove the hooks and
    restore the model's mode."""
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, *input_shape))
    finally:
        model.train(was)
        for h in hooks:
            h.remove()


def fp32_bytes(model: nn.Module) -> int:
    return sum(p.numel() * 4 for _, m in weight_layers(model) for p in m.parameters(recurse=False))


def footprint(model: nn.Module, input_shape: tuple[int, ...], bits=8, encoder: str = "dense") -> tuple[int, int]:
    """(flash bytes of the encoded weights, peak activation RAM bytes) — the two budgets."""
    flash = sum(r.flash for r in flash_table(model, bits, encoder))
    ram, _ = peak_activation_bytes(model, input_shape)
    return flash, ram


def fits(model: nn.Module, target: Target, input_shape: tuple[int, ...], bits=8, encoder: str = "dense") -> dict:
    flash, ram = footprint(model, input_shape, bits, encoder)
    return {"flash": flash, "ram": ram, "fits": flash <= target.flash_bytes and ram <= target.ram_bytes,
            "target": target.name}

