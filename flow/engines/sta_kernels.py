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


@njit(cache=True, nogil=True)
def clock_network(n, src, dst, nonlaunch, pair_clk, pair_node, clk_of_node, conf_pair, conf_node,
                  conf_clk):  # pragma: no cover - compiled
    """Clock of every node reached from the clock sources through non-launch edges: a depth-first
    walk per (clock, source) pair in order (pair_node -1: source not found, skipped), out-edges
    pushed in edge order. A node already owned by another clock is not entered; each such meeting
    is recorded (pair, node, owning clock) in order. Returns how many were recorded."""
    m = src.size
    start = np.zeros(n + 1, dtype=np.int64)
    for e in range(m):
        start[src[e] + 1] += 1
    for v in range(n):
        start[v + 1] += start[v]
    fill = start[:-1].copy()
    adj = np.empty(m, dtype=np.int64)
    for e in range(m):
        adj[fill[src[e]]] = e
        fill[src[e]] += 1
    stack = np.empty(m + 1, dtype=np.int64)
    nconf = 0
    for p in range(pair_clk.size):
        if pair_node[p] < 0:
            continue
        ci = pair_clk[p]
        stack[0] = pair_node[p]
        top = 1
        while top > 0:
            top -= 1
            v = stack[top]
            if clk_of_node[v] == ci:
                continue
            if clk_of_node[v] >= 0:
                conf_pair[nconf] = p
                conf_node[nconf] = v
                conf_clk[nconf] = clk_of_node[v]
                nconf += 1
                continue
            clk_of_node[v] = ci
            for k in range(start[v], start[v + 1]):
                e = adj[k]
                if nonlaunch[e]:
                    stack[top] = dst[e]
                    top += 1
    return nconf


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
    clock_network(2, i64, i64 + 1, np.ones(1, dtype=bool), i64, i64, np.full(2, -1, dtype=np.int64), i64.copy(),
                  i64.copy(), i64.copy())
