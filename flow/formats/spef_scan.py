"""Compiled scanner of the `*D_NET` part of a SPEF file (numba), for `spef.read_spef`.

Why: the line-by-line Python reader spends seconds per 100k nets creating per-line token lists,
per-net dicts and tuples that the STA then flattens into arrays again. This scanner walks the
bytes once and returns flat records (nets, ground/coupling capacitances, resistors, connections)
whose names are interned byte spans, so Python only touches each distinct name once.

It accepts a strict subset of what the Python reader accepts and says so (`ok == False`) on
anything else: any byte outside printable ASCII, tab and line ends; a keyword it does not know
or one with an escape; a number outside `[+-]digits[.digits][e[+-]digits]`; a line the Python
reader would skip or reject. The caller then reads the file with the Python reader, which gives
the file:line error or the lenient reading. Numbers are converted exactly (correctly rounded, as
`float()`): with one IEEE multiplication or division when the mantissa has at most 15 digits
and the power of ten is at most 22 (Clinger's fast path), otherwise the caller converts the span
with `float()`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# record kinds of the `slow` numbers the caller converts with float()
SLOW_TOTAL, SLOW_CAP, SLOW_RES = 0, 1, 2

POW10 = np.array([10.0 ** k for k in range(23)])


@njit(cache=True, inline="always")
def _is_blank(c):  # pragma: no cover - compiled
    return c == 32 or c == 9


@njit(cache=True)
def _number(buf, a, b, pow10):  # pragma: no cover - compiled
    """(value, status) of buf[a:b]: status 0 exact, 1 valid but needs float(), 2 not a number
    of the strict grammar `[+-](digits[.digits*]|.digits)[(e|E)[+-]digits]`."""
    p = a
    neg = False
    if p < b and (buf[p] == 43 or buf[p] == 45):
        neg = buf[p] == 45
        p += 1
    mant = 0
    nsig = 0  # significant digits (after leading zeros)
    exp10 = 0
    ndig = 0
    while p < b and 48 <= buf[p] <= 57:
        d = buf[p] - 48
        ndig += 1
        if nsig > 0 or d != 0:
            nsig += 1
            if nsig <= 15:
                mant = mant * 10 + d
            else:
                exp10 += 1
        p += 1
    if p < b and buf[p] == 46:
        p += 1
        while p < b and 48 <= buf[p] <= 57:
            d = buf[p] - 48
            ndig += 1
            if nsig > 0 or d != 0:
                nsig += 1
                if nsig <= 15:
                    mant = mant * 10 + d
                    exp10 -= 1
            else:
                exp10 -= 1
            p += 1
    if ndig == 0:
        return 0.0, 2
    if p < b and (buf[p] == 101 or buf[p] == 69):
        p += 1
        eneg = False
        if p < b and (buf[p] == 43 or buf[p] == 45):
            eneg = buf[p] == 45
            p += 1
        if p >= b or not (48 <= buf[p] <= 57):
            return 0.0, 2
        e = 0
        while p < b and 48 <= buf[p] <= 57:
            if e < 100000:
                e = e * 10 + (buf[p] - 48)
            p += 1
        exp10 += -e if eneg else e
    if p != b:
        return 0.0, 2
    if nsig > 15:
        return 0.0, 1
    if mant == 0:
        return (-0.0 if neg else 0.0), 0
    if exp10 > 22 or exp10 < -22:
        return 0.0, 1
    v = float(mant)
    v = v * pow10[exp10] if exp10 >= 0 else v / pow10[-exp10]
    return (-v if neg else v), 0


@njit(cache=True, inline="always")
def _upper(c):  # pragma: no cover - compiled
    return c - 32 if 97 <= c <= 122 else c


@njit(cache=True)
def _keyword(buf, a, b):  # pragma: no cover - compiled
    """1 *D_NET, 2 *CONN, 3 *CAP, 4 *RES, 5 *END, 6 *P, 7 *I, 8 *N, 0 anything else (any case)."""
    n = b - a
    c1 = _upper(buf[a + 1]) if n > 1 else 0
    if n == 2:
        return 6 if c1 == 80 else (7 if c1 == 73 else (8 if c1 == 78 else 0))
    if n == 4 and c1 == 67 and _upper(buf[a + 2]) == 65 and _upper(buf[a + 3]) == 80:
        return 3  # CAP
    if n == 4 and c1 == 82 and _upper(buf[a + 2]) == 69 and _upper(buf[a + 3]) == 83:
        return 4  # RES
    if n == 4 and c1 == 69 and _upper(buf[a + 2]) == 78 and _upper(buf[a + 3]) == 68:
        return 5  # END
    if (n == 5 and c1 == 67 and _upper(buf[a + 2]) == 79 and _upper(buf[a + 3]) == 78
            and _upper(buf[a + 4]) == 78):
        return 2  # CONN
    if (n == 6 and c1 == 68 and buf[a + 2] == 95 and _upper(buf[a + 3]) == 78 and _upper(buf[a + 4]) == 69
            and _upper(buf[a + 5]) == 84):
        return 1  # D_NET
    return 0


@njit(cache=True)
def _intern(buf, a, b, table, tok_a, tok_b, tok_h, count):  # pragma: no cover - compiled
    """Id of the byte string buf[a:b] in the open-addressing `table` (new ids from count[0]);
    the caller grows the table before it is half full (`_grow`)."""
    h = np.int64(-3750763034362895579)  # FNV-1a, wrapping int64 arithmetic
    for i in range(a, b):
        h = (h ^ np.int64(buf[i])) * np.int64(1099511628211)
    h ^= h >> 29
    mask = table.size - 1
    slot = h & mask
    while True:
        t = table[slot]
        if t < 0:
            t = count[0]
            count[0] += 1
            table[slot] = t
            tok_a[t], tok_b[t], tok_h[t] = a, b, h
            return t
        if tok_h[t] == h and tok_b[t] - tok_a[t] == b - a:
            same = True
            for i in range(b - a):
                if buf[tok_a[t] + i] != buf[a + i]:
                    same = False
                    break
            if same:
                return t
        slot = (slot + 1) & mask


@njit(cache=True)
def _grow(table, tok_h, count):  # pragma: no cover - compiled
    """The table at twice the size, or itself while it is less than a quarter full."""
    if 4 * (count[0] + 4) < table.size:
        return table
    new = np.full(2 * table.size, -1, dtype=np.int64)
    mask = new.size - 1
    for t in range(count[0]):
        slot = tok_h[t] & mask
        while new[slot] >= 0:
            slot = (slot + 1) & mask
        new[slot] = t
    return new


@njit(cache=True)
def scan(buf, start, cu, ru, pow10):  # pragma: no cover - compiled
    """Records of the nets in buf[start:]; see the module docstring. Returns (ok, counts, nets,
    caps, res, conns, names, special, slow) with counts = (nets, caps, res, conns, tokens, slow)."""
    n = buf.size
    nlines = 1
    for i in range(start, n):
        c = buf[i]
        if c == 10 or c == 13:
            nlines += 1
        elif (c < 32 and c != 9) or c >= 127:
            nlines = -1
            break
    cap = max(nlines, 1)
    net_tok = np.empty(cap, dtype=np.int64)
    net_tot = np.empty(cap)
    net_cap0 = np.empty(cap + 1, dtype=np.int64)
    net_res0 = np.empty(cap + 1, dtype=np.int64)
    net_conn0 = np.empty(cap + 1, dtype=np.int64)
    cap_a = np.empty(cap, dtype=np.int64)
    cap_b = np.empty(cap, dtype=np.int64)  # -1: a ground capacitance
    cap_v = np.empty(cap)
    res_a = np.empty(cap, dtype=np.int64)
    res_b = np.empty(cap, dtype=np.int64)
    res_v = np.empty(cap)
    conn_tok = np.empty(cap, dtype=np.int64)
    conn_d0 = np.empty(cap, dtype=np.int64)
    conn_d1 = np.empty(cap, dtype=np.int64)
    table = np.full(1 << 12, -1, dtype=np.int64)
    tok_a = np.empty(2 * cap, dtype=np.int64)
    tok_b = np.empty(2 * cap, dtype=np.int64)
    tok_h = np.empty(2 * cap, dtype=np.int64)
    slow = np.empty((cap, 4), dtype=np.int64)  # kind, record, span start, span end
    count = np.zeros(1, dtype=np.int64)
    nn = nc = nr = nk = ns = 0
    ta = np.empty(4, dtype=np.int64)
    tb = np.empty(4, dtype=np.int64)
    counts = np.zeros(6, dtype=np.int64)
    esc_any = np.zeros(4, dtype=np.bool_)
    ok = nlines > 0
    in_net = False
    section = 0  # 0 none, 2 *CONN, 3 *CAP, 4 *RES
    p = start
    while ok and p < n:
        ls = p
        while p < n and buf[p] != 10 and buf[p] != 13:
            p += 1
        le = p
        p += 1
        for i in range(ls, le - 1):  # a comment starts at the first `//`, escaped or not
            if buf[i] == 47 and buf[i + 1] == 47:
                le = i
                break
        # tokens: runs of escape pairs and non-blank, non-backslash bytes; a lone backslash at
        # the end of the line is dropped
        nt = 0
        esc_any[:] = False
        blank = True
        q = ls
        while q < le:
            while q < le and _is_blank(buf[q]):
                q += 1
            if q >= le:
                break
            blank = False
            a = q
            esc = False
            drop = False
            while q < le:
                c = buf[q]
                if c == 92:
                    if q + 1 < le:
                        esc = True
                        q += 2
                    else:
                        drop = True
                        break
                elif _is_blank(c):
                    break
                else:
                    q += 1
            if q > a:
                if nt < 4:
                    ta[nt], tb[nt] = a, q
                    esc_any[nt] = esc
                nt += 1
            if drop:
                q = le
        table = _grow(table, tok_h, count)
        if nt == 0:
            if not blank:  # only a lone backslash: the Python reader's business
                ok = False
                break
            continue
        if buf[ta[0]] == 42:  # a keyword
            if esc_any[0]:
                ok = False
                break
            kw = _keyword(buf, ta[0], tb[0])
            if kw == 1:
                if in_net or nt < 3 or esc_any[2]:
                    ok = False
                    break
                v, st = _number(buf, ta[2], tb[2], pow10)
                if st == 2:
                    ok = False
                    break
                if st == 1:
                    slow[ns, 0], slow[ns, 1], slow[ns, 2], slow[ns, 3] = 0, nn, ta[2], tb[2]
                    ns += 1
                    v = np.nan
                else:
                    v = v * cu
                    if not (np.isfinite(v) and v >= 0):
                        ok = False
                        break
                net_tok[nn] = _intern(buf, ta[1], tb[1], table, tok_a, tok_b, tok_h, count)
                net_tot[nn] = v
                net_cap0[nn], net_res0[nn], net_conn0[nn] = nc, nr, nk
                nn += 1
                in_net = True
                section = 0
            elif kw in (2, 3, 4):
                if not in_net:
                    ok = False
                    break
                section = kw
            elif kw == 5:
                in_net = False
                section = 0
            elif kw == 6 or kw == 7:
                if not in_net or section != 2 or nt < 3:
                    ok = False
                    break
                conn_tok[nk] = _intern(buf, ta[1], tb[1], table, tok_a, tok_b, tok_h, count)
                conn_d0[nk], conn_d1[nk] = ta[2], tb[2]
                nk += 1
            elif kw == 8:
                pass
            else:
                ok = False
                break
            continue
        if esc_any[0] or not in_net:
            ok = False
            break
        if section == 4 and nt == 4:
            if esc_any[3]:
                ok = False
                break
            v, st = _number(buf, ta[3], tb[3], pow10)
            if st == 2:
                ok = False
                break
            if st == 1:
                slow[ns, 0], slow[ns, 1], slow[ns, 2], slow[ns, 3] = 2, nr, ta[3], tb[3]
                ns += 1
                v = np.nan
            else:
                v = v * ru
                if not (np.isfinite(v) and v >= 0):
                    ok = False
                    break
            res_a[nr] = _intern(buf, ta[1], tb[1], table, tok_a, tok_b, tok_h, count)
            res_b[nr] = _intern(buf, ta[2], tb[2], table, tok_a, tok_b, tok_h, count)
            res_v[nr] = v
            nr += 1
        elif section == 3 and (nt == 3 or nt == 4):
            if esc_any[nt - 1]:
                ok = False
                break
            v, st = _number(buf, ta[nt - 1], tb[nt - 1], pow10)
            if st == 2:
                ok = False
                break
            if st == 1:
                slow[ns, 0], slow[ns, 1], slow[ns, 2], slow[ns, 3] = 1, nc, ta[nt - 1], tb[nt - 1]
                ns += 1
                v = np.nan
            else:
                v = v * cu
                if not np.isfinite(v) or (nt == 3 and v < 0):
                    ok = False
                    break
            cap_a[nc] = _intern(buf, ta[1], tb[1], table, tok_a, tok_b, tok_h, count)
            cap_b[nc] = _intern(buf, ta[2], tb[2], table, tok_a, tok_b, tok_h, count) if nt == 4 else -1
            cap_v[nc] = v
            nc += 1
        else:
            ok = False
            break
    if in_net:
        ok = False
    net_cap0[nn], net_res0[nn], net_conn0[nn] = nc, nr, nk
    nt_ = count[0]
    counts[0], counts[1], counts[2], counts[3], counts[4], counts[5] = nn, nc, nr, nk, nt_, ns
    # the distinct names, joined by newlines, for one decode on the Python side
    total = 0
    for t in range(nt_):
        total += tok_b[t] - tok_a[t] + 1
    names = np.empty(total, dtype=np.uint8)
    special = np.zeros(nt_, dtype=np.bool_)  # escaped or name-mapped: the caller rewrites it
    w = 0
    for t in range(nt_):
        special[t] = buf[tok_a[t]] == 42
        for i in range(tok_a[t], tok_b[t]):
            names[w] = buf[i]
            special[t] |= buf[i] == 92
            w += 1
        names[w] = 10
        w += 1
    return (ok, counts, (net_tok[:nn], net_tot[:nn], net_cap0[:nn + 1], net_res0[:nn + 1], net_conn0[:nn + 1]),
            (cap_a[:nc], cap_b[:nc], cap_v[:nc]), (res_a[:nr], res_b[:nr], res_v[:nr]),
            (conn_tok[:nk], conn_d0[:nk], conn_d1[:nk]), names, special, slow[:ns])


@njit(cache=True)
def last_to_slash(names, delim):  # pragma: no cover - compiled
    """Newline-separated names with the last `delim` byte of each replaced by `/` (the timing
    node name of `inst:pin`)."""
    out = names.copy()
    last = -1
    for i in range(out.size):
        c = out[i]
        if c == 10:
            if last >= 0:
                out[last] = 47
            last = -1
        elif c == delim:
            last = i
    return out
