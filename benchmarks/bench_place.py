"""Placement scaling: synthetic netlists with locality from 1k to 100k cells.

Cells sit on a hidden 2-D lattice; each net joins a cell with 1–4 neighbours within a small
window (a circuit-like Rent structure), plus I/O pins on the boundary. Prints time for global
placement + legalisation, then detailed placement (two move passes, one swap pass), HPWL per cell, and the fitted
growth exponent of the time (target: about n log n, 100k cells ≤ 3 min on 2 cores).
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

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


def main() -> int:
    sizes = [1000, 3000, 10000, 30000, 100000]
    rows = []
    print(f"{'cells':>8} {'global+legal s':>15} {'detailed s':>11} {'HPWL/cell um':>13} {'lattice ref':>12} "
          f"{'legal':>6}")
    for n in sizes:
        prob = synthetic(n)
        t0 = time.perf_counter()
        cx, cy = pl.global_place(prob, density=0.7)
        lx, ly = pl.legalize(prob, cx, cy)
        t_gl = time.perf_counter() - t0
        t0 = time.perf_counter()
        lx, ly, _ = pl.detailed_move(prob, lx, ly, passes=2)
        lx, ly, _ = pl.detailed_swap(prob, lx, ly, passes=1)
        t_dp = time.perf_counter() - t0
        legal = pl.check_legal(prob, lx, ly)
        ok = all(v == 0 for v in legal.values())
        hp = pl.hpwl(prob, lx + prob.w / 2, ly + prob.h / 2) / n * 1e6
        ref = lattice_hpwl(prob, n) / n * 1e6
        rows.append((n, t_gl + t_dp))
        print(f"{n:>8} {t_gl:>15.2f} {t_dp:>11.2f} {hp:>13.2f} {ref:>12.2f} {str(ok):>6}", flush=True)
    ns = np.log([r[0] for r in rows])
    ts = np.log([r[1] for r in rows])
    slope = np.polyfit(ns, ts, 1)[0]
    print(f"time (global + legal + detailed) ~ n^{slope:.2f} (n log n over this range ~ n^1.1); "
          f"100k cells: {rows[-1][1]:.1f} s "
          f"-> {'OK' if rows[-1][1] <= 180 else 'MISSED'} (target <= 180 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
