"""Supply model: the two rails (VDDH, VDDL), their Liberty corners, and the alpha-power law.

Gate delay follows Sakurai–Newton's alpha-power law, d(V) ∝ V / (V − Vt)^α. Given the critical
delay at two supply corners we solve Vt for a fixed α (1.3, short-channel), and with three or
more corners fit both; the fit gives delay (hence frequency) at voltages without a Liberty, and
dynamic energy scales as V². On Nangate45 the only low-voltage corner (0.95 V) is also slow
process at 125 °C, so the fitted law over-states the voltage sensitivity — the report says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq, least_squares

from flow.errors import ConfigError


@dataclass(frozen=True)
class AlphaPower:
    vt: float
    alpha: float

    def delay_scale(self, v: float, v_ref: float) -> float:
        """d(v) / d(v_ref)."""
        if v <= self.vt:
            return math.inf
        return (v / (v - self.vt) ** self.alpha) / (v_ref / (v_ref - self.vt) ** self.alpha)

    def voltage_for(self, delay_ratio: float, v_ref: float, v_max: float) -> float:
        """Lowest V with d(V)/d(v_ref) ≤ delay_ratio (capped at v_max)."""
        if self.delay_scale(v_max, v_ref) > delay_ratio:
            return v_max
        lo = self.vt + 1e-6
        return brentq(lambda v: self.delay_scale(v, v_ref) - delay_ratio, lo, v_max, xtol=1e-6)


def fit_alpha_power(volts: list[float], delays: list[float], alpha: float = 1.3) -> AlphaPower:
    """Vt (and α with ≥ 3 points) from critical delays measured at several supplies."""
    v = np.asarray(volts, float)
    d = np.asarray(delays, float)
    if v.size < 2 or np.any(d <= 0):
        raise ConfigError("alpha-power fit needs delays at two or more supplies")
    i_hi, i_lo = int(np.argmax(v)), int(np.argmin(v))
    ratio = d[i_lo] / d[i_hi]
    if ratio <= 1.0:
        return AlphaPower(0.0, 1.0)  # no slow-down at low voltage: the data does not support a fit
    if v.size == 2:
        def f(vt: float) -> float:
            return AlphaPower(vt, alpha).delay_scale(v[i_lo], v[i_hi]) - ratio

        hi = v[i_lo] * 0.999
        if f(0.0) > 0:
            return AlphaPower(0.0, alpha * math.log(ratio) / math.log(AlphaPower(0.0, alpha).delay_scale(v[i_lo], v[i_hi])))
        return AlphaPower(brentq(f, 0.0, hi), alpha)
    def resid(p: np.ndarray) -> np.ndarray:
        ap = AlphaPower(p[0], p[1])
        return np.array([ap.delay_scale(x, v[i_hi]) for x in v]) - d / d[i_hi]

    sol = least_squares(resid, x0=[0.3 * v.min(), 1.3], bounds=([0.0, 1.0], [0.95 * v.min(), 2.0]))
    return AlphaPower(float(sol.x[0]), float(sol.x[1]))


def default_rails(platform) -> tuple[str, str]:
    """(VDDH corner, VDDL corner): the highest and lowest supply among corners that share process
    and temperature (sky130 ss_n40C_*), else the default corner and the lowest-voltage corner."""
    groups: dict[tuple[str, float], list] = {}
    for c in platform.corners.values():
        groups.setdefault((c.process, c.temperature), []).append(c)
    best = max(groups.values(), key=len)
    if len(best) >= 2:
        best.sort(key=lambda c: c.voltage)
        return best[-1].name, best[0].name
    low = min(platform.corners.values(), key=lambda c: c.voltage)
    return platform.default_corner, low.name
