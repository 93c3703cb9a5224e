"""FINE-VH after placement and routing: every cell on its rail, repair at the mixed rails, and the
routed modes re-timed and re-powered with the route's parasitics.

Why the routed fast mode used to miss by 5–9 ns (dp_ctrl, sky130hd ss_n40C 1.28/1.76 V):
* the flow's repair and CTS time every cell at one chip-wide corner (the platform's default,
  tt 1.8 V), so a VDDL island's cells were never sized for the wires placement gives them — at
  1.28 V / −40 °C an `xnor2_1` driving 30 fF of routed wire slews 6.5 ns;
* cells the back end adds (repair buffers, CTS buffers, hold delay cells) were in no island: the
  sign-off put them on its default corner (tt 1.8 V), neither rail.

What this module adds:
* `complete_assignment`: every instance the netlist gained joins an island — clock-tree cells
  (reached from the clock port through buffers and inverters) a `clk_tree` pseudo-island on the
  always-on VDDH rail in both modes (an assumption, stated in the report: on sky130 these cells
  sit inside island fences, so a real layout needs VDDH routed to them; on VDDL in the slow mode
  the 1.28 V clock tree's skew broke hold by 5.8 ns on dp_ctrl), every other new cell the island
  of the cell that drives it (so a buffer never creates a rail crossing without a shifter);
* `MixedTimer`: the repair engine's timer (`flow.engines.repair.Timer`) timing one mixed-rail
  analysis (each instance on its rail's Liberty) instead of chip-wide corners, so `Repairer`
  sizes and buffers each island for the rail it sits on (`RepairStage`, before routing);
* `routed_model`: the fast mode (islands on their rails, with the header switches' IR-drop
  derate) at FINE-VH's clock, the slow mode (all on VDDL) at its fastest verified clock, and
  every chip-wide DVFS level at its fastest verified clock — all with the route's SPEF — and
  the policy model rebuilt from those points (switch leakage and hop energy from the routed
  loads). Ideal per-island DVFS keeps the netlist-level curves (a lower bound, model).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from flow.engines import sta
from flow.engines.model import FlatDesign
from flow.engines.parasitics import Parasitics
from flow.engines.repair import Timer, net_wire_caps, steiner_parasitics

CLOCK_ISLAND = "clk_tree"


def _directions(design: FlatDesign, lib: Mapping[str, Any]) -> np.ndarray:
    """Per pin: True for a cell output (from the Liberty)."""
    cells = lib["cells"]
    out = np.zeros(len(design.pin_name), dtype=bool)
    memo: dict[tuple[str, str], bool] = {}
    for p, (inst, pin) in enumerate(zip(design.pin_inst.tolist(), design.pin_name, strict=True)):
        key = (design.inst_cell[inst], pin)
        if key not in memo:
            memo[key] = (cells.get(key[0], {}).get("pins", {}).get(pin, {}).get("direction") == "output")
        out[p] = memo[key]
    return out


def clock_tree_cells(design: FlatDesign, lib: Mapping[str, Any], clock_ports: list[str]) -> set[int]:
    """Instances of the clock network: reached from the clock ports through single-input,
    non-sequential cells (buffers, inverters), as CTS builds it."""
    is_out = _directions(design, lib)
    cells = lib["cells"]
    pins_on_net: dict[int, list[int]] = {}
    for p, net in enumerate(design.pin_net.tolist()):
        pins_on_net.setdefault(net, []).append(p)
    start = np.asarray(design.inst_pin_start)
    nets = [int(design.port_net[k]) for k, nm in enumerate(design.port_names) if nm in clock_ports]
    seen_net = set(nets)
    tree: set[int] = set()
    while nets:
        net = nets.pop()
        for p in pins_on_net.get(net, []):
            if is_out[p]:
                continue
            inst = int(design.pin_inst[p])
            c = cells.get(design.inst_cell[inst], {})
            if c.get("ff") or c.get("latch") or c.get("is_sequential"):
                continue
            pins = range(int(start[inst]), int(start[inst + 1]))
            ins = [q for q in pins if not is_out[q]]
            outs = [q for q in pins if is_out[q]]
            if len(ins) != 1 or len(outs) != 1 or inst in tree:
                continue
            tree.add(inst)
            nxt = int(design.pin_net[outs[0]])
            if nxt not in seen_net:
                seen_net.add(nxt)
                nets.append(nxt)
    return tree


def complete_assignment(design: FlatDesign, lib: Mapping[str, Any], doc: dict,
                        clock_ports: list[str]) -> dict[str, str]:
    """instance -> island for every instance of `design` (see the module doc); the islands file's
    own members keep theirs."""
    known: dict[str, str] = dict(doc["instances"])
    names = design.inst_names
    if all(nm in known for nm in names):
        return known
    is_out = _directions(design, lib)
    driver_of_net: dict[int, int] = {}
    for p in np.flatnonzero(is_out).tolist():
        driver_of_net.setdefault(int(design.pin_net[p]), int(design.pin_inst[p]))
    start = np.asarray(design.inst_pin_start)
    clock = clock_tree_cells(design, lib, clock_ports)
    out = {nm: known[nm] for nm in names if nm in known}
    for i in sorted(clock):
        if names[i] not in out:
            out[names[i]] = CLOCK_ISLAND

    def island_of(i: int, depth: int = 0) -> str | None:
        nm = names[i]
        if nm in out:
            return out[nm]
        if depth > 64:
            return None
        for q in range(int(start[i]), int(start[i + 1])):
            if is_out[q]:
                continue
            d = driver_of_net.get(int(design.pin_net[q]))
            if d is not None and d != i:
                got = island_of(d, depth + 1)
                if got is not None:
                    return got
        return None

    fallback = next(i["name"] for i in doc["islands"] if i["rail"] == doc["vddh"]) if any(
        i["rail"] == doc["vddh"] for i in doc["islands"]) else doc["islands"][0]["name"]
    for i, nm in enumerate(names):
        if nm not in out:
            out[nm] = island_of(i) or fallback  # driven by a port only: a VDDH island
    return out


def unshifted_crossings(design: FlatDesign, lib: Mapping[str, Any], assignment: Mapping[str, str],
                        doc: dict) -> list[tuple[str, str]]:
    """(net, sink pin) of every load that a cell of a lower-rail island drives in a higher-rail
    island other than through a level shifter. Why check the final netlist: shifters go in
    before placement, and repair then buffers, resizes and rewires the crossing nets; a cell it
    adds takes its driver's island, so a buffer in front of a shifter stays legal, but any sink
    left on a crossing net without a shifter would see a low swing at run time. The rule is the
    insertion's: a crossing needs a shifter when the driver island's rail class is below the
    receiver's; clock-tree cells sit on the always-on VDDH rail (top class)."""
    cls = {i["name"]: int(i.get("rail_class", 1 if i["rail"] == doc["vddh"] else 0)) for i in doc["islands"]}
    top = max(cls.values(), default=0)
    inst_cls = np.array([cls.get(assignment.get(nm, ""), top) for nm in design.inst_names], dtype=np.int64)
    ls_cell = doc.get("level_shifter_cell")
    is_ls = np.array([c == ls_cell for c in design.inst_cell], dtype=bool)
    is_out = _directions(design, lib)
    pin_inst, pin_net = np.asarray(design.pin_inst), np.asarray(design.pin_net)
    on_cell = (pin_inst >= 0) & (pin_net >= 0)
    driver = np.full(len(design.net_names), -1, dtype=np.int64)
    drv_pins = np.flatnonzero(on_cell & is_out)
    driver[pin_net[drv_pins]] = pin_inst[drv_pins]
    sinks = np.flatnonzero(on_cell & ~is_out)
    d = driver[pin_net[sinks]]
    r = pin_inst[sinks]
    bad = (d >= 0) & ~is_ls[r]
    bad[bad] = inst_cls[d[bad]] < inst_cls[r[bad]]
    return [(design.net_names[int(pin_net[q])], f"{design.inst_names[int(pin_inst[q])]}/{design.pin_name[q]}")
            for q in sinks[bad].tolist()]


def corners_of(design: FlatDesign, assignment: Mapping[str, str], rails: Mapping[str, str],
               order: list[str], *, clock_rail: str) -> np.ndarray:
    """Per instance: index into `order` (corner names) of its island's rail."""
    rail = dict(rails)
    rail[CLOCK_ISLAND] = clock_rail
    return np.array([order.index(rail[assignment[nm]]) for nm in design.inst_names], dtype=np.int64)


@dataclass
class MixedTimer(Timer):
    """`Timer` with one mixed-rail analysis ("mixed"): `corner_of(netlist)` gives each instance's
    index into `libs` (their order); the repair engine itself is unchanged."""

    corner_of: Callable[[Any], np.ndarray] | None = None
    derate_of: Callable[[Any], np.ndarray] | None = None
    # more analyses at the same clock, each with every instance on one library (name -> index into
    # `libs`): the all-VDDH nominal must meet FINE-VH's clock too, and repair then sees both
    uniform: Mapping[str, int] = field(default_factory=dict)
    _memo: dict = field(default_factory=dict, repr=False)

    def run(self, nl: Any, max_paths: int = 10) -> dict[str, sta.TimingResult]:
        if self.corner_of is None:
            return super().run(nl, max_paths)
        d = nl.design()
        par = steiner_parasitics(nl, self.layer, self._trees) if self.wire == "steiner" else \
            Parasitics.lumped(d, net_wire_caps(nl, self.c_per_m))
        self.runs += 1
        der = self.derate_of(nl) if self.derate_of is not None else None
        libs = list(self.libs.values())
        out = {"mixed": sta.analyze(d, libs, self.constraints, parasitics=par, propagated_clock=self.propagated,
                                    max_paths=max_paths, instance_corner=self.corner_of(nl), derate=der)}
        for name, j in self.uniform.items():
            out[name] = sta.analyze(d, libs, self.constraints, parasitics=par, propagated_clock=self.propagated,
                                    max_paths=max_paths, instance_corner=np.full(len(d.inst_names), j, dtype=np.int64))
        return out


def island_derate(design: FlatDesign, assignment: Mapping[str, str], doc: dict, curve: Any, volts: float,
                  drop: float, *, mode: str) -> np.ndarray:
    """Per instance: the header switches' IR-drop derate of a hopping island's cells (fast mode:
    at VDDH, slow mode: at VDDL; see study._derate)."""
    from plugins.finevh.study import _derate

    hop = {i["name"] for i in doc["islands"] if i.get("hopping")}
    f = _derate(curve, volts, drop)
    return np.array([f if assignment[nm] in hop else 1.0 for nm in design.inst_names])


def fastest(design: FlatDesign, libs: list, tc: sta.TimingConstraints, coi: np.ndarray, *, par: Any,
            derate: np.ndarray | None, start: float, volts: np.ndarray) -> tuple[float, float]:
    """(shortest verified clock period s, its WNS s) of an assignment: secant on WNS(T), then
    stepped up until the STA says it meets — never a period that misses."""
    from plugins.finevh.operating import scaled_constraints, shortest_meeting_period

    base = float(tc.clocks[0].period)

    def wns(per: float) -> float:
        return sta.analyze(design, libs, scaled_constraints(tc, per / base), parasitics=par, instance_corner=coi,
                           derate=derate, voltages=volts).setup_wns

    return shortest_meeting_period(wns, start)


@dataclass
class RoutedModes:
    """The routed re-check: the policy model rebuilt from routed points, and what was verified."""

    system: Any  # policy.SystemModel
    fast_wns: float  # s at the fast mode's clock (islands on their rails, IR-drop derate, SPEF)
    fast_period: float  # s: FINE-VH's clock, or the fast mode's fastest verified clock when it misses it
    fast_wns_at_nominal: float  # s at FINE-VH's clock
    slow_wns: float  # s at the slow mode's clock
    slow_period: float  # s
    nominal_wns: float  # s, the whole chip on VDDH at FINE-VH's clock
    level_wns: dict[str, float]
    fast_hold_wns: float  # s, hold in the fast mode
    slow_hold_wns: float  # s, hold in the slow mode
    added_instances: int
    clock_tree_instances: int
    assignment: dict[str, str]

    @property
    def meets(self) -> bool:
        return min(self.fast_wns, self.slow_wns, self.nominal_wns, self.fast_hold_wns, self.slow_hold_wns) >= -1e-15


def routed_model(design: FlatDesign, libs: Mapping[str, Any], tc: sta.TimingConstraints, doc: dict, par: Any,
                 platform: Any, *, clock_ports: list[str], ir_drop: float, input_activity: float = 0.1,
                 annotated: Mapping[str, tuple[float, float]] | None = None) -> RoutedModes:
    """Re-time and re-power FINE-VH's modes and the chip-wide DVFS levels on the routed netlist
    (`libs`: every same-process corner up to VDDH, lowest supply first; `par`: the SPEF)."""
    from plugins.finevh.islands import size_switch
    from plugins.finevh.operating import SignoffModel, scaled_constraints
    from plugins.finevh.policy import Mode, SystemModel
    from plugins.finevh.voltage import Curve

    model = SystemModel.from_json(doc["policy_model"])
    corners = list(libs)
    vh, vl = doc["vddh"], doc["vddl"]
    top, low = corners.index(vh), corners.index(vl)
    period = float(doc["clock_period_s"])
    tc_at = scaled_constraints(tc, period / float(tc.clocks[0].period))
    sm = SignoffModel(design, libs, tc_at, input_activity=input_activity, annotated=annotated, parasitics=par)
    n = sm.n_inst
    volts = sm.volts
    assign = complete_assignment(design, libs[vh], doc, clock_ports)
    n_clock = sum(1 for v in assign.values() if v == CLOCK_ISLAND)
    coi_fast = corners_of(design, assign, doc["rails"], corners, clock_rail=vh)
    # slow mode: every island on VDDL; the clock tree stays on VDDH (always on) in both modes
    coi_slow = corners_of(design, assign, {i["name"]: vl for i in doc["islands"]}, corners, clock_rail=vh)
    der_fast = island_derate(design, assign, doc, model.chip_delay, float(volts[top]), ir_drop, mode="fast")
    der_slow = island_derate(design, assign, doc, model.chip_delay, float(volts[low]), ir_drop, mode="slow")
    t_fast = sta.analyze(design, sm.libs, sm.tc, parasitics=par, instance_corner=coi_fast, voltages=volts,
                         derate=der_fast)
    fast_pt = sm.point(coi_fast)
    slow_per, slow_wns = fastest(design, sm.libs, sm.tc, coi_slow, par=par, derate=der_slow,
                                 start=1.0 / model.slow.f, volts=volts)
    slow_pt = sm.point(coi_slow, slow_per)
    t_slow = sta.analyze(design, sm.libs, scaled_constraints(sm.tc, slow_per / period), parasitics=par,
                         instance_corner=coi_slow, voltages=volts, derate=der_slow)
    hold = [float(t.hold_wns) if math.isfinite(t.hold_wns) else math.inf for t in (t_fast, t_slow)]
    start_of = {m.name: 1.0 / m.f for m in model.levels}
    levels, periods, at_nom, level_wns = [], [], [], {}
    for j, c in enumerate(corners):
        ic = np.full(n, j, dtype=np.int64)
        pj = sm.point(ic)
        per_j, w_j = fastest(design, sm.libs, sm.tc, ic, par=par, derate=None, start=start_of.get(c, period),
                             volts=volts)
        levels.append(Mode(c, min(1.0 / per_j, 1.0 / period), pj.e_dyn_cycle, pj.leakage, float(volts[j]), w_j))
        periods.append(per_j)
        at_nom.append(pj)
        level_wns[c] = w_j
    nominal_wns = float(at_nom[top].wns)
    # header switches of the hopping islands, sized on their routed VDDH power; rail recharge per
    # hop from the routed loads (pins + SPEF wires) of their cells
    names = design.inst_names
    hop_isl = [i["name"] for i in doc["islands"] if i.get("hopping")]
    member = np.array([assign[nm] for nm in names])
    load = np.max(t_fast.graph.load, axis=1)
    node_inst = np.asarray(t_fast.graph.node_inst)
    cap_inst = np.zeros(n)
    ok = node_inst >= 0
    np.add.at(cap_inst, node_inst[ok], load[ok])
    gate_cap = float(platform.power_switch.get("gate_cap_ff_per_um", 1.5)) * 1e-15
    v_h, v_l = float(volts[top]), float(volts[low])
    sw_leak = hop_e = 0.0
    for isl in hop_isl:
        m = member == isl
        p_i = float(at_nom[top].inst_e_dyn[m].sum()) / period + float(at_nom[top].inst_leak[m].sum())
        b = size_switch(p_i, v_h, ir_drop, platform.power_switch)
        sw_leak += b.leakage_w
        hop_e += 0.5 * float(cap_inst[m].sum()) * (v_h * v_h - v_l * v_l) + gate_cap * b.width_um * v_h * v_h
    fast_wns_nom = float(t_fast.setup_wns) if math.isfinite(t_fast.setup_wns) else math.inf
    fast_per, fast_wns = period, fast_wns_nom
    if fast_wns_nom < 0:  # as before routing: the fast mode runs at its own verified clock (the
        # workload's deadlines then decide; a failing point is never used)
        fast_per, fast_wns = fastest(design, sm.libs, sm.tc, coi_fast, par=par, derate=der_fast,
                                     start=period - fast_wns_nom, volts=volts)
    system = SystemModel(
        f_nom=1.0 / period,
        nominal=Mode(vh, 1.0 / period, at_nom[top].e_dyn_cycle, at_nom[top].leakage, v_h, nominal_wns),
        levels=levels,
        fast=Mode("fast", 1.0 / fast_per, fast_pt.e_dyn_cycle, fast_pt.leakage + sw_leak, 0.0, fast_wns),
        slow=Mode("slow", 1.0 / slow_per, slow_pt.e_dyn_cycle, slow_pt.leakage + sw_leak, v_l, slow_wns),
        chip_delay=Curve(volts, periods, "delay"),
        chip_energy=Curve(volts, [p.e_dyn_cycle for p in at_nom], "energy"),
        chip_leak=Curve(volts, [max(p.leakage, 1e-30) for p in at_nom], "leakage"),
        island_delay=model.island_delay, island_energy=model.island_energy, island_leak=model.island_leak,
        hop_energy=hop_e, hop_time=model.hop_time, regulator_time=model.regulator_time,
        regulator_energy=model.regulator_energy, decap_f=model.decap_f,
    )
    added = sum(1 for nm in names if nm not in doc["instances"])
    return RoutedModes(system, fast_wns, fast_per, fast_wns_nom, slow_wns, slow_per, nominal_wns, level_wns, hold[0], hold[1], added, n_clock,
                       assign)


def _inside(x: float, y: float, w: float, h: float, rect: tuple[float, float, float, float]) -> bool:
    return x >= rect[0] - 1e-12 and y >= rect[1] - 1e-12 and x + w <= rect[2] + 1e-12 and y + h <= rect[3] + 1e-12


def keep_in_fences(nl: Any, fp: Mapping[str, Any], island_of: MutableMapping[str, str],
                   fences: Mapping[str, Any], movable: list[int],
                   equivalent: Mapping[str, Any] | None = None, nearest: int = 32) -> int:
    """Re-place each instance of `movable` (back-end cells) whose box is not inside its island's
    fence at the free sites of that fence nearest its spot; returns how many moved. Why: a buffer
    of a VDDL island legalised into a VDDH fence would sit on the wrong rail (its cell rows are
    powered by the fence it lands in). Cells of no fenced island (the clock tree) stay.

    A full fence spills: a cell that finds no site there goes to the nearest (of the `nearest`
    closest) fence of an island with the same `equivalent` key (its rail and whether it hops:
    islands between which no net needs a level shifter) that has room, and `island_of` records
    its new island — at 1,000+ islands of ~30 cells a fence has room for a few repair buffers,
    not for every hold buffer a path needs."""
    from flow.engines.place import place_new_cells
    from flow.errors import ConfigError

    stray: dict[str, list[int]] = {}
    for k in movable:
        isl = island_of.get(nl.inst_names[k])
        rect = fences.get(isl) if isl is not None else None
        if rect is not None and not _inside(nl.x[k], nl.y[k], nl.w[k], nl.h[k], tuple(rect)):
            stray.setdefault(isl, []).append(k)
    if not stray:
        return 0
    moving = {k for ks in stray.values() for k in ks}
    keep = np.array([k not in moving for k in range(len(nl.inst_names))])
    blocked = [np.column_stack([np.asarray(nl.x)[keep], np.asarray(nl.y)[keep], np.asarray(nl.w)[keep],
                                np.asarray(nl.h)[keep]])]
    if "tap_x" in fp and len(fp["tap_x"]):
        blocked.append(np.column_stack([fp["tap_x"], fp["tap_y"], fp["tap_w"], fp["tap_h"]]))
    rh, sw = float(fp["row_height"]), float(fp["site_width"])
    names = list(fences)
    centre = np.array([[(float(r[0]) + float(r[2])) / 2, (float(r[1]) + float(r[3])) / 2] for r in fences.values()])

    def place(isl: str, ks: list[int]) -> bool:
        r = [float(v) for v in fences[isl]]
        tx = np.clip([nl.x[k] + nl.w[k] / 2 for k in ks], r[0], r[2])
        ty = np.clip([nl.y[k] + nl.h[k] / 2 for k in ks], r[1], r[3])
        # only what overlaps the fence: place_new_cells ignores the rest (it blocks nothing in the
        # rectangle) but walks every blockage it is given in Python
        b = np.vstack(blocked)
        b = b[(b[:, 0] < r[2]) & (b[:, 0] + b[:, 2] > r[0]) & (b[:, 1] < r[3]) & (b[:, 1] + b[:, 3] > r[1])]
        try:
            x, y = place_new_cells(tuple(r), rh, sw, b, np.array([nl.w[k] for k in ks]), tx, ty)
        except ValueError:
            return False
        for j, k in enumerate(ks):
            nl.x[k], nl.y[k] = float(x[j]), float(y[j])
        blocked.append(np.column_stack([x, y, [nl.w[k] for k in ks], [nl.h[k] for k in ks]]))
        return True

    for isl, ks in stray.items():
        if place(isl, ks):
            continue
        for k in ks:  # one at a time: as many as fit at home, the rest to the nearest like fence
            if place(isl, [k]):
                continue
            spot = np.array([nl.x[k] + nl.w[k] / 2, nl.y[k] + nl.h[k] / 2])
            like = [j for j in np.argsort(np.hypot(*(centre - spot).T), kind="stable")[:nearest + 1].tolist()
                    if names[j] != isl and equivalent is not None
                    and equivalent.get(names[j]) == equivalent.get(isl)]
            home = next((names[j] for j in like if place(names[j], [k])), None)
            if home is None:
                raise ConfigError(f"FINE-VH: island {isl}'s fence and the {nearest} nearest fences on its rail have "
                                  f"no room for back-end cell {nl.inst_names[k]} (repair/hold buffer): lower "
                                  "CORE_UTILIZATION")
            island_of[nl.inst_names[k]] = home
    return len(moving)
