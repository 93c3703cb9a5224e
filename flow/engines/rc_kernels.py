"""Compiled kernels of the STA on RC nets (numba): the pi model and Elmore delays of every RC
driver (`pi_elmore_all`) and the level-ordered slew/delay pass with OpenSTA's DMP effective
capacitance on RC nets (`slew_pass_rc`).

Why a module of their own: they are the SPEF-only part of the STA (the lumped-load passes stay in
`sta_kernels`), so a run without SPEF never loads them, and their cost can be worked on without
touching the lumped passes.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from flow.engines import dmp
from flow.engines.sta_kernels import _lookup


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
    """Load the compiled RC kernels (numba's on-disk cache) by calling each on a two-node net,
    with the argument types `sta.analyze` uses."""
    i64 = np.zeros(1, dtype=np.int64)
    i2 = np.array([0, 2], dtype=np.int64)
    f2 = np.zeros((2, 2))
    pi_elmore_all(i64, i64, i2, np.array([0, 1], dtype=np.int64), np.zeros(2), np.array([0, 1], dtype=np.int64),
                  i64, i64 + 1, np.ones(1), f2, np.ones(2, dtype=bool), np.zeros(2, dtype=np.int64), i64,
                  i64, np.zeros((1, 2, 3)), np.zeros(1, dtype=bool), np.zeros((2, 2)))


@njit(cache=True, nogil=True)
def _raw_caps(q, net_cap0, cap_node, cap_val, mark, acc, order):  # pragma: no cover - compiled
    """Net q's ground capacitance per node, accumulated in line order as the SPEF reader's dict
    (first value 0.0 + c); returns how many nodes, listed in order[:count] by first appearance."""
    cnt = 0
    for i in range(net_cap0[q], net_cap0[q + 1]):
        r = cap_node[i]
        if mark[r] != q:
            mark[r] = q
            acc[r] = 0.0 + cap_val[i]
            order[cnt] = r
            cnt += 1
        else:
            acc[r] = acc[r] + cap_val[i]
    return cnt


@njit(cache=True, nogil=True)
def spef_wire_caps(net_cap0, cap_node, cap_val, net_total, n_names):  # pragma: no cover - compiled
    """Wire capacitance of every SPEF net as `Parasitics.from_spef` sums it: the per-node
    capacitances in the order the nodes first appear (Python's float sum, from 0.0), or the
    `*D_NET` total when the net has no `*CAP`."""
    nq = net_total.size
    mark = np.full(n_names, -1, dtype=np.int64)
    acc = np.zeros(n_names)
    order = np.empty(max(cap_node.size, 1), dtype=np.int64)
    out = np.empty(nq)
    for q in range(nq):
        cnt = _raw_caps(q, net_cap0, cap_node, cap_val, mark, acc, order)
        if cnt == 0:
            out[q] = net_total[q]
        else:
            s = 0.0
            for j in range(cnt):
                s += acc[order[j]]
            out[q] = s
    return out


@njit(cache=True, nogil=True)
def spef_tree_arrays(qs, net_cap0, net_res0, cap_node, cap_val, res_a, res_b, res_val, norm_of,
                     n_names, n_norm):  # pragma: no cover - compiled
    """`Parasitics.rc_arrays` of SPEF nets qs (in slot order) from the reader's flat records:
    per slot the nodes (normalised-name ids) in first-seen order over the resistors, then the
    capacitance nodes; the capacitance of a normalised name is that of the last raw name that
    normalises to it (as the dict the Python path builds). Returns (node_start, node_norm,
    node_cap, res_start, res_a, res_b, res_r) with resistor ends as local ids."""
    ns = qs.size
    mark = np.full(n_names, -1, dtype=np.int64)
    acc = np.zeros(n_names)
    order = np.empty(max(cap_node.size, 1), dtype=np.int64)
    nmark = np.full(n_norm, -1, dtype=np.int64)
    nval = np.zeros(n_norm)
    lmark = np.full(n_norm, -1, dtype=np.int64)
    lid = np.zeros(n_norm, dtype=np.int64)
    nodes_max = 0
    res_n = 0
    for s in range(ns):
        q = qs[s]
        nodes_max += 2 * (net_res0[q + 1] - net_res0[q]) + (net_cap0[q + 1] - net_cap0[q])
        res_n += net_res0[q + 1] - net_res0[q]
    node_start = np.zeros(ns + 1, dtype=np.int64)
    node_norm = np.empty(nodes_max, dtype=np.int64)
    node_cap = np.empty(nodes_max)
    res_start = np.zeros(ns + 1, dtype=np.int64)
    ra = np.empty(res_n, dtype=np.int64)
    rb = np.empty(res_n, dtype=np.int64)
    rr = np.empty(res_n)
    nn = 0
    nr = 0
    for s in range(ns):
        q = qs[s]
        cnt = _raw_caps(q, net_cap0, cap_node, cap_val, mark, acc, order)
        for j in range(cnt):  # {norm(a): c for a, c in caps.items()}
            r = order[j]
            m = norm_of[r]
            nmark[m] = s
            nval[m] = acc[r]
        base = nn
        for i in range(net_res0[q], net_res0[q + 1]):
            for end in range(2):
                m = norm_of[res_a[i] if end == 0 else res_b[i]]
                if lmark[m] != s:
                    lmark[m] = s
                    lid[m] = nn - base
                    node_norm[nn] = m
                    nn += 1
            ra[nr] = lid[norm_of[res_a[i]]]
            rb[nr] = lid[norm_of[res_b[i]]]
            rr[nr] = res_val[i]
            nr += 1
        for j in range(cnt):
            m = norm_of[order[j]]
            if lmark[m] != s:
                lmark[m] = s
                lid[m] = nn - base
                node_norm[nn] = m
                nn += 1
        for v in range(base, nn):
            m = node_norm[v]
            node_cap[v] = nval[m] if nmark[m] == s else 0.0
        node_start[s + 1] = nn
        res_start[s + 1] = nr
    return node_start, node_norm[:nn], node_cap[:nn], res_start, ra, rb, rr
