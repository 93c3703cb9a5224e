"""Compiled OpenSTA 3.1 activity propagation (numba): the pass loop of `power.sta_activity`.

Why compiled: the propagation re-visits a few pins per level per pass, and a design with
register feedback (an accumulator array) takes dozens of passes over hundreds of levels, so a
numpy version spent its time in per-level call overhead (3 s CPU on an 81k-instance mac_array,
34 s wall under load). Here each pass walks the pending levels once, pin by pin, with the same
rules: loads take their driver's activity, function outputs the exact duty and Boolean-difference
density of their truth table (inputs independent, as OpenSTA's BDD evaluation), register
outputs their register state, clock gate outputs CK & EN (OpenSTA's gated clock); clock pins
keep their clock's activity until the propagation reaches them; a pin whose activity changed
by more than the tolerance (or whose origin changed) queues its fanout; registers whose input
pins changed get their state from the next-state function after the pass
(`seedRegOutputActivities`), and their outputs re-seed the next pass. `power.sta_activity` builds the flat tables this kernel reads.

Nodes come numbered in level order (level 0 first, pins on combinational loops, level -1,
last): a pass then reads each level's pins as one contiguous range of every per-node array.
With the netlist's own numbering each pin visited was a cache miss in each of those arrays,
and the 51 passes over a 106k-instance mac_array (324k pins) took 13 s; level-ordered, 2.3 s.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def _pct(new, old):  # pragma: no cover - compiled
    """OpenSTA percentChange."""
    if old == 0.0:
        return 0.0 if new == 0.0 else 1.0
    return abs(new - old) / abs(old)


@njit(cache=True, inline="always")
def _cur_d(v, clk, clk_dens, dens, origin, none_code):  # pragma: no cover - compiled
    """OpenSTA findActivity: a clock pin has its clock's activity until the propagation sets it
    (a gated clock, a clock gate's side input)."""
    return clk_dens[v] if clk[v] and origin[v] == none_code else dens[v]


@njit(cache=True, inline="always")
def _cur_p(v, clk, clk_duty, dut, origin, none_code):  # pragma: no cover - compiled
    return clk_duty[v] if clk[v] and origin[v] == none_code else dut[v]


@njit(cache=True)
def _eval_table(k, tab, t_off, dif, d_off, ins, i_off, clk, clk_dens, clk_duty, dens, dut, origin, none_code,
                w):  # pragma: no cover
    """(duty, density) of a truth table with k independent inputs `ins[i_off:i_off+k]` (-1: pin
    absent, activity 0): P = Σ_s w_s f_s, D = Σ_i D_i Σ_s w_s ∂f/∂x_i(s), state bit i = input i."""
    ns = 1 << k
    for s in range(ns):
        w[s] = 1.0
    for i in range(k):  # the product in `activity.state_weights` order
        v = ins[i_off + i]
        p = _cur_p(v, clk, clk_duty, dut, origin, none_code) if v >= 0 else 0.0
        for s in range(ns):
            w[s] = w[s] * (p if (s >> i) & 1 else 1.0 - p)
    prob = 0.0
    for s in range(ns):
        prob += w[s] * tab[t_off + s]
    dsum = 0.0
    for i in range(k):
        v = ins[i_off + i]
        d = _cur_d(v, clk, clk_dens, dens, origin, none_code) if v >= 0 else 0.0
        acc = 0.0
        base = d_off + i * ns
        for s in range(ns):
            acc += w[s] * dif[base + s]
        dsum += acc * d
    return prob, dsum


@njit(cache=True)
def _store(v, d, p, o, dens, dut, origin, max_dens, tolerance):  # pragma: no cover - compiled
    """setActivityCheck: clamp, store; True when the pin changed."""
    if d > max_dens[v]:
        d = max_dens[v]
    ch = _pct(d, dens[v]) > tolerance or _pct(p, dut[v]) > tolerance or o != origin[v]
    dens[v] = d
    dut[v] = p
    origin[v] = o
    return ch


@njit(cache=True, inline="always")
def _push(v, queued, level, qn):  # pragma: no cover - compiled
    """Queue pin v for its level (a pin already queued stays queued); qn counts per level."""
    if queued[v]:
        return
    queued[v] = True
    lv = level[v]
    if lv >= 0:  # pins on combinational loops (level -1) are never evaluated
        qn[lv] += 1


@njit(cache=True, nogil=True)
def propagate(level, drv_of, clk, clk_dens, clk_duty, user, u_dens, u_duty, ann_origin,
              kind, fgrp, fin_off, fin_flat, g_k, g_tab_off, g_dif_off, tab_flat, dif_flat, rs_state, rs_inst,
              estart, e_dst, max_dens, load_pin, node_inst, is_seq_inst, sc_of_inst, sd_k, sd_tab_off,
              sd_dif_off, sd_nm_off, sd_nm_flat, rin_off, rin_flat, rck, ro_start, ro_nodes,
              cg_en, cg_ck, cg_out, seq_dens, seq_duty, seq_known, dens, dut, origin, queued, n_lev,
              prop_code, none_code, max_passes, tolerance, w):  # pragma: no cover - compiled
    """Run the passes in place on dens/dut/origin/seq_*; returns the number of passes.
    kind per node: 1 function output (group fgrp, inputs at fin_off), 2 register state output
    (rs_state, rs_inst), 3 clock gate output (enable cg_en, clock cg_ck: GCK = CK & EN with
    independent inputs, as OpenSTA), 0 otherwise; loads are the nodes with drv_of >= 0.
    cg_out per instance: its clock gate output node (-1: not a clock gate), queued when one of
    the instance's input pins changes (the gate latches its enable: no EN->GCK arc). `queued`:
    the pins queued at the start. `w`: scratch of 2^(largest arity) floats. `level` must be
    sorted (levels >= 0 ascending, then -1): a level is a range of nodes, and a pass visits the
    queued pins of each level with any (a count per level), in node order; a pin queued on a
    level the pass has left waits for the next pass. The order of the pins within a level does
    not change any value: a pin reads only pins of lower levels (loads first, then the cell
    outputs from values read before any of them is stored). Clock pins are evaluated like any
    other pin once queued (they keep their clock's activity until then)."""
    n = dens.size
    n_inst = is_seq_inst.size
    # nodes are numbered in level order: level L is the range lstart[L]:lstart[L + 1]
    lstart = np.zeros(n_lev + 1, dtype=np.int64)
    qn = np.zeros(n_lev, dtype=np.int64)
    for v in range(n):
        lv = level[v]
        if lv >= 0:
            lstart[lv + 1] += 1
            if queued[v]:
                qn[lv] += 1
    for L in range(n_lev):
        lstart[L + 1] += lstart[L]
    reg_changed = np.zeros(n_inst, dtype=np.bool_)
    buf = np.empty(n, dtype=np.int64)
    changed = np.empty(n, dtype=np.int64)
    tmp_d = np.empty(n)
    tmp_p = np.empty(n)
    tmp_o = np.empty(n, dtype=np.int64)
    tmp_v = np.empty(n, dtype=np.int64)
    passes = 0
    for pss in range(max_passes + 1):
        passes += 1
        any_reg = False
        for L in range(n_lev):
            if qn[L] == 0:
                continue
            qn[L] = 0
            m = 0
            for v in range(lstart[L], lstart[L + 1]):
                if queued[v]:
                    buf[m] = v
                    m += 1
            nch = 0
            # loads: their driver's activity
            for k in range(m):
                v = buf[k]
                if drv_of[v] < 0 or not queued[v]:
                    continue
                queued[v] = False
                if user[v]:
                    d, p, o = u_dens[v], u_duty[v], ann_origin[v]
                else:
                    dv = drv_of[v]
                    d = _cur_d(dv, clk, clk_dens, dens, origin, none_code)
                    p = _cur_p(dv, clk, clk_duty, dut, origin, none_code)
                    o = prop_code
                if _store(v, d, p, o, dens, dut, origin, max_dens, tolerance):
                    changed[nch] = v
                    nch += 1
            # function and register outputs: evaluated on this level's inputs, then stored
            nt = 0
            for k in range(m):
                v = buf[k]
                kv = kind[v]
                if kv == 0 or not queued[v]:
                    continue
                queued[v] = False
                if kv == 1:
                    gi = fgrp[v]
                    p, d = _eval_table(g_k[gi], tab_flat, g_tab_off[gi], dif_flat, g_dif_off[gi], fin_flat,
                                       fin_off[v], clk, clk_dens, clk_duty, dens, dut, origin, none_code, w)
                    o = prop_code
                elif kv == 3:
                    ck, en = cg_ck[v], cg_en[v]
                    p1 = _cur_p(ck, clk, clk_duty, dut, origin, none_code)
                    p2 = _cur_p(en, clk, clk_duty, dut, origin, none_code)
                    d = _cur_d(ck, clk, clk_dens, dens, origin, none_code) * p2 \
                        + _cur_d(en, clk, clk_dens, dens, origin, none_code) * p1
                    p, o = p1 * p2, prop_code
                else:
                    st, i = rs_state[v], rs_inst[v]
                    if seq_known[st, i]:
                        d, p, o = seq_dens[st, i], seq_duty[st, i], prop_code
                    else:
                        d, p, o = 0.0, 0.0, none_code
                tmp_v[nt], tmp_d[nt], tmp_p[nt], tmp_o[nt] = v, d, p, o
                nt += 1
            for t in range(nt):
                v = tmp_v[t]
                if user[v]:
                    ch = _store(v, u_dens[v], u_duty[v], ann_origin[v], dens, dut, origin, max_dens, tolerance)
                else:
                    ch = _store(v, tmp_d[t], tmp_p[t], tmp_o[t], dens, dut, origin, max_dens, tolerance)
                if ch:
                    changed[nch] = v
                    nch += 1
            # other queued pins of this level (annotated pins without a driver or function)
            for k in range(m):
                v = buf[k]
                if not queued[v]:
                    continue
                queued[v] = False
                if user[v] and _store(v, u_dens[v], u_duty[v], ann_origin[v], dens, dut, origin, max_dens,
                                      tolerance):
                    changed[nch] = v
                    nch += 1
            for c in range(nch):
                v = changed[c]
                for e in range(estart[v], estart[v + 1]):
                    _push(e_dst[e], queued, level, qn)
                if load_pin[v]:
                    i = node_inst[v]
                    if is_seq_inst[i]:
                        reg_changed[i] = True
                        any_reg = True
                    if cg_out[i] >= 0:
                        _push(cg_out[i], queued, level, qn)
                        any_reg = True  # its level may be behind this one: another pass
        if not any_reg or pss == max_passes:
            break
        # register states from their next-state functions (OpenSTA seedRegOutputActivities)
        for i in range(n_inst):
            if not reg_changed[i]:
                continue
            reg_changed[i] = False
            sd = sc_of_inst[i]
            if sd < 0:
                continue
            p_in, d_in = _eval_table(sd_k[sd], tab_flat, sd_tab_off[sd], dif_flat, sd_dif_off[sd], rin_flat,
                                     rin_off[i], clk, clk_dens, clk_duty, dens, dut, origin, none_code, w)
            ck = rck[i]
            ck_d = _cur_d(ck, clk, clk_dens, dens, origin, none_code) if ck >= 0 else 0.0
            d_out = 2.0 * p_in * (1.0 - p_in) * ck_d if d_in > ck_d / 2 else d_in
            for j in range(sd_nm_off[sd], sd_nm_off[sd + 1]):
                st = sd_nm_flat[j]
                seq_dens[st, i] = d_out
                seq_duty[st, i] = p_in if j == sd_nm_off[sd] else 1.0 - p_in
                seq_known[st, i] = True
            for j in range(ro_start[i], ro_start[i + 1]):
                _push(ro_nodes[j], queued, level, qn)
    return passes
