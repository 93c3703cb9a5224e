"""Compiled inner loops of the STA: levelisation and the level-ordered slew/delay and arrival
passes (numba).

Why compiled loops: the vectorised numpy passes ran one batch of fancy-indexing per level, and a
100k-instance netlist has hundreds of levels of a few hundred edges each, so the time went to
per-call overhead, not arithmetic. Walking the edges once in (level, target) order does the
same work with no temporaries: results are identical to the numpy passes (same look-up formula,
same tie rules), which the STA tests check against OpenSTA and hand-computed cases.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from flow.engines import dmp


@njit(cache=True, nogil=True)
def levelise(n, src, dst):  # pragma: no cover - compiled
    """Longest-path level of every node (Kahn); nodes on or behind combinational loops: -1."""
    m = src.size
    indeg = np.zeros(n, dtype=np.int64)
    start = np.zeros(n + 1, dtype=np.int64)
    for e in range(m):
        indeg[dst[e]] += 1
        start[src[e] + 1] += 1
    for v in range(n):
        start[v + 1] += start[v]
    fill = start[:-1].copy()
    succ = np.empty(m, dtype=np.int64)
    for e in range(m):
        succ[fill[src[e]]] = dst[e]
        fill[src[e]] += 1
    level = np.full(n, -1, dtype=np.int64)
    queue = np.empty(n, dtype=np.int64)
    head, tail = 0, 0
    for v in range(n):
        if indeg[v] == 0:
            level[v] = 0
            queue[tail] = v
            tail += 1
    remaining = indeg.copy()
    best = np.zeros(n, dtype=np.int64)
    while head < tail:
        u = queue[head]
        head += 1
        lu = level[u]
        for k in range(start[u], start[u + 1]):
            w = succ[k]
            if lu + 1 > best[w]:
                best[w] = lu + 1
            remaining[w] -= 1
            if remaining[w] == 0:
                level[w] = best[w]
                queue[tail] = w
                tail += 1
    return level


@njit(cache=True, inline="always")
def _lookup(ax1, ax2, vals, n1, n2, c1, c2, t, slew, load, rel):  # pragma: no cover - compiled
    """Bilinear NLDM look-up of table `t` (linear extrapolation), as `TableBank.lookup`."""
    a = c1[t]
    x = slew if a == 0 else (load if a == 1 else rel)
    b = c2[t]
    y = slew if b == 0 else (load if b == 1 else rel)
    i = 0
    while i < n1[t] - 2 and ax1[t, i + 1] <= x:
        i += 1
    j = 0
    while j < n2[t] - 2 and ax2[t, j + 1] <= y:
        j += 1
    x0, x1 = ax1[t, i], ax1[t, i + 1]
    y0, y1 = ax2[t, j], ax2[t, j + 1]
    tx = (x - x0) / (x1 - x0)
    ty = (y - y0) / (y1 - y0)
    return ((1 - tx) * (1 - ty) * vals[t, i, j] + (1 - tx) * ty * vals[t, i, j + 1]
            + tx * (1 - ty) * vals[t, i + 1, j] + tx * ty * vals[t, i + 1, j + 1])


@njit(cache=True, nogil=True)
def lookup_many(tids, slew, load, rel, ax1, ax2, vals, n1, n2, c1, c2):  # pragma: no cover - compiled
    """`TableBank.lookup` for many queries: table tids[k] at (slew[k], load[k], rel[k])."""
    out = np.empty(tids.size)
    for k in range(tids.size):
        out[k] = _lookup(ax1, ax2, vals, n1, n2, c1, c2, tids[k], slew[k], load[k], rel[k])
    return out


@njit(cache=True, nogil=True)
def slew_pass(order, src, srctr, dst, dsttr, is_cell, dtab, stab, einst, der, load, slew_max, slew_min,
              dmax, dmin, ideal_src, ideal_slew, ax1, ax2, vals, n1, n2, c1, c2):  # pragma: no cover - compiled
    """Cell-arc delays (max/min slew) and output slews, edges in (level, target) order. A target's
    max slew is the worst over its arcs and what it started with (input transitions); its min
    slew the best over its arcs. Slews propagate through ideal clock networks too, but a
    register's clock->output arc from an ideal clock pin (`ideal_src[e]`) sees the clock's ideal
    slew `ideal_slew[pin]`, as OpenSTA's GraphDelayCalc::edgeFromSlew."""
    m = order.size
    i = 0
    while i < m:
        e0 = order[i]
        d = dst[e0]
        dt = dsttr[e0]
        mx = slew_max[d, dt]
        mn = np.inf
        j = i
        while j < m and dst[order[j]] == d and dsttr[order[j]] == dt:
            e = order[j]
            s = src[e]
            st = srctr[e]
            smx = slew_max[s, st]
            smn = slew_min[s, st]
            if ideal_src[e]:
                smx = ideal_slew[s]
                smn = ideal_slew[s]
            omx = smx
            omn = smn
            if is_cell[e]:
                ld = load[d, dt]
                f = der[einst[e]]
                t = dtab[e]
                dmax[e] = _lookup(ax1, ax2, vals, n1, n2, c1, c2, t, smx, ld, 0.0) * f
                dmin[e] = _lookup(ax1, ax2, vals, n1, n2, c1, c2, t, smn, ld, 0.0) * f
                ts = stab[e]
                if ts >= 0:  # extrapolated slews below zero are clipped to zero, as OpenSTA
                    omx = max(_lookup(ax1, ax2, vals, n1, n2, c1, c2, ts, smx, ld, 0.0), 0.0)
                    omn = max(_lookup(ax1, ax2, vals, n1, n2, c1, c2, ts, smn, ld, 0.0), 0.0)
                else:
                    omx = 0.0
                    omn = 0.0
            if omx > mx:
                mx = omx
            if omn < mn:
                mn = omn
            j += 1
        slew_max[d, dt] = mx
        slew_min[d, dt] = mn
        i = j


@njit(cache=True, nogil=True, error_model="numpy")
def slew_pass_rc(order, src, srctr, dst, dsttr, is_cell, dtab, stab, einst, der, load, slew_max, slew_min,
                 dmax, dmin, ideal_src, ideal_slew, ax1, ax2, vals, n1, n2, c1, c2, rc_of_node, rc_pi,
                 rc_wstart, rc_wedges, rc_dspf, e_elmore, e_extra, wsl_max, wsl_min, inst_lib, thr,
                 thr_der):  # pragma: no cover - compiled
    """`slew_pass` for a netlist with RC nets: an arc into the driver of an RC net gets OpenSTA's
    DMP effective-capacitance delay and driver slew (flow.engines.dmp), and every load of the
    net the wire delay and slew of that driver waveform through its Elmore delay: the worst
    over the driver's arcs for the late pass, the best for the early one (GraphDelayCalc's
    merge). Wire edges from an RC net's input port without a driving cell get OpenSTA's
    `dspfWireDelaySlew`. `dmax/dmin/wsl_*` of RC wire edges start as NaN."""
    st_ = np.zeros(32)
    tb = (ax1, ax2, vals, n1, n2, c1, c2)
    m = order.size
    i = 0
    while i < m:
        e0 = order[i]
        d = dst[e0]
        dt = dsttr[e0]
        mx = slew_max[d, dt]
        mn = np.inf
        j = i
        while j < m and dst[order[j]] == d and dsttr[order[j]] == dt:
            e = order[j]
            s = src[e]
            st = srctr[e]
            smx = slew_max[s, st]
            smn = slew_min[s, st]
            if ideal_src[e]:
                smx = ideal_slew[s]
                smn = ideal_slew[s]
            omx = smx
            omn = smn
            if is_cell[e]:
                ld = load[d, dt]
                f = der[einst[e]]
                t = dtab[e]
                ts = stab[e]
                rc = rc_of_node[d]
                if rc >= 0 and ts >= 0:
                    lib = inst_lib[einst[e]]
                    vth, vl, vh, dr = thr[lib, dt, 0], thr[lib, dt, 1], thr[lib, dt, 2], thr_der[lib]
                    # one DMP solve serves both passes when the late and early input slews
                    # are equal (same inputs, same result)
                    same = smx == smn
                    for side in range(1 if same else 2):
                        sl_in = smx if side == 0 else smn
                        gd, gs = dmp.gate(st_, tb, t, ts, sl_in, rc_pi[rc, dt, 0], rc_pi[rc, dt, 1],
                                          rc_pi[rc, dt, 2], vth, vl, vh, dr)
                        if side == 0:
                            dmax[e] = gd * f
                            omx = gs
                            if same:
                                dmin[e] = gd * f
                                omn = gs
                        else:
                            dmin[e] = gd * f
                            omn = gs
                        for k in range(rc_wstart[rc], rc_wstart[rc + 1]):
                            w = rc_wedges[k]
                            if srctr[w] != dt:
                                continue
                            wd, ws = dmp.load(st_, e_elmore[w])
                            wd += e_extra[w]
                            if side == 0:
                                if np.isnan(dmax[w]) or wd > dmax[w]:
                                    dmax[w] = wd
                                if np.isnan(wsl_max[w]) or ws > wsl_max[w]:
                                    wsl_max[w] = ws
                            if side == 1 or same:
                                if np.isnan(dmin[w]) or wd < dmin[w]:
                                    dmin[w] = wd
                                if np.isnan(wsl_min[w]) or ws < wsl_min[w]:
                                    wsl_min[w] = ws
                else:
                    dmax[e] = _lookup(ax1, ax2, vals, n1, n2, c1, c2, t, smx, ld, 0.0) * f
                    dmin[e] = _lookup(ax1, ax2, vals, n1, n2, c1, c2, t, smn, ld, 0.0) * f
                    if ts >= 0:
                        omx = max(_lookup(ax1, ax2, vals, n1, n2, c1, c2, ts, smx, ld, 0.0), 0.0)
                        omn = max(_lookup(ax1, ax2, vals, n1, n2, c1, c2, ts, smn, ld, 0.0), 0.0)
                    else:
                        omx = 0.0
                        omn = 0.0
            elif rc_of_node[s] >= 0:
                rc = rc_of_node[s]
                elm = e_elmore[e]
                if np.isnan(dmax[e]):  # no DMP driver arc: an input port, or a cell without arcs
                    if rc_dspf[rc]:
                        vth, vl, vh, dr = thr[0, st, 3], thr[0, st, 1], thr[0, st, 2], thr_der[0]
                        dmax[e] = -elm * np.log(1.0 - vth) + e_extra[e]
                        dmin[e] = dmax[e]
                        omx = smx + elm * np.log((1.0 - vl) / (1.0 - vh)) / dr
                        omn = smn + elm * np.log((1.0 - vl) / (1.0 - vh)) / dr
                    else:
                        dmax[e] = elm + e_extra[e]
                        dmin[e] = dmax[e]
                else:
                    omx = wsl_max[e]
                    omn = wsl_min[e]
            if omx > mx:
                mx = omx
            if omn < mn:
                mn = omn
            j += 1
        slew_max[d, dt] = mx
        slew_min[d, dt] = mn
        i = j


@njit(cache=True, nogil=True)
def arrival_pass(order, src, srctr, dst, dsttr, dmax, dmin, amax, amin, pmax, pmin):  # pragma: no cover - compiled
    """Latest and earliest arrivals with their predecessor edge (ties: the later edge, as the
    vectorised pass did), edges in level order."""
    for k in range(order.size):
        e = order[k]
        s = src[e]
        st = srctr[e]
        d = dst[e]
        dt = dsttr[e]
        cmx = amax[s, st] + dmax[e]
        if np.isfinite(cmx) and cmx >= amax[d, dt]:
            amax[d, dt] = cmx
            pmax[d, dt] = e
        cmn = amin[s, st] + dmin[e]
        if np.isfinite(cmn) and cmn <= amin[d, dt]:
            amin[d, dt] = cmn
            pmin[d, dt] = e


@njit(cache=True, nogil=True, error_model="numpy")
def pi_elmore_all(drivers, drv_net, node_start, node_gid, node_cap, res_start, res_a, res_b, res_r, cap,
                  is_member, node_net, slot_net, dly_start, pi, has_tree, delay):  # pragma: no cover - compiled
    """Pi model (as OpenSTA's ReduceToPi) and Elmore delays for every RC driver at once, both transitions: per driver k of
    net slot drv_net[k] (nodes node_start[slot]:node_start[slot+1], local ids; node_gid the
    timing node or -1 for an internal node; resistors res_start[slot]:..., local ends), a
    breadth-first tree from the driver in the order the resistors are listed (a resistor
    closing a loop is ignored), the O'Brien-Savarino pi model in pi[k, tr] = (C2, Rpi, C1) and
    the Elmore delay of each node in delay[dly_start[k] + local, tr] (0 if unreached).
    Pin capacitances cap[gid, tr] count on the net's own pins (node_net[gid] == slot_net[slot])
    where is_member[gid] (a load) or gid is the driver."""
    nmax = 1
    for q in range(node_start.size - 1):
        nmax = max(nmax, node_start[q + 1] - node_start[q])
    deg = np.zeros(nmax + 1, dtype=np.int64)
    adj = np.empty(2 * (res_a.size + 1), dtype=np.int64)
    adj_r = np.empty(2 * (res_a.size + 1))
    fill = np.zeros(nmax, dtype=np.int64)
    parent = np.empty(nmax, dtype=np.int64)
    par_r = np.empty(nmax)
    order = np.empty(nmax, dtype=np.int64)
    y1 = np.empty((nmax, 2))
    y2 = np.empty((nmax, 2))
    y3 = np.empty((nmax, 2))
    down = np.empty((nmax, 2))
    for k in range(drivers.size):
        g = drv_net[k]
        n0, n1 = node_start[g], node_start[g + 1]
        nn = n1 - n0
        r0, r1 = res_start[g], res_start[g + 1]
        o = dly_start[k]
        drv_local = -1
        for v in range(nn):
            if node_gid[n0 + v] == drivers[k]:
                drv_local = v
                break
        # adjacency (CSR, resistor order), self-loops dropped
        deg[: nn + 1] = 0
        for i in range(r0, r1):
            a, b = res_a[i], res_b[i]
            if a != b:
                deg[a + 1] += 1
                deg[b + 1] += 1
        for v in range(nn):
            deg[v + 1] += deg[v]
        for v in range(nn):
            fill[v] = deg[v]
        for i in range(r0, r1):
            a, b = res_a[i], res_b[i]
            if a != b:
                adj[fill[a]] = b
                adj_r[fill[a]] = res_r[i]
                fill[a] += 1
                adj[fill[b]] = a
                adj_r[fill[b]] = res_r[i]
                fill[b] += 1
        if drv_local < 0 or deg[drv_local + 1] == deg[drv_local]:
            has_tree[k] = False
            continue
        has_tree[k] = True
        for v in range(nn):
            parent[v] = -2
        parent[drv_local] = -1
        par_r[drv_local] = 0.0
        order[0] = drv_local
        head, tail = 0, 1
        while head < tail:
            v = order[head]
            head += 1
            for q in range(deg[v], deg[v + 1]):
                w = adj[q]
                if parent[w] == -2:
                    parent[w] = v
                    par_r[w] = adj_r[q]
                    order[tail] = w
                    tail += 1
        for q in range(tail):
            v = order[q]
            gid = node_gid[n0 + v]
            for tr in range(2):
                c = node_cap[n0 + v]
                if gid >= 0 and node_net[gid] == slot_net[g] and (is_member[gid] or gid == drivers[k]):
                    c = c + cap[gid, tr]
                y1[v, tr] = c
                y2[v, tr] = 0.0
                y3[v, tr] = 0.0
                down[v, tr] = c
        for q in range(tail - 1, 0, -1):
            v = order[q]
            p = parent[v]
            r = par_r[v]
            for tr in range(2):
                a1, a2, a3 = y1[v, tr], y2[v, tr], y3[v, tr]
                y1[p, tr] += a1
                y2[p, tr] += a2 - r * a1 * a1
                y3[p, tr] += a3 - 2 * r * a1 * a2 + r * r * a1 * a1 * a1
                down[p, tr] += down[v, tr]
        for tr in range(2):
            t1, t2, t3 = y1[drv_local, tr], y2[drv_local, tr], y3[drv_local, tr]
            if t2 == 0.0 and t3 == 0.0:
                c1, c2, rpi = t1, 0.0, 0.0
            else:
                c1 = t2 * t2 / t3
                c2 = t1 - c1
                rpi = -t3 * t3 / (t2 * t2 * t2)
            pi[k, tr, 0], pi[k, tr, 1], pi[k, tr, 2] = c2, rpi, c1
            for v in range(nn):
                delay[o + v, tr] = 0.0
            for q in range(1, tail):
                v = order[q]
                delay[o + v, tr] = delay[o + parent[v], tr] + par_r[v] * down[v, tr]


def warm_up() -> None:
    """Load the compiled kernels (numba's on-disk cache; compiled once per install) by calling
    each on a two-node graph with the argument types `sta.analyze` uses, so a caller can do it
    while something else (a netlist read in a child process) is under way."""
    i64 = np.zeros(1, dtype=np.int64)
    f1 = np.zeros(1)
    f2 = np.zeros((2, 2))
    b1 = np.zeros(1, dtype=bool)
    levelise(2, i64, i64 + 1)
    ax = np.array([[0.0, 1.0]])
    slew_pass(i64, i64, i64, i64 + 1, i64, b1, i64 - 1, i64 - 1, i64, np.ones(1), f2, f2.copy(), f2.copy(),
              f1.copy(), f1.copy(), np.zeros(1, dtype=bool), np.zeros(2), ax, ax.copy(), np.zeros((1, 2, 2)),
              i64 + 2, i64 + 2, i64, i64 + 1)
    lookup_many(i64, f1, f1, f1, ax, ax.copy(), np.zeros((1, 2, 2)), i64 + 2, i64 + 2, i64, i64 + 1)
    pm = np.full((2, 2), -1, dtype=np.int64)
    arrival_pass(i64, i64, i64, i64 + 1, i64, f1, f1, np.full((2, 2), -np.inf), np.full((2, 2), np.inf), pm, pm.copy())
