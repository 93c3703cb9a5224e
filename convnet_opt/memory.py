"""What a quantised (and pruned) ConvNet costs on a microcontroller-class target.

Flash (read-only) is the image `serialize` writes, so accounting and export cannot drift apart:
a network header; per conv/linear layer a descriptor, its weights quantised symmetric per output
channel and stored with an encoder (measured by encoding), the per-channel requantisation
multiplier (int32 Q31 mantissa + int8 shift; a following BatchNorm is folded into it), the
per-channel int32 bias (the layer's own and/or the folded BatchNorm shift) and the float32 scale
of its input activations; one record per other operation (ReLU, pooling, flatten). RAM
(read-write) is the peak over layers of input + output activations at 8 bits, the im2col scratch
of a k×k convolution (two columns of int16, as CMSIS-NN `arm_convolve_s8`) and, for every
encoder but `dense` (which runs from flash in place), the buffer one layer's weights decode into.

Encoder `best` picks per layer the smallest of `BEST_ENCODERS` (really encoded); the layer's
descriptor records which one, so the C decoder and the accounting see the same choice.
"""

from __future__ import annotations

import struct
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from convnet_opt.encoders import ENCODERS, encode

TARGETS = Path(__file__).resolve().parent / "targets"


@dataclass
class Target:
    """An MCU-class part. `weight_storage` is how the accelerator keeps weights: "int8" (one 8-bit
    copy, every precision reads 8 bits per weight) or "bitplane" (bit-sliced: b-bit precision
    reads b bit planes) — the Adaptive ConvNets energy model reads weights that way."""

    name: str
    flash_bytes: int
    ram_bytes: int
    weight_storage: str = "int8"

    @classmethod
    def load(cls, name_or_path: str | Path) -> Target:
        from flow.errors import FormatError

        p = Path(name_or_path)
        if not p.exists():
            p = TARGETS / f"{name_or_path}.toml"
        try:
            doc = tomllib.loads(p.read_text())
            storage = str(doc.get("weight_storage", "int8"))
            if storage not in ("int8", "bitplane"):
                raise ValueError(f"weight_storage {storage!r} (int8 or bitplane)")
            return cls(doc["name"], int(doc["flash_kib"] * 1024), int(doc["ram_kib"] * 1024), storage)
        except tomllib.TOMLDecodeError as exc:
            raise FormatError(p, None, str(exc)) from None
        except (KeyError, ValueError, TypeError) as exc:
            raise FormatError(p, None, f"bad target: {exc}") from None


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


ENCODER_ID = {name: i for i, name in enumerate(ENCODERS)}
BEST = "best"
BEST_ENCODERS = ("dense", "bitmap", "csr", "huffman", "lz4")  # RLE is never the smallest and slow
NET_HEADER = struct.Struct("<4sHH")           # magic b"VHFN", format version, layer count
LAYER_DESC = struct.Struct("<BBBBHHBBBBHI")   # kind, bits, encoder, flags, cout, cin, kh, kw, stride, pad,
#                                               groups, encoded weight bytes
OP_RECORD = struct.Struct("<BBBB")            # op code, kernel, stride, padding
OP_CODES = {nn.ReLU: 1, nn.MaxPool2d: 2, nn.AvgPool2d: 3, nn.AdaptiveAvgPool2d: 4, nn.Flatten: 5, nn.ReLU6: 6}
FORMAT_VERSION = 1


@dataclass
class LayerCost:
    name: str
    bits: int
    params: int
    nonzero: int
    weight_bytes: int
    scale_bytes: int      # requantisation multiplier + shift per output channel
    bias_bytes: int       # int32 per output channel (own bias or folded BatchNorm)
    act_bytes: int = 4    # float32 scale of the input activations
    desc_bytes: int = LAYER_DESC.size
    encoder: str = "dense"  # the concrete encoder of the weights (what `best` chose)

    @property
    def flash(self) -> int:
        return self.weight_bytes + self.scale_bytes + self.bias_bytes + self.act_bytes + self.desc_bytes


def quantize_bias(bias: torch.Tensor, scale: np.ndarray) -> np.ndarray:
    """int32 bias in units of the weight scale / 2^8 (what is stored and what ONNX exports)."""
    b = bias.detach().double().numpy() if isinstance(bias, torch.Tensor) else np.asarray(bias, dtype=np.float64)
    return np.round(b / (scale.astype(np.float64) + 1e-30) * 2**8).astype(np.int32)


def folded_batchnorms(model: nn.Module) -> dict[str, nn.Module]:
    """conv name -> the BatchNorm folded into it: a BatchNorm registered right after a conv of the
    same width (how every model of `models.py` is built: conv, BN, ReLU)."""
    out: dict[str, nn.Module] = {}
    prev: tuple[str, nn.Module] | None = None
    for name, m in model.named_modules():
        if len(list(m.children())) and not isinstance(m, nn.Conv2d | nn.Linear):
            continue
        if isinstance(m, nn.BatchNorm2d | nn.BatchNorm1d) and prev is not None and isinstance(prev[1], nn.Conv2d) \
                and prev[1].out_channels == m.num_features:
            out[prev[0]] = m
        prev = (name, m)
    return out


def q31(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Real multipliers as int32 Q31 mantissas and int8 exponents (x = m · 2^(e-31))."""
    mant, exp = np.frexp(np.asarray(x, dtype=np.float64))
    m = np.round(mant * 2**31)
    over = m >= 2**31
    m, exp = np.where(over, m / 2, m), np.where(over, exp + 1, exp)
    return m.astype(np.int32), np.clip(exp, -128, 127).astype(np.int8)


def encode_layer(q: np.ndarray, bits: int, encoder: str) -> tuple[str, bytes]:
    """(concrete encoder, encoded weights); `best` tries every one of `BEST_ENCODERS` and keeps
    the smallest stream (the first on a tie, dense first: it decodes in place)."""
    if encoder != BEST:
        return encoder, encode(encoder, q, bits)
    best: tuple[str, bytes] | None = None
    for name in BEST_ENCODERS:
        blob = encode(name, q, bits)
        if best is None or len(blob) < len(best[1]):
            best = (name, blob)
    assert best is not None
    return best


def layer_blob(m: nn.Module, bits: int, encoder: str, bn: nn.Module | None = None,
               act_scale: float = 1.0) -> tuple[bytes, bytes, bytes, np.ndarray, bytes]:
    """(encoded weights, multipliers+shifts, biases, integer weights, activation scale) of a layer."""
    return _layer_blob(m, bits, encoder, bn, act_scale)[1:]


def _layer_blob(m: nn.Module, bits: int, encoder: str, bn: nn.Module | None = None,
                act_scale: float = 1.0) -> tuple[str, bytes, bytes, bytes, np.ndarray, bytes]:
    q, scale = quantize(m.weight, bits)
    enc, blob = encode_layer(q, bits, encoder)
    mult = scale.astype(np.float64)
    bias = m.bias.detach().double().numpy() if m.bias is not None else None
    if bn is not None:
        g = (bn.weight.detach().double().numpy() if bn.weight is not None else np.ones(bn.num_features))
        g = g / np.sqrt(bn.running_var.detach().double().numpy() + bn.eps)
        shift = (bn.bias.detach().double().numpy() if bn.bias is not None else 0.0) \
            - bn.running_mean.detach().double().numpy() * g
        bias = shift + (bias * g if bias is not None else 0.0)
        mult = mult * g
    mant, exp = q31(mult)
    scales = mant.tobytes() + exp.tobytes()
    bias_b = quantize_bias(bias, np.abs(mult)).tobytes() if bias is not None else b""
    return enc, blob, scales, bias_b, q, struct.pack("<f", act_scale)


def _descriptor(m: nn.Module, bits: int, encoder: str, n_blob: int, has_bias: bool) -> bytes:
    if isinstance(m, nn.Conv2d):
        kh, kw = m.kernel_size
        pad = m.padding[0] if isinstance(m.padding, tuple) else 0
        return LAYER_DESC.pack(0, bits, ENCODER_ID[encoder], int(has_bias), m.out_channels, m.in_channels,
                               kh, kw, m.stride[0], pad, m.groups, n_blob)
    return LAYER_DESC.pack(1, bits, ENCODER_ID[encoder], int(has_bias), m.out_features, m.in_features,
                           1, 1, 1, 0, 1, n_blob)


def _bits_of(bits: dict[str, int] | int, name: str) -> int:
    return bits if isinstance(bits, int) else bits.get(name, 8)


def op_records(model: nn.Module) -> bytes:
    """The network description beyond the weight layers: one record per ReLU/pool/flatten."""
    out = bytearray()
    for m in model.modules():
        code = OP_CODES.get(type(m))
        if code is None:
            continue
        k = getattr(m, "kernel_size", 0)
        s = getattr(m, "stride", 0)
        p = getattr(m, "padding", 0)
        val = [v[0] if isinstance(v, tuple) else (v or 0) for v in (k, s, p)]
        out += OP_RECORD.pack(code, *[min(255, int(v)) for v in val])
    return bytes(out)


def flash_table(model: nn.Module, bits: dict[str, int] | int = 8, encoder: str = "dense") -> list[LayerCost]:
    rows = []
    bns = folded_batchnorms(model)
    for name, m in weight_layers(model):
        b = _bits_of(bits, name)
        enc, blob, scales, bias, q, act = _layer_blob(m, b, encoder, bns.get(name))
        rows.append(LayerCost(name, b, q.size, int(np.count_nonzero(q)), len(blob), len(scales), len(bias), len(act),
                              encoder=enc))
    return rows


def network_overhead(model: nn.Module) -> int:
    """Flash outside the layers: network header and operation records."""
    return NET_HEADER.size + len(op_records(model))


def flash_bytes(model: nn.Module, bits: dict[str, int] | int = 8, encoder: str = "dense") -> int:
    return sum(r.flash for r in flash_table(model, bits, encoder)) + network_overhead(model)


def serialize(model: nn.Module, bits: dict[str, int] | int = 8, encoder: str = "dense",
              act_scales: dict[str, float] | None = None) -> bytes:
    """The flash image (what `c_export` writes and its C decoder reads): header, per layer its
    descriptor, encoded weights, multipliers, shifts, biases and input scale, then the op records."""
    layers = weight_layers(model)
    bns = folded_batchnorms(model)
    out = bytearray(NET_HEADER.pack(b"VHFN", FORMAT_VERSION, len(layers)))
    for name, m in layers:
        b = _bits_of(bits, name)
        enc, blob, scales, bias, _, act = _layer_blob(m, b, encoder, bns.get(name), (act_scales or {}).get(name, 1.0))
        out += _descriptor(m, b, enc, len(blob), bool(bias)) + blob + scales + bias + act
    return bytes(out + op_records(model))


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


def layer_encoders(model: nn.Module, bits=8, encoder: str = "dense") -> dict[str, str]:
    """The concrete encoder of every weight layer (only `best` needs encoding to know)."""
    if encoder != BEST:
        return {name: encoder for name, _ in weight_layers(model)}
    return {r.name: r.encoder for r in flash_table(model, bits, encoder)}


def ram_table(model: nn.Module, input_shape: tuple[int, ...], bits=8,
              encoder: str | dict[str, str] = "dense") -> list[dict]:
    """Per leaf layer: activation buffers (in + out, int8), im2col scratch and weight decode buffer
    (`encoder` may be given per layer, as `layer_encoders` returns it)."""
    encoders = encoder if isinstance(encoder, dict) else layer_encoders(model, bits, encoder)
    rows: list[dict] = []
    hooks = []
    names = {m: n for n, m in model.named_modules()}

    def hook(mod, inp, out) -> None:
        name = names[mod]
        scratch = decode = 0
        if isinstance(mod, nn.Conv2d) and mod.groups == 1 and mod.kernel_size[0] * mod.kernel_size[1] > 1:
            scratch = 2 * 2 * mod.in_channels * mod.kernel_size[0] * mod.kernel_size[1]
        if isinstance(mod, nn.Conv2d | nn.Linear) and encoders.get(name, "dense") != "dense":
            decode = (mod.weight.numel() * _bits_of(bits, name) + 7) // 8
        act = inp[0][0].numel() + out[0].numel()
        rows.append({"layer": name, "activations": act, "im2col": scratch, "decode": decode,
                     "total": act + scratch + decode})

    for m in model.modules():
        if len(list(m.children())) == 0 or isinstance(m, nn.Conv2d | nn.Linear):
            hooks.append(m.register_forward_hook(hook))
    forward_once(model, input_shape, hooks)
    return rows


def ram_bytes(model: nn.Module, input_shape: tuple[int, ...], bits=8, encoder: str | dict[str, str] = "dense") -> int:
    return max((r["total"] for r in ram_table(model, input_shape, bits, encoder)), default=0)


def footprint(model: nn.Module, input_shape: tuple[int, ...], bits=8, encoder: str = "dense") -> tuple[int, int]:
    """(flash bytes of the serialised image, peak RAM bytes) — the two budgets."""
    table = flash_table(model, bits, encoder)
    flash = sum(r.flash for r in table) + network_overhead(model)
    return flash, ram_bytes(model, input_shape, bits, {r.name: r.encoder for r in table})


def fits(model: nn.Module, target: Target, input_shape: tuple[int, ...], bits=8, encoder: str = "dense") -> dict:
    flash, ram = footprint(model, input_shape, bits, encoder)
    return {"flash": flash, "ram": ram, "fits": flash <= target.flash_bytes and ram <= target.ram_bytes,
            "target": target.name}
