"""HotSpot 6's compact thermal models (grid and block), built as sparse RC networks.

Why our own: the sign-off must report the numbers HotSpot 6 reports for the same `.flp`, `.ptrace`
and `.config`, but faster and inside the flow. The networks below are HotSpot 6's (read from its
`temperature_grid.c`, `temperature_block.c`, `temperature.c`, `RCutil.c`), node for node:

* Layers: die (`t_chip`, `k_chip`, `p_chip`), thermal interface (`*_interface`), spreader, sink;
  `-model_secondary` (C4/substrate/PCB path) is not modelled — HotSpot's default is off, and a
  config that turns it on is refused rather than silently ignored.
* Grid model: every layer is a rows × cols grid over the *die* area. Lateral resistance between
  neighbours is one cell's `rx` (north/south neighbours) or `ry` (east/west) — HotSpot's
  `find_res` uses `rx` for the i (row) direction, which only matters for non-square cells, and we
  keep it for parity. Vertical resistance between a cell and the one below is the *upper* layer's
  full `rz = t/(k·cw·ch)`; a sink cell goes to ambient through `rz_sink + r_convec·s_sink²/(cw·ch)`.
  The spreader and sink outside the die are HotSpot's 12 lumped periphery nodes (`inode_0..11`:
  spreader W/E/N/S, sink-under-spreader W/E/N/S, outer sink W/E/N/S) with the resistances and
  capacitances of `populate_package_R/C`; each boundary cell connects to its side's node through
  half a cell plus `n·r_sp1` (`n·r_hs1`).
* Block model: one node per floorplan unit and layer plus the same 12 periphery nodes, lateral
  conductances from shared edge lengths (`is_horiz_adj`/`is_vert_adj`, 1 µm tolerance as in
  HotSpot), HotSpot 2's series-of-halves formulas.
* Every capacitance carries HotSpot's lumping factor `C_FACTOR = 0.333`; the convection capacity
  `c_convec` is shared by area over the sink (×0.333 too).
* Power to the grid: each cell gets Σ occupancy·(P_unit / A_unit)·A_cell (HotSpot's `blist_avg`
  with its 1e-6 snapping of partial overlaps). Grid to block: HotSpot's `grid_map_mode` — `avg`
  (unweighted mean of the cells in the unit's bounding cell range), `min`, `max` or `center`
  (mean of the 1–4 central cells). HotSpot's built-in default is `center`; its `template.config`
  (and most published configs) say `avg`; we take whatever the config says, `center` when none.

Solvers (same fixed point and ODE as HotSpot, different numerics; numpy only — scipy is loaded
only where a caller asks for the sparse `G`):

* Grid model: an exact direct solve of (c·C + a·G)·x = b (`_direct_solver`). Without its
  edge-to-periphery links the network is uniform per layer with insulated edges, so a 2-D DCT
  diagonalises it (one 4×4 tridiagonal vertical system per mode); the links are a low-rank
  correction (Woodbury) whose 4·(rows + cols) capacitance matrix has a closed form in the DCT
  modes along the edge lines and splits into four mirror-parity blocks. Building costs ~10 ms at
  64×64, a solve ~1 ms, no iteration (HotSpot: multigrid Gauss–Seidel to a 1e-6 K update).
* Grid transient: TR-BDF2 (L-stable, second order, both stages on one matrix) over graded
  sub-steps of each `sampling_intvl` (power held over the row), stepped in DCT mode space where
  the solver needs no transform; HotSpot uses adaptive RK4 (0.01 K per step, explicit, so its
  steps follow the TIM's ~0.1 µs time constant).
* Block model: dense LU, and for the transient the exact propagator T∞ + exp(−C⁻¹G·dt)(T − T∞)
  per row from one eigen-decomposition of C^-½·G·C^-½ (HotSpot: dense LU and the same RK4).

Measured against `hotspot` on generated floorplans, tests/thermal/test_hotspot_parity.py asserts
≤ 0.05 K steady and ≤ 0.1 K (grid) / ≤ 0.05 K (block) at every transient step (HotSpot prints
0.01 K). Temperatures are kelvin inside; callers print °C.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING

import numpy as np

from flow.errors import ConfigError

if TYPE_CHECKING:
    import scipy.sparse as sp

KELVIN = 273.15
C_FACTOR = 0.333  # HotSpot's lumped-vs-distributed capacitance fitting factor (temperature.h)
EPS_EQ = 1e-6  # HotSpot's `eq()` tolerance (util.h DELTA), absolute
N_EXTRA = 12
BLOCK_DENSE_MAX = 2000  # block-model nodes up to which G is dense (numpy LU/eigh, no scipy); ~500 units
SP_W, SP_E, SP_N, SP_S, SINK_C_W, SINK_C_E, SINK_C_N, SINK_C_S, SINK_W, SINK_E, SINK_N, SINK_S = range(12)
GRID_MAP_MODES = ("avg", "min", "max", "center")
LAYER_PREFIXES = ("", "iface_", "hsp_", "hsink_")  # HotSpot's .steady/.init layer name prefixes


@dataclass(frozen=True)
class ThermalConfig:
    """HotSpot parameters: same names, SI units and defaults as HotSpot 6's `default_thermal_config()`
    (what `hotspot` uses when neither a `.config` nor the command line sets them)."""

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
    c_convec: float = 140.4  # J/K, convection capacity (shared by area over the sink)
    ambient: float = 318.15  # K
    init_temp: float = 333.15  # K, transient start when there is no init file
    sampling_intvl: float = 3.333e-6  # s, one power-trace row
    model_type: str = "block"
    grid_rows: int = 64
    grid_cols: int = 64
    grid_map_mode: str = "center"
    block_omit_lateral: int = 0
    model_secondary: int = 0

    def validated(self) -> ThermalConfig:
        for name in ("t_chip", "k_chip", "t_interface", "k_interface", "t_spreader", "k_spreader",
                     "t_sink", "k_sink", "r_convec", "s_spreader", "s_sink", "sampling_intvl"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and v > 0 and math.isfinite(v)):
                raise ConfigError(f"thermal parameter {name} = {v}: must be positive")
        for name in ("p_chip", "p_interface", "p_spreader", "p_sink", "c_convec", "ambient", "init_temp"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and v >= 0 and math.isfinite(v)):
                raise ConfigError(f"thermal parameter {name} = {v}: must be a non-negative number")
        if self.grid_rows < 1 or self.grid_cols < 1:
            raise ConfigError("thermal grid must have at least 1 row and 1 column")
        if self.s_sink < self.s_spreader:
            raise ConfigError("s_sink must not be smaller than s_spreader")
        if self.model_type not in ("block", "grid"):
            raise ConfigError(f"model_type {self.model_type!r}: use 'block' or 'grid'")
        if self.grid_map_mode not in GRID_MAP_MODES:
            raise ConfigError(f"grid_map_mode {self.grid_map_mode!r}: use avg, min, max or center")
        if self.model_secondary:
            raise ConfigError("model_secondary = 1 (HotSpot's secondary heat path) is not supported")
        return self

    def with_overrides(self, **kw: object) -> ThermalConfig:
        known = {f.name: f for f in fields(self)}
        unknown = set(kw) - set(known)
        if unknown:
            raise ConfigError(f"unknown thermal parameter(s): {', '.join(sorted(unknown))}")
        typed: dict[str, object] = {}
        for k, v in kw.items():
            want = type(getattr(self, k))
            try:
                typed[k] = str(v) if want is str else want(float(v)) if want is int else float(v)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise ConfigError(f"thermal parameter {k} = {v!r}: expected a {want.__name__}") from None
        return replace(self, **typed)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Package:
    """HotSpot's lumped spreader/sink periphery (`populate_package_R/C`) for a die of w × h."""

    r_sp1_x: float
    r_sp1_y: float
    r_hs1_x: float
    r_hs1_y: float
    r_hs2_x: float
    r_hs2_y: float
    r_hs: float
    r_sp_per_x: float
    r_sp_per_y: float
    r_hs_c_per_x: float
    r_hs_c_per_y: float
    r_hs_per: float
    r_amb_c_per_x: float
    r_amb_c_per_y: float
    r_amb_per: float
    c_sp_per_x: float
    c_sp_per_y: float
    c_hs_c_per_x: float
    c_hs_c_per_y: float
    c_hs_per: float
    c_amb_c_per_x: float
    c_amb_c_per_y: float
    c_amb_per: float

    @classmethod
    def of(cls, cfg: ThermalConfig, w: float, h: float) -> Package:
        ssp, tsp, ssk, tsk = cfg.s_spreader, cfg.t_spreader, cfg.s_sink, cfg.t_sink
        ksp, ksk = cfg.k_spreader, cfg.k_sink

        def r(k: float, t: float, a: float) -> float:
            return t / (k * a) if a > 0 else math.inf  # a sink no wider than the spreader: open

        def c(p: float, t: float, a: float) -> float:
            return C_FACTOR * p * t * a

        a_px = (ssp + h) * (ssp - w) / 4.0
        a_py = (ssp + w) * (ssp - h) / 4.0
        a_hs = (ssk * ssk - ssp * ssp) / 4.0
        cc = C_FACTOR * cfg.c_convec / (ssk * ssk)
        return cls(
            r_sp1_x=r(ksp, (ssp - w) / 4.0, (ssp + 3 * h) / 4.0 * tsp),
            r_sp1_y=r(ksp, (ssp - h) / 4.0, (ssp + 3 * w) / 4.0 * tsp),
            r_hs1_x=r(ksk, (ssp - w) / 4.0, (ssp + 3 * h) / 4.0 * tsk),
            r_hs1_y=r(ksk, (ssp - h) / 4.0, (ssp + 3 * w) / 4.0 * tsk),
            r_hs2_x=r(ksk, (ssp - w) / 4.0, (3 * ssp + h) / 4.0 * tsk),
            r_hs2_y=r(ksk, (ssp - h) / 4.0, (3 * ssp + w) / 4.0 * tsk),
            r_hs=r(ksk, (ssk - ssp) / 4.0, (ssk + 3 * ssp) / 4.0 * tsk),
            r_sp_per_x=r(ksp, tsp, a_px), r_sp_per_y=r(ksp, tsp, a_py),
            r_hs_c_per_x=r(ksk, tsk, a_px), r_hs_c_per_y=r(ksk, tsk, a_py), r_hs_per=r(ksk, tsk, a_hs),
            r_amb_c_per_x=r(1.0, cfg.r_convec * ssk * ssk, a_px), r_amb_c_per_y=r(1.0, cfg.r_convec * ssk * ssk, a_py),
            r_amb_per=r(1.0, cfg.r_convec * ssk * ssk, a_hs),
            c_sp_per_x=c(cfg.p_spreader, tsp, a_px), c_sp_per_y=c(cfg.p_spreader, tsp, a_py),
            c_hs_c_per_x=c(cfg.p_sink, tsk, a_px), c_hs_c_per_y=c(cfg.p_sink, tsk, a_py),
            c_hs_per=c(cfg.p_sink, tsk, a_hs),
            c_amb_c_per_x=cc * a_px, c_amb_c_per_y=cc * a_py, c_amb_per=cc * a_hs,
        )


class _Assembler:
    """Collects symmetric conductances into a sparse G (Laplacian + conductances to ambient)."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.rows: list[np.ndarray] = []
        self.cols: list[np.ndarray] = []
        self.vals: list[np.ndarray] = []
        self.g_amb = np.zeros(n)

    def couple(self, a, b, g) -> None:
        a, b, g = (np.atleast_1d(v) for v in np.broadcast_arrays(np.asarray(a, dtype=np.int64),
                                                                   np.asarray(b, dtype=np.int64),
                                                                   np.asarray(g, dtype=float)))
        self.rows.extend([a, b, a, b])
        self.cols.extend([a, b, b, a])
        self.vals.extend([g, g, -g, -g])

    def dense(self) -> np.ndarray:
        """G as a dense array (for the block model's few hundred nodes: numpy only, no scipy)."""
        G = np.zeros((self.n, self.n))
        np.add.at(G, (np.concatenate(self.rows), np.concatenate(self.cols)), np.concatenate(self.vals))
        G[np.diag_indices(self.n)] += self.g_amb
        return G

    def matrix(self) -> sp.csc_matrix:
        import scipy.sparse as sp

        G = sp.coo_matrix((np.concatenate(self.vals), (np.concatenate(self.rows), np.concatenate(self.cols))),
                          shape=(self.n, self.n)).tocsc()
        return (G + sp.diags(self.g_amb)).tocsc()


def _periphery(asm: _Assembler, C: np.ndarray, x0: int, pk: Package) -> None:
    """The 12 lumped periphery nodes starting at node `x0` (HotSpot's `slope_fn_pack`)."""
    for side, (sp_n, sc_n, sk_n) in {"x": (SP_W, SINK_C_W, SINK_W), "x2": (SP_E, SINK_C_E, SINK_E),
                                    "y": (SP_N, SINK_C_N, SINK_N), "y2": (SP_S, SINK_C_S, SINK_S)}.items():
        ax = side[0]
        r_sp_per = pk.r_sp_per_x if ax == "x" else pk.r_sp_per_y
        r_hs2 = pk.r_hs2_x if ax == "x" else pk.r_hs2_y
        asm.couple(x0 + sp_n, x0 + sc_n, 1.0 / r_sp_per)
        asm.couple(x0 + sc_n, x0 + sk_n, 1.0 / (r_hs2 + pk.r_hs))
        asm.g_amb[x0 + sc_n] = 1.0 / ((pk.r_hs_c_per_x + pk.r_amb_c_per_x) if ax == "x"
                                      else (pk.r_hs_c_per_y + pk.r_amb_c_per_y))
        asm.g_amb[x0 + sk_n] = 1.0 / (pk.r_hs_per + pk.r_amb_per)
        C[x0 + sp_n] = pk.c_sp_per_x if ax == "x" else pk.c_sp_per_y
        C[x0 + sc_n] = (pk.c_hs_c_per_x + pk.c_amb_c_per_x) if ax == "x" else (pk.c_hs_c_per_y + pk.c_amb_c_per_y)
        C[x0 + sk_n] = pk.c_hs_per + pk.c_amb_per


@dataclass
class Network:
    """A linear RC network: G·T + C·dT/dt = P + g_amb·T_amb (kelvin, watts)."""

    C: np.ndarray
    g_amb: np.ndarray
    ambient: float
    _G: sp.csc_matrix | None = field(default=None, repr=False)
    _build_G: Callable[[], sp.csc_matrix] | None = field(default=None, repr=False)
    _lu: Callable[[np.ndarray], np.ndarray] | None = field(default=None, repr=False)
    _step_cache: dict = field(default_factory=dict, repr=False)

    @property
    def G(self) -> sp.csc_matrix:
        """Conductance matrix (sparse, with the conductances to ambient on its diagonal); built
        on first use — the grid model's own solvers work on stencils and never need it."""
        if self._G is None:
            assert self._build_G is not None
            self._G = self._build_G()
        return self._G

    @property
    def n_nodes(self) -> int:
        return len(self.C)

    def steady_nodes(self, p_nodes: np.ndarray) -> np.ndarray:
        if self._lu is None:
            self._lu = _factorize(self.G)
        return self._lu(p_nodes + self.g_amb * self.ambient)

    def heat_out(self, T: np.ndarray) -> float:
        """Heat flowing to ambient (W) at node temperatures T."""
        return float(np.sum(self.g_amb * (T - self.ambient)))

    def integrate_steps(self, T: np.ndarray, p_nodes: np.ndarray, steps: list[float]) -> np.ndarray:
        """Advance T with node power p_nodes held constant by one TR-BDF2 step of each size in
        `steps` (e.g. `graded_steps`); each size's solver is built once and cached."""
        for h in steps:
            T = self.integrate(T, p_nodes, h, 1)
        return T

    def integrate(self, T: np.ndarray, p_nodes: np.ndarray, dt: float, substeps: int,
                  method: str = "trbdf2") -> np.ndarray:
        """Advance T by dt with node power p_nodes held constant, in `substeps` equal steps.

        trbdf2: trapezoid to t+γh then BDF2 (γ = 2−√2: both stages share one matrix), L-stable
        and second order, so the stiff die modes neither ring (as Crank–Nicolson does) nor lag
        (as backward Euler does). be / cn kept for comparisons."""
        import scipy.sparse as sp

        h = dt / substeps
        key = (method, h)
        if key not in self._step_cache:
            if method == "trbdf2":
                gam = 2.0 - math.sqrt(2.0)
                a = gam * h / 2.0
                solve = _factorize((sp.diags(self.C) + a * self.G).tocsc())
                self._step_cache[key] = ("trbdf2", solve, a, gam)
            elif method in ("be", "cn"):
                theta = 1.0 if method == "be" else 0.5
                solve = _factorize((sp.diags(self.C / h) + theta * self.G).tocsc())
                B = (sp.diags(self.C / h) - (1 - theta) * self.G).tocsr()
                self._step_cache[key] = (method, solve, B, None)
            else:
                raise ConfigError(f"unknown transient method {method!r} (trbdf2, be, cn)")
        kind, solve, a, gam = self._step_cache[key]
        q = p_nodes + self.g_amb * self.ambient
        if kind == "trbdf2":
            c1 = 1.0 / (gam * (2.0 - gam))
            c2 = (1.0 - gam) ** 2 / (gam * (2.0 - gam))
            for _ in range(substeps):
                Tg = solve(self.C * T - a * (self.G @ T) + gam * h * q)
                T = solve(self.C * (c1 * Tg - c2 * T) + a * q)
        else:
            for _ in range(substeps):
                T = solve(a @ T + q)
        return T


def graded_steps(dt: float, h0: float, growth: float, first: int = 0, h_max: float = math.inf) -> list[float]:
    """Step sizes covering dt: h0·g^first, …, h0, h0·g, h0·g², … (the last one trimmed to end at
    dt; `first` ≤ 0 starts lower on the same ladder, so the sizes, and the solvers built for them,
    are shared with the other rows). After each power change the fast die modes decay first, so
    steps can grow as only slower modes remain; `h_max` caps that growth."""
    steps: list[float] = []
    t, j = 0.0, min(first, 0)
    while t < dt * (1 - 1e-12):
        h_now = min(h0 * growth ** j, h_max, dt - t)
        if dt - t - h_now < 0.25 * h_now:  # avoid a sliver at the end
            h_now = dt - t
        steps.append(h_now)
        t += h_now
        j += 1
    return steps


def _factorize(A: sp.spmatrix) -> Callable[[np.ndarray], np.ndarray]:
    """Sparse LU with a symmetric minimum-degree ordering: the matrices are symmetric, and
    MMD on AᵀA+A halves the fill (and the time per solve) against SuperLU's default COLAMD."""
    import scipy.sparse as sp
    import scipy.sparse.linalg as spla

    return spla.splu(sp.csc_matrix(A), permc_spec="MMD_AT_PLUS_A").solve


# ---- grid model --------------------------------------------------------------------------------
@dataclass
class ThermalModel(Network):
    """HotSpot's grid model for a die of die_w × die_h: 4 layers of rows × cols cells + 12 nodes.

    Node order: layer-major (die, interface, spreader, sink), row 0 = the *bottom* (south) row,
    then the periphery nodes in HotSpot's `inode_*` order."""

    cfg: ThermalConfig = field(default_factory=ThermalConfig)
    die_w: float = 0.0
    die_h: float = 0.0
    layer_g: np.ndarray | None = field(default=None, repr=False)  # (4, 4): g_col, g_row, g_down, g_amb per layer
    g_ext: np.ndarray | None = field(default=None, repr=False)  # (12, 12) periphery-only conductances
    edge_g: np.ndarray | None = field(default=None, repr=False)  # [[g_NS, g_EW] spreader, sink] edge links
    _solvers: dict = field(default_factory=dict, repr=False)

    def solver(self, c_scale: float, a: float) -> Callable[[np.ndarray], np.ndarray]:
        """Exact solver of (c_scale·C + a·G) x = b (`_direct_solver`: DCT per layer, Woodbury for
        the edge-to-periphery links), built once per (c_scale, a) and cached; `.matvec` is the
        matrix's product by the grid stencil."""
        key = (c_scale, a)
        if key not in self._solvers:
            with _OneBlasThread():
                self._solvers[key] = _direct_solver(self, c_scale, a)
        return self._solvers[key]

    def steady_nodes(self, p_nodes: np.ndarray) -> np.ndarray:
        with _OneBlasThread():
            return self.solver(0.0, 1.0)(p_nodes + self.g_amb * self.ambient)

    def integrate(self, T: np.ndarray, p_nodes: np.ndarray, dt: float, substeps: int,
                  method: str = "trbdf2") -> np.ndarray:
        """As Network.integrate, every stage solved exactly by the direct grid solver (scipy is
        never loaded); cn is kept on the sparse LU for comparisons."""
        with _OneBlasThread():
            return self._integrate(T, p_nodes, dt, substeps, method)

    def _integrate(self, T: np.ndarray, p_nodes: np.ndarray, dt: float, substeps: int, method: str) -> np.ndarray:
        h = dt / substeps
        q = p_nodes + self.g_amb * self.ambient
        if method == "be":
            solve = self.solver(1.0 / h, 1.0)
            for _ in range(substeps):
                T = solve(self.C / h * T + q)
            return T
        if method != "trbdf2":
            return super().integrate(T, p_nodes, dt, substeps, method)
        gam = 2.0 - math.sqrt(2.0)
        a = gam * h / 2.0
        solve = self.solver(1.0, a)
        c1 = 1.0 / (gam * (2.0 - gam))
        c2 = (1.0 - gam) ** 2 / (gam * (2.0 - gam))
        g_times = self.solver(1.0, a).matvec  # type: ignore[attr-defined]  # (C + a·G)·T
        for _ in range(substeps):  # C·T − a·G·T = 2·C·T − (C + a·G)·T
            Tg = solve(2.0 * self.C * T - g_times(T) + gam * h * q)
            T = solve(self.C * (c1 * Tg - c2 * T) + a * q)
        return T

    def integrate_steps(self, T: np.ndarray, p_nodes: np.ndarray, steps: list[float]) -> np.ndarray:
        """One TR-BDF2 step of each size in `steps`, as Network.integrate_steps, but in DCT mode
        space (`_steps_in_modes`): T and the power go in once and T comes out once."""
        with _OneBlasThread():
            ref = self.solver(0.0, 1.0)  # its matvec is G·x; its transforms are every solver's
            Tm, g_t = ref.to_modes(T), ref.to_modes(ref.matvec(T))  # type: ignore[attr-defined]
            qm = ref.to_modes(p_nodes + self.g_amb * self.ambient)  # type: ignore[attr-defined]
            Tm, _ = self._steps_in_modes(Tm, g_t, qm, steps)
            return ref.from_modes(Tm)  # type: ignore[attr-defined]

    def integrate_rows(self, T: np.ndarray, die_powers: Iterable[np.ndarray], steps: list[float],
                       first_steps: list[float] | None = None,
                       on_row: Callable[[int, np.ndarray], None] | None = None,
                       control: tuple[Callable[[int, int], list[float]], float, int] | None = None) -> np.ndarray:
        """A power trace: die power maps (rows, grid_rows, grid_cols) W, each held over `steps`
        (`first_steps` for row 0), from node temperatures T; `on_row(i, die_map_k)` after each
        row; returns the final T. The state stays in mode space from row to row: per row only
        the die layer's power goes in and its temperatures come out (one 2-D DCT each way).

        `control` = (steps_of(row, level), tol_k, max_level): step-size control by comparing
        each row integrated at `level` and `level + 1` (finer), raising the level until the
        die maps agree within tol_k, keeping the finer result; the level found is where the
        next row starts (one lower), so a smoothing state goes back to the cheap steps."""
        cells = self.cells
        with _OneBlasThread():
            ref = self.solver(0.0, 1.0)
            Tm, g_t = ref.to_modes(T), ref.to_modes(ref.matvec(T))  # type: ignore[attr-defined]
            q_amb = ref.to_modes(self.g_amb * self.ambient)  # type: ignore[attr-defined]
            level = 0
            for i, pmap in enumerate(die_powers):
                qm = q_amb.copy()
                qm[:cells] += ref.die_to_modes(self.node_power(pmap)[:cells])  # type: ignore[attr-defined]
                if control is None:
                    Tm, g_t = self._steps_in_modes(Tm, g_t, qm, first_steps if i == 0 and first_steps else steps)
                else:
                    steps_of, tol_k, max_level = control
                    level = max(level - 1, 0)
                    coarse = self._steps_in_modes(Tm, g_t, qm, steps_of(i, level))
                    while True:
                        fine = self._steps_in_modes(Tm, g_t, qm, steps_of(i, level + 1))
                        diff = np.abs(ref.die_from_modes(fine[0][:cells] - coarse[0][:cells])).max()  # type: ignore[attr-defined]
                        if diff <= tol_k or level + 1 >= max_level:
                            break
                        coarse, level = fine, level + 1
                    Tm, g_t = fine
                if on_row is not None:
                    on_row(i, ref.die_from_modes(Tm[:cells]))  # type: ignore[attr-defined]
            return ref.from_modes(Tm)  # type: ignore[attr-defined]

    def _steps_in_modes(self, Tm: np.ndarray, g_t: np.ndarray, qm: np.ndarray,
                        steps: list[float]) -> tuple[np.ndarray, np.ndarray]:
        """TR-BDF2 steps with state, G·state and input in DCT mode space: C is uniform over each
        layer, so it is the same diagonal there, and the direct solver needs no transform. G·T,
        which each step's first stage needs, comes from the previous stage's own equation
        ((C + a·G)·T = rhs ⇒ a·G·T = rhs − C·T) instead of a stencil product."""
        gam = 2.0 - math.sqrt(2.0)
        c1 = 1.0 / (gam * (2.0 - gam))
        c2 = (1.0 - gam) ** 2 / (gam * (2.0 - gam))
        for h in steps:
            a = gam * h / 2.0
            solve = self.solver(1.0, a).modes  # type: ignore[attr-defined]
            Tg = solve(self.C * Tm - a * g_t + gam * h * qm)
            rhs = self.C * (c1 * Tg - c2 * Tm) + a * qm
            Tm = solve(rhs)
            g_t = (rhs - self.C * Tm) / a
        return Tm, g_t

    @property
    def cells(self) -> int:
        return self.cfg.grid_rows * self.cfg.grid_cols

    def die_index(self) -> np.ndarray:
        """Node indices of the die grid, shape (grid_rows, grid_cols) (row 0 at the bottom)."""
        return np.arange(self.cells).reshape(self.cfg.grid_rows, self.cfg.grid_cols)

    def layer_map(self, T: np.ndarray, layer: int) -> np.ndarray:
        return T[layer * self.cells:(layer + 1) * self.cells].reshape(self.cfg.grid_rows, self.cfg.grid_cols)

    def die_map(self, T: np.ndarray) -> np.ndarray:
        return self.layer_map(T, 0)

    def _rhs(self, die_power: np.ndarray) -> np.ndarray:
        return self.node_power(die_power) + self.g_amb * self.ambient

    def node_power(self, die_power: np.ndarray) -> np.ndarray:
        p = np.asarray(die_power, dtype=float)
        if p.shape != (self.cfg.grid_rows, self.cfg.grid_cols):
            raise ConfigError(f"power map shape {p.shape} != grid {(self.cfg.grid_rows, self.cfg.grid_cols)}")
        if np.any(p < 0) or not np.all(np.isfinite(p)):
            raise ConfigError("power map has negative or non-finite values")
        out = np.zeros(self.n_nodes)
        out[: self.cells] = p.ravel()
        return out

    def steady(self, die_power: np.ndarray) -> np.ndarray:
        """Node temperatures (K) for a die power map (W per die cell, shape rows×cols)."""
        return self.steady_nodes(self.node_power(die_power))

    def transient(self, power_steps: np.ndarray, dt: float, T0: np.ndarray | None = None,
                  method: str = "trbdf2", substeps: int = 4,
                  on_step: Callable[[int, np.ndarray], None] | None = None) -> np.ndarray:
        """Die maps (steps, rows, cols) in K after each step of `power_steps` (W maps held `dt` s),
        from node temperatures T0, else every node at `cfg.init_temp` (HotSpot's start)."""
        if dt <= 0:
            raise ConfigError("transient time step must be positive")
        T = np.full(self.n_nodes, self.cfg.init_temp) if T0 is None else np.array(T0, dtype=float)
        out = np.empty((len(power_steps), self.cfg.grid_rows, self.cfg.grid_cols))
        for i, pmap in enumerate(power_steps):
            T = self.integrate(T, self.node_power(pmap), dt, substeps, method)
            out[i] = self.die_map(T)
            if on_step is not None:
                on_step(i, T)
        return out


class _OneBlasThread:
    """Run numpy's OpenBLAS on one thread inside the block (restored after). Why: the matrices
    here are small (≤ 1024²), and on a loaded host OpenBLAS's spinning worker threads make a
    512 × 512 inverse 8× slower (0.43 s against 0.057 s measured with 9 processes on 2 cores).
    Found through the library numpy bundles; anything else (another BLAS) is left alone."""

    _lib: object = None

    def __enter__(self) -> _OneBlasThread:
        lib = _OneBlasThread._lib
        if lib is None:
            lib = False
            import ctypes
            from pathlib import Path

            libs = sorted((Path(np.__file__).parent.parent / "numpy.libs").glob("libscipy_openblas*.so*"))
            try:
                cand = ctypes.CDLL(str(libs[0]))
                cand.scipy_openblas_get_num_threads64_.restype = ctypes.c_int
                cand.scipy_openblas_set_num_threads64_.argtypes = [ctypes.c_int]
                lib = cand
            except (IndexError, OSError, AttributeError):
                lib = False
            _OneBlasThread._lib = lib
        self.saved = lib.scipy_openblas_get_num_threads64_() if lib else 0  # type: ignore[union-attr]
        if lib:
            lib.scipy_openblas_set_num_threads64_(1)  # type: ignore[union-attr]
        return self

    def __exit__(self, *exc: object) -> None:
        if self.saved:
            _OneBlasThread._lib.scipy_openblas_set_num_threads64_(self.saved)  # type: ignore[union-attr]


def _dct_basis(n: int) -> np.ndarray:
    """Orthonormal DCT-II basis Q[i, k] (column k: mode k): the eigenvectors of a row of n cells
    with insulated ends, eigenvalue 2 − 2·cos(πk/n) of the unit-conductance path Laplacian."""
    i = np.arange(n)[:, None] + 0.5
    q = np.cos(np.pi * i * np.arange(n)[None, :] / n) * math.sqrt(2.0 / n)
    q[:, 0] = math.sqrt(1.0 / n)
    return q


def _stencil_matvec(model: ThermalModel, c_scale: float, a: float) -> Callable[[np.ndarray], np.ndarray]:
    """x ↦ (c_scale·C + a·G)·x by the grid's stencil (no sparse matrix, no scipy)."""
    nr, nc = model.cfg.grid_rows, model.cfg.grid_cols
    cells = nr * nc
    lg, g_ext, edge = model.layer_g, model.g_ext, model.edge_g
    c_ext = model.C[4 * cells:]
    g_col = lg[:, 0][:, None, None]
    g_row = lg[:, 1][:, None, None]
    g_dn = lg[:3, 2][:, None, None]
    c_grid = model.C[:4 * cells].reshape(4, nr, nc)
    links = ((2, SP_N, SP_S, SP_E, SP_W), (3, SINK_C_N, SINK_C_S, SINK_C_E, SINK_C_W))

    def matvec(x: np.ndarray) -> np.ndarray:
        X = x[:4 * cells].reshape(4, nr, nc)
        E = x[4 * cells:]
        Y = np.zeros_like(X)
        d = (X[:, 1:, :] - X[:, :-1, :]) * g_col
        Y[:, 1:, :] += d
        Y[:, :-1, :] -= d
        d = (X[:, :, 1:] - X[:, :, :-1]) * g_row
        Y[:, :, 1:] += d
        Y[:, :, :-1] -= d
        d = (X[:-1] - X[1:]) * g_dn
        Y[:-1] += d
        Y[1:] -= d
        Y[3] += lg[3, 3] * X[3]
        Ye = g_ext @ E
        for (li, nn, ss, ee, ww), (g_ns, g_ew) in zip(links, edge, strict=True):
            for node, g, sl in ((nn, g_ns, (li, nr - 1, slice(None))), (ss, g_ns, (li, 0, slice(None))),
                                (ee, g_ew, (li, slice(None), nc - 1)), (ww, g_ew, (li, slice(None), 0))):
                Y[sl] += (X[sl] - E[node]) * g
                Ye[node] -= g * X[sl].sum()
        out = np.empty_like(x)
        out[:4 * cells] = (a * Y + c_scale * c_grid * X).ravel()
        out[4 * cells:] = a * Ye + c_scale * c_ext * E
        return out

    return matvec


def _inv_diag_block_first(K: np.ndarray, n: int) -> np.ndarray:
    """Inverse of a symmetric K whose leading 2n × 2n block is 2 × 2 blocks of *diagonal* n × n
    matrices (a Woodbury capacitance matrix's row-line part: one 2 × 2 system per mode), by the
    Schur complement of that block: only the rest is inverted densely — at 64×64 a 66² inverse
    instead of 128², the larger part of a solver's build. Each layer's first mode goes with the
    dense rest: it carries the links' rank-8 periphery term, large and nearly singular in the
    steady solve, where a closed-form 2 × 2 inverse would lose digits that LU keeps."""
    if n <= 1:
        return np.linalg.inv(K)
    m = n - 1
    lead = np.r_[1:n, n + 1:2 * n]
    perm = np.r_[lead, 0, n, 2 * n:K.shape[0]]
    Kp = K[np.ix_(perm, perm)]
    k = 2 * m
    a00, a01 = np.diag(Kp[:m, :m]), np.diag(Kp[:m, m:k])
    a10, a11 = np.diag(Kp[m:k, :m]), np.diag(Kp[m:k, m:k])
    det = a00 * a11 - a01 * a10
    i00, i01, i10, i11 = a11 / det, -a01 / det, -a10 / det, a00 / det
    B = Kp[:k, k:]
    X = np.concatenate([i00[:, None] * B[:m] + i01[:, None] * B[m:], i10[:, None] * B[:m] + i11[:, None] * B[m:]])
    s_inv = np.linalg.inv(Kp[k:, k:] - B.T @ X)
    xs = X @ s_inv
    out_p = np.empty_like(K)
    out_p[:k, :k] = xs @ X.T
    idx = np.arange(m)
    out_p[idx, idx] += i00
    out_p[idx, m + idx] += i01
    out_p[m + idx, idx] += i10
    out_p[m + idx, m + idx] += i11
    out_p[:k, k:] = -xs
    out_p[k:, :k] = -xs.T
    out_p[k:, k:] = s_inv
    out = np.empty_like(K)
    out[np.ix_(perm, perm)] = out_p
    return out


def _direct_solver(model: ThermalModel, c_scale: float, a: float) -> Callable[[np.ndarray], np.ndarray]:
    """Exact solve of (c_scale·C + a·G)·x = b for the grid model, numpy only.

    Split the matrix as P + V·Γ·Vᵀ: P is the network without its edge-to-periphery links — the
    grid part is uniform per layer with insulated edges, so the 2-D DCT diagonalises it, leaving
    one 4×4 tridiagonal (vertical) system per mode; the periphery part is 12×12 — and each link
    (an edge cell of the spreader or sink to its side's lumped node, conductance g) is one rank-1
    term g·(e_cell − e_node)(e_cell − e_node)ᵀ. Woodbury needs K = Γ⁻¹ + Vᵀ·P⁻¹·V over the
    m = 4·(rows + cols) links. Written in the DCT modes along each edge line, taken as mirror
    pairs (north ± south, east ± west), K splits into four independent parity blocks of about
    m/4, each in closed form from the per-mode inverses (no transform), built and inverted once
    per matrix. A solve costs one forward and one inverse 2-D DCT (dense matrix products) plus
    O(m²): no iteration, no fill, no tolerance."""
    nr, nc = model.cfg.grid_rows, model.cfg.grid_cols
    cells = nr * nc
    lg, (g_sp, g_sk) = model.layer_g, model.edge_g
    c_layer = model.C[:4 * cells:cells]
    if np.any(np.ptp(model.C[:4 * cells].reshape(4, cells), axis=1) > 1e-12 * np.abs(c_layer)):
        raise AssertionError("grid model: heat capacity not uniform over a layer (the DCT needs it)")
    qr, qc = _dct_basis(nr), _dct_basis(nc)
    lam_r = (2.0 - 2.0 * np.cos(np.pi * np.arange(nr) / nr))[:, None]
    lam_c = (2.0 - 2.0 * np.cos(np.pi * np.arange(nc) / nc))[None, :]
    gz = lg[:, 2]
    off = -a * gz[:3]
    diag = [c_scale * c_layer[li] + a * (lam_r * lg[li, 0] + lam_c * lg[li, 1] + (gz[li - 1] if li else 0.0)
                                         + (gz[li] if li < 3 else 0.0) + lg[li, 3]) for li in range(4)]
    piv = [diag[0]]
    for li in range(1, 4):
        piv.append(diag[li] - off[li - 1] ** 2 / piv[li - 1])

    elim = [off[li - 1] / piv[li - 1] for li in range(1, 4)]
    inv_piv = [1.0 / p for p in piv]

    def modes_solve(R: np.ndarray) -> np.ndarray:
        """The 4×4 vertical tridiagonal system of every mode (Thomas algorithm, vectorised)."""
        R = R.copy()
        for li in range(1, 4):
            R[li] -= elim[li - 1] * R[li - 1]
        R[3] *= inv_piv[3]
        for li in (2, 1, 0):
            R[li] -= off[li] * R[li + 1]
            R[li] *= inv_piv[li]
        return R

    # per-mode inverse entries between the linked layers 2 (spreader) and 3 (sink)
    minv = np.empty((2, 2, nr, nc))
    for lb in (2, 3):
        unit = np.zeros((4, nr, nc))
        unit[lb] = 1.0
        minv[:, lb - 2] = modes_solve(unit)[2:]
    # a mirror pair of edge lines as one vector in mode space: (north ± south)/√2 along the
    # rows is wr[s]·(row modes), (east ± west)/√2 along the columns (column modes)·wc[s]
    even_r, even_c = np.arange(nr) % 2 == 0, np.arange(nc) % 2 == 0
    wr = {1: math.sqrt(2.0) * qr[0] * even_r, -1: -math.sqrt(2.0) * qr[0] * ~even_r}
    wc = {1: math.sqrt(2.0) * qc[0] * even_c, -1: -math.sqrt(2.0) * qc[0] * ~even_c}
    # the 8 periphery nodes the lines link to, per layer: N, S, E, W
    nodes = np.array([SP_N, SP_S, SP_E, SP_W, SINK_C_N, SINK_C_S, SINK_C_E, SINK_C_W])
    g_line = np.array([g_sp[0], g_sp[0], g_sp[1], g_sp[1], g_sk[0], g_sk[0], g_sk[1], g_sk[1]])
    n_line = np.array([nc, nc, nr, nr] * 2)
    share = np.zeros(N_EXTRA)
    np.add.at(share, nodes, g_line * n_line)  # P's periphery block: g_ext less the links' share
    d_ext_inv = np.linalg.inv(c_scale * np.diag(model.C[4 * cells:]) + a * (model.g_ext - np.diag(share)))
    d_lines = d_ext_inv[np.ix_(nodes, nodes)]

    classes = []
    for s1, s2 in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
        kc = np.nonzero(even_c if s2 == 1 else ~even_c)[0]  # row-line modes of this class
        kr = np.nonzero(even_r if s1 == 1 else ~even_r)[0]  # column-line modes
        n2, n1 = len(kc), len(kr)
        size = 2 * (n2 + n1)
        K = np.zeros((size, size))
        rsl = [slice(lam * n2, (lam + 1) * n2) for lam in (0, 1)]
        csl = [slice(2 * n2 + lam * n1, 2 * n2 + (lam + 1) * n1) for lam in (0, 1)]
        for la in (0, 1):
            for lb in (0, 1):
                mi = minv[la, lb]
                K[rsl[la], rsl[lb]] = np.diag((wr[s1] ** 2 @ mi)[kc])
                K[csl[la], csl[lb]] = np.diag((mi @ wc[s2] ** 2)[kr])
                rc = (wr[s1][:, None] * mi * wc[s2][None, :])[np.ix_(kr, kc)].T  # [kc, kr]
                K[rsl[la], csl[lb]] = rc
                K[csl[lb], rsl[la]] = rc.T
        # each line's all-ones vector (its node's share) in this class: mode 0 of the pair sums
        E = np.zeros((size, 8))
        for lam in (0, 1):
            if s2 == 1:  # row mode 0 is even
                E[rsl[lam].start, 4 * lam] = math.sqrt(nc / 2)
                E[rsl[lam].start, 4 * lam + 1] = s1 * math.sqrt(nc / 2)
            if s1 == 1:
                E[csl[lam].start, 4 * lam + 2] = math.sqrt(nr / 2)
                E[csl[lam].start, 4 * lam + 3] = s2 * math.sqrt(nr / 2)
        K += E @ d_lines @ E.T
        K[np.diag_indices(size)] += 1.0 / (a * np.repeat([g_sp[0], g_sk[0], g_sp[1], g_sk[1]], [n2, n2, n1, n1]))
        classes.append((s1, s2, kc, kr, rsl, csl, E, _inv_diag_block_first(K, n2)))
    m = 4 * (nr + nc)

    w_rows = np.stack([wr[1], wr[-1]])  # (2, rows): the + and − pair of row lines
    w_cols = np.stack([wc[1], wc[-1]])  # (2, cols)
    zero2 = np.zeros((2, nr, nc))
    # the four blocks over the line pairs' modes as a solve lays them out: on_rows (2 layers, ±,
    # cols) then on_cols (2 layers, rows, ±), flattened. Applied block by block (a quarter of
    # an m × m product's memory traffic), as one stacked product when the blocks are equal
    e_lines = np.zeros((m, 8))
    ats, k_invs = [], []
    for s1, s2, kc, kr, _, _, E, k_inv in classes:
        i1, i2 = (1 - s1) // 2, (1 - s2) // 2
        at = np.concatenate([(lam * 2 + i1) * nc + kc for lam in (0, 1)]
                            + [4 * nc + (lam * nr + kr) * 2 + i2 for lam in (0, 1)])
        ats.append(at)
        k_invs.append(k_inv)
        e_lines[at] = E
    perm = np.concatenate(ats)
    if len({len(at) for at in ats}) == 1:
        k_stack = np.stack(k_invs)
        size = len(ats[0])

        def k_apply(v: np.ndarray) -> np.ndarray:
            out = np.empty(m)
            out[perm] = np.matmul(k_stack, v[perm].reshape(4, size, 1)).ravel()
            return out
    else:
        def k_apply(v: np.ndarray) -> np.ndarray:
            out = np.empty(m)
            for at, k_inv in zip(ats, k_invs, strict=True):
                out[at] = k_inv @ v[at]
            return out

    def to_modes(x: np.ndarray) -> np.ndarray:
        """Node vector → the same layout with every grid layer replaced by its 2-D DCT."""
        out = np.empty(len(x))
        out[:4 * cells] = np.matmul(qr.T, (x[:4 * cells].reshape(4 * nr, nc) @ qc).reshape(4, nr, nc)).ravel()
        out[4 * cells:] = x[4 * cells:]
        return out

    def from_modes(x: np.ndarray) -> np.ndarray:
        out = np.empty(len(x))
        out[:4 * cells] = np.matmul(qr, (x[:4 * cells].reshape(4 * nr, nc) @ qc.T).reshape(4, nr, nc)).ravel()
        out[4 * cells:] = x[4 * cells:]
        return out

    def solve_modes(b: np.ndarray) -> np.ndarray:
        """The solve with b and x in mode space (`to_modes`): no transform at all."""
        Y = modes_solve(b[:4 * cells].reshape(4, nr, nc))  # P⁻¹b
        y_ext = d_ext_inv @ b[4 * cells:]
        y_lines = y_ext[nodes]
        on_lines = np.concatenate([np.matmul(w_rows, Y[2:]).ravel(),  # (2 layers, ±, cols): line pairs' modes
                                   np.matmul(Y[2:], w_cols.T).ravel()])  # (2 layers, rows, ±)
        w = k_apply(on_lines - e_lines @ y_lines)
        node_w = e_lines.T @ w
        w_on_rows = w[:4 * nc].reshape(2, 2, nc)
        w_on_cols = w[4 * nc:].reshape(2, nr, 2)
        # minus P⁻¹·V·w: w spread back along the lines (mode space), one more mode solve
        S = np.matmul(w_rows.T, w_on_rows) + np.matmul(w_on_cols, w_cols)
        out = np.empty(len(b))
        out[:4 * cells] = (Y - modes_solve(np.concatenate([zero2, S]))).ravel()
        ext_w = np.zeros(N_EXTRA)
        np.add.at(ext_w, nodes, node_w)
        out[4 * cells:] = y_ext + d_ext_inv @ ext_w
        return out

    def die_to_modes(x: np.ndarray) -> np.ndarray:
        """One layer's cells (flat) → its 2-D DCT (flat)."""
        return (qr.T @ x.reshape(nr, nc) @ qc).ravel()

    def die_from_modes(x: np.ndarray) -> np.ndarray:
        """One layer's 2-D DCT (flat) → its cells as a (rows, cols) map."""
        return qr @ x.reshape(nr, nc) @ qc.T

    def solve(b: np.ndarray) -> np.ndarray:
        return from_modes(solve_modes(to_modes(b)))

    solve.die_to_modes = die_to_modes  # type: ignore[attr-defined]
    solve.die_from_modes = die_from_modes  # type: ignore[attr-defined]

    solve.modes = solve_modes  # type: ignore[attr-defined]
    solve.to_modes = to_modes  # type: ignore[attr-defined]
    solve.from_modes = from_modes  # type: ignore[attr-defined]
    solve.matvec = _stencil_matvec(model, c_scale, a)  # type: ignore[attr-defined]
    return solve


def build_model(die_w: float, die_h: float, cfg: ThermalConfig | None = None) -> ThermalModel:
    """Assemble HotSpot's grid-model network for a die of die_w × die_h metres."""
    cfg = (cfg or ThermalConfig()).validated()
    if not (die_w > 0 and die_h > 0 and math.isfinite(die_w) and math.isfinite(die_h)):
        raise ConfigError(f"die size {die_w} x {die_h} m: must be positive")
    if max(die_w, die_h) > cfg.s_spreader:
        raise ConfigError(f"die {die_w * 1e3:.3g} x {die_h * 1e3:.3g} mm does not fit the "
                          f"{cfg.s_spreader * 1e3:.3g} mm spreader (HotSpot: inordinate floorplan size)")
    nr, nc = cfg.grid_rows, cfg.grid_cols
    cw, ch = die_w / nc, die_h / nr
    cells = nr * nc
    n = 4 * cells + N_EXTRA
    x0 = 4 * cells
    pk = Package.of(cfg, die_w, die_h)
    layers = [(cfg.k_chip, cfg.t_chip, cfg.p_chip), (cfg.k_interface, cfg.t_interface, cfg.p_interface),
              (cfg.k_spreader, cfg.t_spreader, cfg.p_spreader), (cfg.k_sink, cfg.t_sink, cfg.p_sink)]
    rx = np.array([cw / (k * ch * t) for k, t, _ in layers])
    ry = np.array([ch / (k * cw * t) for k, t, _ in layers])
    rz = np.array([t / (k * cw * ch) for k, t, _ in layers])
    g_sink_amb = 1.0 / (rz[3] + cfg.r_convec * cfg.s_sink ** 2 / (cw * ch))
    # per layer: g_col, g_row, g_down, g_amb (HotSpot find_res: neighbours along a column use rx)
    layer_g = np.column_stack([1.0 / rx, 1.0 / ry, np.append(1.0 / rz[:3], 0.0), [0.0, 0.0, 0.0, g_sink_amb]])
    # edge cells of the spreader (2) and sink (3) to their side's periphery node: [g_NS, g_EW]
    edges = np.array([[1.0 / (ry[li] / 2.0 + nc * r1y), 1.0 / (rx[li] / 2.0 + nr * r1x)]
                      for li, r1x, r1y in ((2, pk.r_sp1_x, pk.r_sp1_y), (3, pk.r_hs1_x, pk.r_hs1_y))])
    C = np.empty(n)
    for li, (_, t, p) in enumerate(layers):
        C[li * cells:(li + 1) * cells] = C_FACTOR * p * t * cw * ch
    C[3 * cells:4 * cells] += C_FACTOR * cfg.c_convec * cw * ch / cfg.s_sink ** 2
    g_amb = np.zeros(n)
    g_amb[3 * cells:4 * cells] = g_sink_amb
    # the periphery on its own (12 nodes), plus the edge links' share of its diagonal
    ext = _Assembler(N_EXTRA)
    _periphery(ext, C[x0:], 0, pk)
    g_amb[x0:] = ext.g_amb
    g_ext = ext.dense()
    for (g_ns, g_ew), nodes in zip(edges, ((SP_N, SP_S, SP_E, SP_W), (SINK_C_N, SINK_C_S, SINK_C_E, SINK_C_W)),
                                   strict=True):
        g_ext[nodes[:2], nodes[:2]] += nc * g_ns
        g_ext[nodes[2:], nodes[2:]] += nr * g_ew

    def assemble() -> sp.csc_matrix:
        """The whole network as a sparse G (scipy): only for callers that want the matrix; the
        grid model's solvers work on its layer constants (`_direct_solver`)."""
        asm = _Assembler(n)
        idx = np.arange(cells).reshape(nr, nc)
        for li in range(4):
            base = li * cells
            asm.couple(base + idx[:-1, :].ravel(), base + idx[1:, :].ravel(), layer_g[li, 0])
            asm.couple(base + idx[:, :-1].ravel(), base + idx[:, 1:].ravel(), layer_g[li, 1])
            if li < 3:
                asm.couple(base + idx.ravel(), base + cells + idx.ravel(), layer_g[li, 2])
            if li in (2, 3):
                g_ns, g_ew = edges[li - 2]
                nn, ss, ee, ww = (SP_N, SP_S, SP_E, SP_W) if li == 2 else (SINK_C_N, SINK_C_S, SINK_C_E, SINK_C_W)
                asm.couple(base + idx[nr - 1, :], x0 + nn, g_ns)
                asm.couple(base + idx[0, :], x0 + ss, g_ns)
                asm.couple(base + idx[:, nc - 1], x0 + ee, g_ew)
                asm.couple(base + idx[:, 0], x0 + ww, g_ew)
        _periphery(asm, np.zeros(n), x0, pk)
        asm.g_amb = g_amb.copy()
        return asm.matrix()

    return ThermalModel(C, g_amb, cfg.ambient, _build_G=assemble, cfg=cfg, die_w=die_w, die_h=die_h,
                        layer_g=layer_g, g_ext=g_ext, edge_g=edges)


def _tolerant_ceil(v: float) -> int:
    near = math.floor(v + 0.5)
    return int(near) if abs(v - near) < EPS_EQ else math.ceil(v)


def _tolerant_floor(v: float) -> int:
    near = math.floor(v + 0.5)
    return int(near) if abs(v - near) < EPS_EQ else math.floor(v)


@dataclass
class GridMapping:
    """Block ↔ grid maps of HotSpot's `set_bgmap` for units on a rows × cols die grid.

    `occ` (cells × units, dense) holds each unit's occupancy of each cell (cell order: row 0 at
    the bottom); `ranges[u]` = (r0, r1, c0, c1), the cells HotSpot assigns to unit u."""

    occ: np.ndarray
    ranges: list[tuple[int, int, int, int]]
    areas: np.ndarray
    rows: int
    cols: int

    def power(self, unit_w: np.ndarray, cell_area: float) -> np.ndarray:
        """Die power map (rows, cols) W from per-unit power (HotSpot `xlate_vector_b2g`, V_POWER)."""
        return (self.occ @ (np.asarray(unit_w, float) / self.areas) * cell_area).reshape(self.rows, self.cols)

    def temps_to_grid(self, unit_k: np.ndarray) -> np.ndarray:
        """HotSpot's V_TEMP translation (used for the first transient step): Σ occupancy·T_unit —
        a cell no unit covers gets 0 K, as in HotSpot."""
        return (self.occ @ np.asarray(unit_k, float)).reshape(self.rows, self.cols)

    def block_temps(self, grid_k: np.ndarray, mode: str) -> np.ndarray:
        """Per-unit temperatures from a (rows, cols) map (HotSpot `xlate_temp_g2b`). `avg` and
        `center` (the usual modes, once per transient row) are vectorised over the units: the
        means from a summed-area table, the central cells by precomputed indices."""
        if mode in ("avg", "center"):
            r0, r1, c0, c1 = np.array(self.ranges, dtype=np.int64).T
            if mode == "avg":
                sat = np.zeros((self.rows + 1, self.cols + 1))
                sat[1:, 1:] = np.asarray(grid_k, float).cumsum(axis=0).cumsum(axis=1)
                return (sat[r1, c1] - sat[r0, c1] - sat[r1, c0] + sat[r0, c0]) / ((r1 - r0) * (c1 - c0))
            i1, i2 = self.rows - r1, self.rows - r0  # HotSpot's top-down rows, as below
            ci1, cj1 = (i1 + i2) // 2, (c0 + c1) // 2
            ci2, cj2 = ci1 - (1 - (i2 - i1) % 2), cj1 - (1 - (c1 - c0) % 2)
            ra, rb = self.rows - 1 - ci1, self.rows - 1 - ci2
            return (grid_k[ra, cj1] + grid_k[rb, cj1] + grid_k[ra, cj2] + grid_k[rb, cj2]) / 4
        out = np.empty(len(self.ranges))
        for u, (r0, r1, c0, c1) in enumerate(self.ranges):
            if mode == "center":
                # in HotSpot's top-down rows i = rows-1-r; the central pair is symmetric anyway
                i1, i2 = self.rows - r1, self.rows - r0
                ci1, cj1 = (i1 + i2) // 2, (c0 + c1) // 2
                ci2, cj2 = ci1 - (1 - (i2 - i1) % 2), cj1 - (1 - (c1 - c0) % 2)
                ra, rb = self.rows - 1 - ci1, self.rows - 1 - ci2
                out[u] = (grid_k[ra, cj1] + grid_k[rb, cj1] + grid_k[ra, cj2] + grid_k[rb, cj2]) / 4
                continue
            blk = grid_k[r0:r1, c0:c1]
            out[u] = blk.mean() if mode == "avg" else blk.min() if mode == "min" else blk.max()
        return out


def grid_mapping(rects: np.ndarray, rows: int, cols: int) -> GridMapping:
    """HotSpot's block→grid occupancy for unit rectangles [x0, y0, x1, y1] (m) whose bounding box
    starts at the origin (HotSpot translates the floorplan there)."""
    rects = np.asarray(rects, dtype=float)
    width, height = rects[:, 2].max(), rects[:, 3].max()
    cw, ch = width / cols, height / rows
    r_idx: list[np.ndarray] = []
    c_idx: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    ranges = []
    for u, (lu, bu, ru, tu) in enumerate(rects):
        i1 = rows - _tolerant_ceil(tu / ch)
        i2 = rows - _tolerant_floor(bu / ch)
        j1 = _tolerant_floor(lu / cw)
        j2 = _tolerant_ceil(ru / cw)
        i1, j1 = max(i1, 0), max(j1, 0)
        i2, j2 = min(i2, rows), min(j2, cols)
        if i1 >= i2 or j1 >= j2:
            raise ConfigError(f"unit {u}: invalid floorplan spec or grid resolution")
        ii = np.arange(i1, i2)
        jj = np.arange(j1, j2)
        tc = height - ii * ch
        bc = height - (ii + 1) * ch
        oh = np.minimum(tu, tc) - np.maximum(bu, bc)
        ow = np.minimum(ru, (jj + 1) * cw) - np.maximum(lu, jj * cw)
        oh = np.where(np.abs(oh / ch) < EPS_EQ, 0.0, np.where(np.abs(oh / ch - 1) < EPS_EQ, ch, oh))
        ow = np.where(np.abs(ow / cw) < EPS_EQ, 0.0, np.where(np.abs(ow / cw - 1) < EPS_EQ, cw, ow))
        occ = np.clip(np.outer(oh, ow), 0.0, None) / (ch * cw)
        if len(ii) > 2 and len(jj) > 2:
            occ[1:-1, 1:-1] = 1.0
        r = rows - 1 - ii  # bottom-origin rows
        R, Cc = np.meshgrid(r, jj, indexing="ij")
        r_idx.append((R * cols + Cc).ravel())
        c_idx.append(np.full(R.size, u))
        vals.append(occ.ravel())
        ranges.append((int(rows - i2), int(rows - i1), int(j1), int(j2)))
    occ_m = np.zeros((rows * cols, len(rects)))
    np.add.at(occ_m, (np.concatenate(r_idx), np.concatenate(c_idx)), np.concatenate(vals))
    areas = (rects[:, 2] - rects[:, 0]) * (rects[:, 3] - rects[:, 1])
    return GridMapping(occ_m, ranges, areas, rows, cols)


# ---- block model -------------------------------------------------------------------------------
@dataclass
class BlockModel(Network):
    """HotSpot's block model: nodes = 4 layers × units (die, interface, spreader, sink) + 12."""

    n_units: int = 0
    dense_G: np.ndarray | None = field(default=None, repr=False)  # G, dense, when the network is small
    _modes: tuple[np.ndarray, np.ndarray, np.ndarray] | None = field(default=None, repr=False)

    def node_power(self, unit_w: np.ndarray) -> np.ndarray:
        out = np.zeros(self.n_nodes)
        out[: self.n_units] = unit_w
        return out

    def steady_nodes(self, p_nodes: np.ndarray) -> np.ndarray:
        if self.dense_G is None:
            return super().steady_nodes(p_nodes)
        with _OneBlasThread():
            return np.linalg.solve(self.dense_G, p_nodes + self.g_amb * self.ambient)

    @property
    def exact_transient(self) -> bool:
        """Whether `propagate` applies (a dense G and every node with a heat capacity)."""
        return self.dense_G is not None and bool(np.all(self.C > 0))

    def propagate(self, T: np.ndarray, p_nodes: np.ndarray, dt: float) -> np.ndarray:
        """T after dt with node power p_nodes held: the exact T∞ + exp(−C⁻¹G·dt)(T − T∞), from the
        eigen-decomposition of the symmetric C^-½·G·C^-½ (computed once; a few hundred nodes).
        HotSpot integrates the same ODE by adaptive RK4; this has no time-step error at all."""
        if not self.exact_transient:
            raise ConfigError("exact block transient needs a dense G and positive heat capacities")
        with _OneBlasThread():
            if self._modes is None:
                s = 1.0 / np.sqrt(self.C)
                lam, U = np.linalg.eigh(s[:, None] * self.dense_G * s[None, :])
                self._modes = (s, lam, U)
            s, lam, U = self._modes
            t_inf = self.steady_nodes(p_nodes)
            return t_inf + s * (U @ (np.exp(-lam * dt) * (U.T @ ((T - t_inf) / s))))


def _eq(a: float, b: float) -> bool:
    return abs(a - b) < EPS_EQ


def _adjacency(r: np.ndarray, i: int, j: int) -> tuple[str, float]:
    """('h'|'v'|'', shared length) of units i and j as HotSpot's is_horiz_adj/is_vert_adj."""
    x1, y1, x2, y2 = r[i]
    x3, y3, x4, y4 = r[j]
    if ((_eq(x2, x3) and _eq(y2, y3)) or (_eq(x1, x4) and _eq(y1, y4)) or (_eq(x2, x3) and _eq(y1, y4))
            or (_eq(x1, x4) and _eq(y2, y3))):
        return "", 0.0
    if (_eq(x1, x4) or _eq(x2, x3)) and ((y1 <= y3 <= y2) or (y1 <= y4 <= y2) or (y3 <= y1 <= y4)
                                         or (y3 <= y2 <= y4)):
        return "h", min(y2, y4) - max(y1, y3)
    if (_eq(y1, y4) or _eq(y2, y3)) and ((x1 <= x3 <= x2) or (x1 <= x4 <= x2) or (x3 <= x1 <= x4)
                                         or (x3 <= x2 <= x4)):
        return "v", min(x2, x4) - max(x1, x3)
    return "", 0.0


def build_block_model(rects: np.ndarray, cfg: ThermalConfig | None = None) -> BlockModel:
    """HotSpot's block-model network (`populate_R/C_model_block`) for unit rectangles
    [x0, y0, x1, y1] in metres with the bounding box at the origin."""
    cfg = (cfg or ThermalConfig()).validated()
    r = np.asarray(rects, dtype=float)
    nu = len(r)
    w_chip, l_chip = float(r[:, 2].max()), float(r[:, 3].max())
    if max(w_chip, l_chip) > cfg.s_spreader:
        raise ConfigError(f"floorplan {w_chip * 1e3:.3g} x {l_chip * 1e3:.3g} mm does not fit the "
                          f"{cfg.s_spreader * 1e3:.3g} mm spreader (HotSpot: inordinate floorplan size)")
    w = r[:, 2] - r[:, 0]
    h = r[:, 3] - r[:, 1]
    area = w * h
    pk = Package.of(cfg, w_chip, l_chip)
    n = 4 * nu + N_EXTRA
    x0 = 4 * nu
    asm = _Assembler(n)
    C = np.zeros(n)
    layers = [(cfg.k_chip, cfg.t_chip, cfg.p_chip), (cfg.k_interface, cfg.t_interface, cfg.p_interface),
              (cfg.k_spreader, cfg.t_spreader, cfg.p_spreader), (cfg.k_sink, cfg.t_sink, cfg.p_sink)]
    # half-block lateral conductances per layer: gx = k·h·t/(w/2), gy = k·w·t/(h/2)
    gx = [k * h * t / (w / 2) for k, t, _ in layers]
    gy = [k * w * t / (h / 2) for k, t, _ in layers]
    if cfg.block_omit_lateral:
        gx[0] = np.zeros(nu)
        gy[0] = np.zeros(nu)
    adj = [[_adjacency(r, i, j) for j in range(nu)] for i in range(nu)]
    for li in range(4):
        for i in range(nu):
            for j in range(i + 1, nu):
                kind, length = adj[i][j]
                if not kind:
                    continue
                gi = (gx[li][i] / h[i] if kind == "h" else gy[li][i] / w[i]) * length
                kind_j, length_j = adj[j][i]
                gj = (gx[li][j] / h[j] if kind_j == "h" else gy[li][j] / w[j]) * length_j
                if gi > 0 and gj > 0:
                    asm.couple(li * nu + i, li * nu + j, 1.0 / (1.0 / gi + 1.0 / gj))
    for li, (k, t, p) in enumerate(layers):
        C[li * nu: (li + 1) * nu] = C_FACTOR * p * t * area
        if li < 3:
            asm.couple(li * nu + np.arange(nu), (li + 1) * nu + np.arange(nu), k * area / t)
    C[3 * nu: 4 * nu] += C_FACTOR * cfg.c_convec / cfg.s_sink ** 2 * area
    asm.g_amb[3 * nu: 4 * nu] = 1.0 / (cfg.t_sink / (cfg.k_sink * area) + cfg.r_convec * cfg.s_sink ** 2 / area)
    north = np.abs(r[:, 3] - l_chip) < EPS_EQ
    south = np.abs(r[:, 1]) < EPS_EQ
    east = np.abs(r[:, 2] - w_chip) < EPS_EQ
    west = np.abs(r[:, 0]) < EPS_EQ
    for li, node_of, r1x, r1y in ((2, (SP_N, SP_S, SP_E, SP_W), pk.r_sp1_x, pk.r_sp1_y),
                                  (3, (SINK_C_N, SINK_C_S, SINK_C_E, SINK_C_W), pk.r_hs1_x, pk.r_hs1_y)):
        for border, node, g, r1 in ((north, node_of[0], gy[li], r1y), (south, node_of[1], gy[li], r1y),
                                    (east, node_of[2], gx[li], r1x), (west, node_of[3], gx[li], r1x)):
            gsum = float(g[border].sum())
            for i in np.nonzero(border)[0]:
                asm.couple(li * nu + i, x0 + node, 1.0 / ((1.0 + r1 * gsum) / g[i]))
    _periphery(asm, C, x0, pk)
    dense = asm.dense() if n <= BLOCK_DENSE_MAX else None
    return BlockModel(C, asm.g_amb, cfg.ambient, _build_G=asm.matrix, n_units=nu, dense_G=dense)


# ---- power maps for placed designs -----------------------------------------------------------
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
    if min(rows, cols) < 2:
        return 0.0
    gy, gx = np.gradient(die_map_k, die_h / rows * 1e3, die_w / cols * 1e3)
    return float(np.max(np.hypot(gx, gy)))
