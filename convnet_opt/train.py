"""Seeded training and evaluation, plus the quantisation-aware pieces every method shares.

Why one place: Prune-and-Quantize, EAST and Adaptive ConvNets all fine-tune with the weights
fake-quantised (straight-through estimator) and masked. Both are `torch.nn.utils.parametrize`
parametrisations, so `module.weight` is always the value the deployed network would use and
`memory.quantize(module.weight, bits)` gives back exactly the integers the forward pass saw.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn.utils import parametrize

from convnet_opt.memory import weight_layers
from convnet_opt.models import DSCNN, LeNet5, ResNet8

Arrays = tuple[np.ndarray | torch.Tensor, np.ndarray | torch.Tensor]


@dataclass
class Data:
    """Train / validation / test arrays. The validation split steers searches so that the
    reported test accuracy is not the number the search optimised."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    @property
    def classes(self) -> int:
        return int(max(self.y_train.max(), self.y_test.max())) + 1

    @classmethod
    def split(cls, x: np.ndarray, y: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
              val_fraction: float = 0.1, seed: int = 0) -> Data:
        idx = np.random.default_rng(seed).permutation(len(x))
        n_val = max(1, int(len(x) * val_fraction))
        va, tr = idx[:n_val], idx[n_val:]
        return cls(x[tr], y[tr], x[va], y[va], x_test, y_test)


def build_model(name: str, input_shape: Sequence[int], classes: int) -> nn.Module:
    """The models of `models.py` by CLI name, sized for the input."""
    c, h = int(input_shape[0]), int(input_shape[1])
    if name == "lenet5":
        return LeNet5(in_ch=c, classes=classes, size=h)
    if name == "resnet8":
        return ResNet8(in_ch=c, classes=classes)
    if name == "dscnn":
        return DSCNN(in_ch=c, classes=classes)
    raise ValueError(f"unknown model {name!r} (known: lenet5, resnet8, dscnn)")


def _tensors(x, y) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.as_tensor(np.asarray(x), dtype=torch.float32), torch.as_tensor(np.asarray(y), dtype=torch.long)


def train(model: nn.Module, data: Data | Arrays, epochs: float = 1, lr: float = 1e-3, seed: int = 0,
          batch_size: int = 64, progress: bool = False, before_step: Callable[[int], None] | None = None,
          after_step: Callable[[int], bool | None] | None = None, weight_decay: float = 0.0,
          cosine: bool = False, teacher: nn.Module | None = None, distill: float = 0.5,
          temperature: float = 4.0) -> list[float]:
    """Adam on cross-entropy, shuffled by `seed`. `epochs` may be fractional (short fine-tunes
    between search moves). Hooks run around every optimiser step (precision switching, masks);
    `after_step` returning True stops training. `cosine` decays the learning rate to 0 over the
    run. With a `teacher` (the float network a compressed one comes from), the loss is knowledge
    distillation (Hinton et al.): (1 - distill)·CE + distill·T²·KL(teacher_T ‖ student_T) — the
    teacher's soft targets carry more than the labels, which matters most for a short fine-tune
    after a compression step. Returns the mean loss per (started) epoch."""
    x, y = (data.x_train, data.y_train) if isinstance(data, Data) else data
    xt, yt = _tensors(x, y)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=weight_decay)
    n = len(xt)
    steps_per_epoch = max(1, (n + batch_size - 1) // batch_size)
    total = max(1, int(round(epochs * steps_per_epoch)))
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total, desc="train", leave=False)
    losses: list[float] = []
    model.train()
    if teacher is not None:
        teacher.eval()
    step = 0
    while step < total:
        perm = torch.randperm(n, generator=gen)
        acc_loss, k = 0.0, 0
        for i in range(0, n, batch_size):
            if step >= total:
                break
            b = perm[i:i + batch_size]
            if before_step is not None:
                before_step(step)
            if cosine:
                for grp in opt.param_groups:
                    grp["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / total))
            opt.zero_grad()
            logits = model(xt[b])
            loss = nn.functional.cross_entropy(logits, yt[b])
            if teacher is not None and distill > 0:
                with torch.no_grad():
                    soft = nn.functional.log_softmax(teacher(xt[b]) / temperature, dim=1)
                kl = nn.functional.kl_div(nn.functional.log_softmax(logits / temperature, dim=1), soft,
                                          log_target=True, reduction="batchmean")
                loss = (1 - distill) * loss + distill * temperature**2 * kl
            loss.backward()
            opt.step()
            acc_loss += float(loss.detach())
            k += 1
            step += 1
            if after_step is not None and after_step(step - 1):
                total = step
            if bar is not None:
                bar.update(1)
        losses.append(acc_loss / max(1, k))
    if bar is not None:
        bar.close()
    model.eval()
    return losses


def fit(model: nn.Module, data: Data, max_epochs: float = 30, lr: float = 2e-3, seed: int = 0,
        patience: int = 5, progress: bool = False, batch_size: int = 64) -> dict:
    """The fp32 reference: Adam with a cosine-decayed learning rate over `max_epochs`, validation
    accuracy after every epoch, stop after `patience` epochs without improvement and keep the
    best-on-validation weights (test data is never looked at)."""
    n = len(data.x_train)
    per_epoch = max(1, (n + batch_size - 1) // batch_size)
    best = {"val_acc": -1.0, "epoch": 0, "state": None}
    history: list[float] = []

    def after(step: int) -> bool:
        if (step + 1) % per_epoch:
            return False
        acc = evaluate(model, data.x_val, data.y_val)
        model.train()
        history.append(acc)
        if acc > best["val_acc"]:
            best.update(val_acc=acc, epoch=len(history), state=copy.deepcopy(model.state_dict()))
        return len(history) - best["epoch"] >= patience

    train(model, data, max_epochs, lr, seed, batch_size=batch_size, progress=progress, after_step=after, cosine=True)
    if best["state"] is not None:
        model.load_state_dict(best["state"])
    model.eval()
    return {"val_acc": best["val_acc"], "best_epoch": best["epoch"], "epochs_run": len(history),
            "val_history": history}


@torch.no_grad()
def evaluate(model: nn.Module, x, y, batch_size: int = 1024) -> float:
    """Top-1 accuracy in [0, 1] (eval mode; the model is left in eval mode)."""
    hits = correct(model, x, y, batch_size)
    return int(hits.sum()) / max(1, len(hits))


@torch.no_grad()
def correct(model: nn.Module, x, y, batch_size: int = 1024) -> np.ndarray:
    """Per-image top-1 correctness (bool array), the raw material of a paired comparison
    (`selection.paired_loss`); eval mode, left in eval mode."""
    xt, yt = _tensors(x, y)
    model.eval()
    out = [model(xt[i:i + batch_size]).argmax(1) == yt[i:i + batch_size] for i in range(0, len(xt), batch_size)]
    return torch.cat(out).numpy() if out else np.zeros(0, dtype=bool)


# ---------------------------------------------------------------- quantisation-aware training

def fake_quant(w: torch.Tensor, bits: int,
               snap: Callable[[torch.Tensor, int], torch.Tensor] | None = None) -> torch.Tensor:
    """Symmetric per-output-channel quantise-dequantise, the same rounding as `memory.quantize`;
    `snap` optionally maps the integer levels first (EAST/Huffman)."""
    a = w.reshape(w.shape[0], -1)
    qmax = 2 ** (bits - 1) - 1
    scale = a.detach().abs().amax(dim=1).clamp_min(1e-12) / qmax
    q = torch.clamp(torch.round(a / scale[:, None]), -qmax - 1, qmax)
    if snap is not None:
        q = snap(q, bits)
    return (q * scale[:, None]).reshape(w.shape)


class WeightQuant(nn.Module):
    """Parametrisation of a weight: element mask, then fake quantisation with a straight-through
    gradient. `bits=None` means float. `snap` optionally maps integer levels (EAST/Huffman)."""

    def __init__(self, bits: int | None = None) -> None:
        super().__init__()
        self.bits = bits
        self.mask: torch.Tensor | None = None
        self.snap: Callable[[torch.Tensor, int], torch.Tensor] | None = None

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        if self.mask is not None:
            w = w * self.mask
        if self.bits is None or self.bits >= 32:
            return w
        wq = fake_quant(w, self.bits, self.snap)
        return w + (wq - w).detach()


class Mask(nn.Module):
    """Parametrisation multiplying a tensor by a fixed 0/1 mask (biases, BatchNorm affine)."""

    def __init__(self, mask: torch.Tensor) -> None:
        super().__init__()
        self.mask = mask

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return t * self.mask


def attach_quant(model: nn.Module, bits: dict[str, int] | int | None = None) -> dict[str, WeightQuant]:
    """Register a `WeightQuant` on every conv/linear weight (idempotent); returns them by layer."""
    out = {}
    for name, m in weight_layers(model):
        if parametrize.is_parametrized(m, "weight"):
            q = next(p for p in m.parametrizations.weight if isinstance(p, WeightQuant))
        else:
            q = WeightQuant()
            parametrize.register_parametrization(m, "weight", q)
        out[name] = q
    if bits is not None:
        set_bits(model, bits)
    return out


def quantizers(model: nn.Module) -> dict[str, WeightQuant]:
    return {n: next(p for p in m.parametrizations.weight if isinstance(p, WeightQuant))
            for n, m in weight_layers(model) if parametrize.is_parametrized(m, "weight")}


def set_bits(model: nn.Module, bits: dict[str, int] | int | None) -> None:
    for name, q in quantizers(model).items():
        q.bits = bits if bits is None or isinstance(bits, int) else bits.get(name, q.bits)


def set_tensor_mask(module: nn.Module, attr: str, mask: torch.Tensor | None) -> None:
    """Mask `module.<attr>` (a bias or BatchNorm weight/bias); `None` removes the mask's effect."""
    if getattr(module, attr, None) is None:
        return
    if parametrize.is_parametrized(module, attr):
        p = next((p for p in getattr(module.parametrizations, attr) if isinstance(p, Mask)), None)
        if p is not None:
            p.mask = mask if mask is not None else torch.ones_like(p.mask)
            return
    if mask is not None:
        parametrize.register_parametrization(module, attr, Mask(mask))


def bake(model: nn.Module) -> nn.Module:
    """A copy with every parametrisation folded into plain parameters: the deployable network
    (weights equal to their dequantised integers, pruned entries exactly zero).

    Not `parametrize.remove_parametrizations` on a deep copy: the copy shares the injected
    parametrised class with the original, and removal deletes the property from that class."""
    m = copy.deepcopy(model)
    for mod in list(m.modules()):
        if parametrize.is_parametrized(mod):
            with torch.no_grad():
                values = {attr: getattr(mod, attr).detach().clone() for attr in mod.parametrizations}
            mod.__class__ = mod.__class__.__bases__[0]
            del mod._modules["parametrizations"]
            for attr, v in values.items():
                setattr(mod, attr, nn.Parameter(v, requires_grad=False))
    for prm in m.parameters():
        prm.requires_grad_(False)
    return m.eval()
