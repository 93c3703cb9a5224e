"""Thermal engine speed: steady state at 128×128 (target ≤ 2 s) and 1,000 transient steps at
64×64 (target ≤ 10 s), default HotSpot stack, 16 mm die. Prints the ratio to HotSpot's own
solver when a `hotspot` binary is on PATH (not packaged for Debian, so usually absent)."""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flow.engines.thermal import KELVIN, ThermalConfig, build_model  # noqa: E402


def hotspot_map(n: int) -> np.ndarray:
    """A 50 W map with a 4× hotter core quadrant (non-uniform, like a CPU floorplan)."""
    p = np.ones((n, n))
    p[n // 2:, : n // 2] *= 4.0
    return p / p.sum() * 50.0


def main() -> int:
    die = 16e-3
    t0 = time.perf_counter()
    model = build_model(die, die, ThermalConfig(grid_rows=128, grid_cols=128))
    T = model.steady(hotspot_map(128))
    steady_s = time.perf_counter() - t0
    print(f"steady 128x128: {steady_s:.2f} s (build + factorise + solve, {model.n_nodes} nodes), "
          f"peak {model.die_map(T).max() - KELVIN:.2f} °C, heat out {model.heat_out(T):.6f} W of 50 W "
          f"-> {'OK' if steady_s <= 2.0 else 'MISSED'} (target <= 2 s)")
    m64 = build_model(die, die, ThermalConfig(grid_rows=64, grid_cols=64))
    steps = np.repeat(hotspot_map(64)[None], 1000, axis=0)
    t0 = time.perf_counter()
    out = m64.transient(steps, 1e-3, method="cn")
    tr_s = time.perf_counter() - t0
    print(f"transient 64x64, 1000 CN steps: {tr_s:.2f} s ({tr_s:.2f} ms per step), peak after 1 s "
          f"{out[-1].max() - KELVIN:.2f} °C -> {'OK' if tr_s <= 10.0 else 'MISSED'} (target <= 10 s)")
    if shutil.which("hotspot") is None:
        print("HotSpot: not on PATH, no ratio printed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
