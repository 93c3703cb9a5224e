"""Integer activations as deployed: every conv/linear input quantised to signed int8, per tensor,
with a scale calibrated once on training images (max |x| / 127, zero point 0 — the operand format
of the signed `mac_array` PE and of int8 MCU kernels).

Why here: the accuracy a deployment gets is the one with these activations, so P&Q reports it
for the points it exports, the flash image stores the scales, and the ONNX export puts the same
QuantizeLinear/DequantizeLinear pairs in front of each layer — onnxruntime then runs what we
measured (checked to 0.1 point in the tests).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from convnet_opt.memory import weight_layers

QMAX = 127


@torch.no_grad()
def calibrate_act_scales(model: nn.Module, x: np.ndarray, n: int = 512) -> dict[str, float]:
    """Per conv/linear layer, the scale of its input: max |x| over `n` images / 127."""
    amax: dict[str, float] = {}
    hooks = []
    for name, m in weight_layers(model):
        def pre(mod, inp, name=name) -> None:
            amax[name] = max(amax.get(name, 0.0), float(inp[0].abs().max()))
        hooks.append(m.register_forward_pre_hook(pre))
    model.eval()
    try:
        xt = torch.as_tensor(np.asarray(x[:n]), dtype=torch.float32)
        for i in range(0, len(xt), 256):
            model(xt[i:i + 256])
    finally:
        for h in hooks:
            h.remove()
    return {k: (v / QMAX if v > 0 else 1.0) for k, v in amax.items()}


def quantize_act(t: torch.Tensor, scale: float) -> torch.Tensor:
    """Round-half-to-even, saturate to [-128, 127], back to float (ONNX QuantizeLinear semantics)."""
    s = torch.tensor(scale, dtype=torch.float32)
    return torch.clamp(torch.round(t / s), -QMAX - 1, QMAX) * s


def with_int_bias(model: nn.Module, bits: dict[str, int] | int = 8) -> nn.Module:
    """A copy whose conv/linear biases are their stored int32 values (weight scale / 2^8 units)
    dequantised, as the flash image and the ONNX graph hold them."""
    import copy

    from convnet_opt.memory import quantize, quantize_bias

    m = copy.deepcopy(model)
    for name, mod in weight_layers(m):
        if mod.bias is None:
            continue
        _, s = quantize(mod.weight, bits if isinstance(bits, int) else bits.get(name, 8))
        qb = quantize_bias(mod.bias, s).astype(np.float32)
        with torch.no_grad():
            mod.bias.copy_(torch.from_numpy(qb * (s.astype(np.float64) / 2**8).astype(np.float32)))
    return m


@torch.no_grad()
def int8_act_accuracy(model: nn.Module, x, y, scales: dict[str, float], bits: dict[str, int] | int = 8,
                      batch: int = 1024) -> float:
    """Top-1 accuracy with every conv/linear input quantised as deployed (and int32 biases:
    `bits` are the layers' weight widths, which set the bias units)."""
    model = with_int_bias(model, bits)
    hooks = [m.register_forward_pre_hook(lambda mod, inp, s=scales[name]: (quantize_act(inp[0], s),) + inp[1:])
             for name, m in weight_layers(model)]
    model.eval()
    try:
        xt = torch.as_tensor(np.asarray(x), dtype=torch.float32)
        yt = torch.as_tensor(np.asarray(y), dtype=torch.long)
        correct = sum(int((model(xt[i:i + batch]).argmax(1) == yt[i:i + batch]).sum()) for i in range(0, len(xt), batch))
    finally:
        for h in hooks:
            h.remove()
    return correct / max(1, len(xt))
