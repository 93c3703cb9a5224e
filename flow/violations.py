"""Sign-off violations, decided in one place from a run's metrics.

Why one module: the runner's final status (`completed_with_violations`), the CLI's exit code 3
and the report's badge must agree, so each reads this verdict instead of re-deciding it. The
rules are ORFS's sign-off checks: worst setup or hold slack below zero over the sign-off corners,
any max slew / capacitance / fanout violation, and (thermal plugin) a peak temperature above its
limit or a leakage-temperature runaway. Metric names are accepted in ORFS form
(`finish__timing__setup__ws`, ns) and in the flow's internal form (`timing__setup__ws`, s): only
the sign matters for slack, only > 0 for counts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

#: (label, metric names in order of preference) for slacks that violate below zero
_SLACKS = (
    ("setup slack", ("finish__timing__setup__ws", "timing__setup__ws")),
    ("hold slack", ("finish__timing__hold__ws", "timing__hold__ws")),
)
#: (label, metric names) for violation counts
_COUNTS = (
    ("max slew violations", ("finish__timing__drv__max_slew", "timing__drv__max_slew",
                             "timing__drv__max_slew_violations")),
    ("max capacitance violations", ("finish__timing__drv__max_cap", "timing__drv__max_cap",
                                    "timing__drv__max_capacitance", "timing__drv__max_cap_violations")),
    ("max fanout violations", ("finish__timing__drv__max_fanout", "timing__drv__max_fanout",
                               "timing__drv__max_fanout_violations")),
)


def _number(metrics: Mapping[str, Any], names: tuple[str, ...]) -> tuple[str, float] | None:
    for name in names:
        v = metrics.get(name)
        if isinstance(v, bool) or v is None:
            continue
        if isinstance(v, int | float) and math.isfinite(v):
            return name, float(v)
    return None


def signoff_violations(metrics: Mapping[str, Any]) -> list[str]:
    """One line per violated sign-off check (empty: the run is clean, or was not signed off)."""
    out: list[str] = []
    for label, names in _SLACKS:
        hit = _number(metrics, names)
        if hit is not None and hit[1] < 0:
            out.append(f"{label} {hit[0]} = {hit[1]:g} < 0")
    for label, names in _COUNTS:
        hit = _number(metrics, names)
        if hit is not None and hit[1] > 0:
            out.append(f"{label}: {hit[0]} = {hit[1]:g}")
    peak = _number(metrics, ("thermal__max_c",))
    limit = _number(metrics, ("thermal__limit_c",))
    if peak is not None and limit is not None and peak[1] > limit[1]:
        out.append(f"temperature thermal__max_c = {peak[1]:g} °C above thermal__limit_c = {limit[1]:g} °C")
    runaway = metrics.get("thermal__runaway")
    if runaway not in (None, 0, False, 0.0):
        out.append("thermal runaway: thermal__runaway = 1 (the leakage-temperature loop diverged)")
    return out
