"""Adaptive ConvNets: per-layer precision (8/4/2 bits) chosen at run time from a Pareto set.

One memory model: a device cannot store a network per operating point, so the weights are
stored once as the target keeps them (`Target.weight_storage`, default one int8 copy); a layer
run at b < 8 bits uses them shifted right with rounding (q_b = round(q_8 / 2^(8-b)), what the
array's loader can do) — and with int8 storage it still reads all 8 bits of every weight, which
the energy model charges. Input activations are quantised to b bits *signed*, exactly as the
`mac_array` PE multiplies them ($signed operands: a non-negative ReLU output keeps b-1
magnitude bits), with a clip calibrated once. Training samples a random precision per layer at
every step (straight-through fake quantisation), so every assignment works with the same
weights. NSGA-II (`pymoo`) then searches the assignments for the (energy, validation error)
front, energy from `energy.py` (calibrated from the array's gate-level trace when given); a
controller switches between front points as an external trigger (battery level or energy budget
per inference) changes, and logs the switches. The headline saving is the largest one among
front points within 3 points of all-8-bit on *validation* (optionally with a margin of k standard
errors of the paired difference, `selection.py`); test accuracy is reported only.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from convnet_opt.energy import EnergyModel, LayerWork, layer_work, network_energy
from convnet_opt.memory import weight_layers
from convnet_opt.selection import Candidate, cheapest_within, correct, paired_loss
from convnet_opt.train import Data, attach_quant, evaluate, quantizers, train

CHOICES = (8, 4, 2)


def shift_snap(bits: int):
    """Integer levels of an int8 weight run at `bits`: rounding right shift, in int8 units."""
    k = 8 - bits

    def snap(q8: torch.Tensor, _bits: int) -> torch.Tensor:
        if k == 0:
            return q8
        q = torch.clamp(torch.round(q8 / 2**k), -(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
        return q * 2**k
    return snap


class ActQuant:
    """Forward pre-hook quantising a layer's input to signed `bits` (the PE's operand format),
    straight-through in training. `signed=False` exists only to show what an unsigned array
    would allow; the mac_array is signed."""

    def __init__(self, clip: float, signed: bool = True) -> None:
        self.clip, self.signed, self.bits = max(clip, 1e-8), signed, 8

    def __call__(self, module: nn.Module, inp: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        x = inp[0]
        if self.signed:
            qmax = 2 ** (self.bits - 1) - 1
            s = self.clip / qmax
            xq = torch.clamp(torch.round(x / s), -qmax - 1, qmax) * s
        else:
            qmax = 2**self.bits - 1
            s = self.clip / qmax
            xq = torch.clamp(torch.round(x / s), 0, qmax) * s
        return (x + (xq - x).detach(),) + tuple(inp[1:])


class Switchable:
    """A model whose per-layer precision can be switched: weight snaps + activation hooks."""

    def __init__(self, model: nn.Module, x_calib: np.ndarray, percentile: float = 99.9) -> None:
        self.model = model
        self.layers = [n for n, _ in weight_layers(model)]
        stats: dict[str, list[torch.Tensor]] = {n: [] for n in self.layers}
        hooks = [m.register_forward_pre_hook(lambda m, i, n=n: stats[n].append(i[0].detach().flatten()))
                 for n, m in weight_layers(model)]
        model.eval()
        with torch.no_grad():
            model(torch.as_tensor(x_calib[:512], dtype=torch.float32))
        for h in hooks:
            h.remove()
        self.acts: dict[str, ActQuant] = {}
        for n, m in weight_layers(model):
            v = torch.cat(stats[n])
            clip = float(np.percentile(v.abs().numpy(), percentile))
            self.acts[n] = ActQuant(clip, signed=True)
            m.register_forward_pre_hook(self.acts[n])
        attach_quant(model, 8)
        self.quant = quantizers(model)
        self.set([8] * len(self.layers))

    def set(self, bits: Sequence[int]) -> None:
        for n, b in zip(self.layers, bits, strict=True):
            self.quant[n].bits = 8
            self.quant[n].snap = None if b == 8 else shift_snap(b)
            self.acts[n].bits = b


@dataclass
class OperatingPoint:
    bits: list[int]
    energy_pj: float
    val_acc: float
    test_acc: float = float("nan")
    saving: float = 0.0        # vs all-8-bit energy
    acc_loss: float = 0.0      # vs all-8-bit test accuracy (points of accuracy, fraction)
    val_loss: float = 0.0      # vs all-8-bit on the validation images (fraction)
    val_loss_se: float = 0.0   # standard error of that paired difference (`selection.paired_loss`)


def non_dominated(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the non-dominated (energy, error) pairs, both minimised, by energy ascending
    (duplicates kept once)."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], points[i][1]))
    out, best = [], float("inf")
    for i in order:
        if points[i][1] < best:
            out.append(i)
            best = points[i][1]
    return out


def nsga2_front(evaluate_config, energy_of, n_layers: int, pop_size: int = 16, n_gen: int = 10,
                seed: int = 0) -> tuple[list[tuple[tuple[int, ...], float, float]], int]:
    """NSGA-II over per-layer precision indices. Returns the non-dominated (bits, energy, error)
    found among every evaluated assignment, and the number of distinct evaluations."""
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.core.problem import Problem
    from pymoo.operators.crossover.sbx import SBX
    from pymoo.operators.mutation.pm import PM
    from pymoo.operators.repair.rounding import RoundingRepair
    from pymoo.operators.sampling.rnd import IntegerRandomSampling
    from pymoo.optimize import minimize

    cache: dict[tuple[int, ...], tuple[float, float]] = {}

    def f(bits: tuple[int, ...]) -> tuple[float, float]:
        if bits not in cache:
            cache[bits] = (energy_of(bits), 1.0 - evaluate_config(bits))
        return cache[bits]

    class PrecisionProblem(Problem):
        def __init__(self) -> None:
            super().__init__(n_var=n_layers, n_obj=2, xl=0, xu=len(CHOICES) - 1, vtype=int)

        def _evaluate(self, x, out, *args, **kwargs) -> None:
            out["F"] = np.array([f(tuple(CHOICES[int(round(v))] for v in row)) for row in x])

    f(tuple([8] * n_layers))
    algo = NSGA2(pop_size=pop_size, sampling=IntegerRandomSampling(),
                 crossover=SBX(prob=0.9, eta=15, vtype=float, repair=RoundingRepair()),
                 mutation=PM(eta=20, vtype=float, repair=RoundingRepair()), eliminate_duplicates=True)
    minimize(PrecisionProblem(), algo, ("n_gen", n_gen), seed=seed, verbose=False)
    items = list(cache.items())
    idx = non_dominated([v for _, v in items])
    return [(items[i][0], items[i][1][0], items[i][1][1]) for i in idx], len(cache)


@dataclass
class Controller:
    """Picks the most accurate operating point whose energy fits the budget the trigger allows.

    Battery mode maps level ∈ [0, 1] linearly onto [E_min, E_max·(1 + hysteresis)] of the points
    (so a full battery always reaches the most accurate point); energy mode
    takes the trigger as the per-inference budget in pJ. Hysteresis: move *up* only when the
    budget exceeds the higher point's energy by `hysteresis` (relative), so a noisy trigger does
    not make the network flip back and forth; moving down is immediate (the budget is binding)."""

    points: list[OperatingPoint]
    hysteresis: float = 0.05
    current: int = 0

    def __post_init__(self) -> None:
        self.points = sorted(self.points, key=lambda p: p.energy_pj)

    def budget(self, trigger: float, mode: str) -> float:
        if mode == "battery":
            lo, hi = self.points[0].energy_pj, self.points[-1].energy_pj * (1 + self.hysteresis)
            return lo + float(np.clip(trigger, 0.0, 1.0)) * (hi - lo)
        if mode == "energy":
            return float(trigger)
        raise ValueError(f"unknown trigger mode {mode!r} (battery, energy)")

    def select(self, budget_pj: float) -> int:
        """Index of the point to run (points are on the front: more energy, more accuracy)."""
        fit = [i for i, p in enumerate(self.points) if p.energy_pj <= budget_pj * (1 + 1e-12)]
        if not fit:
            return 0
        want = fit[-1]
        if want > self.current:
            up = [i for i in fit if i <= self.current or self.points[i].energy_pj * (1 + self.hysteresis) <= budget_pj]
            want = up[-1] if up else fit[0]
        return want

    def run(self, trace: Sequence[float], mode: str = "battery") -> list[dict]:
        """One entry per trigger sample: the budget, the point chosen and whether it switched."""
        self.current = len(self.points) - 1
        log = []
        for t, trig in enumerate(trace):
            b = self.budget(trig, mode)
            new = self.select(b)
            switched = new != self.current
            self.current = new
            p = self.points[new]
            log.append({"t": t, "trigger": float(trig), "budget_pj": b, "point": new, "bits": p.bits,
                        "energy_pj": p.energy_pj, "val_acc": p.val_acc, "switched": switched})
        return log


def battery_trace(n: int = 60, seed: int = 0) -> list[float]:
    """A discharge-then-recharge battery level with noise: the default external trigger."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, n)
    level = np.where(t < 0.7, 1 - t / 0.7, (t - 0.7) / 0.3 * 0.8) + rng.normal(0, 0.02, n)
    return [float(v) for v in np.clip(level, 0, 1)]


@dataclass
class AdaptiveResult:
    layers: list[str]
    work: list[dict]
    all8: OperatingPoint
    points: list[OperatingPoint]
    evaluations: int
    trace_mode: str
    switch_trace: list[dict] = field(default_factory=list)
    trace_energy_pj: float = 0.0
    trace_energy_all8_pj: float = 0.0
    weight_storage: str = "int8"
    energy_source: str = ""
    best_under_3pt: OperatingPoint | None = None   # chosen on validation loss < 3 pt

    def to_json(self) -> dict:
        return asdict(self)


def run_adaptive(model: nn.Module, data: Data, em: EnergyModel | None = None, pretrain_epochs: float = 5,
                 epochs: float = 5, lr: float = 1e-3, seed: int = 0, pop_size: int = 16, n_gen: int = 10,
                 eval_samples: int = 1000, trace: Sequence[float] | None = None, trace_mode: str = "battery",
                 out: Path | None = None, progress: bool = False, all8_prob: float = 0.25,
                 weight_storage: str = "int8", select_k: float = 0.0) -> AdaptiveResult:
    """Train once with random precision switching, search the front, run the controller.
    `best_under_3pt` is the largest saving whose validation loss plus `select_k` standard errors
    of the paired difference stays under 3 pt (`selection.py`; 0: the plain loss)."""
    em = em or EnergyModel.load("mac_array")
    em.check_storage(weight_storage)
    if pretrain_epochs:
        train(model, data, pretrain_epochs, lr, seed, progress=progress)
    sw = Switchable(model, data.x_train)
    n = len(sw.layers)
    rnd = random.Random(seed)

    def switch(_step: int) -> None:
        sw.set([8] * n if rnd.random() < all8_prob else [rnd.choice(CHOICES) for _ in range(n)])

    train(model, data, epochs, lr, seed + 1, before_step=switch, progress=progress)
    work: list[LayerWork] = layer_work(model, data.input_shape)
    m = min(eval_samples, len(data.x_val))
    xv, yv = data.x_val[:m], data.y_val[:m]

    def acc(bits: tuple[int, ...]) -> float:
        sw.set(bits)
        return evaluate(model, xv, yv)

    def energy(bits) -> float:
        return network_energy(em, work, list(bits), weight_storage)

    front, n_evals = nsga2_front(acc, energy, n, pop_size, n_gen, seed)
    e8 = energy([8] * n)
    a8 = OperatingPoint([8] * n, e8, acc(tuple([8] * n)), evaluate(model, data.x_test, data.y_test))
    sw.set([8] * n)
    ref = correct(model, xv, yv)
    points = []
    for bits, e, err in front:
        sw.set(bits)
        te = evaluate(model, data.x_test, data.y_test)
        vl, se = paired_loss(ref, correct(model, xv, yv)) if len(yv) > 1 else (a8.val_acc - (1 - err), 0.0)
        points.append(OperatingPoint(list(bits), e, 1 - err, te, 1 - e / e8, a8.test_acc - te, vl, se))
    sw.set([8] * n)
    res = AdaptiveResult(sw.layers, [asdict(w) for w in work], a8, points, n_evals, trace_mode,
                         weight_storage=weight_storage, energy_source=em.source)
    best = cheapest_within([Candidate(str(i), -p.saving, p.val_loss, p.val_loss_se) for i, p in enumerate(points)],
                           0.03, select_k, strict=True)
    res.best_under_3pt = None if best is None else points[int(best.label)]
    if trace is None:
        trace = battery_trace(seed=seed)
    ctl = Controller(points)
    res.switch_trace = ctl.run(trace, trace_mode)
    res.trace_energy_pj = sum(s["energy_pj"] for s in res.switch_trace)
    res.trace_energy_all8_pj = e8 * len(res.switch_trace)
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "adaptive.json").write_text(json.dumps(res.to_json(), indent=1))
        (out / "switch_trace.json").write_text(json.dumps(res.switch_trace, indent=1))
        plot_adaptive(res, out / "adaptive.png")
    return res


def plot_adaptive(res: AdaptiveResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(9.5, 3.6))
    e8 = res.all8.energy_pj
    a.plot([p.energy_pj / e8 * 100 for p in res.points], [100 * p.test_acc for p in res.points], "-o",
           label="NSGA-II front (test)")
    a.plot([100], [100 * res.all8.test_acc], "k*", ms=10, label="all 8-bit")
    a.set_xlabel("energy per inference (% of all-8-bit)")
    a.set_ylabel("accuracy (%)")
    a.grid(alpha=0.3)
    a.legend(fontsize=8)
    t = [s["t"] for s in res.switch_trace]
    b.plot(t, [s["trigger"] for s in res.switch_trace], color="0.6", label=f"trigger ({res.trace_mode})")
    b.step(t, [s["energy_pj"] / e8 for s in res.switch_trace], where="post", label="energy / all-8-bit")
    b.set_xlabel("time step")
    b.set_ylim(0, 1.1)
    b.legend(fontsize=8)
    b.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
