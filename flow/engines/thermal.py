"""Compact thermal model in the style of HotSpot's grid model (steady state and transient).

The package is a stack of layers — silicon die, thermal interface material (TIM), heat spreader,
heat sink — each a slab of thickness `t`, conductivity `k` and volumetric heat capacity `c_v`,
with a convection resistance `r_convec` (K/W) from the sink to ambient. HotSpot grids the die and
lumps the spreader/sink periphery into a few nodes; we instead use one *non-uniform rectilinear
grid* for all layers: the die footprint is split into rows × cols equal cells, and the periphery
out to the spreader and sink edges into geometrically growing cells. Die and TIM occupy the
die-footprint cells, the spreader the cells inside its square, the sink all of them. This is a
plain finite-volume discretisation (conductance between neighbours = series of the two half
cells; vertical conductance between layers = series of the half thicknesses), so it converges to
the continuum solution when refined (tested), and conserves energy exactly.

Power is injected in the die layer. Steady state solves G·T = P + G_amb·T_amb with a sparse LU
(factorised once, reused by the leakage loop); transients use backward Euler or Crank–Nicolson
with a constant step (factorised once). Parameters use HotSpot's names and defaults (HotSpot 6
`hotspot.config`), SI units; temperatures are kelvin inside, reported in °C by callers.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from flow.errors import ConfigError

KELVIN = 273.15


@dataclass(frozen=True)
class ThermalConfig:
    """HotSpot parameters (same names and defaults as HotSpot 6's hotspot.config)."""

    t_chip: float = 0.15e-3  # die thickness (m)
    k_chip: float = 100.0  # W/(m K)
    p_chip: float = 1.75e6  # volumetric heat capacity J/(m^3 K)
    t_interface: float = 20e-6
    k_interface: float = 4.0
    p_interface: float = 4.0e6
    s_spreader: float = 0.03  # side of the (square) spreader (m)
    t_spreader: float = 1e-3
    k_spreader: float = 400.0
    p_spreader: float = 3.55e6
    s_sink: float = 0.06
    t_sink: float = 6.9e-3
    k_sink: float = 400.0
    p_sink: float = 3.55e6
    r_convec: float = 0.1  # K/W, sink to ambient
    c_convec: float = 140.4  # J/K, lumped capacity of the convection boundary (on the sink)
    ambient: float = 318.15  # K
    grid_rows: int = 64
    grid_cols: int = 64
    periphery_cells: int = 6  # per side, per ring (spreader ring, sink ring)

    def validated(self) -> ThermalConfig:
        for name in ("t_chip", "k_chip", "t_interface", "k_interface", "t_spreader", "k_spreader",
                     "t_sink", "k_sink", "r_convec", "s_spreader", "s_sink"):
            v = getattr(self, name)
            if not (v > 0 and math.isfinite(v)):
                raise ConfigError(f"thermal parameter {name} = {v}: must be positive")
        for name in ("p_chip", "p_interface", "p_spreader", "p_sink", "c_convec"):
            if getattr(self, name) < 0:
                raise ConfigError(f"thermal parameter {name}: must not be negative")
        if self.grid_rows < 1 or self.grid_cols < 1:
            raise ConfigError("thermal grid must have at least 1 row and 1 column")
        if self.s_sink < self.s_spreader:
            raise ConfigError("s_sink must not be smaller than s_spreader")
        return self

    def with_overrides(self, **kw: float) -> ThermalConfig:
        unknown = set(kw) - set(self.__dataclass_fields__)
        if unknown:
            raise ConfigError(f"unknown thermal parameter(s): {', '.join(sorted(unknown))}")
        return replace(self, **kw)


@dataclass(frozen=True)
class Layer:
    """A slab covering the cells whose centres lie within `half_side` of the die centre
    (None: the die footprint)."""

    name: str
    thickness: float
    k: float
    c_v: float
    half_side: float | None = None


def hotspot_stack(cfg: ThermalConfig) -> list[Layer]:
    return [
        Layer("die", cfg.t_chip, cfg.k_chip, cfg.p_chip),
        Layer("tim", cfg.t_interface, cfg.k_interface, cfg.p_interface),
        Layer("spreader", cfg.t_spreader, cfg.k_spreader, cfg.p_spreader, cfg.s_spreader / 2),
        Layer("sink", cfg.t_sink, cfg.k_sink, cfg.p_sink, cfg.s_sink / 2),
    ]


def _axis(die: float, n: int, half_spreader: float | None, half_sink: float | None, m: int) -> np.ndarray:
    """Cell edges along one axis, centred on the die: n equal die cells, then m growing cells
    per side out to the spreader edge and m more out to the sink edge."""
    edges = list(np.linspace(-die / 2, die / 2, n + 1))
    inner = die / 2
    for half in (half_spreader, half_sink):
        if half is None or half <= inner * (1 + 1e-12):
            continue
        w0 = die / n
        span = half - inner
        # geometric growth from about one die cell to fill `span` in m cells
        ratio = _growth(w0, span, m)
        widths = w0 * ratio ** np.arange(m)
        widths *= span / widths.sum()
        ring = inner + np.cumsum(widths)
        edges = [-e for e in ring[::-1]] + edges + list(ring)
        inner = half
    return np.array(sorted(set(np.round(edges, 15))))


def _growth(w0: float, span: float, m: int) -> float:
    if span <= w0 * m:
        return 1.0
    lo, hi = 1.0, 10.0
    for _ in range(80):
        mid = (lo + hi) / 2
        if w0 * (mid**m - 1) / (mid - 1) < span:
            lo = mid
        else:
            hi = mid
    return hi


@dataclass
class ThermalModel:
    """An assembled network: conductance matrix, capacities, node bookkeeping per layer."""

    cfg: ThermalConfig
    layers: list[Layer]
    die_w: float
    die_h: float
    x_edges: np.ndarray
    y_edges: np.ndarray
    G: sp.csc_matrix
    g_amb: np.ndarray  # conductance of each node to ambient
    C: np.ndarray  # heat capacity per node (J/K)
    layer_nodes: list[np.ndarray]  # per layer: node index per (row, col) of the full grid, -1 absent
    die_rows: slice = field(default_factory=lambda: slice(0))
    die_cols: slice = field(default_factory=lambda: slice(0))
    _lu: Callable[[np.ndarray], np.ndarray] | None = None

    @property
    def n_nodes(self) -> int:
        return self.G.shape[0]

    def die_index(self) -> np.ndarray:
        """Node indices of the die grid, shape (grid_rows, grid_cols) (row 0 at the bottom)."""
        return self.layer_nodes[0][self.die_rows, self.die_cols]

    # ---- solves ------------------------------------------------------------------------------
    def steady(self, die_power: np.ndarray) -> np.ndarray:
        """Node temperatures (K) for a die power map (W per die cell, shape rows×cols)."""
        rhs = self._rhs(die_power)
        if self._lu is None:
            self._lu = _factorize(self.G)
        return self._lu(rhs)

    def _rhs(self, die_power: np.ndarray) -> np.ndarray:
        p = np.asarray(die_power, dtype=float)
        if p.shape != (self.cfg.grid_rows, self.cfg.grid_cols):
            raise ConfigError(f"power map shape {p.shape} != grid {(self.cfg.grid_rows, self.cfg.grid_cols)}")
        if np.any(p < 0) or not np.all(np.isfinite(p)):
            raise ConfigError("power map has negative or non-finite values")
        rhs = self.g_amb * self.cfg.ambient
        rhs[self.die_index().ravel()] += p.ravel()
        return rhs

    def heat_out(self, T: np.ndarray) -> float:
        """Heat flowing to ambient (W) at node temperatures T."""
        return float(np.sum(self.g_amb * (T - self.cfg.ambient)))

    def die_map(self, T: np.ndarray) -> np.ndarray:
        return T[self.die_index()]

    def transient(
        self,
        power_steps: np.ndarray,
        dt: float,
        T0: np.ndarray | None = None,
        method: str = "cn",
        substeps: int = 1,
        on_step: Callable[[int, np.ndarray], None] | None = None,
    ) -> np.ndarray:
        """Integrate with constant step; `power_steps` is (steps, rows, cols) W, held over each step
        (split in `substeps`). Returns die maps per step (steps, rows, cols) in K. Factorises once."""
        if dt <= 0:
            raise ConfigError("transient time step must be positive")
        h = dt / substeps
        Cd = sp.diags(self.C / h)
        theta = {"be": 1.0, "cn": 0.5}.get(method)
        if theta is None:
            raise ConfigError(f"unknown transient method {method!r} (be, cn)")
        A = (Cd + theta * self.G).tocsc()
        B = (Cd - (1 - theta) * self.G).tocsr()
        solve = _factorize(A)
        T = np.full(self.n_nodes, self.cfg.ambient) if T0 is None else np.array(T0, dtype=float)
        out = np.empty((len(power_steps), self.cfg.grid_rows, self.cfg.grid_cols))
        for i, pmap in enumerate(power_steps):
            rhs_p = self._rhs(pmap)
            for _ in range(substeps):
                T = solve(B @ T + rhs_p)
            out[i] = self.die_map(T)
            if on_step is not None:
                on_step(i, T)
        return out


def _factorize(A: sp.spmatrix) -> Callable[[np.ndarray], np.ndarray]:
    """Sparse LU with a symmetric minimum-degree ordering: the matrices are symmetric, and
    MMD on AᵀA+A halves the fill (and the time per solve) against SuperLU's default COLAMD."""
    return spla.splu(sp.csc_matrix(A), permc_spec="MMD_AT_PLUS_A").solve


def build_model(die_w: float, die_h: float, cfg: ThermalConfig | None = None,
                layers: list[Layer] | None = None) -> ThermalModel:
    """Assemble the conductance network for a die of die_w × die_h metres."""
    cfg = (cfg or ThermalConfig()).validated()
    if die_w <= 0 or die_h <= 0:
        raise ConfigError(f"die size {die_w} x {die_h} m: must be positive")
    layers = layers or hotspot_stack(cfg)
    halves = sorted({ly.half_side for ly in layers if ly.half_side is not None})
    hs = halves[0] if len(halves) >= 1 else None
    hk = halves[-1] if len(halves) >= 2 else None
    m = cfg.periphery_cells
    xe = _axis(die_w, cfg.grid_cols, hs, hk, m)
    ye = _axis(die_h, cfg.grid_rows, hs, hk, m)
    nx, ny = len(xe) - 1, len(ye) - 1
    dx, dy = np.diff(xe), np.diff(ye)
    xc, yc = (xe[:-1] + xe[1:]) / 2, (ye[:-1] + ye[1:]) / 2
    eps = 1e-12
    in_die = (np.abs(yc)[:, None] < die_h / 2 + eps) & (np.abs(xc)[None, :] < die_w / 2 + eps)
    col0 = int(np.argmin(np.abs(xe - (-die_w / 2))))
    row0 = int(np.argmin(np.abs(ye - (-die_h / 2))))

    layer_nodes: list[np.ndarray] = []
    n = 0
    masks = []
    for ly in layers:
        if ly.half_side is None:
            mask = in_die
        else:
            mask = (np.abs(yc)[:, None] < ly.half_side + eps) & (np.abs(xc)[None, :] < ly.half_side + eps)
        idx = np.full((ny, nx), -1, dtype=np.int64)
        cnt = int(mask.sum())
        idx[mask] = np.arange(n, n + cnt)
        n += cnt
        layer_nodes.append(idx)
        masks.append(mask)

    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    C = np.zeros(n)
    area = dy[:, None] * dx[None, :]

    def couple(a: np.ndarray, b: np.ndarray, g: np.ndarray) -> None:
        rows.extend([a, b, a, b])
        cols.extend([a, b, b, a])
        vals.extend([g, g, -g, -g])

    for li, ly in enumerate(layers):
        idx, mask = layer_nodes[li], masks[li]
        C[idx[mask]] = ly.c_v * ly.thickness * area[mask]
        # lateral x
        both = mask[:, :-1] & mask[:, 1:]
        r, c = np.nonzero(both)
        g = 1.0 / (dx[c] / (2 * ly.k * ly.thickness * dy[r]) + dx[c + 1] / (2 * ly.k * ly.thickness * dy[r]))
        couple(idx[r, c], idx[r, c + 1], g)
        # lateral y
        both = mask[:-1, :] & mask[1:, :]
        r, c = np.nonzero(both)
        g = 1.0 / (dy[r] / (2 * ly.k * ly.thickness * dx[c]) + dy[r + 1] / (2 * ly.k * ly.thickness * dx[c]))
        couple(idx[r, c], idx[r + 1, c], g)
        # vertical to the layer below
        if li + 1 < len(layers):
            lo = layers[li + 1]
            both = mask & masks[li + 1]
            r, c = np.nonzero(both)
            a = area[r, c]
            g = 1.0 / (ly.thickness / (2 * ly.k * a) + lo.thickness / (2 * lo.k * a))
            couple(idx[r, c], layer_nodes[li + 1][r, c], g)

    # convection from the bottom face of the last layer, shared by area (HotSpot: r_convec for
    # the whole sink), in series with the half thickness of that layer
    last = layers[-1]
    mask = masks[-1]
    a = area[mask]
    total = a.sum()
    g_amb = np.zeros(n)
    g_amb[layer_nodes[-1][mask]] = 1.0 / (last.thickness / (2 * last.k * a) + cfg.r_convec * total / a)
    C[layer_nodes[-1][mask]] += cfg.c_convec * a / total
    G = sp.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)).tocsc()
    G = G + sp.diags(g_amb)
    return ThermalModel(cfg, layers, die_w, die_h, xe, ye, G.tocsc(), g_amb, C, layer_nodes,
                        slice(row0, row0 + cfg.grid_rows), slice(col0, col0 + cfg.grid_cols))


# ---- power maps ------------------------------------------------------------------------------
def rasterize_blocks(rects: np.ndarray, powers: np.ndarray, die: tuple[float, float, float, float],
                     rows: int, cols: int) -> np.ndarray:
    """Spread each block's power over the grid by overlap area (uniform density per block).

    `rects` is (k, 4) [x0, y0, x1, y1] in metres; returns a (rows, cols) W map."""
    x0, y0, x1, y1 = die
    xe = np.linspace(x0, x1, cols + 1)
    ye = np.linspace(y0, y1, rows + 1)
    out = np.zeros((rows, cols))
    for (bx0, by0, bx1, by1), p in zip(np.asarray(rects, float), np.asarray(powers, float), strict=True):
        a = (bx1 - bx0) * (by1 - by0)
        if a <= 0 or p == 0:
            continue
        ox = np.clip(np.minimum(xe[1:], bx1) - np.maximum(xe[:-1], bx0), 0, None)
        oy = np.clip(np.minimum(ye[1:], by1) - np.maximum(ye[:-1], by0), 0, None)
        out += p * np.outer(oy, ox) / a
    return out


def bin_points(x: np.ndarray, y: np.ndarray, powers: np.ndarray, die: tuple[float, float, float, float],
               rows: int, cols: int) -> np.ndarray:
    """Per-instance power at cell centres binned into the grid (cells are far smaller than bins)."""
    x0, y0, x1, y1 = die
    h, _, _ = np.histogram2d(y, x, bins=[rows, cols], range=[[y0, y1], [x0, x1]], weights=powers)
    return h


# ---- leakage–temperature loop ----------------------------------------------------------------
@dataclass
class LeakageLoopResult:
    T: np.ndarray
    leakage_map: np.ndarray
    iterations: int
    converged: bool
    runaway: bool
    history: list[float]


def leakage_temperature_loop(model: ThermalModel, dynamic_map: np.ndarray, leakage_map_ref: np.ndarray,
                             t_ref_k: float, beta: float, tol_k: float = 0.01, max_iter: int = 50,
                             t_max_k: float = KELVIN + 300.0) -> LeakageLoopResult:
    """Fixed point of T = solve(P_dyn + P_leak(T)), P_leak = P_ref·exp(β (T − T_ref)) per cell.

    Runaway (the loop gain exceeds one: temperatures grow without a fixed point, or pass
    `t_max_k`) is detected and reported instead of looping forever."""
    T = model.steady(dynamic_map + leakage_map_ref)
    history: list[float] = []
    prev_delta = math.inf
    growing = 0
    leak = leakage_map_ref
    for it in range(1, max_iter + 1):
        die_T = model.die_map(T)
        leak = leakage_map_ref * np.exp(np.clip(beta * (die_T - t_ref_k), -50, 50))
        T_new = model.steady(dynamic_map + leak)
        delta = float(np.max(np.abs(T_new - T)))
        history.append(float(model.die_map(T_new).max()))
        T = T_new
        if delta < tol_k:
            return LeakageLoopResult(T, leak, it, True, False, history)
        if history[-1] > t_max_k:
            return LeakageLoopResult(T, leak, it, False, True, history)
        growing = growing + 1 if delta >= prev_delta else 0
        if growing >= 5:
            return LeakageLoopResult(T, leak, it, False, True, history)
        prev_delta = delta
    return LeakageLoopResult(T, leak, max_iter, False, False, history)


def max_gradient_c_per_mm(die_map_k: np.ndarray, die_w: float, die_h: float) -> float:
    rows, cols = die_map_k.shape
    gy, gx = np.gradient(die_map_k, die_h / rows * 1e3, die_w / cols * 1e3) if min(rows, cols) > 1 else (0, 0)
    return float(np.max(np.hypot(gx, gy))) if min(rows, cols) > 1 else 0.0
