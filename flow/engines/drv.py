"""Design-rule checks on a timed netlist: max slew, max capacitance and max fanout, as OpenSTA's
`report_check_types -max_slew -max_capacitance -max_fanout` (search/CheckSlews.cc,
CheckCapacitances.cc, CheckFanouts.cc).

Limits, the tightest of: the SDC limit on the design (`set_max_* X [current_design]`), on a
top port (`set_max_* X [get_ports p]`), the Liberty pin's `max_transition`/`max_capacitance`/
`max_fanout` — for output pins the library's `default_max_*` when the pin has none — and for a
port with `set_driving_cell` the driving cell's output pin. Checked: slew on every pin and port
(the late slew of both transitions), capacitance (pin + wire load) and fanout (sum of the load
pins' `fanout_load`, `default_fanout_load`, 1 for a pin without Liberty; ports not counted) on
every driver; pins of ideal clock networks are not checked. A check violates when
slack = limit - value < 0; for capacitance OpenSTA lists a violator only when the slack is not
"fuzzy equal" to 0, i.e. below -1e-15 (its absolute float tolerance, 1 fF in farads), and so
do we.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from flow.engines.model import cell_model


@dataclass
class DrvCheck:
    """One kind of check over the checked pins (value and limit in SI, slack = limit - value)."""

    kind: str  # "max_slew", "max_capacitance", "max_fanout"
    nodes: np.ndarray
    value: np.ndarray
    limit: np.ndarray
    names: Any  # node names of the timing graph
    tolerance: float = 0.0  # a violation is slack < -tolerance

    @property
    def slack(self) -> np.ndarray:
        return self.limit - self.value

    @property
    def violating(self) -> np.ndarray:
        sl = self.slack
        return (sl < 0) & (np.abs(sl) >= self.tolerance) if self.tolerance else sl < 0

    @property
    def violations(self) -> int:
        return int(self.violating.sum())

    @property
    def worst_slack(self) -> float | None:
        return float(self.slack.min()) if self.slack.size else None

    def violators(self) -> list[tuple[str, float, float, float]]:
        """(pin, limit, value, slack) of the violating pins, worst first."""
        sl = self.slack
        bad = np.flatnonzero(self.violating)
        bad = bad[np.argsort(sl[bad], kind="stable")]
        return [(self.names[int(self.nodes[k])], float(self.limit[k]), float(self.value[k]), float(sl[k]))
                for k in bad]


@dataclass
class DesignRules:
    max_slew: DrvCheck
    max_capacitance: DrvCheck
    max_fanout: DrvCheck
    time_unit: float = 1e-9  # the library's units, as OpenSTA reports
    cap_unit: float = 1e-15

    def checks(self) -> list[DrvCheck]:
        return [self.max_slew, self.max_capacitance, self.max_fanout]

    def report(self, digits: int = 2) -> str:
        """`report_check_types -max_slew -max_capacitance -max_fanout -violators` text: the
        violating pins worst first, values in the library's time and capacitance units."""
        out: list[str] = []
        for chk, title, col, scale, dg in ((self.max_slew, "max slew", "Slew", 1 / self.time_unit, digits),
                                           (self.max_fanout, "max fanout", "Fanout", 1.0, 0),
                                           (self.max_capacitance, "max capacitance", "Cap", 1 / self.cap_unit, digits)):
            rows = chk.violators()
            if not rows:
                continue
            w = 5 + dg if dg else 6
            out += [title, "", f"{'Pin':<36} {'Limit':>{w}} {col:>{w}} {'Slack':>{w}}", "-" * (39 + 3 * w)]
            for pin, lim, val, sl in rows:
                out.append(f"{pin:<36} {lim * scale:>{w}.{dg}f} {val * scale:>{w}.{dg}f} {sl * scale:>{w}.{dg}f} (VIOLATED)")
            out.append("")
        return "\n".join(out)

    def metrics(self) -> dict[str, float | int | None]:
        """ORFS metrics: violation counts `finish__timing__drv__max_slew|max_cap|max_fanout` and
        the worst slack of each (`..._slack`: ns, pF, fanout count; None when nothing is limited)."""
        out: dict[str, float | int | None] = {}
        for chk, key, scale in ((self.max_slew, "max_slew", 1e9), (self.max_capacitance, "max_cap", 1e12),
                                (self.max_fanout, "max_fanout", 1.0)):
            ws = chk.worst_slack
            out[f"finish__timing__drv__{key}"] = chk.violations
            out[f"finish__timing__drv__{key}_slack"] = None if ws is None else round(ws * scale, 9)
        return out

    def table(self) -> str:
        """One line per check for the sign-off report: violations, worst slack, tightest limit."""
        lines = [f"{'Check':<16}{'Violations':>11}{'Worst slack':>14}{'Pins checked':>14}"]
        for chk, title, scale, unit in ((self.max_slew, "max slew", 1e9, "ns"),
                                        (self.max_capacitance, "max capacitance", 1e12, "pF"),
                                        (self.max_fanout, "max fanout", 1.0, "")):
            ws = chk.worst_slack
            wtxt = "-" if ws is None else f"{ws * scale:.4f} {unit}".strip()
            lines.append(f"{title:<16}{chk.violations:>11d}{wtxt:>14}{chk.nodes.size:>14d}")
        return "\n".join(lines)


def _tightest(*limits: np.ndarray) -> np.ndarray:
    stack = np.vstack(limits)
    out = np.full(stack.shape[1], np.inf)
    for row in stack:
        out = np.where(np.isnan(row), out, np.minimum(out, row))
    return out


def check_design_rules(res: Any) -> DesignRules:
    """The three checks for a `TimingResult` (uses its graph, slews, loads and constraints)."""
    g = res.graph
    tc = res.constraints
    n = g.n
    n_pins = n - int((g.node_inst < 0).sum())
    is_port = g.node_inst < 0
    lim = g.limits if g.limits is not None else np.full((n, 4), np.nan)

    def sdc_limits(table: dict[str, float], col: int) -> np.ndarray:
        """Design and port limits of the SDC, and the driving cells' output pin limits (ports)."""
        out = np.full(n, table.get("", np.nan)) if tc is not None else np.full(n, np.nan)
        if tc is None:
            return out
        ports = {nm: n_pins + k for k, nm in enumerate(g.names[n_pins:])} if (table or tc.driving_cells) else {}
        for obj, v in table.items():
            if obj and obj in ports:
                out[ports[obj]] = min(v, out[ports[obj]]) if np.isfinite(out[ports[obj]]) else v
        for port, (cell, pin, _from, _slew) in tc.driving_cells.items():
            if port not in ports or res.library is None:
                continue
            cm = cell_model(res.library, cell)
            if cm is None:
                continue
            outs = [p for p, pm in cm.pins.items() if pm.direction == "output"]
            pm = cm.pins.get(pin or (outs[0] if outs else ""))
            v = None if pm is None else (pm.max_transition, pm.max_capacitance, pm.max_fanout)[col]
            if v is not None:
                k = ports[port]
                out[k] = v if np.isnan(out[k]) else min(out[k], v)
        return out

    checked = ~(res.ideal_clock_node if res.ideal_clock_node is not None else np.zeros(n, bool))
    pin_dir = g.pin_dir
    driver = ((pin_dir == 2) | (pin_dir == 3)) & checked

    def make(kind: str, col: int, table: dict[str, float], nodes: np.ndarray, value: np.ndarray,
             tol: float = 0.0) -> DrvCheck:
        limit = _tightest(lim[:, col], sdc_limits(table, col))[nodes]
        keep = np.isfinite(limit)
        return DrvCheck(kind, nodes[keep], value[keep], limit[keep], g.names, tol)

    slew_nodes = np.flatnonzero(checked & ((pin_dir > 0) | is_port))
    slew = make("max_slew", 0, tc.max_transition if tc else {}, slew_nodes, res.node_slew[slew_nodes].max(axis=1))
    drv_nodes = np.flatnonzero(driver)
    cap = make("max_capacitance", 1, tc.max_capacitance if tc else {}, drv_nodes, g.load[drv_nodes].max(axis=1),
               1e-15)
    is_load = ((pin_dir == 1) | (pin_dir == 3)) & ~is_port
    n_nets = int(g.node_net.max()) + 1 if n else 0
    ld = np.flatnonzero(is_load & (g.node_net >= 0))
    fo_net = np.bincount(g.node_net[ld], weights=lim[ld, 3], minlength=n_nets)
    fo = np.where(g.node_net[drv_nodes] >= 0, fo_net[np.maximum(g.node_net[drv_nodes], 0)], 0.0)
    fan = make("max_fanout", 2, tc.max_fanout if tc else {}, drv_nodes, fo)
    lib = res.library
    tu = float((lib.get("time_unit") if isinstance(lib, dict) else getattr(lib, "time_unit", None)) or 1e-9)
    cu = float((lib.get("cap_unit") if isinstance(lib, dict) else getattr(lib, "cap_unit", None)) or 1e-15)
    return DesignRules(slew, cap, fan, tu, cu)
