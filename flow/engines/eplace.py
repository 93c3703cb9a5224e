"""Electrostatic global placement (ePlace / RePlAce style, Lu et al. 2015, Cheng et al. 2018).

Wirelength is the weighted-average (WA) model, a smooth HPWL whose error shrinks with its
smoothing length gamma. Density is an electrostatic system: every cell is a positive charge
of its area, spread over the bin grid by cloud-in-cell (bilinear) weights, which is ePlace's
local smoothing of cells smaller than a bin; the potential solves Poisson's equation with
Neumann boundaries, diagonal in the DCT basis (`scipy.fft.dctn`), and the field at each cell
is the same bilinear interpolation of the bin fields, so the force is the exact adjoint of the
charge spreading. Filler cells (no nets) bring the total charge to PLACE_DENSITY times the free
area, so an even total density leaves the real cells at the target density; fixed cells and
blockages are static charges at the target density. The objective WL + lambda * energy is
minimised by Nesterov's method with the step predicted from the local Lipschitz constant
(||dv|| / ||dgrad||, with backtracking) and a Jacobi preconditioner (pins + lambda * area);
lambda grows by up to 5 % an iteration, less when HPWL rises, and gamma follows the overflow
as in RePlAce. Fence regions (FINE-VH islands) are a projection: each fenced cell (and the
region's own fillers) is clipped into the nearest rectangle of its region after every step.
Iterations stop when the overflow (real-cell charge above the target x free bin area, over the
movable area, on a grid of about four cells a bin) falls below the target, or when it has not
improved by 1 % in 40 iterations (more penalty would only shuffle cells).
Timing-driven placement weights the nets of the worst setup paths (`criticality_weights`, fed
by the place stage's STA); routability-driven placement inflates cells in RUDY-congested bins
(`Routability`). The wirelength gradient and the charge spreading are compiled
(`place_kernels`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.fft as sfft
import scipy.sparse as sp

from flow.engines import place as qp
from flow.engines.place import PlaceProblem


@dataclass
class EplaceStats:
    """What global placement reached (overflow as RePlAce defines it, on the bin grid)."""

    iterations: int
    overflow: float
    hpwl: float  # m, cell centres
    inflation_rounds: int = 0  # routability: cell inflations done
    inflated_area: float = 1.0  # routability: real-cell area used by the density / the cells' area


@dataclass
class Routability:
    """Congestion-driven cell inflation (RePlAce's routability mode, ORFS GPL_ROUTABILITY_DRIVEN),
    with RUDY as the congestion estimate (each net's bounding-box wire length spread evenly over
    its box, divided by the routing supply of the bin) where RePlAce asks its global router.

    When the density overflow first falls below `check_overflow`, every cell in a bin with
    congestion c > 1 gets its charge scaled by c^`exponent` (cumulative over at most `rounds`
    rounds, at most `max_ratio` in all); the fillers shrink by the area added, so the total
    charge (the target density) stays, and placement goes on: congested bins spread out."""

    supply: float  # routing supply: metres of wire per m^2 of core (sum of 1/pitch over the layers)
    check_overflow: float = 0.3  # ORFS routability_check_overflow
    max_ratio: float = 2.5  # ORFS routability_max_inflation_ratio
    exponent: float = 2.33  # ORFS routability_inflation_ratio_coef's role: ratio = congestion^exponent
    rounds: int = 3


def rudy(prob: PlaceProblem, cx: np.ndarray, cy: np.ndarray, bins: int, supply: float) -> np.ndarray:
    """RUDY congestion map (bins x bins over the core, [x, y]): wire demand / supply per bin of
    a placement with cell centres (cx, cy)."""
    x0, y0, x1, y1 = prob.core
    px, py = qp.pin_positions(prob, cx, cy)
    deg = np.diff(prob.net_ptr)
    keep = np.repeat(deg >= 2, deg)
    starts = np.concatenate([[0], np.cumsum(deg[deg >= 2])[:-1]]).astype(np.int64)
    bw, bh = (x1 - x0) / bins, (y1 - y0) / bins
    return _rudy_bins((px[keep] - x0) / bw, (py[keep] - y0) / bh, starts, bins, bw, bh) / (supply * bw * bh)


def _rudy_bins(px: np.ndarray, py: np.ndarray, starts: np.ndarray, m: int, bw: float, bh: float) -> np.ndarray:
    """Wire demand (m) per bin: each net's HPWL (pins in bin units) spread evenly over the bins
    its bounding box touches (a summed-area table, so one pass over the nets)."""
    if starts.size == 0:
        return np.zeros((m, m))
    ax0, ax1 = np.minimum.reduceat(px, starts), np.maximum.reduceat(px, starts)
    by0, by1 = np.minimum.reduceat(py, starts), np.maximum.reduceat(py, starts)
    i0 = np.clip(np.floor(ax0).astype(np.int64), 0, m - 1)
    i1 = np.clip(np.floor(ax1).astype(np.int64), 0, m - 1)
    j0 = np.clip(np.floor(by0).astype(np.int64), 0, m - 1)
    j1 = np.clip(np.floor(by1).astype(np.int64), 0, m - 1)
    per_bin = ((ax1 - ax0) * bw + (by1 - by0) * bh) / ((i1 - i0 + 1) * (j1 - j0 + 1))
    d = np.zeros((m + 1) * (m + 1))
    for ii, jj, sign in ((i0, j0, 1.0), (i1 + 1, j0, -1.0), (i0, j1 + 1, -1.0), (i1 + 1, j1 + 1, 1.0)):
        d += np.bincount(ii * (m + 1) + jj, sign * per_bin, (m + 1) * (m + 1))
    return np.cumsum(np.cumsum(d.reshape(m + 1, m + 1), axis=0), axis=1)[:m, :m]


CELLS_PER_BIN = 4.0


def _bins_for(n: int) -> int:
    """Bins per side: a few cells per bin (an FFT-friendly size), so that the overflow measures
    clumps rather than the granularity of single cells."""
    return int(sfft.next_fast_len(int(min(512, max(16, math.sqrt(max(n, 1) / CELLS_PER_BIN))))))


class _Grid:
    """Bin grid over the core in internal units (one unit = one bin width), DCT Poisson solver."""

    def __init__(self, core: tuple[float, float, float, float], m: int):
        x0, y0, x1, y1 = core
        self.m = m
        self.x0, self.y0 = x0, y0
        self.bw = (x1 - x0) / m  # metres per internal unit in x
        self.bh = (y1 - y0) / m
        u = np.arange(m)
        wu = np.pi * u / m  # angular frequency per bin
        w2 = wu[:, None] ** 2 + wu[None, :] ** 2
        w2[0, 0] = 1.0
        self.inv_w2 = 1.0 / w2
        self.inv_w2[0, 0] = 0.0
        self.wu = wu

    def scatter(self, gx: np.ndarray, gy: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, tuple]:
        """Cloud-in-cell charge map (m x m, area units) and the coordinates to gather at."""
        from flow.engines import place_kernels as pk

        return pk.cic_scatter(gx, gy, q, self.m), (gx, gy)

    def field(self, rho: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """Electric field (Ex, Ey) at bin centres and the energy sum(rho * psi) of density `rho`."""
        a = sfft.dctn(rho, type=2)
        c = a * self.inv_w2
        psi = sfft.idctn(c, type=2)
        # E = -grad psi: sine series in the differentiated axis (index shifted by one frequency)
        cx = np.zeros_like(c)
        cx[:-1, :] = (c * self.wu[:, None])[1:, :]
        cy = np.zeros_like(c)
        cy[:, :-1] = (c * self.wu[None, :])[:, 1:]
        ex = sfft.idct(sfft.idst(cx, type=2, axis=0), type=2, axis=1)
        ey = sfft.idct(sfft.idst(cy, type=2, axis=1), type=2, axis=0)
        return ex, ey, float(np.sum(rho * psi))

    @staticmethod
    def gather(e: np.ndarray, at: tuple) -> np.ndarray:
        from flow.engines import place_kernels as pk

        return pk.cic_gather(np.ascontiguousarray(e), *at)


def _rect_overlap_map(grid: _Grid, rects: list, scale: float) -> np.ndarray:
    """Area (internal units) of each bin covered by `rects` (metres), times `scale`."""
    m = grid.m
    out = np.zeros((m, m))
    edges = np.arange(m + 1, dtype=float)
    for x0, y0, x1, y1 in rects:
        a0, a1 = (x0 - grid.x0) / grid.bw, (x1 - grid.x0) / grid.bw
        b0, b1 = (y0 - grid.y0) / grid.bh, (y1 - grid.y0) / grid.bh
        ox = np.clip(np.minimum(edges[1:], a1) - np.maximum(edges[:-1], a0), 0, None)
        oy = np.clip(np.minimum(edges[1:], b1) - np.maximum(edges[:-1], b0), 0, None)
        out += scale * np.outer(ox, oy)
    return out


def _wa_grad(p: np.ndarray, starts: np.ndarray, gamma: float) -> tuple[np.ndarray, float]:
    """Weighted-average wirelength of one axis: gradient per pin and the exact span total (HPWL)
    (the placer's own path, `_wa_cell_grad`, with every pin its own cell)."""
    g = np.zeros(p.size)
    pins = np.arange(p.size, dtype=np.int64)
    span = _wa_cell_grad(np.asarray(p, dtype=float), pins, np.ones(p.size, dtype=bool), np.zeros(p.size),
                         np.asarray(starts, dtype=np.int64), 1.0, gamma, np.ones(p.size), g)
    return g, span


def _wa_cell_grad(v: np.ndarray, pcell: np.ndarray, mov: np.ndarray, fixed_pos: np.ndarray, starts: np.ndarray,
                  scale: float, gamma: float, wpin: np.ndarray, g: np.ndarray) -> float:
    """WA gradient of one axis summed per cell into `g` (pins at their cell's `v`, or at
    `fixed_pos` where not `mov`, coordinates times `scale`, each pin weighted by `wpin`); returns
    the span total in scaled units. Compiled halves (`place_kernels.wa_exponents`,
    `wa_gradient`) around numpy's vectorised exp: 3x the numpy reductions' speed."""
    from flow.engines import place_kernels as pk

    p = np.empty(pcell.size)
    arg_max = np.empty(pcell.size)
    arg_min = np.empty(pcell.size)
    span = pk.wa_exponents(v, pcell, mov, fixed_pos, starts, float(scale), float(gamma), p, arg_max, arg_min)
    np.exp(arg_max, out=arg_max)
    np.exp(arg_min, out=arg_min)
    pk.wa_gradient(p, arg_max, arg_min, starts, float(gamma), pcell, mov, wpin, float(scale), g)
    return float(span)


def eplace(prob: PlaceProblem, density: float = 0.7, seed: int = 0, target_overflow: float = 0.1,
           max_iterations: int = 1500, init_penalty: float = 1.0, max_phi: float = 1.1, ref_change: float = 0.01,
           init_cg: int = 100, net_weight: np.ndarray | None = None,
           routability: Routability | None = None) -> tuple[np.ndarray, np.ndarray, EplaceStats]:
    """Cell centres (m) after electrostatic global placement, and its final statistics.

    `density` is the target cell density (PLACE_DENSITY); iterations stop once the overflow of
    the real cells over it falls below `target_overflow` (RePlAce's default 0.1).
    `net_weight` (per net of `prob.net_ptr`) weights the wirelength, e.g. timing-critical nets;
    `routability` inflates cells in congested bins (see `Routability`)."""
    n = prob.n
    x0c, y0c, x1c, y1c = prob.core
    rng = np.random.default_rng(seed)
    density = float(min(max(density, 1e-3), 1.0))
    area = prob.w * prob.h
    free_core = (x1c - x0c) * (y1c - y0c) - sum((b[2] - b[0]) * (b[3] - b[1]) for b in prob.blockages)
    # fillers: per region (fence) and for the free core, up to target density x its free area
    avg_w = float(np.mean(np.sort(prob.w)[int(0.1 * n):max(int(0.9 * n), int(0.1 * n) + 1)])) if n else prob.site_width
    fh = prob.row_height
    fill_region: list[np.ndarray] = []
    regions = prob.region if prob.region.size == n else np.full(n, -1)
    fence_area = []
    for r, rects in enumerate(prob.region_rects):
        ra = sum((a[2] - a[0]) * (a[3] - a[1]) for a in rects)
        fence_area.append(ra)
        need = density * ra - float(area[regions == r].sum())
        fill_region.append(np.full(max(int(need / (avg_w * fh)), 0), r))
    need_free = density * (free_core - sum(fence_area)) - float(area[regions < 0].sum())
    fill_region.insert(0, np.full(max(int(need_free / (avg_w * fh)), 0), -1))
    freg = np.concatenate(fill_region).astype(np.int64) if fill_region else np.zeros(0, np.int64)
    nf = freg.size
    n_all = n + nf
    grid = _Grid(prob.core, _bins_for(n_all))
    m = grid.m
    # internal coordinates: bin units per axis
    sxm, sym = grid.bw, grid.bh
    w_all = np.concatenate([prob.w, np.full(nf, avg_w)]) / sxm
    h_all = np.concatenate([prob.h, np.full(nf, fh)]) / sym
    q = w_all * h_all
    reg_all = np.concatenate([regions, freg])
    fixed_map = _rect_overlap_map(grid, prob.blockages, density)
    bin_cap = density * (1.0 - _rect_overlap_map(grid, prob.blockages, 1.0))
    # nets (>= 2 pins) as sorted pin lists
    deg = np.diff(prob.net_ptr)
    net_of_pin = np.repeat(np.arange(deg.size), deg)
    keep = deg[net_of_pin] >= 2
    pc = prob.pin_cell[keep]
    knets = np.nonzero(deg >= 2)[0]
    pnet = np.repeat(np.arange(knets.size), deg[knets])
    starts = np.concatenate([[0], np.cumsum(deg[knets])[:-1]]).astype(np.int64)
    mov = pc >= 0
    pcell = np.where(mov, pc, 0).astype(np.int64)
    fk = np.where(mov, 0, -pc - 1)
    fpx = (prob.fixed_x[fk] - x0c) / sxm if prob.fixed_x.size else np.zeros(pc.size)
    fpy = (prob.fixed_y[fk] - y0c) / sym if prob.fixed_y.size else np.zeros(pc.size)
    wpin = np.ones(pc.size) if net_weight is None else np.asarray(net_weight, float)[knets][pnet]
    pins_of_cell = np.bincount(pcell[mov], minlength=n_all).astype(float)
    # scale between axes: WL in metres = sxm * x-units + sym * y-units
    ax_scale = np.array([sxm, sym]) / math.sqrt(sxm * sym)

    def hpwl_of(u: np.ndarray) -> float:
        px = np.where(mov, u[0, pcell], fpx)
        py = np.where(mov, u[1, pcell], fpy)
        if px.size == 0:
            return 0.0
        sx = np.maximum.reduceat(px, starts) - np.minimum.reduceat(px, starts)
        sy = np.maximum.reduceat(py, starts) - np.minimum.reduceat(py, starts)
        return float(sx.sum() * sxm + sy.sum() * sym)

    # rectangles each cell's centre may take: core, or its fence's rectangles
    def project(u: np.ndarray) -> np.ndarray:
        u[0] = np.clip(u[0], w_all / 2, m - w_all / 2)
        u[1] = np.clip(u[1], h_all / 2, m - h_all / 2)
        for r, rects in enumerate(prob.region_rects):
            idx = np.nonzero(reg_all == r)[0]
            if idx.size == 0:
                continue
            best = None
            bestd = None
            for rx0, ry0, rx1, ry1 in rects:
                lo_x = (rx0 - x0c) / sxm + w_all[idx] / 2
                hi_x = np.maximum((rx1 - x0c) / sxm - w_all[idx] / 2, lo_x)
                lo_y = (ry0 - y0c) / sym + h_all[idx] / 2
                hi_y = np.maximum((ry1 - y0c) / sym - h_all[idx] / 2, lo_y)
                cxr = np.clip(u[0, idx], lo_x, hi_x)
                cyr = np.clip(u[1, idx], lo_y, hi_y)
                d = np.abs(cxr - u[0, idx]) + np.abs(cyr - u[1, idx])
                if best is None:
                    best, bestd = np.vstack([cxr, cyr]), d
                else:
                    take = d < bestd
                    best[:, take] = np.vstack([cxr, cyr])[:, take]
                    bestd = np.minimum(bestd, d)
            u[:, idx] = best
        return u

    # initial placement: the quadratic (star-model) wirelength optimum, fillers spread at random
    u = np.empty((2, n_all))
    if n:
        L, bx, by, _ = qp._laplacian(prob)
        eps = 1e-6 * (L.diagonal().mean() if L.shape[0] else 1.0)
        A = (L + sp.diags(np.full(L.shape[0], eps))).tocsr()
        cxc, cyc = (x0c + x1c) / 2, (y0c + y1c) / 2
        jit = rng.normal(0, 1e-3, (2, L.shape[0]))
        # a rough solve is enough: ePlace only needs the topology, density reshapes the rest
        xs = qp.pcg(A, bx + eps * cxc, cxc + jit[0] * (x1c - x0c), init_cg)
        ys = qp.pcg(A, by + eps * cyc, cyc + jit[1] * (y1c - y0c), init_cg)
        u[0, :n] = (xs[:n] - x0c) / sxm
        u[1, :n] = (ys[:n] - y0c) / sym
    u[0, n:] = rng.uniform(0, m, nf)
    u[1, n:] = rng.uniform(0, m, nf)
    u = project(u)
    real = np.zeros(n_all, dtype=bool)
    real[:n] = True

    state = {"lam": 0.0, "gamma": 1.0, "overflow": 1.0, "hpwl": 0.0}

    def gradient(v: np.ndarray, lam: float | None) -> np.ndarray:
        gamma = state["gamma"]
        g = np.zeros((2, n_all))
        hp = 0.0
        for d, fp in ((0, fpx), (1, fpy)):
            if pcell.size:
                span = _wa_cell_grad(v[d], pcell, mov, fp, starts, ax_scale[d], gamma, wpin, g[d])
                hp += span / ax_scale[d] * (sxm, sym)[d]
        rho, wts = grid.scatter(v[0], v[1], q)
        ex, ey, _ = grid.field(rho + fixed_map)
        gd = np.vstack([-q * grid.gather(ex, wts), -q * grid.gather(ey, wts)])
        state["hpwl"] = hp
        rho_real, _ = grid.scatter(v[0, :n], v[1, :n], q[:n])
        state["overflow"] = float(np.sum(np.maximum(rho_real - bin_cap, 0.0)) / max(q[:n].sum(), 1e-30))
        if lam is None:  # RePlAce's initial penalty: a fixed fraction of the gradient ratio
            lam = init_penalty * float(np.abs(g).sum()) / max(float(np.abs(gd).sum()), 1e-30)
            state["lam"] = lam
        pre = np.maximum(1.0, pins_of_cell + lam * q)
        return (g + lam * gd) / pre

    def update_gamma() -> None:
        tau = min(max(state["overflow"], 0.0), 1.0)
        state["gamma"] = 4.0 * 10 ** ((20.0 / 9.0) * tau - 11.0 / 9.0)  # bins: 40 at tau 1, 0.4 at 0.1

    q0 = q.copy()
    ratio = np.ones(n)
    infl = {"rounds": 0}

    def inflate(u: np.ndarray) -> None:
        """One routability round: scale the charge of cells in RUDY-congested bins."""
        nonlocal ratio
        px = np.where(mov, u[0, pcell], fpx)
        py = np.where(mov, u[1, pcell], fpy)
        cong = _rudy_bins(px, py, starts, m, sxm, sym) / (routability.supply * sxm * sym)
        bx = np.clip(u[0, :n].astype(np.int64), 0, m - 1)
        by = np.clip(u[1, :n].astype(np.int64), 0, m - 1)
        c = cong[bx, by]
        new_ratio = np.minimum(ratio * np.maximum(c, 1.0) ** routability.exponent, routability.max_ratio)
        added = float(np.sum(q0[:n] * (new_ratio - 1.0)))
        budget = float(q0[n:].sum())
        if added > budget > 0:  # no more than the fillers can give back
            new_ratio = 1.0 + (new_ratio - 1.0) * budget / added
            added = budget
        ratio = new_ratio
        q[:n] = q0[:n] * ratio
        q[n:] = q0[n:] * (1.0 - added / budget) if budget > 0 else q0[n:]
        infl["rounds"] += 1

    if n == 0:
        return np.zeros(0), np.zeros(0), EplaceStats(0, 0.0, 0.0)
    # overflow of the start point sets gamma before the first gradient
    rho_real, _ = grid.scatter(u[0, :n], u[1, :n], q[:n])
    state["overflow"] = float(np.sum(np.maximum(rho_real - bin_cap, 0.0)) / max(q[:n].sum(), 1e-30))
    update_gamma()
    v = u.copy()
    g = gradient(v, None)
    lam = state["lam"]
    gnorm = float(np.sqrt(np.sum(g * g)))
    alpha = 0.044 * m / max(gnorm, 1e-30)  # a first step of a few percent of the core
    a = 1.0
    prev_hpwl = hpwl_of(u)
    it = 0
    best_ovf, best_it = state["overflow"], 0
    for it in range(1, max_iterations + 1):
        a_new = (1 + math.sqrt(4 * a * a + 1)) / 2
        for _ in range(4):  # backtracking on the predicted Lipschitz step
            u_new = project(v - alpha * g)
            v_new = project(u_new + (a - 1) / a_new * (u_new - u))
            g_new = gradient(v_new, lam)
            dv = float(np.sqrt(np.sum((v_new - v) ** 2)))
            dg = float(np.sqrt(np.sum((g_new - g) ** 2)))
            alpha_new = dv / dg if dg > 0 else alpha
            if alpha_new > 0.95 * alpha:
                break
            alpha = alpha_new
        u, v, g, a, alpha = u_new, v_new, g_new, a_new, alpha_new
        if (routability is not None and infl["rounds"] < routability.rounds
                and state["overflow"] < routability.check_overflow and nf):
            inflate(u)
            g = gradient(v, lam)
            best_ovf, best_it = state["overflow"], it
            continue
        if state["overflow"] < target_overflow:
            break
        if state["overflow"] < best_ovf * 0.99:
            best_ovf, best_it = state["overflow"], it
        elif it - best_it > 40:  # the overflow has stalled: more penalty would only scramble cells
            break
        cur = state["hpwl"]  # at the reference point v, as the gradient computed it
        change = (cur - prev_hpwl) / (ref_change * max(prev_hpwl, 1e-30))
        prev_hpwl = cur
        lam *= max(0.95, min(max_phi, max_phi ** (1 - change)))
        update_gamma()
    cx = u[0, :n] * sxm + x0c
    cy = u[1, :n] * sym + y0c
    return cx, cy, EplaceStats(it, state["overflow"], qp.hpwl(prob, cx, cy), infl["rounds"],
                               float(np.sum(q[:n]) / max(np.sum(q0[:n]), 1e-30)))


def overflow(prob: PlaceProblem, cx: np.ndarray, cy: np.ndarray, density: float) -> float:
    """RePlAce's density overflow of placed cell centres: area above `density` x free bin area
    over the movable area, on the bin grid `eplace` uses for this many cells."""
    n = prob.n
    grid = _Grid(prob.core, _bins_for(n))
    q = prob.w * prob.h / (grid.bw * grid.bh)
    cap = density * (1.0 - _rect_overlap_map(grid, prob.blockages, 1.0))
    rho, _ = grid.scatter((cx - prob.core[0]) / grid.bw, (cy - prob.core[1]) / grid.bh, q)
    return float(np.sum(np.maximum(rho - cap, 0.0)) / max(q.sum(), 1e-30))


def global_place(prob: PlaceProblem, density: float, iterations: int, seed: int,
                 algorithm: str = "nesterov", net_weight: np.ndarray | None = None,
                 routability: Routability | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Cell centres (m) from the global placer named by GPL_ALGORITHM: "nesterov" (this module,
    optionally timing-driven by `net_weight` and routability-driven) or "quadratic"
    (`flow.engines.place.global_place`, whose spreading iterations are `iterations`)."""
    if algorithm == "quadratic":
        if net_weight is not None or routability is not None:
            raise ValueError("timing- and routability-driven placement need the nesterov placer")
        return qp.global_place(prob, density, iterations, seed)
    cx, cy, _ = eplace(prob, density, seed, net_weight=net_weight, routability=routability)
    return cx, cy


def criticality_weights(path_nets: list[np.ndarray], path_slack: np.ndarray, n_nets: int,
                        max_weight: float = 1.9) -> np.ndarray:
    """Timing-driven net weights (ORFS GPL_TIMING_DRIVEN, RePlAce's net re-weighting): each net
    on one of the worst setup paths gets 1 + (max_weight - 1) x its criticality, the criticality
    of a path being (s_max - s) / (s_max - s_min) over the paths' slacks (1 for the worst path,
    0 for the least critical one kept; all 1 when they tie); a net takes its most critical path.
    `max_weight` is ORFS's timing_driven_net_weight_max (1.9)."""
    weight = np.ones(n_nets)
    if not path_nets:
        return weight
    s = np.asarray(path_slack, dtype=float)
    span = float(s.max() - s.min())
    crit = np.ones(s.size) if span <= 0 else (s.max() - s) / span
    for nets, c in zip(path_nets, crit, strict=True):
        nets = np.asarray(nets, dtype=np.int64)
        nets = nets[(nets >= 0) & (nets < n_nets)]
        weight[nets] = np.maximum(weight[nets], 1.0 + (max_weight - 1.0) * c)
    return weight
