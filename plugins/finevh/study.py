"""FINE-VH end to end on one netlist: clock, rails, timing-driven islands, level shifters, switches,
and the signed-off modes the policies use (`policy.SystemModel`).

Steps (each number from the STA/power engines through `operating.SignoffModel`):
1. every same-process corner, chip-wide: fastest verified clock (realistic DVFS levels, ideal
   DVFS curve) and the worst path through every cell at the nominal clock;
2. the nominal clock is the fastest the chip meets at VDDH (`clock="vddh"`: not over-designed)
   or the SDC's;
3. each cell's rail class: the lowest rail on which its worst path through still meets the
   nominal clock with `margin` to spare; islands = slack-binned METIS (`partition.py`);
4. level shifters (the platform's cell, from its Liberty) on nets from a lower-class island
   into a higher-class one — the only pairs that ever see a low-to-high step, since islands of a
   class share their rail in both modes; high-to-low crossings need none. With several operating
   modes on one netlist (precision case analyses, `build_modes`) the shifters and switches are
   the union of every mode's needs, and each mode is timed and powered with all of them;
5. header switches on the islands that hop (class > 0), sized for the IR-drop budget; their
   drop derates those islands' delays (the voltage curve at V − ΔV, extrapolated along the
   lowest segment below the lowest corner — a model, labelled);
6. the fast mode (each island on its class rail, f_nom) is re-timed by the multi-voltage STA
   with the shifters in the netlist; islands holding a cell whose path through fails are
   promoted one rail up and the netlist re-timed until it meets — a failing point is never used;
   the slow mode (all on VDDL) gets its fastest verified clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from flow.engines import sta
from flow.engines.model import FlatDesign
from plugins.finevh import level_shifters as lsh
from plugins.finevh.criticality import cell_through_slack
from plugins.finevh.islands import size_switch
from plugins.finevh.operating import Point, SignoffModel, scaled_constraints, shortest_meeting_period
from plugins.finevh.partition import cell_graph, slack_binned_islands
from plugins.finevh.policy import Mode, SystemModel
from plugins.finevh.voltage import Curve

LS_MODEL_TOGGLES = 0.1  # toggles per cycle of a modelled level shifter (no library cell)


@dataclass
class CornerSweep:
    period: float  # nominal clock (s)
    min_period: list[Point]  # per corner: fastest verified clock, chip-wide
    at_nominal: list[Point]  # per corner, at the nominal clock (timing kept)
    through_slack: np.ndarray  # [corners, cells] at the nominal clock


@dataclass
class FineVH:
    """The outcome of `build`: the policy model plus everything the report and tests need."""

    system: SystemModel
    island: np.ndarray  # per original cell
    rail_class: np.ndarray  # per island (index into rails)
    rails: list[str]
    hopping: np.ndarray  # per island: behind header switches
    level_shifters: int
    ls_cell: str | None
    ls_area_um2: float
    switch_area_um2: float
    cell_area_um2: float
    fast: Point
    slow: Point
    promotions: int
    design_ls: FlatDesign
    corner_of_inst_fast: np.ndarray
    notes: list[str] = field(default_factory=list)

    @property
    def area_overhead_pct(self) -> float:
        return 100 * (self.ls_area_um2 + self.switch_area_um2) / max(self.cell_area_um2, 1e-30)


def sweep_corners(sm: SignoffModel) -> CornerSweep:
    n = sm.n_inst
    mins, nom, slacks = [], [], []
    for j in range(len(sm.corners)):
        ic = np.full(n, j)
        pt = sm.point(ic, keep_timing=True)
        nom.append(pt)
        slacks.append(cell_through_slack(sm.design, pt.timing))
        pt.timing = None
        mins.append(sm.min_period(ic, start=sm.period - pt.wns))
    return CornerSweep(sm.period, mins, nom, np.asarray(slacks))


def nominal_clock(sm: SignoffModel, corner: int, margin: float = 0.03) -> float:
    """The clock the chip is designed for: the fastest it meets chip-wide at `corner` (VDDH), plus
    `margin` (clock uncertainty; it also absorbs the header switches' IR drop) — so the design is
    neither over- nor under-clocked for the study."""
    return sm.min_period(np.full(sm.n_inst, corner)).period * (1 + margin)


def retime(sm: SignoffModel, period: float) -> SignoffModel:
    """The same netlist and libraries with the clock (and ORFS-style I/O delays) at `period`."""
    out = SignoffModel(sm.design, dict(zip(sm.corners, sm.libs, strict=True)),
                       scaled_constraints(sm.tc, period / sm.period), input_activity=sm.input_activity,
                       annotated=sm.annotated, wire_load=sm._par is not None)
    return out


def _derate(curve: Curve, v: float, drop: float) -> float:
    """Delay at v − drop over delay at v along the chip's voltage curve; below the lowest corner
    log(delay) continues along the lowest segment (model)."""
    lo = float(curve.volts[0])
    if v - drop >= lo:
        return float(curve(v - drop)) / float(curve(v))
    slope = (math.log(curve.values[1]) - math.log(curve.values[0])) / (curve.volts[1] - curve.volts[0])
    return math.exp(math.log(float(curve(lo))) + slope * (v - drop - lo)) / float(curve(v))


def build(sm: SignoffModel, sweep: CornerSweep, rails: list[int], k: int, *, platform: Any,
          ls_cell: tuple[str, str, str, float, float] | None, margin: float = 0.03, min_size: int = 8,
          ir_drop: float = 0.01, net_weight: np.ndarray | None = None, seed: int = 0,
          max_promotions: int = 12, island: np.ndarray | None = None,
          hardware: tuple[np.ndarray, ...] = (), xy: np.ndarray | None = None) -> FineVH:
    """FINE-VH on `rails` (corner indices of `sm`, lowest supply first; the last is VDDH) with
    about `k` islands. `sm` and `sweep` at the nominal clock. With `island` (per cell, from an
    earlier build) the islands are kept — the hardware of another operating mode — and only
    their rails follow this `sweep` (e.g. a precision mode's case-analysis timing).
    `hardware`: the rail classes (per island) of the other modes the same netlist serves — one
    netlist works in every mode, so it carries the union of their shifters and switches, and
    this mode is timed and powered with all of them (`build_modes`). `xy`: cell centres of an
    unfenced placement — islands are then compact patches of it within each slack bin
    (`partition.geometric_partition`) rather than min-cut clusters of the netlist."""
    design = sm.design
    n = sm.n_inst
    period = sm.period
    volts = sm.volts
    top = rails[-1]
    libs_top = sm.libs[top]
    area = np.array([libs_top["cells"][c]["area"] for c in design.inst_cell], dtype=float)
    # 3. rail class per cell: lowest rail whose through-slack keeps `margin` of the period
    cls = np.full(n, len(rails) - 1, dtype=np.int64)
    for r in range(len(rails) - 2, -1, -1):
        ok = sweep.through_slack[rails[r]] >= margin * period
        cls[ok] = r
    if island is None:
        graph = None if xy is not None else cell_graph(design, net_weight=net_weight)
        island, rail_class = slack_binned_islands(graph, cls, k, area, min_size=min_size, seed=seed, xy=xy)
    else:  # the same islands: each on the lowest rail all its cells allow in this mode
        island = np.asarray(island, dtype=np.int64)
        rail_class = np.zeros(int(island.max()) + 1, dtype=np.int64)
        np.maximum.at(rail_class, island, cls)
    chip_delay = Curve(volts, [p.period for p in sweep.min_period], "delay")
    drv = lsh.driver_mask(design, libs_top)
    # without a library cell the platform's documented model stands in: its delay on nets that
    # cross supplies in the STA, its energy per toggle (at `LS_MODEL_TOGGLES` per cycle) and leakage
    ls_model_delay = 0.0 if ls_cell is not None else float(platform.level_shifter.get("delay_ps", 0.0)) * 1e-12
    promotions = 0
    while True:
        k_isl = rail_class.size
        classes = (rail_class, *(np.asarray(h, dtype=np.int64) for h in hardware))
        hopping = np.any([c > 0 for c in classes], axis=0)  # behind switches in some mode

        def needs(a: int, b: int, cs: tuple[np.ndarray, ...] = classes) -> bool:
            return any(c[a] < c[b] for c in cs)  # a low-to-high step in some mode

        ins = None
        d_ls = design
        if ls_cell is not None:
            ins = lsh.insert_level_shifters(design, island, drv, ls_cell[0], ls_cell[1], ls_cell[2], needs=needs)
            d_ls = ins.design
        n_ls = len(ins.names) if ins else sum(len(r) for _, _, r in lsh.crossings(design, island, drv, needs=needs))
        isl_all = np.concatenate([island, np.asarray(ins.island, dtype=np.int64)]) if ins is not None and n_ls else island
        coi_fast = np.asarray(rails)[rail_class[isl_all]]
        sm_ls = SignoffModel(d_ls, dict(zip(sm.corners, sm.libs, strict=True)), sm.tc,
                             input_activity=sm.input_activity, annotated=sm.annotated, wire_load=sm._par is not None)
        der_fast = np.ones(len(d_ls.inst_names))
        for r in range(len(rails)):  # a switched island drops across its switch on whichever rail
            der_fast[hopping[isl_all] & (rail_class[isl_all] == r)] = _derate(chip_delay, volts[rails[r]], ir_drop)
        t = sta.analyze(d_ls, sm_ls.libs, sm_ls.tc, parasitics=sm_ls._par, instance_corner=coi_fast,
                        voltages=sm_ls.volts, derate=der_fast, level_shifter_delay=ls_model_delay)
        if t.setup_wns >= -1e-15 or not math.isfinite(t.setup_wns) or promotions >= max_promotions:
            break
        bad = cell_through_slack(d_ls, t) < 0
        up = np.unique(isl_all[bad])
        up = up[rail_class[up] < len(rails) - 1]
        if up.size == 0:
            break
        rail_class = rail_class.copy()
        rail_class[up] += 1
        promotions += 1
    if not math.isfinite(t.setup_wns) or t.setup_wns >= -1e-15:
        fast = _powered(sm_ls, coi_fast, period, float(t.setup_wns) if math.isfinite(t.setup_wns) else math.inf)
    else:  # even VDDH behind its switch misses f_nom: the fast mode runs at its own verified clock
        fast = _fastest(sm_ls, coi_fast, der_fast, start=period - float(t.setup_wns))
    # 5. switches on the hopping islands: sized on their VDDH power, one bank per rail
    vh = float(volts[top])
    banks = {}
    for i in np.flatnonzero(hopping):
        m = isl_all == i
        p_i = float(sweep.at_nominal[top].inst_e_dyn[m[:n]].sum()) / period + float(sweep.at_nominal[top].inst_leak[m[:n]].sum())
        banks[int(i)] = size_switch(p_i, vh, ir_drop, platform.power_switch)
    sw_leak = sum(b.leakage_w for b in banks.values())  # the off bank of each island leaks
    sw_area = 2 * sum(b.area_um2 for b in banks.values())
    gate_cap = float(platform.power_switch.get("gate_cap_ff_per_um", 1.5)) * 1e-15
    # rail recharge per hop: the island's switched capacitance (pin + wire loads the STA saw)
    load = np.max(t.graph.load, axis=1)
    node_inst = np.asarray(t.graph.node_inst)
    cap_inst = np.zeros(len(d_ls.inst_names))
    ok = node_inst >= 0
    np.add.at(cap_inst, node_inst[ok], load[ok])
    vl = float(volts[rails[0]])
    hop_e = sum(0.5 * float(cap_inst[isl_all == i].sum()) * (vh * vh - vl * vl) + gate_cap * b.width_um * vh * vh
                for i, b in banks.items())
    # slow mode: every island on VDDL (the hopping ones through their L switch)
    coi_slow = np.full(len(d_ls.inst_names), rails[0])
    der_slow = np.where(hopping[isl_all], _derate(chip_delay, vl, ir_drop), 1.0)
    slow = _fastest(sm_ls, coi_slow, der_slow, start=sweep.min_period[rails[0]].period)
    ls_area = n_ls * (ls_cell[3] * ls_cell[4] * 1e12 if ls_cell is not None
                      else float(platform.level_shifter.get("area_um2", 0.0)))
    notes = []
    if ls_cell is None and n_ls:
        e_ls = n_ls * float(platform.level_shifter.get("energy_fj", 0.0)) * 1e-15 * LS_MODEL_TOGGLES
        l_ls = n_ls * float(platform.level_shifter.get("leakage_nw", 0.0)) * 1e-9
        fast.e_dyn_cycle += e_ls
        fast.leakage += l_ls
        slow.leakage += l_ls
        notes.append(f"{n_ls} level shifters modelled (the platform has no level-shifter cell): "
                     f"{platform.level_shifter.get('delay_ps', 0)} ps, {platform.level_shifter.get('energy_fj', 0)} fJ "
                     f"per toggle at {LS_MODEL_TOGGLES} toggles/cycle, {platform.level_shifter.get('leakage_nw', 0)} nW")
    nominal = sweep.at_nominal[top]
    levels = [Mode(sm.corners[j], min(1.0 / p.period, 1.0 / period), p.e_dyn_cycle, p.leakage, float(volts[j]), p.wns)
              for j, p in enumerate(sweep.min_period) if volts[j] <= vh]
    k_isl = rail_class.size
    isl_delay = np.zeros((len(volts), k_isl))
    isl_e = np.zeros((len(volts), k_isl))
    isl_l = np.zeros((len(volts), k_isl))
    for j in range(len(volts)):
        ws = np.full(k_isl, np.inf)
        np.minimum.at(ws, island, sweep.through_slack[j])
        isl_delay[j] = np.where(np.isfinite(ws), period - ws, period * 1e-3)
        isl_e[j] = np.bincount(island, weights=sweep.at_nominal[j].inst_e_dyn, minlength=k_isl)
        isl_l[j] = np.bincount(island, weights=sweep.at_nominal[j].inst_leak, minlength=k_isl)
    isl_delay = np.maximum.accumulate(isl_delay[::-1], axis=0)[::-1]  # monotone in V (numerical ties)
    system = SystemModel(
        f_nom=1.0 / period,
        nominal=Mode(sm.corners[top], 1.0 / period, nominal.e_dyn_cycle, nominal.leakage, vh, nominal.wns),
        levels=levels,
        fast=Mode("fast", 1.0 / fast.period, fast.e_dyn_cycle, fast.leakage + sw_leak, 0.0, fast.wns),
        slow=Mode("slow", 1.0 / slow.period, slow.e_dyn_cycle, slow.leakage + sw_leak, vl, slow.wns),
        chip_delay=chip_delay,
        chip_energy=Curve(volts, [p.e_dyn_cycle for p in sweep.at_nominal], "energy"),
        chip_leak=Curve(volts, [max(p.leakage, 1e-30) for p in sweep.at_nominal], "leakage"),
        island_delay=Curve(volts, isl_delay, "delay"),
        island_energy=Curve(volts, isl_e, "energy"),
        island_leak=Curve(volts, np.maximum(isl_l, 1e-30), "leakage"),
        hop_energy=hop_e,
        hop_time=float(platform.power_switch.get("on_time_ns", 10.0)) * 1e-9 if banks else 0.0,
    )
    return FineVH(system, island, rail_class, [sm.corners[r] for r in rails], hopping, n_ls,
                  ls_cell[0] if ls_cell else None, ls_area, sw_area, float(area.sum() * 1e12), fast, slow, promotions,
                  d_ls, coi_fast, notes)


def _powered(sm: SignoffModel, coi: np.ndarray, period: float, wns: float) -> Point:
    """Power of a rail assignment (the derated timing only moves slews marginally: power is
    taken from the un-derated analysis at the same rails), with the verified WNS."""
    pt = sm.point(coi, period)
    pt.wns = wns
    return pt


def _fastest(sm: SignoffModel, coi: np.ndarray, derate: np.ndarray, start: float) -> Point:
    """Fastest clock at which the (derated) assignment meets timing, verified by the STA."""
    def wns(per: float) -> float:
        tc = scaled_constraints(sm.tc, per / sm.period)
        return sta.analyze(sm.design, sm.libs, tc, parasitics=sm._par, instance_corner=coi, voltages=sm.volts,
                           derate=derate).setup_wns

    per, w = shortest_meeting_period(wns, start)
    pt = sm.point(coi, per)
    pt.wns = w
    return pt


def build_modes(sm: SignoffModel, sweep: CornerSweep, rails: list[int], k: int,
                modes: dict[str, tuple[SignoffModel, CornerSweep]], *, max_rounds: int = 6,
                **kw: Any) -> tuple[FineVH, dict[str, FineVH]]:
    """One islanded netlist for every operating mode (`sm` on all paths, `modes`: e.g. precision
    case analyses): the islands of the all-paths build, each mode on its own rails, and the level
    shifters and switches of the union of every mode's needs in all of them — the hardware is one
    netlist. Repeated until no mode's rails change (a union shifter's delay can promote an island);
    `FineVH.notes` says so when that does not settle, and the modes then differ in shifters."""
    fv = build(sm, sweep, rails, k, **kw)
    island = fv.island
    per = {p: build(sm_p, sw_p, rails, k, island=island, **kw) for p, (sm_p, sw_p) in modes.items()}
    for _ in range(max_rounds if modes else 0):
        cls = {"": fv.rail_class, **{p: f.rail_class for p, f in per.items()}}

        def others(name: str, cls: dict[str, np.ndarray] = cls) -> tuple[np.ndarray, ...]:
            return tuple(c for q, c in cls.items() if q != name)

        fv = build(sm, sweep, rails, k, island=island, hardware=others(""), **kw)
        per = {p: build(sm_p, sw_p, rails, k, island=island, hardware=others(p), **kw)
               for p, (sm_p, sw_p) in modes.items()}
        if all(np.array_equal(c, cls[q]) for q, c in {"": fv.rail_class, **{p: f.rail_class for p, f in per.items()}}.items()):
            break
    if len({f.level_shifters for f in (fv, *per.values())}) > 1:
        fv.notes.append("the modes' level-shifter union did not settle: the modes differ in shifters")
    return fv, per


def level_shifter_cell(platform: Any, lib: dict, lef: Any = None) -> tuple[str, str, str, float, float] | None:
    """(cell, data input, output, width m, height m) of the platform's level shifter when its
    Liberty and LEF have it; None where the platform has none (the report then says so)."""
    from flow.errors import ConfigError

    name = str(platform.level_shifter.get("cell") or "")
    if not name:
        return None
    if lef is None:
        from flow.formats.lef import read_lef

        lef = read_lef([platform.tech_lef, *platform.cell_lefs])
    cell = lib["cells"].get(name)
    macro = lef.macros.get(name)
    if cell is None or macro is None:
        raise ConfigError(f"level shifter {name} (platform {platform.name}) is not in its Liberty and LEF")
    ins = [p for p, d in cell["pins"].items() if d.get("direction") == "input"]
    outs = [p for p, d in cell["pins"].items() if d.get("direction") == "output"]
    if len(ins) != 1 or len(outs) != 1:
        raise ConfigError(f"level shifter {name}: expected one data input and one output, got {ins} / {outs}")
    return name, ins[0], outs[0], macro.width, macro.height


# ---- the study: designs x islands x rails x workloads ------------------------------------------------
RAIL_SETS_SKY130 = (("ss_n40C_1v28", "ss_n40C_1v76"), ("ss_n40C_1v35", "ss_n40C_1v76"),
                    ("ss_n40C_1v44", "ss_n40C_1v76"), ("ss_n40C_1v28", "ss_n40C_1v44", "ss_n40C_1v76"))


def lenet_layers(rows: int, cols: int) -> dict:
    """LeNet-5's layer shapes (MACs per inference) at the mixed precisions a Prune-and-Quantize
    run picks (8/4/4/2/8 bits), as cycles on a rows × cols mac_array (8-bit: one MAC per PE and
    cycle, 4-bit: two, 2-bit: four) — a layer trace when no `vhflow convnet trace` is given."""
    shapes = [("conv1", 117600, 8), ("conv2", 240000, 4), ("fc1", 48000, 4), ("fc2", 10080, 2), ("fc3", 840, 8)]
    par = {8: 1, 4: 2, 2: 4}
    return {"layers": [{"name": n, "macs": m, "bits": b, "cycles": math.ceil(m / (rows * cols * par[b]))}
                       for n, m, b in shapes]}


def workloads(f_nom: float, convnet: dict | None) -> dict[str, list]:
    from plugins.finevh import policy as pol

    out = {"synthetic": pol.synthetic_trace(f_nom, n=40, interval_s=2e-4),
           "burst": pol.burst_trace(f_nom, high=0.9, low=0.1, n=20, interval_s=2e-4)}
    if convnet is not None:
        out["convnet"] = pol.convnet_frames(convnet, f_nom, load=0.9, idle=0.3, frames=3)
    return out


def study_design(name: str, design: FlatDesign, constraints: sta.TimingConstraints, platform: Any,
                 ks: list[int], rail_sets=RAIL_SETS_SKY130, convnet: dict | None = None,
                 log=print, modes: dict[str, sta.TimingConstraints] | None = None) -> list[dict]:
    """Rows of the study for one netlist (see `benchmarks/finevh_study.py`). With `modes`
    (precision -> constraints with `set_case_analysis` on the precision register), the islands
    are built once on all paths and each mode gets its own rails, DVFS levels and signed-off
    points from its case-analysis timing; the ConvNet workload is then also evaluated with each
    layer on its precision's model (`convnet/per-mode`)."""
    import time

    from plugins.finevh import policy as pol
    from plugins.finevh.voltage import voltage_only_corners

    corners = voltage_only_corners(platform)
    libs = {c: platform.liberty(c) for c in corners}
    sm = SignoffModel(design, libs, constraints)
    top = len(corners) - 1
    t0 = time.perf_counter()
    sm = retime(sm, nominal_clock(sm, top))
    sweep = sweep_corners(sm)
    log(f"{name}: {sm.n_inst} cells, clock {sm.period * 1e9:.3f} ns (VDDH fmax + 3 %), corner sweep "
        f"{time.perf_counter() - t0:.1f} s")
    ls = level_shifter_cell(platform, libs[corners[-1]])
    mode_sm: dict[str, tuple[SignoffModel, CornerSweep]] = {}
    for p, tc_p in (modes or {}).items():
        sm_p = SignoffModel(design, libs, scaled_constraints(tc_p, sm.period / float(tc_p.clocks[0].period)))
        mode_sm[p] = (sm_p, sweep_corners(sm_p))
        log(f"  precision {p}: chip WNS at VDDH {mode_sm[p][1].at_nominal[top].wns * 1e9:.3f} ns (all paths "
            f"{sweep.at_nominal[top].wns * 1e9:.3f} ns), fastest clock at the lowest rail "
            f"{mode_sm[p][1].min_period[0].period * 1e9:.3f} ns (all paths {sweep.min_period[0].period * 1e9:.3f} ns)")
    rows = []
    for rs in rail_sets:
        idx = [corners.index(c) for c in rs]
        for k in ks:
            if k > sm.n_inst // 4:
                continue
            t1 = time.perf_counter()
            fv, per_mode = build_modes(sm, sweep, idx, k, mode_sm, platform=platform, ls_cell=ls)
            m = fv.system
            runs = [(w, tr, None) for w, tr in workloads(m.f_nom, convnet).items()]
            if per_mode and convnet is not None:
                runs.append(("convnet/per-mode", workloads(m.f_nom, convnet)["convnet"],
                             {p: f.system for p, f in per_mode.items()}))
            for wname, tr, mm in runs:
                res = pol.compare(m, tr, mm)
                sv = pol.savings(res)
                rows.append({
                    "design": name, "cells": sm.n_inst, "clock_ns": sm.period * 1e9, "k": k,
                    "islands": int(fv.rail_class.size), "hopping": int(fv.hopping.sum()),
                    "rails_v": [float(sm.volts[j]) for j in idx], "workload": wname,
                    "energy_uj": {p: r.energy_j * 1e6 for p, r in res.items()},
                    "misses": {p: r.misses for p, r in res.items()},
                    "finevh_vs_ideal_dvfs_pct": sv["finevh_vs_ideal_dvfs_pct"],
                    "finevh_vs_dvfs_pct": sv["finevh_vs_dvfs_pct"],
                    "finevh_above_bound_pct": sv["finevh_above_lower_bound_pct"],
                    "level_shifters": fv.level_shifters, "area_overhead_pct": fv.area_overhead_pct,
                    "fast_wns_ns": fv.fast.wns * 1e9, "slow_wns_ns": fv.slow.wns * 1e9,
                    "verified": bool(fv.fast.meets and fv.slow.meets),
                    "f_slow_over_nom": m.slow.f / m.f_nom, "f_fast_over_nom": m.fast.f / m.f_nom,
                    "e_fast_over_nominal": m.fast.e_cycle / m.nominal.e_cycle,
                    "promotions": fv.promotions, "build_s": time.perf_counter() - t1,
                    "per_mode": {p: {"islands_vddl": int(np.sum(f.rail_class == 0)), "fast_wns_ns": f.fast.wns * 1e9,
                                     "slow_wns_ns": f.slow.wns * 1e9, "level_shifters": f.level_shifters,
                                     "f_slow_over_nom": f.system.slow.f / f.system.f_nom,
                                     "verified": bool(f.fast.meets and f.slow.meets)}
                                 for p, f in per_mode.items()} if mm else {},
                })
                if mm:  # every mode's points must be verified, on one netlist, for the per-mode row to count
                    rows[-1]["verified"] = rows[-1]["verified"] and all(
                        f.fast.meets and f.slow.meets and f.level_shifters == fv.level_shifters
                        for f in per_mode.values())
            r0 = rows[-1]
            log(f"  rails {r0['rails_v']} k={k}: {r0['islands']} islands ({r0['hopping']} hopping), "
                f"{fv.level_shifters} LS, area +{fv.area_overhead_pct:.1f} %, fast WNS {fv.fast.wns * 1e9:.3f} ns, "
                f"E_fast/E_nom {r0['e_fast_over_nominal']:.3f}, f_L/f_nom {r0['f_slow_over_nom']:.3f}, "
                f"{r0['build_s']:.1f} s")
    return rows


PRECISION_CODE = {"8": 0, "4": 1, "2": 2}  # mac_array's `prec` encoding (designs/mac_array/src/mac_pe.v)


def precision_modes(design: FlatDesign, lib: Any, constraints: sta.TimingConstraints) -> dict[str, sta.TimingConstraints]:
    """Per precision ("8", "4", "2"): the constraints plus `set_case_analysis` of the precision
    register's outputs (the drivers of the nets `...prec_q[b]` / `...pe.prec[b]`: the `prec`
    port is registered, and OpenSTA does not propagate constants through registers)."""
    import dataclasses

    from plugins.finevh.routed import _directions

    is_out = _directions(design, lib)
    drv: dict[int, str] = {}
    for p in np.flatnonzero(is_out).tolist():
        drv.setdefault(int(design.pin_net[p]), f"{design.inst_names[int(design.pin_inst[p])]}/{design.pin_name[p]}")
    bits: dict[int, set[str]] = {0: set(), 1: set()}
    for k, net in enumerate(design.net_names):
        nm = net.strip().lstrip("\\")
        for b in (0, 1):
            if (nm.endswith(f"prec_q[{b}]") or nm.endswith(f"pe.prec[{b}]")) and k in drv:
                bits[b].add(drv[k])
    if not bits[0] or not bits[1]:
        return {}
    out = {}
    for mode, code in PRECISION_CODE.items():
        case = {pin: str((code >> b) & 1) for b in (0, 1) for pin in sorted(bits[b])}
        out[mode] = dataclasses.replace(constraints, case_analysis={**constraints.case_analysis, **case})
    return out
