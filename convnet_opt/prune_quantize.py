"""Prune-and-Quantize: a hardware-aware greedy walk over per-layer filter pruning and bit width.

Search space: for every prunable conv/linear layer the number of output filters removed (in
steps of 1/8 of its width, lowest L1 norm first, and half steps of 1/16: near the knee, where a
full step costs more than twice a half step, the greedy rule below takes the half step) and for
every conv/linear layer its bit width (8, 6, 4, 3, 2). From the trained float network at 8 bits,
each step tries every single move, estimates its accuracy loss on a held-out subset (no
fine-tuning), and applies the move with the smallest accuracy loss per byte saved — bytes that
matter: flash while flash is over budget, RAM while RAM is over budget — then fine-tunes briefly
with quantisation-aware training, distilled from the float network (`PQConfig.distill`). Every
step is a point of the memory–accuracy space; the Pareto front is their non-dominated subset.

Memory is counted on the *compacted* network (pruned filters physically removed, and the
matching input channels of the consumer layer), by `memory.flash_table` on the real encoding,
so the number equals `len(memory.serialize(...))` of the saved model. Pruning is masked during
the search (weights, biases and BatchNorm affine of a pruned channel are zero, so its output is
exactly zero, which is what removing it computes); the data-flow graph (torch.fx) tells which
filters can be removed: a conv/linear whose output reaches exactly one conv/linear through
BatchNorm, depthwise conv, ReLU, pooling or flatten only (not residual sums).
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import fx, nn
from torch.nn.utils import parametrize

from convnet_opt.act_quant import calibrate_act_scales, int8_act_accuracy
from convnet_opt.memory import Target, footprint, fp32_bytes, weight_layers
from convnet_opt.train import (
    Data,
    attach_quant,
    bake,
    build_model,
    evaluate,
    fit,
    quantizers,
    set_bits,
    set_tensor_mask,
    train,
)
from flow.errors import FormatError

BITS = (8, 6, 4, 3, 2)
_PASS = (nn.ReLU, nn.ReLU6, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.Dropout, nn.Identity)


# ---------------------------------------------------------------- structure: what can be removed

@dataclass
class PruneGroup:
    """Output filters of `producer`; `followers` are per-channel modules in between ("bn" or
    "dw"); `consumer` loses the same input channels (`spatial` inputs per channel after flatten)."""

    producer: str
    followers: list[tuple[str, str]]
    consumer: str
    spatial: int
    channels: int


def _is_dw(m: nn.Module) -> bool:
    return isinstance(m, nn.Conv2d) and m.groups > 1 and m.groups == m.in_channels == m.out_channels


def prune_groups(model: nn.Module) -> list[PruneGroup]:
    """Prunable filter groups found on the traced data-flow graph of a (clean) copy of `model`."""
    plain = bake(model)
    graph = fx.symbolic_trace(plain).graph
    mods = dict(plain.named_modules())
    groups = []
    for node in graph.nodes:
        if node.op != "call_module" or not isinstance(mods[node.target], nn.Conv2d | nn.Linear) \
                or _is_dw(mods[node.target]):
            continue
        prod = mods[node.target]
        if isinstance(prod, nn.Conv2d) and prod.groups != 1:
            continue
        channels = prod.out_channels if isinstance(prod, nn.Conv2d) else prod.out_features
        followers: list[tuple[str, str]] = []
        flat, cur, consumer = False, node, None
        while len(cur.users) == 1:
            nxt = next(iter(cur.users))
            if nxt.op == "call_module":
                m = mods[nxt.target]
                if isinstance(m, nn.BatchNorm2d | nn.BatchNorm1d):
                    followers.append((nxt.target, "bn"))
                elif _is_dw(m):
                    followers.append((nxt.target, "dw"))
                elif isinstance(m, nn.Flatten):
                    flat = True
                elif isinstance(m, nn.Conv2d | nn.Linear):
                    consumer = nxt.target
                    break
                elif not isinstance(m, _PASS):
                    break
            elif nxt.op == "call_function" and nxt.target in (torch.relu, nn.functional.relu):
                pass
            elif nxt.op == "call_function" and nxt.target is torch.flatten:
                flat = True
            else:
                break
            cur = nxt
        if consumer is None:
            continue
        cons = mods[consumer]
        if isinstance(cons, nn.Conv2d):
            if cons.groups != 1 or cons.in_channels != channels or flat:
                continue
            spatial = 1
        else:
            if cons.in_features % channels:
                continue
            spatial = cons.in_features // channels
        groups.append(PruneGroup(node.target, followers, consumer, spatial, channels))
    return groups


def channel_keep(model: nn.Module, group: PruneGroup, keep: np.ndarray, n_remove: int) -> np.ndarray:
    """Remove the `n_remove` kept filters of smallest L1 norm (of the weights in use)."""
    w = dict(model.named_modules())[group.producer].weight.detach()
    norms = w.reshape(w.shape[0], -1).abs().sum(1).numpy()[keep]
    order = np.argsort(norms, kind="stable")
    return np.sort(np.asarray(keep)[order[n_remove:]])


def apply_masks(model: nn.Module, groups: list[PruneGroup], keeps: dict[str, np.ndarray]) -> None:
    """Zero the filters not in `keeps` (weights, bias, BatchNorm affine, depthwise filters) and
    the consumer's matching input columns, in place. Masking the consumer too matters: its
    per-channel quantisation scale must come from the columns that survive compaction, or the
    compacted network would quantise differently from the one that was trained."""
    mods = dict(model.named_modules())
    qz = quantizers(model)
    wmask: dict[str, torch.Tensor] = {}

    def mul(name: str, m: torch.Tensor) -> None:
        w = mods[name].weight
        full = torch.ones(w.shape) * m
        wmask[name] = wmask[name] * full if name in wmask else full

    for g in groups:
        keep = keeps.get(g.producer, np.arange(g.channels))
        if len(keep) == g.channels:
            for name in [g.producer] + [f for f, kind in g.followers if kind == "dw"]:
                set_tensor_mask(mods[name], "bias", None)
            for name, kind in g.followers:
                if kind == "bn":
                    set_tensor_mask(mods[name], "weight", None)
                    set_tensor_mask(mods[name], "bias", None)
            continue
        cm = torch.zeros(g.channels)
        cm[torch.as_tensor(keep, dtype=torch.long)] = 1.0
        for name in [g.producer] + [f for f, kind in g.followers if kind == "dw"]:
            mul(name, cm.reshape(-1, *([1] * (mods[name].weight.dim() - 1))))
            set_tensor_mask(mods[name], "bias", cm)
        for name, kind in g.followers:
            if kind == "bn":
                set_tensor_mask(mods[name], "weight", cm)
                set_tensor_mask(mods[name], "bias", cm)
        cw = mods[g.consumer].weight
        col = cm.repeat_interleave(g.spatial)
        mul(g.consumer, col.reshape(1, -1, *([1] * (cw.dim() - 2))))
    for name, q in qz.items():
        q.mask = wmask.get(name)


def _set(module: nn.Module, attr: str, value: torch.Tensor) -> None:
    if isinstance(getattr(module, attr), nn.Parameter):
        setattr(module, attr, nn.Parameter(value.clone(), requires_grad=False))
    else:
        setattr(module, attr, value.clone())


def compact(model: nn.Module, groups: list[PruneGroup], keeps: dict[str, np.ndarray]) -> nn.Module:
    """The deployable network: a baked copy with pruned filters and their inputs removed."""
    m = bake(model)
    mods = dict(m.named_modules())
    for g in groups:
        keep = torch.as_tensor(keeps[g.producer], dtype=torch.long)
        k = len(keep)
        p = mods[g.producer]
        _set(p, "weight", p.weight.data[keep])
        if p.bias is not None:
            _set(p, "bias", p.bias.data[keep])
        if isinstance(p, nn.Conv2d):
            p.out_channels = k
        else:
            p.out_features = k
        for name, kind in g.followers:
            f = mods[name]
            if kind == "bn":
                for attr in ("weight", "bias", "running_mean", "running_var"):
                    if getattr(f, attr, None) is not None:
                        _set(f, attr, getattr(f, attr).data[keep])
                f.num_features = k
            else:
                _set(f, "weight", f.weight.data[keep])
                if f.bias is not None:
                    _set(f, "bias", f.bias.data[keep])
                f.in_channels = f.out_channels = f.groups = k
        c = mods[g.consumer]
        if isinstance(c, nn.Conv2d):
            _set(c, "weight", c.weight.data[:, keep])
            c.in_channels = k
        else:
            w = c.weight.data.reshape(c.out_features, g.channels, g.spatial)[:, keep]
            _set(c, "weight", w.reshape(c.out_features, k * g.spatial))
            c.in_features = k * g.spatial
    return m


def account(model: nn.Module, groups: list[PruneGroup], keeps: dict[str, np.ndarray], bits: dict[str, int],
            encoder: str, input_shape: tuple[int, ...]) -> tuple[int, int, nn.Module]:
    """(flash bytes, RAM bytes, compacted model) — flash by really encoding the compacted weights."""
    cm = compact(model, groups, keeps)
    return (*footprint(cm, input_shape, bits, encoder), cm)


# ---------------------------------------------------------------- the search

MCU_BUDGETS = (1024 * 1024, 256 * 1024, 64 * 1024, 16 * 1024)  # common MCU flash (and RAM) sizes


@dataclass
class Point:
    """One configuration: where the walk (or a baseline) was, what it cost, how accurate it was."""

    label: str
    flash: int
    ram: int
    val_acc: float
    test_acc: float
    bits: dict[str, int] = field(default_factory=dict)
    channels: dict[str, int] = field(default_factory=dict)
    move: str = ""
    sparsity: float = 0.0
    encoder: str = "dense"
    encoder_sizes: dict[str, int] = field(default_factory=dict)
    int8_act_test_acc: float = float("nan")   # with int8 activations as deployed (reported points)
    act_scales: dict[str, float] = field(default_factory=dict)


@dataclass
class PQResult:
    fp32_bytes: int
    fp32_test_acc: float
    walk: list[Point]
    front: list[Point]
    baselines: list[Point]
    chosen: dict[str, Point]
    baseline_gap: dict[str, float]
    encoder: str
    flash_budgets: list[int]
    ram_budget: int
    fp32_val_acc: float = 0.0
    mcu: dict[str, str | None] = field(default_factory=dict)
    stop_reason: str = ""
    reference: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"fp32_bytes": self.fp32_bytes, "fp32_test_acc": self.fp32_test_acc,
                "fp32_val_acc": self.fp32_val_acc, "reference": self.reference, "encoder": self.encoder,
                "selection": "val_acc (front, chosen and MCU picks); test_acc is reported only",
                "flash_budgets": self.flash_budgets, "ram_budget": self.ram_budget, "stop_reason": self.stop_reason,
                "walk": [asdict(p) for p in self.walk], "front": [asdict(p) for p in self.front],
                "baselines": [asdict(p) for p in self.baselines], "mcu_budgets": self.mcu,
                "chosen": {k: asdict(p) for k, p in self.chosen.items()}, "baseline_gap": self.baseline_gap}


def pareto_front(points: list[Point], key: str = "val_acc") -> list[Point]:
    """Non-dominated points (less flash, more accuracy on `key`, validation by default), sorted
    by flash decreasing: along the returned list memory decreases and accuracy does not increase."""
    from convnet_opt.adaptive import non_dominated  # the same two-objective sweep

    return [points[i] for i in non_dominated([(p.flash, -getattr(p, key)) for p in points])][::-1]


def front_gap(front: list[Point], p: Point, key: str = "val_acc") -> float:
    """How far `p` is below the front: best front accuracy at no more memory minus p's accuracy
    (negative: `p` beats every front point that is as small, i.e. the walk missed it)."""
    cands = [getattr(f, key) for f in front if f.flash <= p.flash]
    return (max(cands) - getattr(p, key)) if cands else 0.0


def mcu_picks(points: list[Point], budgets=MCU_BUDGETS) -> dict[str, str | None]:
    """Per common MCU flash and RAM size, the label of the most accurate (validation) point that
    fits it (None: nothing does)."""
    out: dict[str, str | None] = {}
    for kind in ("flash", "ram"):
        for b in budgets:
            ok = [p for p in points if getattr(p, kind) <= b]
            best = max(ok, key=lambda p: (p.val_acc, -p.flash)) if ok else None
            out[f"{kind}_{b // 1024}KiB"] = best.label if best else None
    return out


@dataclass
class PQConfig:
    flash_budgets: list[int] = field(default_factory=list)  # empty: walk the whole front
    ram_budget: int = 1 << 30
    encoder: str = "dense"
    sparse_encoder: str = "csr"
    eval_samples: int = 1000
    finetune_epochs: float = 0.2
    lr: float = 5e-4
    max_prune: float = 0.9
    max_steps: int = 200
    seed: int = 0
    baseline_sparsities: tuple[float, ...] = (0.5, 0.75, 0.9, 0.95)
    progress: bool = False
    collapse: float = 0.10     # front mode: stop once validation accuracy is this far below fp32
    torch_ao: bool = True
    test_every_point: bool = True  # False: test accuracy only of the reported points (front, picks)
    reference_epochs_patience: int = 5
    reference_batch: int = 64
    distill: float = 0.5       # weight of the fp32 teacher's soft targets in fine-tuning (0: labels only)
    half_steps: bool = True    # also offer pruning moves of 1/16 of a layer's width


class PruneQuantize:
    """Greedy walk state on a model (in place) with its prune groups and knobs."""

    def __init__(self, model: nn.Module, data: Data, cfg: PQConfig, fp32_val_acc: float | None = None,
                 teacher: nn.Module | None = None) -> None:
        self.model, self.data, self.cfg = model, data, cfg
        self.teacher = teacher if cfg.distill > 0 else None
        self.input_shape = data.input_shape
        self.groups = prune_groups(model)
        attach_quant(model)
        self.layers = [n for n, _ in weight_layers(model)]
        self.bits = dict.fromkeys(self.layers, 8)
        n = min(cfg.eval_samples, len(data.x_val))
        self.xv, self.yv = data.x_val[:n], data.y_val[:n]
        self.keeps: dict[str, np.ndarray] = {g.producer: np.arange(g.channels) for g in self.groups}
        self._fine = 0
        self.fp32_val_acc = fp32_val_acc
        self.stop_reason = ""

    def refresh(self) -> None:
        set_bits(self.model, self.bits)
        apply_masks(self.model, self.groups, self.keeps)

    def cost(self) -> tuple[int, int, nn.Module]:
        return account(self.model, self.groups, self.keeps, self.bits, self.cfg.encoder, self.input_shape)

    def _steps(self, g: PruneGroup) -> dict[str, int]:
        """Filters one pruning move of each kind removes from `g`."""
        full = max(1, round(g.channels / 8))
        half = max(1, round(g.channels / 16))
        return {"prune": full, "prune_half": half} if self.cfg.half_steps and half < full else {"prune": full}

    def moves(self) -> list[tuple[str, str]]:
        out = []
        for name in self.layers:
            if self.bits[name] != BITS[-1]:
                out.append(("bits", name))
        for g in self.groups:
            keep_min = max(1, math.ceil(g.channels * (1 - self.cfg.max_prune)))
            for kind, step in self._steps(g).items():
                if len(self.keeps[g.producer]) - step >= keep_min:
                    out.append((kind, g.producer))
        return out

    def moves_left(self) -> int:
        """Upper bound on the steps still possible (for the progress bar's ETA)."""
        n = sum(len(BITS) - 1 - BITS.index(self.bits[name]) for name in self.layers)
        for g in self.groups:
            step = min(self._steps(g).values())
            keep_min = max(1, math.ceil(g.channels * (1 - self.cfg.max_prune)))
            n += max(0, (len(self.keeps[g.producer]) - keep_min) // step)
        return n

    def _do(self, move: tuple[str, str]) -> tuple[dict[str, int], dict[str, np.ndarray]]:
        """Apply a move; returns the state before it for `_restore`."""
        before = (dict(self.bits), dict(self.keeps))
        kind, name = move
        if kind == "bits":
            self.bits[name] = BITS[BITS.index(self.bits[name]) + 1]
        else:
            g = next(g for g in self.groups if g.producer == name)
            self.keeps[name] = channel_keep(self.model, g, self.keeps[name], self._steps(g)[kind])
        self.refresh()
        return before

    def _restore(self, before: tuple[dict[str, int], dict[str, np.ndarray]]) -> None:
        self.bits, self.keeps = dict(before[0]), dict(before[1])
        self.refresh()

    def finetune(self) -> None:
        self._fine += 1
        train(self.model, self.data, self.cfg.finetune_epochs, self.cfg.lr, self.cfg.seed + self._fine,
              teacher=self.teacher, distill=self.cfg.distill)

    def point(self, label: str, move: str = "") -> tuple[Point, nn.Module]:
        flash, ram, cm = self.cost()
        test = evaluate(self.model, self.data.x_test, self.data.y_test) if self.cfg.test_every_point else float("nan")
        p = Point(label, flash, ram, evaluate(self.model, self.xv, self.yv), test, dict(self.bits),
                  {g.producer: len(self.keeps[g.producer]) for g in self.groups}, move, encoder=self.cfg.encoder)
        return p, cm

    # --- checkpoint per move: the walk resumes where it stopped
    def save_state(self, path: Path, points: list[Point]) -> None:
        tmp = path.with_suffix(".tmp")
        torch.save({"model": self.model.state_dict(), "bits": dict(self.bits),
                    "keeps": {k: [int(i) for i in v] for k, v in self.keeps.items()}, "fine": self._fine,
                    "points": [asdict(p) for p in points], "signature": self.signature()}, tmp)
        tmp.replace(path)

    def signature(self) -> str:
        c = self.cfg
        return json.dumps([sorted(c.flash_budgets), c.ram_budget, c.encoder, c.finetune_epochs, c.lr, c.max_prune,
                           c.seed, c.collapse, self.layers, len(self.data.x_train), c.distill, c.half_steps])

    def load_state(self, path: Path) -> list[Point] | None:
        try:
            blob = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch.load raises pickle, zip and runtime errors alike
            raise FormatError(path, None, f"not a P&Q walk checkpoint ({type(exc).__name__})") from None
        if blob.get("signature") != self.signature():
            return None
        self.bits = dict(blob["bits"])
        self.keeps = {k: np.asarray(v, dtype=np.int64) for k, v in blob["keeps"].items()}
        self._fine = int(blob["fine"])
        self.refresh()
        # a pruning move that was only tried (then undone) left a mask parametrisation behind on
        # a bias or BatchNorm: register the same ones so the saved keys match
        mods = dict(self.model.named_modules())
        for key in blob["model"]:
            head, sep, tail = key.partition(".parametrizations.")
            attr = tail.split(".")[0] if sep else ""
            if attr and attr != "weight" and head in mods and not parametrize.is_parametrized(mods[head], attr):
                set_tensor_mask(mods[head], attr, torch.ones_like(getattr(mods[head], attr)))
        self.model.load_state_dict(blob["model"])
        self.refresh()
        return [Point(**d) for d in blob["points"]]

    def walk(self, ckpt_dir: Path | None = None, models_dir: Path | None = None,
             save_model=None) -> tuple[list[Point], list[nn.Module | None]]:
        """From 8 bits dense to the smallest flash budget (and the RAM budget); without budgets,
        until validation accuracy is `collapse` below fp32 or no move is left. With `ckpt_dir`,
        the state is saved after every move and a matching checkpoint is resumed."""
        cfg = self.cfg
        front_mode = not cfg.flash_budgets
        flash_goal = min(cfg.flash_budgets) if cfg.flash_budgets else 0
        ckpt = Path(ckpt_dir) / "walk_state.pt" if ckpt_dir is not None else None
        points: list[Point] = []
        models: list[nn.Module | None] = []
        if ckpt is not None and ckpt.is_file():
            points = self.load_state(ckpt) or []
            models = [None] * len(points)
        if not points:
            self.refresh()
            self.finetune()
            p, cm = self.point("int8")
            points, models = [p], [cm]
            if save_model is not None:
                save_model(p, cm)
            if ckpt is not None:
                self.save_state(ckpt, points)
        eps = 0.5 / max(1, len(self.yv))
        bar = None
        if cfg.progress:
            from tqdm import tqdm

            bar = tqdm(total=len(points) - 1 + self.moves_left(), initial=len(points) - 1, desc="P&Q walk", unit="move")
        try:
            for step in range(len(points) - 1, cfg.max_steps):
                cur = points[-1]
                if not front_mode and cur.flash <= flash_goal and cur.ram <= cfg.ram_budget:
                    self.stop_reason = "budgets met"
                    break
                if front_mode and self.fp32_val_acc is not None and cur.val_acc < self.fp32_val_acc - cfg.collapse:
                    self.stop_reason = f"validation accuracy {100 * cfg.collapse:g} pt below fp32"
                    break
                best = None
                for mv in self.moves():
                    before = self._do(mv)
                    flash, ram, _ = self.cost()
                    saved = (cur.flash - flash) * (cur.flash > flash_goal) + (cur.ram - ram) * (cur.ram > cfg.ram_budget)
                    if saved > 0:
                        loss = cur.val_acc - evaluate(self.model, self.xv, self.yv)
                        score = (loss + eps) / saved
                        if best is None or score < best[0]:
                            best = (score, mv)
                    self._restore(before)
                if best is None:
                    self.stop_reason = "no move saves memory"
                    break
                self._do(best[1])
                self.finetune()
                p, cm = self.point(f"step{step + 1}", f"{best[1][0]}:{best[1][1]}")
                points.append(p)
                models.append(cm)
                if save_model is not None:
                    save_model(p, cm)
                if ckpt is not None:
                    self.save_state(ckpt, points)
                if bar is not None:
                    bar.total = len(points) - 1 + self.moves_left()
                    bar.set_postfix(flash=p.flash, val=f"{100 * p.val_acc:.1f}%")
                    bar.update(1)
            else:
                self.stop_reason = "max steps"
        finally:
            if bar is not None:
                bar.close()
        return points, models


def _baselines(model_fp: nn.Module, data: Data, cfg: PQConfig, finetune_epochs: float) -> list[Point]:
    """Uniform quantisation at each bit width; global magnitude pruning + int8 with the best of
    every encoder; torch.ao int8 PTQ and QAT (`baselines.py`)."""
    from convnet_opt.baselines import encoder_sizes, magnitude_model, torch_ao_points

    out = []
    n = min(cfg.eval_samples, len(data.x_val))
    for b in BITS:
        m = copy.deepcopy(model_fp)
        attach_quant(m, b)
        train(m, data, finetune_epochs, cfg.lr, cfg.seed + 100 + b)
        flash, ram = footprint(m, data.input_shape, b, cfg.encoder)
        out.append(Point(f"uniform{b}", flash, ram, evaluate(m, data.x_val[:n], data.y_val[:n]),
                         evaluate(m, data.x_test, data.y_test), dict.fromkeys([k for k, _ in weight_layers(m)], b),
                         encoder=cfg.encoder))
    for s in cfg.baseline_sparsities:
        m = magnitude_model(model_fp, data, s, finetune_epochs, cfg.lr, cfg.seed + 200 + int(100 * s))
        sizes = encoder_sizes(m, 8)
        enc = min(sizes, key=sizes.get)
        _, ram = footprint(m, data.input_shape, 8, enc)
        out.append(Point(f"magnitude{int(round(100 * s))}+int8", sizes[enc], ram,
                         evaluate(m, data.x_val[:n], data.y_val[:n]), evaluate(m, data.x_test, data.y_test),
                         dict.fromkeys([k for k, _ in weight_layers(m)], 8), sparsity=s, encoder=enc,
                         encoder_sizes=sizes))
    if cfg.torch_ao:
        layers = [k for k, _ in weight_layers(model_fp)]
        out += torch_ao_points(model_fp, data, finetune_epochs, cfg.lr, cfg.seed, n,
                               lambda label, flash, ram, va, te: Point(label, flash, ram, va, te,
                                                                       dict.fromkeys(layers, 8), encoder="dense"))
    return out


def save_compressed(path: Path, model: nn.Module, point: Point, model_name: str, input_shape: tuple[int, ...],
                    classes: int) -> None:
    """State dict of the compacted model + what it takes to rebuild it (`load_compressed`)."""
    cfg = {"model": model_name, "input_shape": list(input_shape), "classes": classes, "bits": point.bits,
           "channels": point.channels, "encoder": point.encoder, "flash": point.flash, "ram": point.ram,
           "test_acc": point.test_acc, "val_acc": point.val_acc, "label": point.label,
           "int8_act_test_acc": point.int8_act_test_acc, "act_scales": point.act_scales}
    torch.save({"state_dict": model.state_dict(), "config": cfg}, path)


def load_compressed(path: Path) -> tuple[nn.Module, dict]:
    """Rebuild the compacted architecture from its config and load the weights."""
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        cfg = blob["config"]
        model = build_model(cfg["model"], cfg["input_shape"], cfg["classes"])
        groups = prune_groups(model)
        keeps = {g.producer: np.arange(cfg["channels"].get(g.producer, g.channels)) for g in groups}
        m = compact(model, groups, keeps)
        m.load_state_dict(blob["state_dict"])
    except Exception as exc:  # torch.load raises pickle, struct, zip and runtime errors alike
        raise FormatError(path, None, f"not a convnet checkpoint ({type(exc).__name__}: "
                                      f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
    return m.eval(), cfg


def run_pq(model: nn.Module, data: Data, target: Target, flash_budgets: list[int] | None = None,
           cfg: PQConfig | None = None, out: Path | None = None, model_name: str = "lenet5",
           pretrain_epochs: float = 5, lr: float = 2e-3) -> PQResult:
    """Train the fp32 reference (cosine decay, early stopping on validation; skipped when
    `pretrain_epochs` is 0), walk, compare with the baselines, write results. With `out`, every
    walk point's compacted model is saved (`out/walk/<label>.pt`) and the walk is resumable."""
    cfg = cfg or PQConfig(list(flash_budgets or []), target.ram_bytes)
    reference: dict = {}
    if pretrain_epochs:
        ref_path = Path(out) / "models" / "fp32.pt" if out is not None else None
        if ref_path is not None and ref_path.is_file() and (Path(out) / "walk" / "walk_state.pt").is_file():
            model.load_state_dict(torch.load(ref_path, weights_only=True))  # resuming: the same reference
        else:
            reference = fit(model, data, pretrain_epochs, lr, cfg.seed, cfg.reference_epochs_patience,
                            batch_size=cfg.reference_batch)
    fp_acc = evaluate(model, data.x_test, data.y_test)
    n_val = min(cfg.eval_samples, len(data.x_val))  # the validation images every walk point is scored on
    fp_val = evaluate(model, data.x_val[:n_val], data.y_val[:n_val])
    fp_bytes = fp32_bytes(model)
    model_fp = copy.deepcopy(model)
    walk_dir = None
    save_model = None
    if out is not None:
        out = Path(out)
        (out / "models").mkdir(parents=True, exist_ok=True)
        walk_dir = out / "walk"
        walk_dir.mkdir(exist_ok=True)
        # the trained float network the walk started from (`vhflow convnet trace --weights`)
        torch.save(model_fp.state_dict(), out / "models" / "fp32.pt")

        def save_model(p: Point, cm: nn.Module) -> None:
            save_compressed(walk_dir / f"{p.label}.pt", cm, p, model_name, data.input_shape, data.classes)
    pq = PruneQuantize(model, data, cfg, fp_val, teacher=model_fp)
    walk, models = pq.walk(walk_dir, save_model=save_model)
    front = pareto_front(walk)
    chosen_idx: dict[str, int] = {}
    for budget in sorted(set(cfg.flash_budgets), reverse=True):
        ok = [i for i, p in enumerate(walk) if p.flash <= budget and p.ram <= cfg.ram_budget]
        if ok:
            chosen_idx[f"{budget / 1024:g}KiB"] = max(ok, key=lambda i: (walk[i].val_acc, -walk[i].flash))
    mcu = mcu_picks(walk)
    report = {id(p) for p in front} | {id(walk[i]) for i in chosen_idx.values()} | \
        {id(p) for p in walk if p.label in set(mcu.values())}
    for i, p in enumerate(walk):  # test accuracy of what is reported, from the deployable model
        if id(p) not in report:
            continue
        cm = models[i] if models[i] is not None else load_compressed(walk_dir / f"{p.label}.pt")[0]
        models[i] = cm
        if p.test_acc != p.test_acc:
            p.test_acc = evaluate(cm, data.x_test, data.y_test)
        p.act_scales = calibrate_act_scales(cm, data.x_train)
        p.int8_act_test_acc = int8_act_accuracy(cm, data.x_test, data.y_test, p.act_scales, p.bits)
        if save_model is not None:
            save_model(p, cm)
    fine = cfg.finetune_epochs * max(1, min(len(walk), 20)) / 2
    baselines = _baselines(model_fp, data, cfg, fine)
    gaps = {b.label: front_gap(front, b) for b in baselines}
    chosen = {k: walk[i] for k, i in chosen_idx.items()}
    res = PQResult(fp_bytes, fp_acc, walk, front, baselines, chosen, gaps, cfg.encoder,
                   list(cfg.flash_budgets), cfg.ram_budget, fp_val, mcu, pq.stop_reason, reference)
    if out is not None:
        (out / "pq.json").write_text(json.dumps(res.to_json(), indent=1))
        for key, i in chosen_idx.items():
            cm = models[i]
            if cm is None:  # resumed: the model of that step is on disk
                cm, _ = load_compressed(walk_dir / f"{walk[i].label}.pt")
            save_compressed(out / "models" / f"budget_{key}.pt", cm, walk[i], model_name,
                            data.input_shape, data.classes)
        plot_front(res, out / "pq_front.png")
    return res


def plot_front(res: PQResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.plot([p.flash / 1024 for p in res.walk], [100 * p.test_acc for p in res.walk], ".", color="0.6", label="greedy walk")
    ax.step([p.flash / 1024 for p in res.front], [100 * p.test_acc for p in res.front], "-o", where="post",
            color="C0", label="Pareto front")
    uni = [p for p in res.baselines if p.label.startswith("uniform")]
    mag = [p for p in res.baselines if p.label.startswith("magnitude")]
    tao = [p for p in res.baselines if p.label.startswith("torch.ao")]
    ax.plot([p.flash / 1024 for p in uni], [100 * p.test_acc for p in uni], "s", color="C1", label="uniform quantisation")
    ax.plot([p.flash / 1024 for p in mag], [100 * p.test_acc for p in mag], "^", color="C2",
            label="magnitude pruning + int8 (best encoder)")
    for p, mk in zip(tao, ("v", "D"), strict=False):
        ax.plot([p.flash / 1024], [100 * p.test_acc], mk, color="C4", label=p.label)
    ax.axhline(100 * res.fp32_test_acc, color="k", lw=0.8, ls="--", label=f"fp32 ({res.fp32_bytes / 1024:.0f} KiB)")
    for b in res.flash_budgets:
        ax.axvline(b / 1024, color="C3", lw=0.8, ls=":")
    lo, hi = min(p.flash for p in res.walk + res.baselines), max(p.flash for p in res.walk + res.baselines)
    for b in MCU_BUDGETS:  # common MCU flash sizes within the plotted range
        if lo / 2 <= b <= hi * 2:
            ax.axvline(b / 1024, color="0.8", lw=0.8, ls="--")
            ax.text(b / 1024, ax.get_ylim()[0], f" {b // 1024} KiB", fontsize=7, color="0.5", rotation=90,
                    va="bottom")
    ax.set_xscale("log")
    ax.set_xlabel("flash (KiB, log)")
    ax.set_ylabel("test accuracy (%); front chosen on validation")
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
