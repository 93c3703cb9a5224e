"""Thermal analyses the stage and the CLI share: block floorplans and placed designs."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from flow.engines.thermal import (
    C_FACTOR,
    KELVIN,
    N_EXTRA,
    ThermalConfig,
    build_block_model,
    build_model,
    graded_steps,
    grid_mapping,
    leakage_temperature_loop,
    max_gradient_c_per_mm,
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


def config_from(grid: str | None = None, overrides: dict[str, Any] | None = None, config_file: Path | None = None,
                ambient_c: float | None = None) -> ThermalConfig:
    """ThermalConfig from HotSpot's defaults, then a HotSpot .config file, then explicit overrides
    (HotSpot names), then `grid` (ROWSxCOLS) and `ambient_c`. Options of the .config we do not
    model (DTM, leakage, package model, file names) are ignored; those that would change the
    answer if ignored are refused."""
    kw: dict[str, Any] = {}
    if config_file is not None:
        fields = set(ThermalConfig.__dataclass_fields__)
        for k, v in read_config(config_file).items():
            if k in fields:
                kw[k] = v
            elif k in UNSUPPORTED_ON and v not in (0, 0.0, "0", "off", "(null)"):
                raise ConfigError(f"{config_file}: -{k} {v} is not supported by vhflow's thermal model")
    kw.update(overrides or {})
    if grid is not None:
        kw["grid_rows"], kw["grid_cols"] = parse_grid(grid)
    if ambient_c is not None:
        kw["ambient"] = ambient_c + KELVIN
    return ThermalConfig().with_overrides(**kw).validated()


# .config options that change HotSpot's answer: refused unless off. (-detailed_3D,
# -use_microchannels and -materials_file are HotSpot's command-line-only options: in a .config,
# e.g. one `hotspot -d` dumped, HotSpot ignores them, and so do we.)
UNSUPPORTED_ON = ("leakage_used", "package_model_used", "dtm_used", "grid_layer_file", "material_chip",
                  "material_sink", "material_spreader", "material_interface")


@dataclass
class FloorplanResult:
    """A HotSpot-equivalent run: steady state of the mean power, and the transient if asked.

    `steady_layers_k` is (4, units): die, interface, spreader, sink block temperatures (as in
    HotSpot's `-steady_file`), `steady_inodes_k` the 12 periphery nodes; `trace_k` (steps, units)
    holds the die block temperatures after each `sampling_intvl` (HotSpot's `-o` trace)."""

    names: list[str]
    model_type: str
    steady_layers_k: np.ndarray
    steady_inodes_k: np.ndarray
    die_map_k: np.ndarray | None  # grid model: steady die map (rows, cols), row 0 at the bottom
    heat_out_w: float
    power_w: float
    trace_k: np.ndarray | None = None
    times_s: np.ndarray | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def block_k(self) -> np.ndarray:
        return self.steady_layers_k[0]


FIRST_ROW_FINER = 6  # the first row starts 1.5⁶ ≈ 11× finer (see row_steps)


def die_rc_time(cfg: ThermalConfig) -> float:
    """The die's vertical RC time τ = C_die·(R_die + R_tim) per unit area (s), ≈ 0.5 ms with
    HotSpot's template.config: the fastest mode a power change excites that matters on the die."""
    return C_FACTOR * cfg.p_chip * cfg.t_chip * (cfg.t_chip / cfg.k_chip + cfg.t_interface / cfg.k_interface)


def row_steps(cfg: ThermalConfig, first: bool = False, level: int = 0) -> list[float]:
    """TR-BDF2 steps over one sampling interval: τ/2 first, then ×1.5 each (graded_steps) — after a
    power change the fast die modes decay first. Measured against HotSpot's RK4 on a 32×32
    grid: 0.011 K at 10 ms rows (8 steps; uniform τ/2 steps, 40 of them: 0.005 K), 0.06 K at
    1 ms, 0.05 K at 0.1 ms; uniform steps of τ drift to 0.13 K, of 2τ to 1.1 K. L-stable, so
    the faster modes (the TIM's ~0.1 µs) are damped, not resolved, at no cost. The first row
    (`first`) starts FIRST_ROW_FINER rungs lower on the same ladder: it takes the whole power
    step from the init state (the later rows only the trace's changes); on the 32×32 slices
    floorplan at 1 ms rows from a uniform init_temp the first row's error is 0.090 K with the
    regular ladder, 0.052 K 4 rungs lower, 0.041 K 6 rungs lower (the later rows' 0.040 K).

    `level` ≥ 1: the same ladder with every step at most min(τ/2, row) / 2ᴸ, for the error
    control of rough states (`ROUGH_TOL_K`)."""
    dt, h0 = cfg.sampling_intvl, die_rc_time(cfg) / 2
    if level > 0:
        h0 = min(h0, dt) / 2 ** level
        return graded_steps(dt, h0, 1.5, -FIRST_ROW_FINER if first else 0, h_max=h0)
    return graded_steps(dt, h0, 1.5, -FIRST_ROW_FINER if first else 0)


# Rough states (an init file's block-wise temperatures; HotSpot's 0 K start of cells no unit
# covers) excite lateral die modes faster than the die's vertical RC time that `row_steps` is
# graded on: each row is then integrated at two levels of `row_steps` and refined until the two
# agree to ROUGH_TOL_K on every die cell (the finer one is kept: its error is ~1/10 of that).
# Found by the stranger-floorplan hunt (tests/thermal/hotspot_cases.py, seed 39: dead space,
# init_temp, 0.35 ms rows): 0.49 K from HotSpot with fixed steps, 0.04 K with the control.
ROUGH_TOL_K = 0.02
ROUGH_MAX_LEVEL = 6


def solve_floorplan(fp: Floorplan, names: list[str], powers: np.ndarray, cfg: ThermalConfig,
                    transient: bool = False, init: tuple[np.ndarray, np.ndarray] | None = None,
                    substeps: int | None = None, steps: list[float] | None = None) -> FloorplanResult:
    """Run HotSpot 6's `hotspot` semantics on a block floorplan with `cfg.model_type`.

    Steady state uses the mean power of the trace rows (HotSpot's `overall_power`). The transient
    steps through the rows, `cfg.sampling_intvl` seconds each, from `init` = (layers (4, units),
    inodes (12,)) K — a `-init_file`, e.g. a previous run's `-steady_file` — or else every node
    at `cfg.init_temp`; in the grid model the first step maps those block temperatures onto the
    grid cells by occupancy (HotSpot's `xlate_vector_b2g`), later steps carry the full grid.
    Integration: the block model's exact propagator per row, the grid model's TR-BDF2 over
    `row_steps` (under step-size control from a rough start: an init file, or dead space,
    whose cells HotSpot starts at 0 K; see ROUGH_TOL_K); `steps` / `substeps` impose TR-BDF2
    steps on both (for comparisons)."""
    order = [names.index(u.name) for u in fp.units]
    p = np.atleast_2d(powers)[:, order]
    rects = fp.rects_at_origin()
    width, height = float(rects[:, 2].max()), float(rects[:, 3].max())
    nu = len(fp.units)
    mean_p = p.mean(axis=0)
    init_given = init is not None
    if init is None:
        init = (np.full((4, nu), cfg.init_temp), np.full(N_EXTRA, cfg.init_temp))
    dt = cfg.sampling_intvl
    explicit_steps = steps is not None or bool(substeps)  # a caller's own integration steps
    if steps is None:
        steps = [dt / substeps] * substeps if substeps else row_steps(cfg)
    trace = times = None
    if cfg.model_type == "block":
        bm = build_block_model(rects, cfg)
        T = bm.steady_nodes(bm.node_power(mean_p))
        layers, inodes = T[: 4 * nu].reshape(4, nu), T[4 * nu:]
        if transient:
            Tt = np.concatenate([init[0].ravel(), init[1]])
            trace = np.empty((len(p), nu))
            exact = bm.exact_transient and not explicit_steps
            if not exact and not explicit_steps:  # TR-BDF2 in uniform τ/2 steps (a few hundred nodes)
                n_sub = math.ceil(dt / (die_rc_time(cfg) / 2))
                steps = [dt / n_sub] * n_sub
            for i, row in enumerate(p):
                Tt = bm.propagate(Tt, bm.node_power(row), dt) if exact else bm.integrate_steps(Tt, bm.node_power(row), steps)
                trace[i] = Tt[:nu]
            times = dt * np.arange(1, len(p) + 1)
        return FloorplanResult(fp.names, "block", layers, inodes, None, bm.heat_out(T), float(mean_p.sum()),
                               trace, times)
    model = build_model(width, height, cfg)
    mapping = grid_mapping(rects, cfg.grid_rows, cfg.grid_cols)
    cell_area = width * height / model.cells
    T = model.steady(mapping.power(mean_p, cell_area))
    layers = np.stack([mapping.block_temps(model.layer_map(T, li), cfg.grid_map_mode) for li in range(4)])
    inodes = T[4 * model.cells:]
    if transient:
        Tt = np.concatenate([mapping.temps_to_grid(init[0][li]).ravel() for li in range(4)] + [init[1]])
        trace = np.empty((len(p), nu))

        def record(i: int, die_k: np.ndarray) -> None:
            trace[i] = mapping.block_temps(die_k, cfg.grid_map_mode)

        rough = init_given or bool(np.any(mapping.occ.sum(axis=1) < 1.0 - 1e-9))
        control = None
        if rough and not explicit_steps:
            control = (lambda i, level: row_steps(cfg, first=i == 0, level=level), ROUGH_TOL_K, ROUGH_MAX_LEVEL)
        first = None if explicit_steps else row_steps(cfg, first=True)
        model.integrate_rows(Tt, (mapping.power(row, cell_area) for row in p), steps, first, record, control=control)
        times = dt * np.arange(1, len(p) + 1)
    return FloorplanResult(fp.names, "grid", layers, inodes, model.die_map(T), model.heat_out(T),
                           float(mean_p.sum()), trace, times)


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
        # backward Euler: steps of ~1 s are far above the die's 0.5 ms, and BE keeps the
        # power-on curve monotone (TR-BDF2's trapezoid stage can overshoot at such steps)
        maps = model.transient(np.repeat(pmap[None], transient_steps, axis=0), transient_dt,
                               T0=np.full(model.n_nodes, cfg.ambient), method="be", substeps=1)
        times = transient_dt * np.arange(1, transient_steps + 1)
        peaks = maps.reshape(transient_steps, -1).max(axis=1)
    return PlacedResult(dmap, dyn + res.leakage_map, die, res.iterations, res.converged, res.runaway,
                        float(res.leakage_map.sum()), model.heat_out(res.T), beta, times, peaks)


def limit_metrics(metrics: dict[str, float], limit_c: float) -> dict[str, float]:
    """The sign-off verdict as metrics: the limit used and whether the peak is above it.
    `flow.violations` (the runner's `completed_with_violations`) reads thermal__max_c,
    thermal__limit_c and thermal__runaway; thermal__above_limit spares other readers the compare."""
    return {"thermal__limit_c": limit_c, "thermal__above_limit": int(metrics["thermal__max_c"] > limit_c)}


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
