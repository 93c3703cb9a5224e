"""Placement scaling: synthetic netlists with locality from 1k to 100k cells.

Cells sit on a hidden 2-D lattice; each net joins a cell with 1–4 neighbours within a small
window (a circuit-like Rent structure), plus I/O pins on the boundary. For both global placers
(electrostatic `flow.engines.eplace`, quadratic `flow.engines.place.global_place`), each followed by
legalisation and detailed placement (two move passes, one swap pass; compiled, `place_kernels`),
prints wall time (global, total) and CPU time (`time.process_time`, the fair figure on a shared
machine), HPWL per cell, the hidden lattice's legalised HPWL and the ratio to it, whether the
result is legal (`check_legal`), and the fitted growth exponent. `--repeat N` keeps the best of N
runs (by total wall time). Targets (issue 17): 100k cells ≤ 60 s on 2 cores, HPWL ≤ 1.1x the
lattice.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flow.engines import eplace as ep  # noqa: E402
from flow.engines import place as pl  # noqa: E402
from flow.engines.place import PlaceProblem  # noqa: E402


def synthetic(n: int, seed: int = 0) -> PlaceProblem:
    rng = np.random.default_rng(seed)
    side = int(math.ceil(math.sqrt(n)))
    gx, gy = np.arange(n) % side, np.arange(n) // side
    pos = {(int(a), int(b)): i for i, (a, b) in enumerate(zip(gx, gy, strict=True))}
    ptr, pins = [0], []
    for i in range(n):
        members = [i]
        for _ in range(int(rng.integers(1, 5))):
            j = pos.get((int(gx[i] + rng.integers(-2, 3)), int(gy[i] + rng.integers(-2, 3))))
            if j is not None and j not in members:
                members.append(j)
        if len(members) > 1:
            pins += members
            ptr.append(len(pins))
    n_io = max(8, int(4 * math.sqrt(n) / 4))
    sw, rh = 0.19e-6, 1.4e-6
    w = rng.integers(2, 8, n) * sw
    h = np.full(n, rh)
    area = float(np.sum(w * h)) / 0.6
    edge = math.sqrt(area)
    core = (0.0, 0.0, math.ceil(edge / sw) * sw, math.ceil(edge / rh) * rh)
    t = np.linspace(0, 1, n_io, endpoint=False)
    fx = np.where(t < 0.5, t * 2 * core[2], core[2])
    fy = np.where(t < 0.5, 0.0, (t - 0.5) * 2 * core[3])
    for k in range(n_io):  # each I/O pin drives a net to a boundary-near cell
        pins += [-(k + 1), int(rng.integers(0, n))]
        ptr.append(len(pins))
    return PlaceProblem(w, h, np.array(ptr), np.array(pins), fx, fy, core, rh, sw)


def lattice_hpwl(prob: PlaceProblem, n: int) -> float:
    """HPWL of the hidden lattice the netlist was built on, scaled to the core and legalised:
    a known good placement to measure the placer against."""
    side = int(math.ceil(math.sqrt(n)))
    gx, gy = np.arange(n) % side, np.arange(n) // side
    x0, y0, x1, y1 = prob.core
    lx, ly = pl.legalize(prob, x0 + (gx + 0.5) / side * (x1 - x0), y0 + (gy + 0.5) / side * (y1 - y0))
    return pl.hpwl(prob, lx + prob.w / 2, ly + prob.h / 2)


def run_placer(prob: PlaceProblem, algorithm: str) -> tuple[float, float, float, float, float, bool]:
    """(global wall s, global CPU s, total wall s, total CPU s, HPWL m, legal) of one global placer
    followed by legalisation and detailed placement."""
    t0, c0 = time.perf_counter(), time.process_time()
    if algorithm == "nesterov":
        cx, cy, _ = ep.eplace(prob, density=0.7)
    else:
        cx, cy = pl.global_place(prob, density=0.7)
    t_g, c_g = time.perf_counter() - t0, time.process_time() - c0
    lx, ly = pl.legalize(prob, cx, cy)
    lx, ly, _ = pl.detailed_move(prob, lx, ly, passes=2)
    lx, ly, _ = pl.detailed_swap(prob, lx, ly, passes=1)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    ok = all(v == 0 for v in pl.check_legal(prob, lx, ly).values())
    return t_g, c_g, wall, cpu, pl.hpwl(prob, lx + prob.w / 2, ly + prob.h / 2), ok


def main() -> int:
    """Usage: bench_place.py [sizes...] [--only nesterov|quadratic] [--repeat N]."""
    args = sys.argv[1:]
    algos = ["nesterov", "quadratic"]
    repeat = 1
    if "--only" in args:
        k = args.index("--only")
        algos = [args[k + 1]]
        args = args[:k] + args[k + 2:]
    if "--repeat" in args:
        k = args.index("--repeat")
        repeat = max(1, int(args[k + 1]))
        args = args[:k] + args[k + 2:]
    sizes = [int(a) for a in args] or [1000, 3000, 10000, 30000, 100000]
    rows: dict[str, list[tuple[int, float]]] = {a: [] for a in algos}
    print(f"{'cells':>8} {'placer':>10} {'global wall s':>14} {'global CPU s':>13} {'total wall s':>13} "
          f"{'total CPU s':>12} "
          f"{'HPWL/cell um':>13} {'lattice ref':>12} {'ratio':>6} {'legal':>6}")
    for n in sizes:
        prob = synthetic(n)
        ref = lattice_hpwl(prob, n) / n * 1e6
        for algo in algos:
            t_g, c_g, wall, cpu, hp, ok = min((run_placer(prob, algo) for _ in range(repeat)), key=lambda r: r[2])
            hp = hp / n * 1e6
            rows[algo].append((n, cpu))
            print(f"{n:>8} {algo:>10} {t_g:>14.2f} {c_g:>13.2f} {wall:>13.2f} {cpu:>12.2f} {hp:>13.2f} {ref:>12.2f} "
                  f"{hp / ref:>6.3f} {str(ok):>6}", flush=True)
    for algo in algos:
        r = rows[algo]
        if len(r) >= 2:
            slope = np.polyfit(np.log([a for a, _ in r]), np.log([b for _, b in r]), 1)[0]
            print(f"{algo}: CPU time (global + legal + detailed) ~ n^{slope:.2f}; largest ({r[-1][0]} cells): "
                  f"{r[-1][1]:.1f} s CPU (target at 100k: <= 60 s on 2 cores, HPWL <= 1.1x the lattice)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
