"""What a user would pick instead of Prune-and-Quantize, measured the way P&Q points are.

* `torch.ao` int8 (FX graph mode, x86/fbgemm defaults: per-channel symmetric int8 weights,
  per-tensor uint8 activations): static post-training quantisation calibrated on training
  images, and quantisation-aware training fine-tuned as long as the P&Q walk fine-tunes. The
  accuracy is the converted int8 model's own; the flash is our serialised image of the same
  network at 8 bits (int8 weights per channel, multipliers, biases, scales, description — the
  content torch.ao stores), so the sizes compare like for like.
* Global magnitude pruning (one threshold over all layers, Han et al.) + int8 fine-tuning,
  measured with every encoder; the smallest encoding is the point's flash (`encoder_sizes`
  keeps them all).
* Uniform quantisation at 8/6/4/3/2 bits (QAT fine-tuned).
Every point carries validation accuracy (what any selection uses) and test accuracy (reported).
"""

from __future__ import annotations

import copy
import warnings

import torch
from torch import nn

from convnet_opt.encoders import ENCODERS
from convnet_opt.memory import flash_bytes, ram_bytes, weight_layers
from convnet_opt.train import Data, attach_quant, bake, evaluate, train

SPARSE_ENCODERS = tuple(e for e in ENCODERS if e != "rle")  # RLE is never the smallest and slow


def _torch_ao_eval(qmodel: nn.Module, x, y) -> float:
    return evaluate(qmodel, x, y)


def torch_ao_points(model_fp: nn.Module, data: Data, finetune_epochs: float, lr: float, seed: int,
                    eval_n: int, make_point) -> list:
    """[static PTQ point, QAT point] of torch.ao int8; `make_point(label, flash, ram, val, test)`."""
    from torch.ao.quantization import get_default_qat_qconfig_mapping, get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx, prepare_qat_fx

    torch.backends.quantized.engine = "x86" if "x86" in torch.backends.quantized.supported_engines else "qnnpack"
    example = (torch.zeros(1, *data.input_shape),)
    flash = flash_bytes(model_fp, 8, "dense")
    ram = ram_bytes(model_fp, data.input_shape, 8, "dense")
    xv, yv = data.x_val[:eval_n], data.y_val[:eval_n]
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao's deprecation notices
        m = prepare_fx(copy.deepcopy(model_fp).eval(), get_default_qconfig_mapping(torch.backends.quantized.engine),
                       example)
        with torch.no_grad():
            xc = torch.as_tensor(data.x_train[:512], dtype=torch.float32)
            for i in range(0, len(xc), 128):
                m(xc[i:i + 128])
        q = convert_fx(m)
        out.append(make_point("torch.ao PTQ int8", flash, ram, _torch_ao_eval(q, xv, yv),
                              _torch_ao_eval(q, data.x_test, data.y_test)))
        m = prepare_qat_fx(copy.deepcopy(model_fp).train(),
                           get_default_qat_qconfig_mapping(torch.backends.quantized.engine), example)
        train(m, data, finetune_epochs, lr, seed + 300)
        q = convert_fx(m.eval())
        out.append(make_point("torch.ao QAT int8", flash, ram, _torch_ao_eval(q, xv, yv),
                              _torch_ao_eval(q, data.x_test, data.y_test)))
    return out


def magnitude_model(model_fp: nn.Module, data: Data, sparsity: float, finetune_epochs: float, lr: float,
                    seed: int) -> nn.Module:
    """Global magnitude pruning at `sparsity`, then int8 QAT fine-tuning with the mask fixed."""
    m = copy.deepcopy(model_fp)
    qz = attach_quant(m, 8)
    allw = torch.cat([mod.weight.detach().abs().flatten() for _, mod in weight_layers(m)])
    k = int(allw.numel() * sparsity)
    thr = allw.kthvalue(k).values if k > 0 else torch.tensor(-1.0)
    for name, mod in weight_layers(m):
        qz[name].mask = (mod.weight.detach().abs() > thr).float()
    train(m, data, finetune_epochs, lr, seed)
    return bake(m)


def encoder_sizes(model: nn.Module, bits: int = 8, encoders=SPARSE_ENCODERS) -> dict[str, int]:
    """Flash of the serialised image with each encoder."""
    return {e: flash_bytes(model, bits, e) for e in encoders}


def magnitude_sparsity_for(model: nn.Module, budget: int, bits: int, encoder: str) -> float | None:
    """Smallest global magnitude sparsity whose image fits `budget` with `encoder` (bisection on
    the really encoded size, no training), or None if even 99 % does not."""
    from convnet_opt.east import apply_sparsity, encoded_size

    m = copy.deepcopy(model)
    attach_quant(m, bits)

    def size(s: float) -> int:
        apply_sparsity(m, s, "element", bits)
        return encoded_size(m, bits, encoder)

    lo, hi = 0.0, 0.99
    if size(hi) > budget:
        return None
    if size(lo) <= budget:
        return 0.0
    for _ in range(10):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if size(mid) <= budget else (mid, hi)
    return hi


def magnitude_best_encoder_at_budget(model_fp: nn.Module, data: Data, budget: int, bits: int, epochs: float,
                                     lr: float, seed: int, encoders=SPARSE_ENCODERS):
    """Global magnitude pruning trained to meet `budget` with the encoder that needs the least
    sparsity for it (at equal size, less sparsity is the better network), by EAST's own adaptive
    schedule with element-wise groups. Returns (EASTRun, {encoder: sparsity needed})."""
    from convnet_opt.east import EASTConfig, east_train

    need = {e: magnitude_sparsity_for(model_fp, budget, bits, e) for e in encoders}
    ok = {e: s for e, s in need.items() if s is not None}
    if not ok:
        return None, need
    enc = min(ok, key=ok.get)
    run = east_train(copy.deepcopy(model_fp), data, EASTConfig(budget, enc, bits, shape="element", epochs=epochs,
                                                               lr=lr, seed=seed))
    return run, need
