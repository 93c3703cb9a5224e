"""Encoding-Aware Sparse Training (EAST): meet a flash budget measured on the *encoded* weights.

Why shape the pruning: an encoder only pays off on the patterns it compresses. LZ4 replaces
repeats of ≥ 4 bytes by a short back-reference, so zeros scattered by magnitude pruning (a zero
nibble here and there) barely shrink the bit-packed stream, while whole zero *blocks* in the
serialised order (output channel, input channel, kh, kw — C order) collapse to a few bytes. So
the budget is reached at lower sparsity, and lower sparsity keeps more accuracy. Groups per
encoder (`SHAPES`):

* `lz4`  → `block`: contiguous blocks of `block_bytes` bytes of packed weights;
* `rle`  → `run`: longer contiguous runs (RLE pays 2 bytes per non-zero and per 256 zeros);
* `csr`  → `row`: whole rows (output channels) — CSR stores a row pointer per row and an index
  per non-zero, so its size depends on the non-zero count alone and shaping buys nothing at
  equal sparsity; whole rows are what the brief of the original work prunes for it;
* `huffman` → `levels`: element-wise pruning plus snapping the surviving integers to a few
  levels (0, ±1, ±2, ±4, …), which lowers the entropy Huffman codes down to;
* `element`: plain magnitude (unstructured) pruning, the encoder-agnostic reference.

The schedule is adaptive: train a round, really encode (`memory.serialize`), and if the image is
over budget raise the sparsity by a step proportional to the relative excess; masks only grow
(a pruned group has zero norm so it ranks lowest again). A final check prunes further, without
training, if fine-tuning moved the encoded size back over the budget.
"""

from __future__ import annotations

import copy
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from convnet_opt.memory import quantize, serialize, weight_layers
from convnet_opt.train import Data, attach_quant, bake, evaluate, quantizers, train

SHAPES = {"lz4": "block", "rle": "run", "csr": "row", "huffman": "levels", "bitmap": "element", "dense": "element"}


def snap_pow2(q: torch.Tensor, bits: int) -> torch.Tensor:
    """Map non-zero integers to the nearest of ±{1, 2, 4, …, qmax} (a few Huffman symbols).
    qmax stays a level so the per-channel scale, hence the stored integers, are unchanged."""
    qmax = 2 ** (bits - 1) - 1
    levels = torch.tensor(sorted({2 ** k for k in range(bits - 1) if 2 ** k < qmax} | {qmax}), dtype=q.dtype)
    mag = q.abs()
    nearest = levels[(mag[..., None] - levels).abs().argmin(-1)]
    return torch.sign(q) * torch.where(mag > 0, nearest, torch.zeros_like(mag))


def group_size(shape: str, bits: int, block_bytes: int, row: int) -> int:
    """Elements per group in the flattened (serialised) order."""
    if shape == "block":
        return max(1, block_bytes * 8 // bits)
    if shape == "run":
        return 64
    if shape == "row":
        return row
    return 1


def _group_scores(w: torch.Tensor, shape: str, bits: int, block_bytes: int) -> tuple[torch.Tensor, int]:
    """Mean |w| of each group of `w` in serialised order, and the group size."""
    flat = w.detach().abs().reshape(-1)
    n = flat.numel()
    g = group_size(shape, bits, block_bytes, n // w.shape[0])
    n_groups = (n + g - 1) // g
    padded = torch.cat([flat, flat.new_zeros(n_groups * g - n)]).reshape(n_groups, g)
    counts = torch.full((n_groups,), float(g))
    counts[-1] = n - (n_groups - 1) * g
    return padded.sum(1) / counts, g


def shaped_masks(weights: dict[str, torch.Tensor], sparsity: float, shape: str, bits: int,
                 block_bytes: int = 16, layer_cap: float = 0.97) -> dict[str, torch.Tensor]:
    """0/1 masks zeroing about `sparsity` of all weights, in groups of the given shape, lowest
    mean |w| first over the whole network (one global ranking, as magnitude pruning does), no
    layer beyond `layer_cap`. Pruned groups are zero, so they rank first again: masks only grow."""
    names, scores, sizes, owner, local = [], [], [], [], []
    geo = {}
    for i, (name, w) in enumerate(weights.items()):
        sc, g = _group_scores(w, shape, bits, block_bytes)
        n = w.numel()
        sz = torch.full((len(sc),), g, dtype=torch.long)
        sz[-1] = n - (len(sc) - 1) * g
        order = torch.argsort(sc, stable=True)
        allowed = int((torch.cumsum(sz[order], 0) <= layer_cap * n).sum())
        sc = sc.clone()
        sc[order[allowed:]] = float("inf")
        names.append(name)
        scores.append(sc)
        sizes.append(sz)
        owner.append(torch.full((len(sc),), i, dtype=torch.long))
        local.append(torch.arange(len(sc)))
        geo[name] = (g, n)
    sc, sz, ow, lo = torch.cat(scores), torch.cat(sizes), torch.cat(owner), torch.cat(local)
    total = int(sum(n for _, n in geo.values()))
    order = torch.argsort(sc, stable=True)
    take = int((torch.cumsum(sz[order], 0) <= round(sparsity * total)).sum())
    take = min(take, int(torch.isfinite(sc).sum()))
    chosen = order[:take]
    out = {}
    for i, name in enumerate(names):
        g, n = geo[name]
        gm = torch.ones(len(scores[i]))
        gm[lo[chosen[ow[chosen] == i]]] = 0
        out[name] = gm.repeat_interleave(g)[:n].reshape(weights[name].shape)
    return out


def element_mask_like(w: torch.Tensor, n_zero: int) -> torch.Tensor:
    """Magnitude mask with exactly `n_zero` zeros (for comparisons at equal sparsity)."""
    flat = w.detach().abs().reshape(-1)
    mask = torch.ones_like(flat)
    if n_zero > 0:
        mask[torch.argsort(flat, stable=True)[:n_zero]] = 0
    return mask.reshape(w.shape)


def apply_sparsity(model: nn.Module, sparsity: float, shape: str, bits: int, block_bytes: int = 16) -> None:
    """Set every layer's mask for the given overall sparsity and group shape (in place)."""
    mods = dict(model.named_modules())
    qz = quantizers(model)
    masks = shaped_masks({n: mods[n].weight for n in qz}, sparsity, "element" if shape == "levels" else shape,
                         bits, block_bytes)
    for name, q in qz.items():
        q.mask = masks[name]
        q.snap = snap_pow2 if shape == "levels" else None


def encoded_size(model: nn.Module, bits: int, encoder: str) -> int:
    """Bytes of the flash image, by really encoding it."""
    return len(serialize(bake(model), bits, encoder))


def weight_sparsity(model: nn.Module, bits: int) -> float:
    """Fraction of zero integers in the deployed weights (pruned or rounded to zero)."""
    z = n = 0
    for _, m in weight_layers(bake(model)):
        q, _ = quantize(m.weight, bits)
        z += int((q == 0).sum())
        n += q.size
    return z / max(1, n)


@dataclass
class EASTConfig:
    budget_bytes: int
    encoder: str = "lz4"
    bits: int = 4
    shape: str | None = None          # None: the encoder's shape (SHAPES)
    block_bytes: int = 16
    epochs: float = 4.0
    rounds: int = 16
    lr: float = 1e-3
    min_step: float = 0.01
    max_step: float = 0.15
    max_sparsity: float = 0.99
    seed: int = 0
    progress: bool = False


@dataclass
class EASTRun:
    shape: str
    encoder: str
    bits: int
    budget_bytes: int
    size_bytes: int
    sparsity: float
    weight_sparsity: float
    val_acc: float
    test_acc: float
    history: list[dict] = field(default_factory=list)


def _next_step(history: list[dict], cfg: EASTConfig) -> float:
    """Sparsity increment: the bytes still to shed over the bytes the last increment shed (a
    secant on size(sparsity)), or the relative excess at first; clipped to [min_step, max_step]."""
    cur = history[-1]
    excess = cur["size"] - cfg.budget_bytes
    prev = next((h for h in reversed(history[:-1]) if h["sparsity"] < cur["sparsity"]), None)
    if prev is not None and prev["size"] > cur["size"]:
        step = excess * (cur["sparsity"] - prev["sparsity"]) / (prev["size"] - cur["size"])
    else:
        step = excess / cur["size"]
    return float(np.clip(step, cfg.min_step, cfg.max_step))


def east_train(model: nn.Module, data: Data, cfg: EASTConfig) -> EASTRun:
    """Adaptive sparse QAT of `model` (in place) until its encoded size meets the budget."""
    shape = cfg.shape or SHAPES[cfg.encoder]
    attach_quant(model, cfg.bits)
    s = 0.0
    apply_sparsity(model, s, shape, cfg.bits, cfg.block_bytes)
    history: list[dict] = []
    chunk = cfg.epochs / cfg.rounds
    for r in range(cfg.rounds):
        train(model, data, chunk, cfg.lr, cfg.seed + r, progress=cfg.progress)
        size = encoded_size(model, cfg.bits, cfg.encoder)
        history.append({"round": r, "sparsity": s, "size": size})
        if size > cfg.budget_bytes and s < cfg.max_sparsity:
            s = min(cfg.max_sparsity, s + _next_step(history, cfg))
            apply_sparsity(model, s, shape, cfg.bits, cfg.block_bytes)
    size = encoded_size(model, cfg.bits, cfg.encoder)
    while size > cfg.budget_bytes and s < cfg.max_sparsity:
        s = min(cfg.max_sparsity, s + cfg.min_step)
        apply_sparsity(model, s, shape, cfg.bits, cfg.block_bytes)
        size = encoded_size(model, cfg.bits, cfg.encoder)
        history.append({"round": "final", "sparsity": s, "size": size})
    return EASTRun(shape, cfg.encoder, cfg.bits, cfg.budget_bytes, size, s, weight_sparsity(model, cfg.bits),
                   evaluate(model, data.x_val, data.y_val), evaluate(model, data.x_test, data.y_test), history)


def sizes_at_equal_sparsity(model: nn.Module, sparsities: list[float], encoder: str = "lz4", bits: int = 4,
                            shape: str | None = None, block_bytes: int = 16) -> list[dict]:
    """Encoded size of the same weights pruned encoder-shaped vs by magnitude, with exactly the
    same number of zeroed weights per layer."""
    shape = shape or SHAPES[encoder]
    out = []
    for s in sparsities:
        shaped = copy.deepcopy(model)
        attach_quant(shaped, bits)
        apply_sparsity(shaped, s, shape, bits, block_bytes)
        mag = copy.deepcopy(model)
        qm = attach_quant(mag, bits)
        for name, q in quantizers(shaped).items():
            w = dict(mag.named_modules())[name].weight
            qm[name].mask = element_mask_like(w, int((q.mask == 0).sum()))
        out.append({"sparsity": s, "shaped": encoded_size(shaped, bits, encoder),
                    "magnitude": encoded_size(mag, bits, encoder),
                    "weight_sparsity_shaped": weight_sparsity(shaped, bits),
                    "weight_sparsity_magnitude": weight_sparsity(mag, bits)})
    return out


@dataclass
class EASTResult:
    encoder: str
    bits: int
    budget_bytes: int
    dense_size: int
    pretrained_test_acc: float
    equal_sparsity: list[dict]
    east: EASTRun
    magnitude: EASTRun
    magnitude_best: EASTRun | None = None             # magnitude with the encoder that suits it best
    magnitude_sparsity_needed: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return asdict(self)


def run_east(model: nn.Module, data: Data, cfg: EASTConfig, pretrain_epochs: float = 5, pretrain_lr: float = 1e-3,
             sparsities: tuple[float, ...] = (0.5, 0.7, 0.8, 0.9), out: Path | None = None) -> EASTResult:
    """Pretrain (QAT at `cfg.bits`), then EAST and magnitude pruning from the same weights under
    the same budget — magnitude both with EAST's encoder and with the encoder that suits it best
    (the baseline a user would pick) — plus sizes at equal sparsity. Writes `east.json` and a
    plot into `out`."""
    attach_quant(model, cfg.bits)
    if pretrain_epochs:
        train(model, data, pretrain_epochs, pretrain_lr, cfg.seed, progress=cfg.progress)
    base_acc = evaluate(model, data.x_test, data.y_test)
    dense = encoded_size(model, cfg.bits, cfg.encoder)
    eq = sizes_at_equal_sparsity(model, list(sparsities), cfg.encoder, cfg.bits, cfg.shape, cfg.block_bytes)
    shaped, mag = (east_train(copy.deepcopy(model), data, EASTConfig(**{**asdict(cfg), "shape": shape}))
                   for shape in (cfg.shape or SHAPES[cfg.encoder], "element"))
    from convnet_opt.baselines import magnitude_best_encoder_at_budget

    best, need = magnitude_best_encoder_at_budget(model, data, cfg.budget_bytes, cfg.bits, cfg.epochs, cfg.lr, cfg.seed)
    res = EASTResult(cfg.encoder, cfg.bits, cfg.budget_bytes, dense, base_acc, eq, shaped, mag, best, need)
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "east.json").write_text(json.dumps(res.to_json(), indent=1))
        plot_east(res, out / "east.png")
    return res


def plot_east(res: EASTResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.6))
    s = [100 * r["sparsity"] for r in res.equal_sparsity]
    a.plot(s, [r["shaped"] / 1024 for r in res.equal_sparsity], "-o", label=f"EAST ({res.east.shape})")
    a.plot(s, [r["magnitude"] / 1024 for r in res.equal_sparsity], "-^", label="magnitude")
    a.axhline(res.budget_bytes / 1024, color="C3", ls=":", label="budget")
    a.set_xlabel("sparsity (%)")
    a.set_ylabel(f"encoded size, {res.encoder} (KiB)")
    a.legend(fontsize=8)
    a.grid(alpha=0.3)
    for run, style in ((res.east, "-o"), (res.magnitude, "-^")):
        h = [x for x in run.history if x["round"] != "final"]
        b.plot([x["round"] for x in h], [x["size"] / 1024 for x in h], style,
               label=f"{run.shape}: {100 * run.test_acc:.1f}% @ {100 * run.sparsity:.0f}% sparse")
    b.axhline(res.budget_bytes / 1024, color="C3", ls=":")
    b.set_xlabel("round")
    b.set_ylabel("encoded size (KiB)")
    b.legend(fontsize=8)
    b.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
