"""Island floorplan, header switches and level shifters.

Floorplan: islands are ordered by the Fiedler vector of their connectivity graph (spectral
ordering keeps strongly connected islands next to each other), then laid out boustrophedon in
horizontal bands of whole rows; each island gets a row-aligned, site-aligned rectangle whose
area is proportional to what it must hold (its cells, both switch banks, its level shifters),
at least two shifters plus a tap cell wide and a double-height row pair high, so 1,000+ islands
fit at the design's own utilisation.

Switches: each island is fed from VDDH and VDDL through header PMOS switches, one bank per rail
(one on at a time). A bank is sized so that the island's peak current I = k_peak · P / V drops
at most FINEVH_IR_DROP_MV across it: W = r_on·I/ΔV (r_on in Ω·µm, from the platform's
`[power_switch]`). Area, leakage and gate energy follow from W.

Level shifters: islands hop between rails at run time, so any net crossing islands can see a
rail difference; one shifter per (net, receiving island) pair, with the platform's real cell
(Sky130 `lpflow_lsbuf_lh_hl_isowell_tap_1`) or documented model for delay, area, leakage and energy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from flow.errors import ConfigError

Rect = tuple[float, float, float, float]

PEAK_FACTOR = 2.0  # peak / average island current (documented assumption)


@dataclass
class SwitchBank:
    width_um: float
    area_um2: float
    leakage_w: float
    r_on_ohm: float


def size_switch(power_w: float, voltage: float, ir_drop_v: float, model: dict) -> SwitchBank:
    """Header bank for one rail of one island."""
    current = PEAK_FACTOR * max(power_w, 0.0) / voltage
    r_on_um = float(model.get("r_on_ohm_um", 1500.0))
    width = max(r_on_um * current / ir_drop_v, float(model.get("min_width_um", 1.0)))
    return SwitchBank(width, width * float(model.get("area_um2_per_um", 0.35)),
                      width * float(model.get("leakage_nw_per_um", 0.8)) * 1e-9, r_on_um / width)


def spectral_embedding(k: int, adjacency: sp.spmatrix) -> np.ndarray:
    """(k, 2) coordinates of the islands from the 2nd and 3rd eigenvectors of their connectivity
    graph's normalised Laplacian: strongly connected islands land near each other in both
    directions, which a 1-D order folded into bands loses across the bands."""
    if k <= 2:
        return np.column_stack([np.zeros(k), np.arange(k, dtype=float)])
    a = sp.csr_matrix(adjacency, dtype=float).toarray()
    deg = a.sum(axis=1)
    d = np.where(deg > 0, 1.0 / np.sqrt(np.maximum(deg, 1e-300)), 0.0)
    lap = np.eye(k) - d[:, None] * a * d[None, :]
    _, vecs = np.linalg.eigh(lap)
    emb = np.column_stack([vecs[:, 2] * d, vecs[:, 1] * d])  # x, y
    # the two eigenvectors may be any rotation of each other (equal eigenvalues on regular
    # structures): keep the rotation whose banded layout keeps connected islands closest
    coo = sp.triu(sp.csr_matrix(adjacency, dtype=float), k=1).tocoo()
    bands = max(1, int(round(math.sqrt(k))))
    best = None
    for angle in range(0, 180, 10):
        t = math.radians(angle)
        rot = emb @ np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
        xy = _grid_positions(rot, bands)
        cost = float(np.sum(coo.data * np.hypot(*(xy[coo.row] - xy[coo.col]).T)))
        if best is None or cost < best[0]:
            best = (cost, rot)
    return best[1]


def _grid_positions(embedding: np.ndarray, bands: int) -> np.ndarray:
    """Where `grid_order` puts each island, in island pitches (band; rank across its band)."""
    k = len(embedding)
    out = np.zeros((k, 2))
    per = math.sqrt(k)
    for b, row in enumerate(_rows(embedding, bands)):
        out[row, 0] = (np.arange(row.size) + 0.5) / max(row.size, 1) * per
        out[row, 1] = b * per / bands
    return out


def _rows(embedding: np.ndarray, bands: int, areas: np.ndarray | None = None,
          capacity: np.ndarray | None = None) -> list[np.ndarray]:
    """The islands of each band, by y (each band taking the islands whose `areas` fill its share
    of the `capacity`; equal counts by default), each sorted by x."""
    by_y = np.argsort(embedding[:, 1], kind="stable")
    if areas is None or capacity is None:
        chunks = np.array_split(by_y, bands)
    else:
        a = np.asarray(areas, dtype=float)[by_y] / float(np.sum(areas))
        mid = np.cumsum(a) - a / 2  # each island's centre in the cumulative share
        chunks = np.split(by_y, np.searchsorted(mid, np.cumsum(capacity)[:-1] / float(np.sum(capacity))))
    return [c[np.argsort(embedding[c, 0], kind="stable")] for c in chunks]


def grid_order(embedding: np.ndarray, bands: int, areas: np.ndarray | None = None,
               capacity: np.ndarray | None = None) -> np.ndarray:
    """The bands of `_rows`, odd ones reversed: the boustrophedon order `island_rects` lays out,
    so its bands follow the embedding's rows."""
    out = [row[::-1] if b % 2 else row for b, row in enumerate(_rows(embedding, bands, areas, capacity))]
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def apportion(weights: np.ndarray, total: int, minimum: int) -> np.ndarray:
    """Integer shares of `total` in proportion to `weights`, each at least `minimum`: parts whose
    share falls below the minimum are held there and the rest is shared again in proportion
    (so every free part gets the same share per weight), then largest remainder. The site
    columns or rows each island or band gets."""
    n = len(weights)
    if n * minimum > total:
        raise ValueError(f"{n} parts of at least {minimum} do not fit in {total}")
    w = np.maximum(np.asarray(weights, dtype=float), 0.0)
    if w.sum() <= 0:
        w = np.ones(n)
    held = np.zeros(n, dtype=bool)
    while True:
        free = total - minimum * int(held.sum())
        target = np.where(held, float(minimum), w * free / max(w[~held].sum(), 1e-300))
        low = ~held & (target < minimum)
        if not low.any():
            break
        held |= low
    alloc = np.maximum(np.floor(target + 1e-9).astype(np.int64), minimum)
    short = total - int(alloc.sum())
    if short > 0:
        alloc[np.argsort(-(target - alloc), kind="stable")[:short]] += 1
    return alloc


def island_rects(areas: np.ndarray, order: list[int] | np.ndarray, core: Rect, row_h: float, site_w: float,
                 min_width: float = 0.0, row_unit: int = 1) -> list[Rect]:
    """Row- and site-aligned rectangles tiling the core, in `order` (boustrophedon bands of rows;
    a (k, 2) array is an embedding, laid out by `grid_order`), areas proportional. Every island is at least `min_width` wide (room for a level shifter beside
    a tap column) and bands are whole multiples of `row_unit` rows from the core's bottom (so a
    double-height shifter has a row pair of the right parity in every island).

    Bands have equal heights (near-square islands in a core of any aspect); islands fill them in
    order, next-fit, at the largest common scale of their areas that fits, so an island held at
    the minimum width takes its room from where the band has it and every island's share of its
    rectangle (its fill) stays within a few per cent of the others'."""
    x0, y0, x1, y1 = core
    k = len(areas)
    nrows = int(round((y1 - y0) / row_h))
    units = nrows // row_unit
    ncols = int(round((x1 - x0) / site_w))
    min_cols = max(1, int(math.ceil(min_width / site_w - 1e-9)))
    per_row = ncols // min_cols
    square = int(round(math.sqrt(k * (y1 - y0) / (x1 - x0))))
    bands = max(1, square, int(math.ceil(k / max(1, per_row))))
    if per_row < 1 or bands > units:
        raise ConfigError(f"FINE-VH: {k} islands at least {min_width * 1e6:.2f} µm wide and {row_unit} rows high do "
                          f"not fit the core ({(x1 - x0) * 1e6:.1f} × {(y1 - y0) * 1e6:.1f} µm): lower FINEVH_ISLANDS "
                          "or CORE_UTILIZATION")
    seq = np.asarray(order)
    if seq.ndim == 2:
        seq = grid_order(seq, bands, areas, apportion(np.ones(bands), units, 1))
    share = np.asarray(areas, dtype=float)[seq] / float(np.sum(areas)) * ncols * units  # in site-columns × units
    while _next_fit(share * 1e-9, apportion(np.ones(bands), units, 1), ncols, min_cols) is None:
        bands += 1  # the minimum widths alone overflow: more, lower bands
        if bands > units:
            raise ConfigError(f"FINE-VH: {k} islands at least {min_width * 1e6:.2f} µm wide do not fit the core: "
                              "lower FINEVH_ISLANDS or CORE_UTILIZATION")
    rows = apportion(np.ones(bands), units, 1)
    lo, hi = 0.0, 1.0  # the areas add up to the core: a scale above 1 never fits
    for _ in range(40):
        mid = (lo + hi) / 2
        if _next_fit(share * mid, rows, ncols, min_cols) is not None:
            lo = mid
        else:
            hi = mid
    band_of = _next_fit(share * lo, rows, ncols, min_cols)
    assert band_of is not None
    heights = rows * row_unit
    heights[-1] += nrows - units * row_unit
    rects: list[Rect | None] = [None] * k
    ylo = y0
    for b in range(bands):
        yhi = ylo + heights[b] * row_h
        members = np.flatnonzero(band_of == b)
        if members.size:
            if b % 2:
                members = members[::-1]
            col = 0
            for m, cols in zip(members.tolist(), apportion(share[members], ncols, min_cols).tolist(), strict=True):
                rects[int(seq[m])] = (x0 + col * site_w, ylo, x0 + (col + cols) * site_w, yhi)
                col += cols
        ylo = yhi
    return [r for r in rects if r is not None]


def slicing_rects(areas: np.ndarray, xy: np.ndarray, core: Rect, row_h: float, site_w: float,
                  min_width: float = 0.0, row_unit: int = 1, tolerance: float = 0.05) -> list[Rect]:
    """Row- and site-aligned rectangles tiling the core as a slicing floorplan of the islands'
    positions `xy` (where their cells sit in an unfenced placement): the islands are split in
    two by their position across the longer side of the rectangle (half the islands each side)
    and the rectangle is cut at their share of the area, recursively. Each fence thus lies over
    the cells it holds, which a banded order cannot keep (its next-fit spill moves islands a
    band at a time). A cut across rows falls on `row_unit` boundaries; where that rounding
    would miss the area share by more than `tolerance`, the other side is cut instead. Every
    island is at least `min_width` wide and `row_unit` rows high."""
    x0, y0, x1, y1 = core
    k = len(areas)
    a = np.asarray(areas, dtype=float)
    pos = np.asarray(xy, dtype=float)
    units = int(round((y1 - y0) / row_h)) // row_unit
    ncols = int(round((x1 - x0) / site_w))
    min_cols = max(1, int(math.ceil(min_width / site_w - 1e-9)))
    if (ncols // min_cols) * units < k:
        raise ConfigError(f"FINE-VH: {k} islands at least {min_width * 1e6:.2f} µm wide and {row_unit} rows high do "
                          f"not fit the core ({(x1 - x0) * 1e6:.1f} × {(y1 - y0) * 1e6:.1f} µm): lower FINEVH_ISLANDS "
                          "or CORE_UTILIZATION")
    out: list[Rect | None] = [None] * k
    # (islands, column span, unit span); the top unit span takes the rows left over by row_unit
    stack = [(np.arange(k), 0, ncols, 0, units)]
    while stack:
        ids, c0, c1, u0, u1 = stack.pop()
        if ids.size == 1:
            top = y1 if u1 == units else y0 + u1 * row_unit * row_h
            out[int(ids[0])] = (x0 + c0 * site_w, y0 + u0 * row_unit * row_h, x0 + c1 * site_w, top)
            continue
        k1 = ids.size // 2
        cuts = []
        for axis in (0, 1):  # 0: a vertical cut (columns), 1: a horizontal one (row units)
            lo, hi = (c0, c1) if axis == 0 else (u0, u1)
            order = ids[np.argsort(pos[ids, axis], kind="stable")]
            share = float(a[order[:k1]].sum() / max(a[order].sum(), 1e-300))
            ideal = lo + share * (hi - lo)
            other = (u1 - u0) if axis == 0 else (c1 - c0) // min_cols
            per = min_cols if axis == 0 else 1

            def fits(n: int, span: int, per: int = per, other: int = other) -> bool:
                return span >= per and (span // per) * other >= n

            best = None
            for cut in sorted({int(math.floor(ideal)), int(math.ceil(ideal))} | set(range(lo + 1, hi))
                               if hi - lo <= 64 else {int(math.floor(ideal)), int(math.ceil(ideal))}):
                if lo < cut < hi and fits(k1, cut - lo) and fits(ids.size - k1, hi - cut):
                    err = abs(cut - ideal) / max(ideal - lo, 1e-9)
                    if best is None or err < best[0]:
                        best = (err, cut)
            if best is not None:
                length = (c1 - c0) * site_w if axis == 0 else (u1 - u0) * row_unit * row_h
                cuts.append((best[0] > tolerance, -length, best[0], axis, best[1], order))
        if not cuts:
            raise ConfigError(f"FINE-VH: {ids.size} islands do not fit a {(c1 - c0) * site_w * 1e6:.1f} × "
                              f"{(u1 - u0) * row_unit * row_h * 1e6:.1f} µm part of the core: lower FINEVH_ISLANDS "
                              "or CORE_UTILIZATION")
        _, _, _, axis, cut, order = min(cuts, key=lambda t: t[:3])
        if axis == 0:
            stack += [(order[:k1], c0, cut, u0, u1), (order[k1:], cut, c1, u0, u1)]
        else:
            stack += [(order[:k1], c0, c1, u0, cut), (order[k1:], c0, c1, cut, u1)]
    return [r for r in out if r is not None]


def _next_fit(area: np.ndarray, rows: np.ndarray, ncols: int, min_cols: int) -> np.ndarray | None:
    """Band of each island when islands fill bands in order, each max(area / rows, min_cols)
    columns wide; None when they need more bands than there are."""
    out = np.empty(len(area), dtype=np.int64)
    b, used = 0, 0.0
    for i, a in enumerate(area.tolist()):
        while True:
            w = max(a / rows[b], min_cols)
            if used + w <= ncols + 1e-9:
                used += w
                out[i] = b
                break
            b, used = b + 1, 0.0
            if b == len(rows):
                return None
    return out



def free_runs(rect: Rect, blockages: np.ndarray, row_h: float, site_w: float) -> list[int]:
    """Lengths (sites) of the free stretches of every row of `rect` between `blockages`
    (an (n, 4) array of x0, y0, x1, y1 already clipped to the rect's neighbourhood)."""
    x0, y0, x1, y1 = rect
    ncols = int(round((x1 - x0) / site_w))
    out = []
    for r in range(int(round((y1 - y0) / row_h))):
        ylo = y0 + r * row_h
        hit = blockages[(blockages[:, 1] < ylo + row_h - 1e-12) & (blockages[:, 3] > ylo + 1e-12)] \
            if len(blockages) else blockages
        spans = sorted((math.floor((b[0] - x0) / site_w + 1e-9), math.ceil((b[2] - x0) / site_w - 1e-9)) for b in hit)
        col = 0
        for a, b in spans + [(ncols, ncols)]:
            if a > col:
                out.append(min(a, ncols) - col)
            col = max(col, b)
    return out


def packs(widths: list[int], runs: list[int]) -> bool:
    """Do cells of these widths (sites) fit the free runs, first-fit decreasing? The test an
    island's rectangle must pass before placement: wide cells (flip-flops) need runs between tap
    columns and level shifters, not just area."""
    room = sorted(runs, reverse=True)
    for w in sorted(widths, reverse=True):
        for i, r in enumerate(room):
            if r >= w:
                room[i] = r - w
                break
        else:
            return False
    return True
