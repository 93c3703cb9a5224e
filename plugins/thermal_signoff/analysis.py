"""Thermal analyses the stage and the CLI share: block floorplans and placed designs."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from flow.engines.thermal import (
    KELVIN,
    ThermalConfig,
    build_model,
    leakage_temperature_loop,
    max_gradient_c_per_mm,
    rasterize_blocks,
)
from flow.errors import ConfigError
from flow.formats.hotspot import Floorplan, read_config


def parse_grid(text: str) -> tuple[int, int]:
    try:
        rows, cols = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ConfigError(f"grid {text!r}: expected ROWSxCOLS, e.g. 64x64") from None
    if rows < 1 or cols < 1 or rows * cols > 1024 * 1024:
        raise ConfigError(f"grid {text!r}: rows and cols must be >= 1 (and the grid at most 1M cells)")
    return rows, cols


def config_from(grid: str, overrides: dict[str, Any] | None = None, config_file: Path | None = None,
                ambient_c: float | None = None) -> ThermalConfig:
    """ThermalConfig from a HotSpot .config file, then explicit overrides (HotSpot names)."""
    rows, cols = parse_grid(grid)
    kw: dict[str, Any] = {}
    if config_file is not None:
        fields = set(ThermalConfig.__dataclass_fields__)
        kw.update({k: float(v) for k, v in read_config(config_file).items() if k in fields and not isinstance(v, str)})
    kw.update(overrides or {})
    kw.update(grid_rows=rows, grid_cols=cols)
    if ambient_c is not None:
        kw["ambient"] = ambient_c + KELVIN
    for k in ("grid_rows", "grid_cols", "periphery_cells"):
        if k in kw:
            kw[k] = int(kw[k])
    return ThermalConfig().with_overrides(**kw).validated()


def block_weights(fp: Floorplan, die: tuple[float, float, float, float], rows: int, cols: int) -> np.ndarray:
    """(units, rows*cols) overlap fractions: block temperature = weighted average of its cells."""
    w = np.stack([rasterize_blocks(np.array([u.rect]), np.array([1.0]), die, rows, cols).ravel() for u in fp.units])
    return w / w.sum(axis=1, keepdims=True)


@dataclass
class FloorplanResult:
    names: list[str]
    block_k: np.ndarray  # (units,) steady, or (steps, units) transient
    die_map_k: np.ndarray  # steady map, or the last transient map
    heat_out_w: float
    power_w: float
    times_s: np.ndarray | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def solve_floorplan(fp: Floorplan, names: list[str], powers: np.ndarray, cfg: ThermalConfig,
                    transient: bool = False, dt: float = 3.333e-6, method: str = "cn") -> FloorplanResult:
    """HotSpot-equivalent run on a block floorplan: steady uses the trace's mean power (as
    HotSpot's steady solution does); transient steps through the rows, `dt` seconds each."""
    order = [names.index(u.name) for u in fp.units]
    p = np.atleast_2d(powers)[:, order]
    die = fp.bbox()
    model = build_model(die[2] - die[0], die[3] - die[1], cfg)
    rects = fp.rects()
    weights = block_weights(fp, die, cfg.grid_rows, cfg.grid_cols)
    unit_names = fp.names
    if not transient:
        pmap = rasterize_blocks(rects, p.mean(axis=0), die, cfg.grid_rows, cfg.grid_cols)
        T = model.steady(pmap)
        dmap = model.die_map(T)
        return FloorplanResult(unit_names, weights @ dmap.ravel(), dmap, model.heat_out(T), float(pmap.sum()))
    maps = np.stack([rasterize_blocks(rects, row, die, cfg.grid_rows, cfg.grid_cols) for row in p])
    # start from the steady state of the first row, as HotSpot does with an init file
    T0 = model.steady(maps[0])
    out = model.transient(maps, dt, T0=T0, method=method)
    blocks = out.reshape(len(out), -1) @ weights.T
    return FloorplanResult(unit_names, blocks, out[-1], float("nan"), float(maps[-1].sum()),
                           times_s=dt * np.arange(1, len(out) + 1))


@dataclass
class PlacedResult:
    die_map_k: np.ndarray
    power_map_w: np.ndarray
    die: tuple[float, float, float, float]
    iterations: int
    converged: bool
    runaway: bool
    leakage_w: float
    heat_out_w: float
    beta: float
    step_times_s: np.ndarray | None = None
    step_max_k: np.ndarray | None = None

    def metrics(self) -> dict[str, float]:
        m = self.die_map_k - KELVIN
        r, c = np.unravel_index(int(np.argmax(m)), m.shape)
        rows, cols = m.shape
        x0, y0, x1, y1 = self.die
        return {
            "thermal__max_c": round(float(m.max()), 4),
            "thermal__mean_c": round(float(m.mean()), 4),
            "thermal__min_c": round(float(m.min()), 4),
            "thermal__gradient_max_c_per_mm": round(max_gradient_c_per_mm(self.die_map_k, x1 - x0, y1 - y0), 4),
            "thermal__hotspot_x_um": round((x0 + (c + 0.5) * (x1 - x0) / cols) * 1e6, 3),
            "thermal__hotspot_y_um": round((y0 + (r + 0.5) * (y1 - y0) / rows) * 1e6, 3),
            "thermal__leakage_loop_iterations": self.iterations,
            "thermal__runaway": int(self.runaway),
            "thermal__leakage_w": self.leakage_w,
        }


def solve_placed(x: np.ndarray, y: np.ndarray, dyn_w: np.ndarray, leak_w: np.ndarray,
                 die: tuple[float, float, float, float], cfg: ThermalConfig, t_ref_c: float,
                 beta: float, transient_steps: int = 0, transient_dt: float = 0.05) -> PlacedResult:
    """Steady temperature of a placed design with the leakage–temperature fixed point, and
    optionally the power-on transient (ambient start, converged power held) of the hottest cell."""
    from flow.engines.thermal import bin_points

    rows, cols = cfg.grid_rows, cfg.grid_cols
    model = build_model(die[2] - die[0], die[3] - die[1], cfg)
    dyn = bin_points(x, y, dyn_w, die, rows, cols)
    leak = bin_points(x, y, leak_w, die, rows, cols)
    res = leakage_temperature_loop(model, dyn, leak, t_ref_c + KELVIN, beta)
    dmap = model.die_map(res.T)
    times = peaks = None
    if transient_steps > 0:
        pmap = dyn + res.leakage_map
        maps = model.transient(np.repeat(pmap[None], transient_steps, axis=0), transient_dt, method="be")
        times = transient_dt * np.arange(1, transient_steps + 1)
        peaks = maps.reshape(transient_steps, -1).max(axis=1)
    return PlacedResult(dmap, dyn + res.leakage_map, die, res.iterations, res.converged, res.runaway,
                        float(res.leakage_map.sum()), model.heat_out(res.T), beta, times, peaks)


def leakage_beta(corners: dict[str, dict[str, Any]], corner_info: dict[str, tuple[str, float, float]],
                 default: float) -> tuple[float, str]:
    """β (1/K) of leakage ∝ exp(β T) fitted from two corners that differ only in temperature
    (e.g. sky130 tt_025C_1v80 / tt_100C_1v80); else `default`. Returns (β, how)."""
    keyed: dict[tuple[str, float], list[tuple[float, float, str]]] = {}
    for name, doc in corners.items():
        if name not in corner_info:
            continue
        process, volts, temp = corner_info[name]
        leak = sum(g.get("leakage", 0.0) for g in doc.get("groups", {}).values())
        if leak > 0:
            keyed.setdefault((process, round(volts, 3)), []).append((temp, leak, name))
    for pts in keyed.values():
        pts.sort()
        if len(pts) >= 2 and pts[-1][0] > pts[0][0]:
            (t0, l0, n0), (t1, l1, n1) = pts[0], pts[-1]
            return math.log(l1 / l0) / (t1 - t0), f"fitted from corners {n0} and {n1}"
    return default, "assumed (no two corners differing only in temperature)"
