"""Prune-and-Quantize: a hardware-aware greedy walk over per-layer filter pruning and bit width.

Search space: for every prunable conv/linear layer the number of output filters removed (in
steps of 1/8 of its width, lowest L1 norm first) and for every conv/linear layer its bit width
(8, 6, 4, 3, 2). From the trained float network at 8 bits, each step tries every single move,
estimates its accuracy loss on a held-out subset (no fine-tuning), and applies the move with the
smallest accuracy loss per byte saved — bytes that matter: flash while flash is over budget, RAM
while RAM is over budget — then fine-tunes briefly with quantisation-aware training. Every step
is a point of the memory–accuracy space; the Pareto front is their non-dominated subset.

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

from convnet_opt.memory import Target, footprint, fp32_bytes, weight_layers
from convnet_opt.train import (
    Data,
    attach_quant,
    bake,
    build_model,
    evaluate,
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

    def to_json(self) -> dict:
        return {"fp32_bytes": self.fp32_bytes, "fp32_test_acc": self.fp32_test_acc, "encoder": self.encoder,
                "flash_budgets": self.flash_budgets, "ram_budget": self.ram_budget,
                "walk": [asdict(p) for p in self.walk], "front": [asdict(p) for p in self.front],
                "baselines": [asdict(p) for p in self.baselines],
                "chosen": {k: asdict(p) for k, p in self.chosen.items()}, "baseline_gap": self.baseline_gap}


def pareto_front(points: list[Point], key: str = "test_acc") -> list[Point]:
    """Non-dominated points (less flash, more accuracy), sorted by flash decreasing: along the
    returned list memory decreases and accuracy does not increase."""
    from convnet_opt.adaptive import non_dominated  # the same two-objective sweep

    return [points[i] for i in non_dominated([(p.flash, -getattr(p, key)) for p in points])][::-1]


def front_gap(front: list[Point], p: Point, key: str = "test_acc") -> float:
    """How far `p` is below the front: best front accuracy at no more memory minus p's accuracy
    (negative: `p` beats every front point that is as small, i.e. the walk missed it)."""
    cands = [getattr(f, key) for f in front if f.flash <= p.flash]
    return (max(cands) - getattr(p, key)) if cands else 0.0


@dataclass
class PQConfig:
    flash_budgets: list[int]
    ram_budget: int
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


class PruneQuantize:
    """Greedy walk state on a model (in place) with its prune groups and knobs."""

    def __init__(self, model: nn.Module, data: Data, cfg: PQConfig) -> None:
        self.model, self.data, self.cfg = model, data, cfg
        self.input_shape = data.input_shape
        self.groups = prune_groups(model)
        attach_quant(model)
        self.layers = [n for n, _ in weight_layers(model)]
        self.bits = dict.fromkeys(self.layers, 8)
        n = min(cfg.eval_samples, len(data.x_val))
        self.xv, self.yv = data.x_val[:n], data.y_val[:n]
        self.keeps: dict[str, np.ndarray] = {g.producer: np.arange(g.channels) for g in self.groups}
        self._fine = 0

    def refresh(self) -> None:
        set_bits(self.model, self.bits)
        apply_masks(self.model, self.groups, self.keeps)

    def cost(self) -> tuple[int, int, nn.Module]:
        return account(self.model, self.groups, self.keeps, self.bits, self.cfg.encoder, self.input_shape)

    def moves(self) -> list[tuple[str, str]]:
        out = []
        for name in self.layers:
            if self.bits[name] != BITS[-1]:
                out.append(("bits", name))
        for g in self.groups:
            step = max(1, round(g.channels / 8))
            keep_min = max(1, math.ceil(g.channels * (1 - self.cfg.max_prune)))
            if len(self.keeps[g.producer]) - step >= keep_min:
                out.append(("prune", g.producer))
        return out

    def _do(self, move: tuple[str, str]) -> tuple[dict[str, int], dict[str, np.ndarray]]:
        """Apply a move; returns the state before it for `_restore`."""
        before = (dict(self.bits), dict(self.keeps))
        kind, name = move
        if kind == "bits":
            self.bits[name] = BITS[BITS.index(self.bits[name]) + 1]
        else:
            g = next(g for g in self.groups if g.producer == name)
            self.keeps[name] = channel_keep(self.model, g, self.keeps[name], max(1, round(g.channels / 8)))
        self.refresh()
        return before

    def _restore(self, before: tuple[dict[str, int], dict[str, np.ndarray]]) -> None:
        self.bits, self.keeps = dict(before[0]), dict(before[1])
        self.refresh()

    def finetune(self) -> None:
        self._fine += 1
        train(self.model, self.data, self.cfg.finetune_epochs, self.cfg.lr, self.cfg.seed + self._fine,
              progress=self.cfg.progress)

    def point(self, label: str, move: str = "") -> tuple[Point, nn.Module]:
        flash, ram, cm = self.cost()
        p = Point(label, flash, ram, evaluate(self.model, self.xv, self.yv),
                  evaluate(self.model, self.data.x_test, self.data.y_test), dict(self.bits),
                  {g.producer: len(self.keeps[g.producer]) for g in self.groups}, move, encoder=self.cfg.encoder)
        return p, cm

    def walk(self) -> tuple[list[Point], list[nn.Module]]:
        """From 8 bits dense to the smallest flash budget (and the RAM budget)."""
        cfg = self.cfg
        flash_goal = min(cfg.flash_budgets)
        self.refresh()
        self.finetune()
        p, cm = self.point("int8")
        points, models = [p], [cm]
        eps = 0.5 / max(1, len(self.yv))
        for step in range(cfg.max_steps):
            cur = points[-1]
            if cur.flash <= flash_goal and cur.ram <= cfg.ram_budget:
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
                break
            self._do(best[1])
            self.finetune()
            p, cm = self.point(f"step{step + 1}", f"{best[1][0]}:{best[1][1]}")
            points.append(p)
            models.append(cm)
        return points, models


def _baselines(model_fp: nn.Module, data: Data, cfg: PQConfig, finetune_epochs: float) -> list[Point]:
    """Uniform quantisation at each bit width; magnitude (unstructured) pruning + 8 bits."""
    out = []
    n = min(cfg.eval_samples, len(data.x_val))
    for b in BITS:
        m = copy.deepcopy(model_fp)
        attach_quant(m, b)
        train(m, data, finetune_epochs, cfg.lr, cfg.seed + 100 + b, progress=cfg.progress)
        flash, ram = footprint(m, data.input_shape, b, cfg.encoder)
        out.append(Point(f"uniform{b}", flash, ram, evaluate(m, data.x_val[:n], data.y_val[:n]),
                         evaluate(m, data.x_test, data.y_test), dict.fromkeys([k for k, _ in weight_layers(m)], b),
                         encoder=cfg.encoder))
    for s in cfg.baseline_sparsities:
        m = copy.deepcopy(model_fp)
        qz = attach_quant(m, 8)
        allw = torch.cat([mod.weight.detach().abs().flatten() for _, mod in weight_layers(m)])
        k = int(allw.numel() * s)
        thr = allw.kthvalue(k).values if k > 0 else torch.tensor(-1.0)  # one global threshold (Han et al.)
        for name, mod in weight_layers(m):
            qz[name].mask = (mod.weight.detach().abs() > thr).float()
        train(m, data, finetune_epochs, cfg.lr, cfg.seed + 200 + int(100 * s), progress=cfg.progress)
        flash, ram = footprint(m, data.input_shape, 8, cfg.sparse_encoder)
        out.append(Point(f"magnitude{int(round(100 * s))}+int8", flash, ram, evaluate(m, data.x_val[:n], data.y_val[:n]),
                         evaluate(m, data.x_test, data.y_test), dict.fromkeys([k for k, _ in weight_layers(m)], 8),
                         sparsity=s, encoder=cfg.sparse_encoder))
    return out


def save_compressed(path: Path, model: nn.Module, point: Point, model_name: str, input_shape: tuple[int, ...],
                    classes: int) -> None:
    """State dict of the compacted model + what it takes to rebuild it (`load_compressed`)."""
    cfg = {"model": model_name, "input_shape": list(input_shape), "classes": classes, "bits": point.bits,
           "channels": point.channels, "encoder": point.encoder, "flash": point.flash, "ram": point.ram,
           "test_acc": point.test_acc, "val_acc": point.val_acc}
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
           pretrain_epochs: float = 5, lr: float = 1e-3) -> PQResult:
    """Train (unless `pretrain_epochs` is 0), walk, compare with the baselines, write results."""
    cfg = cfg or PQConfig(flash_budgets or [target.flash_bytes], target.ram_bytes)
    if pretrain_epochs:
        train(model, data, pretrain_epochs, lr, cfg.seed, progress=cfg.progress)
    fp_acc = evaluate(model, data.x_test, data.y_test)
    fp_bytes = fp32_bytes(model)
    model_fp = copy.deepcopy(model)
    pq = PruneQuantize(model, data, cfg)
    walk, models = pq.walk()
    front = pareto_front(walk)
    baselines = _baselines(model_fp, data, cfg, cfg.finetune_epochs * max(1, len(walk)) / 2)
    gaps = {b.label: front_gap(front, b) for b in baselines}
    chosen: dict[str, Point] = {}
    chosen_models: dict[str, nn.Module] = {}
    for budget in sorted(set(cfg.flash_budgets), reverse=True):
        ok = [i for i, p in enumerate(walk) if p.flash <= budget and p.ram <= cfg.ram_budget]
        if ok:
            i = max(ok, key=lambda i: (walk[i].val_acc, -walk[i].flash))
            key = f"{budget / 1024:g}KiB"
            chosen[key] = walk[i]
            chosen_models[key] = models[i]
    res = PQResult(fp_bytes, fp_acc, walk, front, baselines, chosen, gaps, cfg.encoder,
                   list(cfg.flash_budgets), cfg.ram_budget)
    if out is not None:
        out = Path(out)
        (out / "models").mkdir(parents=True, exist_ok=True)
        (out / "pq.json").write_text(json.dumps(res.to_json(), indent=1))
        # the trained float network the walk started from (`vhflow convnet trace --weights`)
        torch.save(model_fp.state_dict(), out / "models" / "fp32.pt")
        for key, p in chosen.items():
            save_compressed(out / "models" / f"budget_{key}.pt", chosen_models[key], p, model_name,
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
    ax.plot([p.flash / 1024 for p in uni], [100 * p.test_acc for p in uni], "s", color="C1", label="uniform quantisation")
    ax.plot([p.flash / 1024 for p in mag], [100 * p.test_acc for p in mag], "^", color="C2",
            label=f"magnitude pruning + int8 ({mag[0].encoder if mag else ''})")
    ax.axhline(100 * res.fp32_test_acc, color="k", lw=0.8, ls="--", label=f"fp32 ({res.fp32_bytes / 1024:.0f} KiB)")
    for b in res.flash_budgets:
        ax.axvline(b / 1024, color="C3", lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_xlabel("flash (KiB, log)")
    ax.set_ylabel("test accuracy (%)")
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
