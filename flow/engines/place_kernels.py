"""Compiled inner loops of detailed placement (numba): single-cell moves into free sites of the
optimal region, and adjacent swaps in a row.

Why compiled loops: both passes visit every cell and each visit evaluates a few nets and scans a
few rows of free sites; in Python lists that was 40 s CPU of the 100k-cell benchmark for 1 s of
legalisation. Here the placement is a site grid — `seg_map[row, site]` names the row segment a
site belongs to (−1: blocked by a tap cell, a fixed cell or outside every row) and
`occ[row, site]` the cell sitting on it (−1: free) — so a move is a scan of `occ` and legality is
kept by construction: a cell only ever lands on free sites of one segment its fence owns.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def mark_occupancy(site, row, wsites, hrows, occ):  # pragma: no cover - compiled
    """occ[r, s] = the cell covering site s of row r (every row a multi-row cell spans)."""
    nrows, ncols = occ.shape
    for i in range(site.size):
        for r in range(max(row[i], 0), min(row[i] + hrows[i], nrows)):
            for s in range(max(site[i], 0), min(site[i] + wsites[i], ncols)):
                occ[r, s] = i


#: a cell index no pin has (fixed pins are negative from -1 down): `_net_box` leaves nothing out
NO_CELL = -(1 << 62)


@njit(cache=True, inline="always")
def _net_box(k, skip, net_ptr, pin_cell, fixed_x, fixed_y, cx, cy):  # pragma: no cover - compiled
    """(xmin, xmax, ymin, ymax) of net k's pins other than cell `skip`; empty when xmax < xmin."""
    xmin = ymin = np.inf
    xmax = ymax = -np.inf
    for t in range(net_ptr[k], net_ptr[k + 1]):
        p = pin_cell[t]
        if p == skip:
            continue
        if p >= 0:
            x, y = cx[p], cy[p]
        else:
            x, y = fixed_x[-p - 1], fixed_y[-p - 1]
        xmin, xmax = min(xmin, x), max(xmax, x)
        ymin, ymax = min(ymin, y), max(ymax, y)
    return xmin, xmax, ymin, ymax


@njit(cache=True, inline="always")
def _net_length(k, net_ptr, pin_cell, fixed_x, fixed_y, cx, cy):  # pragma: no cover - compiled
    if net_ptr[k + 1] - net_ptr[k] < 2:
        return 0.0
    xmin, xmax, ymin, ymax = _net_box(k, NO_CELL, net_ptr, pin_cell, fixed_x, fixed_y, cx, cy)
    return xmax - xmin + ymax - ymin


@njit(cache=True, inline="always")
def _box_cost(boxes, m, x, y):  # pragma: no cover - compiled
    c = 0.0
    for t in range(m):
        c += max(boxes[t, 1], x) - min(boxes[t, 0], x) + max(boxes[t, 3], y) - min(boxes[t, 2], y)
    return c


@njit(cache=True, inline="always")
def _free_left(occ, r, hi, lo, w):  # pragma: no cover - compiled
    """Largest s in [lo, hi] with sites s .. s+w-1 of row r free, or -1."""
    run = 0
    for p in range(hi + w - 1, lo - 1, -1):
        if occ[r, p] < 0:
            run += 1
            if run >= w:
                return p
        else:
            run = 0
    return -1


@njit(cache=True, inline="always")
def _free_right(occ, r, lo, hi, w):  # pragma: no cover - compiled
    """Smallest s in [lo, hi] with sites s .. s+w-1 of row r free, or -1."""
    run = 0
    for p in range(lo, hi + w):
        if occ[r, p] < 0:
            run += 1
            if run >= w:
                return p - w + 1
        else:
            run = 0
    return -1


@njit(cache=True, nogil=True)
def move_cells(site, row, wsites, movable, region, occ, seg_start, seg_end, seg_owner, row_seg_ptr,
               cnet_ptr, cnets, net_ptr, pin_cell, fixed_x, fixed_y, cx, cy, h, x0, y0, sw, rh,
               row_window, passes):  # pragma: no cover - compiled
    """FastPlace-DP's global move: each movable cell to the free sites, within `row_window` rows of
    its optimal region (median box of its nets' boxes without it), that shorten its nets most.
    Updates site/row/cx/cy in place; returns the number of moves."""
    nrows = row_seg_ptr.size - 1
    maxdeg = 1
    for i in range(site.size):
        maxdeg = max(maxdeg, cnet_ptr[i + 1] - cnet_ptr[i])
    boxes = np.empty((maxdeg, 4))
    ex = np.empty(2 * maxdeg)
    ey = np.empty(2 * maxdeg)
    moves = 0
    for _ in range(passes):
        moved = 0
        for i in range(site.size):
            if not movable[i]:
                continue
            m = 0
            for t in range(cnet_ptr[i], cnet_ptr[i + 1]):
                xmin, xmax, ymin, ymax = _net_box(cnets[t], i, net_ptr, pin_cell, fixed_x, fixed_y, cx, cy)
                if xmax >= xmin:
                    boxes[m, 0], boxes[m, 1], boxes[m, 2], boxes[m, 3] = xmin, xmax, ymin, ymax
                    ex[2 * m], ex[2 * m + 1], ey[2 * m], ey[2 * m + 1] = xmin, xmax, ymin, ymax
                    m += 1
            if m == 0:
                continue
            sx = np.sort(ex[:2 * m])
            sy = np.sort(ey[:2 * m])
            ox, oy = (sx[m - 1] + sx[m]) / 2, (sy[m - 1] + sy[m]) / 2
            w = wsites[i]
            r_old, s_old = row[i], site[i]
            best_c = _box_cost(boxes, m, cx[i], cy[i]) - 1e-15
            best_r, best_s = r_old, s_old
            for s in range(s_old, s_old + w):
                occ[r_old, s] = -1
            want = (ox - w * sw / 2 - x0) / sw
            want_s = int(math.floor(want + 0.5))
            r_opt = int(math.floor((oy - h[i] / 2 - y0) / rh + 0.5))
            r_opt = min(max(r_opt, 0), nrows - 1)
            half = cx[i] - (x0 + s_old * sw)  # centre offset of the cell's real width
            for r in range(max(r_opt - row_window, 0), min(r_opt + row_window, nrows - 1) + 1):
                yc = y0 + r * rh + h[i] / 2
                for g in range(row_seg_ptr[r], row_seg_ptr[r + 1]):
                    if seg_owner[g] != region[i] or seg_end[g] - seg_start[g] < w:
                        continue
                    hi = min(want_s, seg_end[g] - w)
                    if hi >= seg_start[g]:
                        s = _free_left(occ, r, hi, seg_start[g], w)
                        if s >= 0:
                            c = _box_cost(boxes, m, x0 + s * sw + half, yc)
                            if c < best_c:
                                best_c, best_r, best_s = c, r, s
                    lo = max(want_s + 1, seg_start[g])
                    if lo <= seg_end[g] - w:
                        s = _free_right(occ, r, lo, seg_end[g] - w, w)
                        if s >= 0:
                            c = _box_cost(boxes, m, x0 + s * sw + half, yc)
                            if c < best_c:
                                best_c, best_r, best_s = c, r, s
            for s in range(best_s, best_s + w):
                occ[best_r, s] = i
            if best_r != r_old or best_s != s_old:
                row[i], site[i] = best_r, best_s
                cx[i] = x0 + best_s * sw + half
                cy[i] = y0 + best_r * rh + h[i] / 2
                moved += 1
        moves += moved
        if moved == 0:
            break
    return moves


@njit(cache=True, nogil=True)
def swap_adjacent(order, row_ptr, site, row, wsites, seg, occ, cnet_ptr, cnets, net_ptr, pin_cell,
                  fixed_x, fixed_y, cx, cy, x0, sw, passes):  # pragma: no cover - compiled
    """Adjacent swaps a|b -> b|a in each row (b to a's left end, a to b's right end) when the nets
    of a and b get shorter; only cells of one segment (so one fence) whose new sites are free.
    `order` lists the cells of each row (`row_ptr`) by x; updated with site/cx in place."""
    n_nets = net_ptr.size - 1
    stamp = np.full(n_nets, -1, dtype=np.int64)
    nets = np.empty(n_nets, dtype=np.int64)
    tick = 0
    swaps = 0
    for _ in range(passes):
        improved = 0
        for r in range(row_ptr.size - 1):
            for t in range(row_ptr[r], row_ptr[r + 1] - 1):
                a, b = order[t], order[t + 1]
                if seg[a] < 0 or seg[a] != seg[b]:
                    continue
                tick += 1
                m = 0
                for c in (a, b):
                    for q in range(cnet_ptr[c], cnet_ptr[c + 1]):
                        k = cnets[q]
                        if stamp[k] != tick:
                            stamp[k] = tick
                            nets[m] = k
                            m += 1
                if m == 0:
                    continue
                sa, sb, wa, wb = site[a], site[b], wsites[a], wsites[b]
                na, nb = sb + wb - wa, sa
                rr = row[a]
                free = True
                for s in range(nb, nb + wb):
                    if occ[rr, s] >= 0 and occ[rr, s] != a and occ[rr, s] != b:
                        free = False
                for s in range(na, na + wa):
                    if occ[rr, s] >= 0 and occ[rr, s] != a and occ[rr, s] != b:
                        free = False
                if not free or na < nb + wb:
                    continue
                before = 0.0
                for q in range(m):
                    before += _net_length(nets[q], net_ptr, pin_cell, fixed_x, fixed_y, cx, cy)
                xa, xb = cx[a], cx[b]
                cx[a] = xa + (na - sa) * sw
                cx[b] = xb + (nb - sb) * sw
                after = 0.0
                for q in range(m):
                    after += _net_length(nets[q], net_ptr, pin_cell, fixed_x, fixed_y, cx, cy)
                if after < before - 1e-15:
                    for s in range(sa, sa + wa):
                        occ[rr, s] = -1
                    for s in range(sb, sb + wb):
                        occ[rr, s] = -1
                    for s in range(nb, nb + wb):
                        occ[rr, s] = b
                    for s in range(na, na + wa):
                        occ[rr, s] = a
                    site[a], site[b] = na, nb
                    order[t], order[t + 1] = b, a
                    improved += 1
                else:
                    cx[a], cx[b] = xa, xb
        swaps += improved
        if improved == 0:
            break
    return swaps


@njit(cache=True, nogil=True)
def wa_exponents(v, pcell, mov, fixed_pos, starts, scale, gamma, p, arg_max, arg_min):  # pragma: no cover - compiled
    """First half of the weighted-average (WA) wirelength of one axis, nets being the pin runs
    from `starts`: pin coordinates `p` (at the cell in `v`, or `fixed_pos` where not `mov`, times
    `scale`) and the exponents (p - max) / gamma, (min - p) / gamma of each pin in its net.
    Returns the span total (that axis's HPWL, scaled). The exponentials are left to numpy, whose
    vectorised exp is 6x numba's scalar one."""
    for t in range(pcell.size):
        p[t] = (v[pcell[t]] if mov[t] else fixed_pos[t]) * scale
    span = 0.0
    nn = starts.size
    for k in range(nn):
        a = starts[k]
        b = starts[k + 1] if k + 1 < nn else p.size
        pmax = pmin = p[a]
        for t in range(a + 1, b):
            pmax, pmin = max(pmax, p[t]), min(pmin, p[t])
        span += pmax - pmin
        for t in range(a, b):
            arg_max[t] = (p[t] - pmax) / gamma
            arg_min[t] = (pmin - p[t]) / gamma
    return span


@njit(cache=True, nogil=True)
def wa_gradient(p, e_max, e_min, starts, gamma, pcell, mov, wpin, scale, g):  # pragma: no cover - compiled
    """Second half of WA: from the exponentials, d WA / d p per pin (weighted by `wpin`, times
    `scale`) summed into the cells' gradient `g`."""
    g[:] = 0.0
    nn = starts.size
    for k in range(nn):
        a = starts[k]
        b = starts[k + 1] if k + 1 < nn else p.size
        sp = sm = spx = smx = 0.0
        for t in range(a, b):
            sp += e_max[t]
            sm += e_min[t]
            spx += p[t] * e_max[t]
            smx += p[t] * e_min[t]
        wp, wm = spx / sp, smx / sm
        for t in range(a, b):
            if mov[t]:
                gt = e_max[t] / sp * (1 + (p[t] - wp) / gamma) - e_min[t] / sm * (1 - (p[t] - wm) / gamma)
                g[pcell[t]] += gt * wpin[t] * scale


@njit(cache=True, nogil=True)
def cic_scatter(gx, gy, q, m):  # pragma: no cover - compiled
    """Cloud-in-cell (bilinear) charge map, m x m bins, of charges q at bin coordinates (gx, gy)."""
    rho = np.zeros((m, m))
    for i in range(gx.size):
        fx = min(max(gx[i] - 0.5, 0.0), m - 1.0)
        fy = min(max(gy[i] - 0.5, 0.0), m - 1.0)
        i0 = min(int(fx), m - 2)
        j0 = min(int(fy), m - 2)
        tx, ty = fx - i0, fy - j0
        rho[i0, j0] += q[i] * (1 - tx) * (1 - ty)
        rho[i0 + 1, j0] += q[i] * tx * (1 - ty)
        rho[i0, j0 + 1] += q[i] * (1 - tx) * ty
        rho[i0 + 1, j0 + 1] += q[i] * tx * ty
    return rho


@njit(cache=True, nogil=True)
def cic_gather(e, gx, gy):  # pragma: no cover - compiled
    """The bilinear interpolation of bin values `e` at (gx, gy): the adjoint of `cic_scatter`."""
    m = e.shape[0]
    out = np.empty(gx.size)
    for i in range(gx.size):
        fx = min(max(gx[i] - 0.5, 0.0), m - 1.0)
        fy = min(max(gy[i] - 0.5, 0.0), m - 1.0)
        i0 = min(int(fx), m - 2)
        j0 = min(int(fy), m - 2)
        tx, ty = fx - i0, fy - j0
        out[i] = (e[i0, j0] * (1 - tx) * (1 - ty) + e[i0 + 1, j0] * tx * (1 - ty)
                  + e[i0, j0 + 1] * (1 - tx) * ty + e[i0 + 1, j0 + 1] * tx * ty)
    return out


@njit(cache=True, nogil=True)
def tetris(order, want_site, want_row, wsites, region, occ, seg_start, seg_end, seg_owner, row_seg_ptr,
           sw, rh, site, row):  # pragma: no cover - compiled
    """Tetris legalisation (Hill 2002) on the site grid: cells in `order`, each to the free run of
    sites, in a segment its fence owns, nearest its wanted (fractional) site and row, the
    search bounded by the best displacement found so far. Writes site/row; returns -1, or the
    first cell that found no room (the caller retries in another order)."""
    nrows = row_seg_ptr.size - 1
    for i in order:
        w = wsites[i]
        ws = want_site[i]
        r0 = min(max(int(math.floor(want_row[i] + 0.5)), 0), nrows - 1)
        best = np.inf
        best_r = -1
        best_s = -1
        for dist in range(nrows):
            if dist * rh >= best:
                break
            for side in range(2):
                if side == 1 and dist == 0:
                    break
                r = r0 - dist if side == 0 else r0 + dist
                if r < 0 or r >= nrows:
                    continue
                dy = abs(r - want_row[i]) * rh
                if dy >= best:
                    continue
                for g in range(row_seg_ptr[r], row_seg_ptr[r + 1]):
                    s0, s1 = seg_start[g], seg_end[g]
                    if seg_owner[g] != region[i] or s1 - s0 < w:
                        continue
                    if max(s0 - ws, ws - s1, 0.0) * sw + dy >= best:
                        continue
                    t = min(max(int(math.floor(ws + 0.5)), s0), s1 - w)
                    run = 0
                    for p in range(t + w - 1, s0 - 1, -1):  # leftwards: window [p, p + w)
                        if (ws - p) * sw + dy >= best:
                            break
                        if occ[r, p] < 0:
                            run += 1
                            if run >= w:
                                c = abs(p - ws) * sw + dy
                                if c < best:
                                    best, best_r, best_s = c, r, p
                                break
                        else:
                            run = 0
                    run = 0
                    for p in range(t + 1, s1):  # rightwards: window [p - w + 1, p]
                        if (p - w + 1 - ws) * sw + dy >= best:
                            break
                        if occ[r, p] < 0:
                            run += 1
                            if run >= w:
                                c = abs(p - w + 1 - ws) * sw + dy
                                if c < best:
                                    best, best_r, best_s = c, r, p - w + 1
                                break
                        else:
                            run = 0
        if best_r < 0:
            return i
        for s in range(best_s, best_s + w):
            occ[best_r, s] = i
        site[i], row[i] = best_s, best_r
    return -1
