"""Effective capacitance of a gate driving an RC net, as OpenSTA's default delay calculator
(`dmp_ceff_elmore`, dcalc/DmpCeff.cc): the Dartu-Menezes-Pileggi driver model.

The net seen from the driver is reduced to a pi model (C2 at the driver, Rpi, C1 beyond it; from
the first three admittance moments, O'Brien-Savarino) and each load gets its Elmore delay
(`rc_kernels.pi_elmore_all`). The driver is a saturated ramp (start t0, ramp time dt) behind a
resistance Rd (from the delay table's slope in load); t0, dt and Ceff solve three equations by
Newton-Raphson: the ramp into Ceff crosses the table's delay and lower-slew points, and the
charge into Ceff equals the charge into the pi model over the ramp. The gate delay is the table
delay at Ceff, the driver slew the 30/70 (library thresholds) crossing of the driver waveform,
and each load's delay and slew come from the driver waveform through a one-pole (1/Elmore) wire.
As in OpenSTA: the algorithm falls back to the capacitive model (Ceff = C1 + C2) when Rd is
tiny, Rpi negligible or C1 ~ 0, to a one-pole model when C2 ~ 0, and to the table / Elmore
values when an equation or a crossing fails; exponentials use OpenSTA's fast approximation.
Float arithmetic follows IEEE as in C++ (numba's numpy error model): a degenerate net (a zero
ramp time) gives inf/NaN that the validity checks reject, never a ZeroDivisionError.

State vector `s` (float64[32]) of one driver arc after `gate`: see the `_` index constants.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from flow.engines import sta_kernels

# state indices
ALG, RD, C2, RPI, C1, VTH, VL, VH, DER, INSLEW = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9
T0, DT, CEFF, VODELAY, DSLEW, VALID = 10, 11, 12, 13, 14, 15
P1, P2, K0, K1, K2, K3, K4, Z1, A_, B_, D_, P3 = 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27
CAP, PI, ZEROC2 = 0.0, 1.0, 2.0
STATE = 32


@njit(cache=True, inline="always", error_model="numpy")
def _exp2(x):  # pragma: no cover - compiled
    """OpenSTA's exp(x) approximation, (1 + x/4096)^4096, 0 below -12."""
    if x < -12.0:
        return 0.0
    y = 1.0 + x / 4096.0
    for _ in range(12):
        y *= y
    return y


@njit(cache=True, error_model="numpy")
def _tab(ax1, ax2, vals, n1, n2, cc1, cc2, t, slew, load):  # pragma: no cover - compiled
    """Slew/load look-up of table `t`: the STA kernels' bilinear NLDM look-up, one copy."""
    return sta_kernels._lookup(ax1, ax2, vals, n1, n2, cc1, cc2, t, slew, load, 0.0)


@njit(cache=True, error_model="numpy")
def _gate_cap(tb, dtab, stab, in_slew, cap):  # pragma: no cover - compiled
    """Table delay and slew (clipped at 0) at a lumped load."""
    ax1, ax2, vals, n1, n2, cc1, cc2 = tb
    d = _tab(ax1, ax2, vals, n1, n2, cc1, cc2, dtab, in_slew, cap)
    s = _tab(ax1, ax2, vals, n1, n2, cc1, cc2, stab, in_slew, cap) if stab >= 0 else 0.0
    return d, max(s, 0.0)


@njit(cache=True, error_model="numpy")
def _gate_delays(s, tb, dtab, stab, ceff):  # pragma: no cover - compiled
    t_vth, tslew = _gate_cap(tb, dtab, stab, s[INSLEW], ceff)
    slew = tslew * s[DER]
    t_vl = t_vth - slew * (s[VTH] - s[VL]) / (s[VH] - s[VL])
    return t_vth, t_vl, slew


@njit(cache=True, inline="always", error_model="numpy")
def _y0(t, cl, rd):  # pragma: no cover - compiled
    return t - rd * cl * (1.0 - _exp2(-t / (rd * cl)))


@njit(cache=True, inline="always", error_model="numpy")
def _y0dt(t, cl, rd):  # pragma: no cover - compiled
    return 1.0 - _exp2(-t / (rd * cl))


@njit(cache=True, inline="always", error_model="numpy")
def _y0dcl(t, cl, rd):  # pragma: no cover - compiled
    return rd * ((1.0 + t / (rd * cl)) * _exp2(-t / (rd * cl)) - 1)


@njit(cache=True, error_model="numpy")
def _y(t, t0, dt, cl, rd):  # pragma: no cover - compiled
    t1 = t - t0
    if t1 <= 0.0:
        return 0.0
    if t1 <= dt:
        return _y0(t1, cl, rd) / dt
    return (_y0(t1, cl, rd) - _y0(t1 - dt, cl, rd)) / dt


@njit(cache=True, error_model="numpy")
def _dy(t, t0, dt, cl, rd):  # pragma: no cover - compiled
    t1 = t - t0
    if t1 <= 0.0:
        return 0.0, 0.0, 0.0
    if t1 <= dt:
        return -_y0dt(t1, cl, rd) / dt, -_y0(t1, cl, rd) / (dt * dt), _y0dcl(t1, cl, rd) / dt
    dydt0 = -(_y0dt(t1, cl, rd) - _y0dt(t1 - dt, cl, rd)) / dt
    dyddt = -(_y0(t1, cl, rd) + _y0(t1 - dt, cl, rd)) / (dt * dt) + _y0dt(t1 - dt, cl, rd) / dt
    dydcl = (_y0dcl(t1, cl, rd) - _y0dcl(t1 - dt, cl, rd)) / dt
    return dydt0, dyddt, dydcl


@njit(cache=True, error_model="numpy")
def _eval(s, tb, dtab, stab, x, order, f, jac):  # pragma: no cover - compiled
    """Residuals and Jacobian of the DMP equations at x = (t0, dt, ceff); False on a domain
    error (OpenSTA's DmpError)."""
    rd = s[RD]
    t0, dt = x[0], x[1]
    if order == 3:
        ceff = x[2]
        if ceff < 0.0 or ceff > s[C1] + s[C2] or dt <= 0.0:
            return False
    else:
        ceff = s[CEFF]
        if dt <= 0.0:
            t_vth, t_vl, _ = _gate_delays(s, tb, dtab, stab, ceff)
            dt = x[1] = (t_vl - t_vth) / 100
    t_vth, t_vl, slew = _gate_delays(s, tb, dtab, stab, ceff)
    if order == 3 and slew == 0.0:
        return False
    f[1] = _y(t_vth, t0, dt, ceff, rd) - s[VTH]  # y50
    f[0] = _y(t_vl, t0, dt, ceff, rd) - s[VL]  # y20
    a, b, c = _dy(t_vl, t0, dt, ceff, rd)
    jac[0, 0], jac[0, 1], jac[0, 2] = a, b, c
    a, b, c = _dy(t_vth, t0, dt, ceff, rd)
    jac[1, 0], jac[1, 1], jac[1, 2] = a, b, c
    if order == 3:
        p1, p2, A, B, D = s[P1], s[P2], s[A_], s[B_], s[D_]
        ct = min(slew / (s[VH] - s[VL]), 1.4 * dt)
        e1, e2, er = _exp2(-p1 * ct), _exp2(-p2 * ct), _exp2(-ct / (rd * ceff))
        ipi = (A * ct + (B / p1) * (1.0 - e1) + (D / p2) * (1.0 - e2)) / (rd * ct * dt)
        iceff = (rd * ceff * ct - (rd * ceff) * (rd * ceff) * (1.0 - er)) / (rd * ct * dt)
        f[2] = ipi - iceff
        e1, e2, er = _exp2(-p1 * dt), _exp2(-p2 * dt), _exp2(-dt / (rd * ceff))
        rc = rd * ceff
        ta = -A * dt
        tb_ = B * dt * e1 - 2.0 * (B / p1) * (1.0 - e1)
        td = D * dt * e2 - 2.0 * (D / p2) * (1.0 - e2)
        tr = rc * (dt + dt * er - 2.0 * rc * (1.0 - er))
        jac[2, 0] = 0.0
        jac[2, 1] = (ta + tb_ + td + tr) / (rd * dt * dt * dt)
        jac[2, 2] = (2.0 * rc - dt - (2.0 * rc + dt) * er) / (dt * dt)
    return True


@njit(cache=True, error_model="numpy")
def _newton(s, tb, dtab, stab, x, order):  # pragma: no cover - compiled
    f = np.zeros(3)
    jac = np.zeros((3, 3))
    for _ in range(100):
        if not _eval(s, tb, dtab, stab, x, order, f, jac):
            return False
        if order == 2:
            det = jac[0, 0] * jac[1, 1] - jac[0, 1] * jac[1, 0]
            if abs(det) < 1e-12:
                return False
            p0 = (-f[0] * jac[1, 1] + f[1] * jac[0, 1]) / det
            p1 = (-f[1] * jac[0, 0] + f[0] * jac[1, 0]) / det
            ok = abs(p0) <= abs(x[0]) * 0.01 and abs(p1) <= abs(x[1]) * 0.01
            x[0] += p0
            x[1] += p1
        else:
            # 3x3 by cofactors (Cramer's rule): no LAPACK call and no temporaries per step
            a00, a01, a02 = jac[0, 0], jac[0, 1], jac[0, 2]
            a10, a11, a12 = jac[1, 0], jac[1, 1], jac[1, 2]
            a20, a21, a22 = jac[2, 0], jac[2, 1], jac[2, 2]
            m0 = a11 * a22 - a12 * a21
            m1 = a10 * a22 - a12 * a20
            m2 = a10 * a21 - a11 * a20
            det = a00 * m0 - a01 * m1 + a02 * m2
            if abs(det) < 1e-12:
                return False
            b0, b1, b2 = -f[0], -f[1], -f[2]
            q0 = (b0 * m0 - a01 * (b1 * a22 - a12 * b2) + a02 * (b1 * a21 - a11 * b2)) / det
            q1 = (a00 * (b1 * a22 - a12 * b2) - b0 * m1 + a02 * (a10 * b2 - b1 * a20)) / det
            q2 = (a00 * (a11 * b2 - b1 * a21) - a01 * (a10 * b2 - b1 * a20) + b0 * m2) / det
            ok = not (abs(q0) > abs(x[0]) * 0.01 or abs(q1) > abs(x[1]) * 0.01 or abs(q2) > abs(x[2]) * 0.01)
            x[0] += q0
            x[1] += q1
            x[2] += q2
        if ok:
            return True
    return False


@njit(cache=True, error_model="numpy")
def _driver_params(s, tb, dtab, stab, ceff, order):  # pragma: no cover - compiled
    x = np.zeros(3)
    if order == 3:
        x[2] = ceff
    t_vth, _t_vl, slew = _gate_delays(s, tb, dtab, stab, ceff if order == 3 else s[CEFF])
    cf = ceff if order == 3 else s[CEFF]
    dt = slew / (s[VH] - s[VL])
    x[1] = dt
    x[0] = t_vth + math.log(1.0 - s[VTH]) * s[RD] * cf - s[VTH] * dt
    if not _newton(s, tb, dtab, stab, x, order):
        return False
    s[T0], s[DT] = x[0], x[1]
    if order == 3:
        s[CEFF] = x[2]
    return True


@njit(cache=True, error_model="numpy")
def _v0(s, t):  # pragma: no cover - compiled
    e1 = _exp2(-s[P1] * t)
    if s[ALG] == PI:
        e2 = _exp2(-s[P2] * t)
        return (s[K0] * (s[K1] + s[K2] * t + s[K3] * e1 + s[K4] * e2),
                s[K0] * (s[K2] - s[K3] * s[P1] * e1 - s[K4] * s[P2] * e2))
    return s[K0] * (s[K1] + s[K2] * t + s[K3] * e1), s[K0] * (s[K2] - s[K3] * s[P1] * e1)


@njit(cache=True, error_model="numpy")
def _vl0(s, t):  # pragma: no cover - compiled
    p1, p3, k0, k1, k2, k3 = s[P1], s[P3], s[K0], s[K1], s[K2], s[K3]
    d1 = k0 * (k1 - k2 / p3)
    d3 = -p3 * k0 * k3 / (p1 - p3)
    e1, e3 = _exp2(-p1 * t), _exp2(-p3 * t)
    if s[ALG] == PI:
        p2, k4 = s[P2], s[K4]
        d4 = -p3 * k0 * k4 / (p2 - p3)
        d5 = k0 * (k2 / p3 - k1 + p3 * k3 / (p1 - p3) + p3 * k4 / (p2 - p3))
        e2 = _exp2(-p2 * t)
        return (d1 + t + d3 * e1 + d4 * e2 + d5 * e3,
                1.0 - d3 * p1 * e1 - d4 * p2 * e2 - d5 * p3 * e3)
    d5 = k0 * (k2 / p3 - k1 + p3 * k3 / (p1 - p3))
    return d1 + t + d3 * e1 + d5 * e3, 1.0 - d3 * p1 * e1 - d5 * p3 * e3


@njit(cache=True, error_model="numpy")
def _wave(s, t, load):  # pragma: no cover - compiled
    """Driver output (load=False) or load waveform and its slope at time t."""
    t1 = t - s[T0]
    dt = s[DT]
    if t1 <= 0.0:
        return 0.0, 0.0
    a, da = _vl0(s, t1) if load else _v0(s, t1)
    if t1 <= dt:
        return a / dt, da / dt
    b, db = _vl0(s, t1 - dt) if load else _v0(s, t1 - dt)
    return (a - b) / dt, (da - db) / dt


@njit(cache=True, error_model="numpy")
def _root(s, v, x1, x2, load):  # pragma: no cover - compiled
    """OpenSTA findRoot (Newton with bisection), relative x tolerance 1 %, 20 iterations;
    (t, failed)."""
    y1 = _wave(s, x1, load)[0] - v
    y2 = _wave(s, x2, load)[0] - v
    if (y1 > 0.0 and y2 > 0.0) or (y1 < 0.0 and y2 < 0.0):
        return 0.0, True
    if y1 == 0.0:
        return x1, False
    if y2 == 0.0:
        return x2, False
    if y1 > 0.0:
        x1, x2 = x2, x1
    root = (x1 + x2) * 0.5
    dx_prev = abs(x2 - x1)
    dx = dx_prev
    y, dy = _wave(s, root, load)
    y -= v
    for _ in range(20):
        if (((root - x2) * dy - y) * ((root - x1) * dy - y) > 0.0) or (abs(2.0 * y) > abs(dx_prev * dy)):
            dx_prev = dx
            dx = (x2 - x1) * 0.5
            root = x1 + dx
        else:
            dx_prev = dx
            dx = y / dy
            root -= dx
        if abs(dx) <= 0.01 * abs(root):
            return root, False
        y, dy = _wave(s, root, load)
        y -= v
        if y < 0.0:
            x1 = root
        else:
            x2 = root
    return root, True


@njit(cache=True, error_model="numpy")
def _vo_upper(s):  # pragma: no cover - compiled
    if s[ALG] == PI:
        return s[T0] + s[DT] + (s[C1] + s[C2]) * (s[RD] + s[RPI]) * 2.0
    return s[T0] + s[DT] + s[C1] * (s[RD] + s[RPI]) * 2.0


@njit(cache=True, error_model="numpy")
def _driver_delay_slew(s):  # pragma: no cover - compiled
    ub = _vo_upper(s)
    delay, bad = _root(s, s[VTH], s[T0], ub, False)
    if bad:
        return 0.0, 0.0, False
    tl, bad = _root(s, s[VL], s[T0], delay, False)
    if bad:
        return 0.0, 0.0, False
    th, bad = _root(s, s[VH], delay, ub, False)
    if bad:
        return 0.0, 0.0, False
    return delay, (th - tl) / s[DER], True


@njit(cache=True, error_model="numpy")
def gate(s, tb, dtab, stab, in_slew, c2, rpi, c1, vth, vl, vh, derate):  # pragma: no cover - compiled
    """DMP gate delay and driver slew of one arc (fills the state `s`)."""
    s[:] = 0.0
    s[INSLEW], s[C2], s[RPI], s[C1] = in_slew, c2, rpi, c1
    s[VTH], s[VL], s[VH], s[DER] = vth, vl, vh, derate
    cap1 = c1 + c2
    d1, _ = _gate_cap(tb, dtab, -1, in_slew, cap1)
    d2, _ = _gate_cap(tb, dtab, -1, in_slew, cap1 + 1e-15)
    rd = -math.log(vth) * abs(d1 - d2) / 1e-15
    s[RD] = rd
    if rd < 1e-2 or rpi < rd * 1e-3 or c1 == 0.0 or c1 < c2 * 1e-3 or rpi == 0.0:
        s[ALG] = CAP
        s[CEFF] = cap1
        d, sl = _gate_cap(tb, dtab, stab, in_slew, cap1)
        s[DSLEW] = sl
        return d, sl
    if c2 < c1 * 1e-3:
        s[ALG] = ZEROC2
        s[CEFF] = c1
        z1 = 1.0 / (rpi * c1)
        p1 = 1.0 / (c1 * (rd + rpi))
        s[Z1], s[P1] = z1, p1
        s[K0] = p1 / z1
        s[K2] = 1.0 / s[K0]
        s[K1] = (p1 - z1) / (p1 * p1)
        s[K3] = -s[K1]
        if _driver_params(s, tb, dtab, stab, c1, 2):
            s[CEFF] = c1
            d, sl, ok = _driver_delay_slew(s)
            if ok:
                s[VALID] = 1.0
                s[VODELAY] = d
                s[DSLEW] = sl
                return d, sl
        s[CEFF] = c1
        d, sl = _gate_cap(tb, dtab, stab, in_slew, c1)
        s[DSLEW] = sl
        return d, sl
    s[ALG] = PI
    z1 = 1.0 / (rpi * c1)
    k0 = 1.0 / (rd * c2)
    a = rpi * rd * c1 * c2
    b = rd * (c1 + c2) + rpi * c1
    sq = math.sqrt(b * b - 4 * a)
    p1 = (b + sq) / (2 * a)
    p2 = (b - sq) / (2 * a)
    p1p2 = p1 * p2
    k2 = z1 / p1p2
    k1 = (1.0 - k2 * (p1 + p2)) / p1p2
    k4 = (k1 * p1 + k2) / (p2 - p1)
    k3 = -k1 - k4
    z = (c1 + c2) / (rpi * c1 * c2)
    s[Z1], s[K0], s[P1], s[P2], s[K1], s[K2], s[K3], s[K4] = z1, k0, p1, p2, k1, k2, k3, k4
    s[A_] = z / p1p2
    s[B_] = (z - p1) / (p1 * (p1 - p2))
    s[D_] = (z - p2) / (p2 * (p2 - p1))
    ok = _driver_params(s, tb, dtab, stab, c2 + c1, 3)
    if not ok:
        ok = _driver_params(s, tb, dtab, stab, c2, 3)
    if not ok:
        s[CEFF] = c1 + c2
        d, sl = _gate_cap(tb, dtab, stab, in_slew, c1 + c2)
        s[DSLEW] = sl
        return d, sl
    d, tsl = _gate_cap(tb, dtab, stab, in_slew, s[CEFF])
    vd, vsl, ok = _driver_delay_slew(s)
    if ok:
        s[VALID] = 1.0
        s[VODELAY] = vd
        sl = vsl
    else:
        sl = tsl
    s[DSLEW] = sl
    return d, sl


@njit(cache=True, error_model="numpy")
def load(s, elmore):  # pragma: no cover - compiled
    """Wire delay and load slew of one load with Elmore delay `elmore` behind the driver of `s`."""
    ds = s[DSLEW]
    if s[ALG] == CAP or s[VALID] == 0.0 or elmore == 0.0 or elmore < ds * 1e-3:
        return elmore, ds
    s[P3] = 1.0 / elmore
    lo = s[T0]
    hi = _vo_upper(s) + elmore * 2.0
    ld, bad = _root(s, s[VTH], lo, hi, True)
    if bad:
        return elmore, ds
    tl, bad = _root(s, s[VL], lo, ld, True)
    if bad:
        return elmore, ds
    th, bad = _root(s, s[VH], ld, hi, True)
    if bad:
        return elmore, ds
    delay = ld - s[VODELAY]
    slew = (th - tl) / s[DER]
    if delay < 0.0:
        delay = elmore
    if slew < ds:
        slew = ds
    return delay, slew
