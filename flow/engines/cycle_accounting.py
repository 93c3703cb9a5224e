"""Which capture edge a launch edge is checked against, as OpenSTA 3.1's `CycleAccting` finds it.

Between two clocks of different periods the setup relation is not "the first capture edge after
the launch edge of cycle 0": OpenSTA walks the launch and capture cycles until they line up again
(their common period, capped at 100 or 1000 capture cycles) and keeps the *smallest* positive
capture - launch separation for setup and the smallest non-negative launch - capture separation
for hold. With 1.2 ns and 1.7 ns clocks the setup separation is 0.1 ns (12.0 -> 12.1), not the
0.2 ns of cycle 0. Comparisons are OpenSTA's fuzzy float comparisons, so edges that coincide up to
float rounding count as coincident.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

_TOL = 1e-15  # OpenSTA's float_equal_tolerance (absolute, near zero)


def _feq(a: float, b: float) -> bool:
    """OpenSTA `fuzzyEqual` on floats (single precision, 1e-6 relative)."""
    a, b = float(np.float32(a)), float(np.float32(b))
    if a == b:
        return True
    if a == 0.0:
        return abs(b) < _TOL
    if b == 0.0:
        return abs(a) < _TOL
    return abs(a - b) < 1e-6 * max(abs(a), abs(b))


def _first_cycle(edge: float, period: float) -> int:
    return 1 if edge < 0 else (0 if edge < period else -1)


@lru_cache(maxsize=4096)
def separations(src_period: float, src_edge: float, tgt_period: float, tgt_edge: float) -> tuple[float, float]:
    """(setup, hold) separations in seconds: setup = min capture - launch > 0, hold = min
    launch - capture >= 0, over the launch and capture cycles OpenSTA visits."""
    setup = hold = math.inf
    tgt_max = 100 if tgt_period > src_period else max(math.ceil(src_period / tgt_period), 1000)
    tgt_past_src = src_past_tgt = False
    tgt_cycle = _first_cycle(tgt_edge, tgt_period)
    while tgt_cycle <= tgt_max:
        tgt_start = tgt_cycle * tgt_period
        tgt_time = tgt_start + tgt_edge
        src_cycle = _first_cycle(src_edge, src_period)
        while True:
            src_start = src_cycle * src_period
            src_time = src_start + src_edge
            if tgt_past_src and src_past_tgt and _feq(src_start, tgt_start):
                return setup, hold
            if src_past_tgt and src_start > tgt_start + tgt_period and not _feq(src_start, tgt_start + tgt_period):
                break
            if tgt_time > src_time and not _feq(tgt_time, src_time):
                tgt_past_src = True
                d = tgt_time - src_time
                if d < setup and not _feq(d, setup):
                    setup = d
            if tgt_time < src_time or _feq(tgt_time, src_time):
                src_past_tgt = True
                d = src_time - tgt_time
                if d < hold and not _feq(d, hold):
                    hold = d
            src_cycle += 1
        tgt_cycle += 1
    return setup, hold


def _matches(mcp: dict, launch: str, capture: str) -> bool:
    return ((mcp.get("from_clocks") is None or launch in mcp["from_clocks"])
            and (mcp.get("to_clocks") is None or capture in mcp["to_clocks"]))


def _pick(mcps: list[dict], launch: str, capture: str, role: str) -> dict | None:
    """The multicycle exception OpenSTA applies to a setup ("max") or hold ("min") check: the
    most specific (-from and -to over one of them over none), a plain one (no -setup/-hold)
    before a -setup/-hold one of the same specificity, the later among equals."""
    best, best_key = None, None
    for k, m in enumerate(mcps):
        if m["minmax"] not in ("all", role) or not _matches(m, launch, capture):
            continue
        key = ((m.get("from_clocks") is not None) + (m.get("to_clocks") is not None), m["minmax"] == "all", k)
        if best_key is None or key > best_key:
            best, best_key = m, key
    return best


def multicycle_adjustments(mcps: list[dict], launch: str, launch_period: float, capture: str,
                           capture_period: float) -> tuple[float, float]:
    """(setup, hold) shifts of the capture edge by `set_multicycle_path`, as OpenSTA's
    `checkMcpAdjustment`: setup (N-1)·P; hold (Ns-1)·Ps - Mh·Ph, where a plain (no -setup/-hold)
    exception has hold multiplier 0, so hold moves with setup. P is the capture clock's period
    (-end, the -setup default) or the launch clock's (-start, the -hold default)."""
    if not mcps:
        return 0.0, 0.0

    def period(m: dict) -> float:
        return capture_period if m["end"] else launch_period

    s = _pick(mcps, launch, capture, "max")
    h = _pick(mcps, launch, capture, "min")
    setup = (s["mult"] - 1) * period(s) if s is not None else 0.0
    if h is None:
        hold = setup
    else:
        h_mult = 0 if h["minmax"] == "all" else h["mult"]
        hold = (s["mult"] - 1) * period(s) - h_mult * period(h) if s is not None else -h_mult * period(h)
    return setup, hold
