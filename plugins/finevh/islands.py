"""Island floorplan, header switches and level shifters.

Floorplan: islands are ordered by the Fiedler vector of their connectivity graph (spectral
ordering keeps strongly connected islands next to each other), then laid out boustrophedon in
horizontal bands of whole rows; each island gets a row-aligned, site-aligned rectangle whose
area is (cell area + switch area) / PLACE_DENSITY, scaled so that the islands tile the core.

Switches: each island is fed from VDDH and VDDL through header PMOS switches, one bank per rail
(one on at a time). A bank is sized so that the island's peak current I = k_peak · P / V drops
at most FINEVH_IR_DROP_MV across it: W = r_on·I/ΔV (r_on in Ω·µm, from the platform's
`[power_switch]`). Area, leakage and gate energy follow from W.

Level shifters: islands hop between rails at run time, so any net crossing islands can see a
rail difference; one shifter per (net, receiving island) pair, with the platform's real cell
(Sky130 `lpflow_lsbuf_lh_isowell_4`) or documented model for delay, area, leakage and energy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

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


def spectral_order(k: int, adjacency: sp.spmatrix) -> list[int]:
    if k <= 2:
        return list(range(k))
    a = sp.csr_matrix(adjacency, dtype=float).toarray()
    lap = np.diag(a.sum(axis=1)) - a
    _, vecs = np.linalg.eigh(lap)
    return [int(i) for i in np.argsort(vecs[:, 1], kind="stable")]


def island_rects(areas: np.ndarray, order: list[int], core: Rect, row_h: float, site_w: float) -> list[Rect]:
    """Row- and site-aligned rectangles tiling the core, in `order`, areas proportional."""
    x0, y0, x1, y1 = core
    k = len(areas)
    nrows = int(round((y1 - y0) / row_h))
    bands = max(1, min(nrows, int(round(math.sqrt(k)))))
    per_band = [list(b) for b in np.array_split(np.array(order), bands)]
    total = float(areas.sum())
    rects: list[Rect | None] = [None] * k
    row = 0
    for b, members in enumerate(per_band):
        share = float(areas[members].sum()) / total
        rows_here = max(1, int(round(share * nrows))) if b < bands - 1 else nrows - row
        rows_here = min(rows_here, nrows - row - (bands - 1 - b))
        ylo, yhi = y0 + row * row_h, y0 + (row + rows_here) * row_h
        row += rows_here
        seq = members if b % 2 == 0 else members[::-1]
        band_area = float(areas[seq].sum())
        ncols = int(round((x1 - x0) / site_w))
        col = 0
        for j, isl in enumerate(seq):
            cols = ncols - col if j == len(seq) - 1 else max(1, int(round(areas[isl] / band_area * ncols)))
            rects[isl] = (x0 + col * site_w, ylo, x0 + (col + cols) * site_w, yhi)
            col += cols
    return [r for r in rects if r is not None]
