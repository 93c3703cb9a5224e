"""Delay, dynamic energy and leakage versus supply, from the platform's Liberty corners.

Only corners that share process and temperature say how the supply alone changes a circuit (on
sky130hd `ss_n40C` at 1.28, 1.35, 1.40, 1.44 and 1.76 V). Between two corners the curves are
shape-preserving cubic (PCHIP) interpolants through every corner's sign-off numbers — no
two-point alpha-power law: log(delay) and log(leakage) against V, and dynamic energy / V² against
V (energy is C·V² up to short-circuit and internal terms that the Liberty tables carry). At a
corner the curve *is* the sign-off number; between corners it is a model, and its error is
measured by leaving each inner corner out (`leave_one_out`, checked ≤ 2 % for energy in tests).

Nangate45 has one supply per process/temperature (typical 1.1 V 25 °C, slow 0.95 V 125 °C, fast
1.25 V 0 °C): a "voltage" curve through them mixes process and temperature, and
`voltage_only_corners` refuses it; FINE-VH on Nangate45 says so in its report.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.interpolate import PchipInterpolator

from flow.errors import ConfigError


def voltage_only_corners(platform) -> list[str]:
    """Names of the largest group of corners that share process and temperature, lowest supply
    first; ConfigError when no group has two supplies."""
    groups: dict[tuple[str, float], list] = {}
    for c in platform.corners.values():
        groups.setdefault((c.process, c.temperature), []).append(c)
    best = max(groups.values(), key=lambda g: (len({c.voltage for c in g}), -min(c.voltage for c in g)))
    if len({c.voltage for c in best}) < 2:
        raise ConfigError(f"platform {platform.name}: no two corners differ in supply alone (process and "
                          "temperature change with it); a voltage study needs same-process corners")
    return [c.name for c in sorted(best, key=lambda c: c.voltage)]


@dataclass
class Curve:
    """A quantity known at corner supplies, interpolated in between (see module docstring).
    `values` is [corners] or [corners, items] (e.g. per island)."""

    volts: np.ndarray
    values: np.ndarray
    kind: str  # "delay" | "energy" | "leakage"

    def __post_init__(self) -> None:
        self.volts = np.asarray(self.volts, float)
        self.values = np.asarray(self.values, float)
        if self.volts.size < 2 or np.any(np.diff(self.volts) <= 0):
            raise ValueError("a voltage curve needs two or more corners in increasing supply")
        y = self._forward(self.values)
        self._f = PchipInterpolator(self.volts, y, axis=0, extrapolate=False)

    def _forward(self, y: np.ndarray) -> np.ndarray:
        if self.kind == "energy":
            return y / (self.volts.reshape(-1, *([1] * (y.ndim - 1))) ** 2)
        return np.log(np.maximum(y, 1e-300))

    def __call__(self, v: float) -> np.ndarray | float:
        lo, hi = float(self.volts[0]), float(self.volts[-1])
        if not lo - 1e-9 <= v <= hi + 1e-9:
            raise ValueError(f"{v} V is outside the characterised range [{lo}, {hi}] V")
        y = self._f(min(max(v, lo), hi))
        out = y * v * v if self.kind == "energy" else np.exp(y)
        return float(out) if np.ndim(out) == 0 else out

    def grid(self, n: int = 1001) -> tuple[np.ndarray, np.ndarray]:
        """The curve sampled on n supplies across the range (cached): vectorised look-ups."""
        if getattr(self, "_grid", None) is None or self._grid[0].size != n:
            v = np.linspace(self.volts[0], self.volts[-1], n)
            y = self._f(v)
            vv = v.reshape(-1, *([1] * (y.ndim - 1)))
            self._grid = (v, y * vv * vv if self.kind == "energy" else np.exp(y))
        return self._grid

    def voltage_for_delay(self, target: float) -> float | None:
        """Lowest V whose (scalar) delay is ≤ target; None if even the top corner is slower."""
        if self.values.ndim != 1 or self.kind != "delay":
            raise ValueError("voltage_for_delay needs a scalar delay curve")
        if self.values[-1] > target * (1 + 1e-12):
            return None
        if self.values[0] <= target:
            return float(self.volts[0])
        grid, d = self.grid()
        k = int(np.flatnonzero(d <= target)[0])
        lo, hi = grid[k - 1], grid[k]
        for _ in range(40):  # bisection on the monotone interpolant
            mid = 0.5 * (lo + hi)
            if self(mid) <= target:
                hi = mid
            else:
                lo = mid
        return float(hi)


def leave_one_out(volts, values, kind: str) -> np.ndarray:
    """Relative error at each inner corner of the curve built without it (model vs sign-off)."""
    v = np.asarray(volts, float)
    y = np.asarray(values, float)
    err = []
    for j in range(1, v.size - 1):
        keep = np.arange(v.size) != j
        c = Curve(v[keep], y[keep], kind)
        err.append(np.max(np.abs(np.asarray(c(v[j])) / y[j] - 1)))
    return np.asarray(err)
