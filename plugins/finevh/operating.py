"""Sign-off of FINE-VH operating points: which instance sits on which rail, at which clock.

Every number the policies use comes from here: the multi-voltage STA (`flow.engines.sta`, each
instance on its rail's Liberty) re-times the point at its clock period, and the power engine
(`flow.engines.power`) re-powers it with each instance's Liberty and supply. A point whose WNS
is negative is not feasible (`Point.meets`), and callers reject it.

Clock scaling: a point at period T' re-times the design with every clock period, waveform and
I/O delay scaled by T'/T — the ORFS SDC convention (`set_input_delay [expr $clk_period *
$clk_io_pct]`) that all of this project's designs follow.

Energy per cycle: the switching activity (toggles per cycle) does not depend on the clock, nor do
slews and loads, so dynamic energy per cycle is the dynamic power at the nominal period × that
period, whatever the point's clock; leakage is a power. Both come from one power analysis of the
point's rail assignment.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from flow.engines import power as pw
from flow.engines import sta
from flow.engines.model import FlatDesign
from flow.engines.parasitics import Parasitics, WireLoad


@dataclass
class Point:
    """One signed-off operating point."""

    corner_of_inst: np.ndarray  # per instance: index into SignoffModel.corners
    period: float  # s
    wns: float  # s, setup WNS at `period` (+inf when nothing is constrained)
    e_dyn_cycle: float  # J per clock cycle (dynamic: internal + switching)
    leakage: float  # W
    inst_e_dyn: np.ndarray  # J per cycle per instance
    inst_leak: np.ndarray  # W per instance
    timing: Any = None

    @property
    def meets(self) -> bool:
        return self.wns >= -1e-15

    def power(self, f: float, activity: float = 1.0) -> float:
        return activity * self.e_dyn_cycle * f + self.leakage


def scaled_constraints(tc: sta.TimingConstraints, factor: float) -> sta.TimingConstraints:
    clocks = [dataclasses.replace(c, period=c.period * factor, waveform=tuple(w * factor for w in c.waveform))
              for c in tc.clocks]

    def io(d: sta.IODelay) -> sta.IODelay:
        return dataclasses.replace(d, max=d.max * factor, min=d.min * factor)

    return dataclasses.replace(tc, clocks=clocks, input_delays=[io(d) for d in tc.input_delays],
                               output_delays=[io(d) for d in tc.output_delays])


def shortest_meeting_period(wns: Callable[[float], float], start: float) -> tuple[float, float]:
    """(shortest clock period s that the STA says meets, its WNS s): a few secant steps on
    WNS(T) from `start`, then stepped up until it meets — never a period that misses."""
    per = start
    w = wns(per)
    for _ in range(6):
        if not math.isfinite(w) or -1e-13 <= w <= 1e-12:
            break
        per = max(per - w * (1.0 if w < 0 else 0.98), 1e-12)
        w = wns(per)
    while math.isfinite(w) and w < 0:
        per += -w * 1.01 + 1e-13
        w = wns(per)
    return per, (w if math.isfinite(w) else math.inf)


class SignoffModel:
    """One netlist, its constraints and the Liberty of every rail candidate (corner name -> Library,
    lowest voltage first); the activity is propagated once, at the nominal clock."""

    def __init__(self, design: FlatDesign, libs: Mapping[str, Any], constraints: sta.TimingConstraints, *,
                 input_activity: float = 0.1, annotated: Mapping[str, tuple[float, float]] | None = None,
                 wire_load: bool = True, parasitics: Parasitics | None = None) -> None:
        self.design = design
        self.corners = list(libs)
        self.libs = [libs[c] for c in self.corners]
        self.volts = np.array([float(lb.get("nom_voltage") if isinstance(lb, dict) else lb.nom_voltage)
                               for lb in self.libs])
        self.tc = constraints
        if not constraints.clocks:
            raise ValueError("FINE-VH needs a clocked design (create_clock in the SDC)")
        self.period = float(constraints.clocks[0].period)
        self._par: Parasitics | None = None
        if wire_load and constraints.wire_load_model is not None:  # as sign-off: the SDC's wire-load model
            wl = WireLoad.from_library(self.libs[-1], constraints.wire_load_model)
            self._par = Parasitics.from_wire_load(design, wl) if wl is not None else None
        if parasitics is not None:  # routed: the SPEF's RC trees instead of any estimate
            self._par = parasitics
        self.input_activity = input_activity
        self.annotated = annotated
        self._activity: pw.PinActivity | None = None
        self.n_inst = len(design.inst_names)

    def corner_index(self, name: str) -> int:
        return self.corners.index(name)

    def timing(self, corner_of_inst: np.ndarray, period: float | None = None) -> sta.TimingResult:
        factor = (period or self.period) / self.period
        tc = self.tc if abs(factor - 1) < 1e-12 else scaled_constraints(self.tc, factor)
        return sta.analyze(self.design, self.libs, tc, parasitics=self._par,
                           instance_corner=np.asarray(corner_of_inst, dtype=np.int64), voltages=self.volts)

    def activity(self) -> pw.PinActivity:
        """Activity propagated once on the whole graph; under `set_case_analysis` (an operating
        mode) the nets the constants fix are annotated as never toggling."""
        if self._activity is None:
            ann = self.annotated
            tc = self.tc
            if tc.case_analysis:
                from flow.engines import case_analysis as ca

                tc = dataclasses.replace(tc, case_analysis={})
            t = sta.analyze(self.design, self.libs[-1], tc, parasitics=self._par)
            if self.tc.case_analysis:
                g = t.graph
                vals = ca.node_values(self.design, g.cells, g.inst_cell_idx, g.pin_dir, self.tc.case_analysis)
                node_net = np.concatenate([self.design.pin_net, self.design.port_net])
                const = np.flatnonzero((vals == ca.ZERO) | (vals == ca.ONE))
                ann = dict(ann or {})
                for k in const.tolist():
                    ann[self.design.net_names[int(node_net[k])]] = (0.0, float(vals[k]))
            self._activity = pw.propagate_activity(self.design, t, self.libs[-1], input_activity=self.input_activity,
                                                   annotated=ann)
        return self._activity

    def point(self, corner_of_inst: np.ndarray, period: float | None = None, *, keep_timing: bool = False) -> Point:
        """Re-time at `period` (default nominal) and re-power the assignment."""
        ic = np.asarray(corner_of_inst, dtype=np.int64)
        per = period or self.period
        t = self.timing(ic, per)
        p = pw.analyze_power(self.design, t, self.activity(), supply_names=self.corners, instance_corner=ic)
        e = (np.asarray(p.internal) + np.asarray(p.switching)) * self.period
        lk = np.asarray(p.leakage)
        wns = t.setup_wns if math.isfinite(t.setup_wns) else math.inf
        return Point(ic, per, wns, float(e.sum()), float(lk.sum()), e, lk, t if keep_timing else None)

    def min_period(self, corner_of_inst: np.ndarray, start: float | None = None, tol: float = 1e-12) -> Point:
        """The shortest clock at which the assignment meets timing (secant on WNS(T), then checked):
        the returned point is STA-verified (its WNS ≥ 0)."""
        ic = np.asarray(corner_of_inst, dtype=np.int64)
        t0 = start or self.period
        w0 = self.timing(ic, t0).setup_wns
        if not math.isfinite(w0):
            return self.point(ic, t0)
        t1 = max(t0 - w0, 1e-12)
        for _ in range(8):
            w1 = self.timing(ic, t1).setup_wns
            if abs(w1) < tol or abs(t1 - t0) < tol:
                break
            slope = (w1 - w0) / (t1 - t0) if t1 != t0 else 1.0
            t0, w0 = t1, w1
            t1 = max(t1 - w1 / (slope if slope > 0.05 else 1.0), 1e-12)
        per = t1
        pt = self.point(ic, per)
        guard = 0
        while not pt.meets and guard < 20:  # never hand back a point that misses timing
            per += max(-pt.wns, tol) * 1.01
            pt = self.point(ic, per)
            guard += 1
        return pt
