"""FINE-VH plugin: stages `finevh_partition` (after the floorplan, or synthesis in a flow
without one) and `finevh_islands` (before placement), the `islands`/`fences`/`upf` views, metrics, report section and `vhflow finevh`.

Opt-in per design: the stages run when `FINEVH_ISLANDS > 0` or `FINEVH_ISLAND_SIZE > 0`
(`vhflow run CONFIG --set FINEVH_ISLANDS=8` works on any design).

`finevh_partition` does the whole verified analysis (`study.py`): the clock, each cell's worst
path through at every same-process corner, slack-binned islands, the rails (VDDL chosen per design
and workload unless FINEVH_VDDL_CORNER is set), level shifters and switches, and the two modes
re-timed by the multi-voltage STA; it stores the signed-off policy model in `islands.json`.
`finevh_islands` places what that model counted (and refuses a different shifter count), so
`vhflow finevh policy` gives the same figures from either stage's file.

How the rendered UPF expresses Vdd-hopping: OpenROAD knows switched domains, not islands that
alternate between two always-on rails. Each island is a power domain whose primary supply
`VDD_<island>` is the output of two header switches, `SW_<island>_H` fed by VDDH and
`SW_<island>_L` fed by VDDL, controlled by the same logic port `hop_<island>` with opposite
on-states, so exactly one is on at a time; level shifters are required on every domain input.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from flow.errors import ConfigError
from flow.formats.upf import Upf, UpfCommand, write_upf
from flow.plugin_manager import hookimpl
from flow.report.sections import ReportSection
from flow.stage import Stage, StageContext, StageResult, Variable
from flow.state import State
from flow.util import lazy_import

# engines load on first use, not when `vhflow` starts (numpy, scipy and numba behind them)
np = lazy_import("numpy")
lsh = lazy_import("plugins.finevh.level_shifters")
pol = lazy_import("plugins.finevh.policy")
islands = lazy_import("plugins.finevh.islands")
supply = lazy_import("plugins.finevh.supply")

VARIABLES = (
    Variable("FINEVH_ISLANDS", int, "Number of Vdd-hopping islands (0: FINE-VH off).", 0, source="finevh"),
    Variable("FINEVH_ISLAND_SIZE", int, "Target cells per island (sets the island count when > 0).", 0,
             source="finevh"),
    Variable("FINEVH_VDDH_CORNER", str | None, "Liberty corner of the high rail; default: highest supply.", None,
             source="finevh"),
    Variable("FINEVH_VDDL_CORNER", str | None, "Liberty corner of the low rail; default: lowest supply.", None,
             source="finevh"),
    Variable("FINEVH_IR_DROP_MV", float, "IR-drop budget across an island's header switches (its delay derate "
             "must fit the 3 % clock margin of FINEVH_CLOCK=vddh).", 10.0, unit="mV",
             source="finevh"),
    Variable("FINEVH_TRACE", Path | None, "Workload trace for the policy evaluation; default: synthetic.", None,
             source="finevh"),
    Variable("FINEVH_SEED", int, "METIS seed.", 0, source="finevh"),
    Variable("FINEVH_CLOCK", str, "Clock of the study: 'vddh' (the fastest the chip meets at VDDH + 3 %, so it is "
             "not over-designed) or 'sdc' (the SDC's).", "vddh", source="finevh"),
    Variable("FINEVH_LS_BUDGET", int, "Most level shifters allowed (0: no limit); over it the island count is "
             "halved until the cut fits.", 0, source="finevh"),
    Variable("FINEVH_MIN_ISLAND", int, "Fewest cells per island.", 8, source="finevh"),
    Variable("FINEVH_VDDM_CORNER", str | None, "Liberty corner of an optional third (middle) rail.", None,
             source="finevh"),
    Variable("FINEVH_CLOCK_MARGIN", float, "FINEVH_CLOCK=vddh: the clock is the chip's netlist-level fmax at VDDH "
             "slowed by this much (room for routed wires).", 3.0, unit="%", source="finevh"),
    Variable("FINEVH_RAIL_MARGIN", float, "A cell goes on a lower rail only when its worst path through keeps this "
             "share of the clock as slack there at netlist level (room for its routed wires).", 3.0, unit="%",
             source="finevh"),
    Variable("FINEVH_FENCE_HEADROOM", float, "Room kept free in every island fence for the cells the back end "
             "adds (repair and hold buffers), as a share of the island's cell area.", 15.0, unit="%",
             source="finevh"),
    Variable("FINEVH_PARTITION", Literal["auto", "netlist", "placement"], "How each slack bin is cut into islands: "
             "'netlist' (METIS min-cut on connectivity), 'placement' (recursive bisection of an unfenced global "
             "placement spread over the core: compact islands whose fences sit where their cells want to be) or "
             "'auto' (placement above PLACEMENT_DRIVEN_ISLANDS islands when the flow has a floorplan).", "auto",
             source="finevh"),
)

# above this many islands min-cut clusters (tens of cells) are physically scattered and their
# fences stretch wires across the core; below it they are large and coherent (see partition.py)
PLACEMENT_DRIVEN_ISLANDS = 64


def _enabled(config) -> bool:
    return int(config.get("FINEVH_ISLANDS", 0) or 0) > 0 or int(config.get("FINEVH_ISLAND_SIZE", 0) or 0) > 0


def _rails(ctx: StageContext) -> tuple[str, str]:
    if ctx.config.get("FINEVH_CLOCK", "vddh") not in ("vddh", "sdc"):
        raise ConfigError("FINEVH_CLOCK must be 'vddh' or 'sdc'")
    ctx.platform.require_voltages(2, "FINE-VH (a VDDH and a VDDL rail)")  # names the corners a tree lacks
    vh, vl = supply.default_rails(ctx.platform)
    vh = ctx.config["FINEVH_VDDH_CORNER"] or vh
    vl = ctx.config["FINEVH_VDDL_CORNER"] or vl
    for c in (vh, vl):
        ctx.platform.corner(c)
    if ctx.platform.corner(vl).voltage >= ctx.platform.corner(vh).voltage:
        raise ConfigError(f"FINE-VH: VDDL corner {vl} must have a lower supply than VDDH corner {vh}")
    return vh, vl


class PartitionStage(Stage):
    id = "finevh_partition"
    name = "FINE-VH: timing-driven islands, rails and signed-off modes"
    inputs = ("verilog", "sdc")  # and the floorplan's placement view when there is one
    outputs = ("islands",)
    config_vars = VARIABLES

    @classmethod
    def enabled(cls, config) -> bool:
        return _enabled(config)

    def run(self, state: State, ctx: StageContext) -> StageResult:
        from flow.engines import sta as sta_engine
        from flow.stages.floorplan import load_netlist, platform_lef
        from flow.stages.signoff import corner_library, load_activity
        from plugins.finevh import study
        from plugins.finevh.operating import SignoffModel
        from plugins.finevh.voltage import voltage_only_corners

        cfg = ctx.config
        plat = ctx.platform
        design = load_netlist(ctx, state)  # parsed once per run (cached)
        n = len(design.inst_names)
        notes: list[str] = []
        vh, vl = _rails(ctx)
        try:
            corners = voltage_only_corners(plat)
        except ConfigError:
            corners = [vl, vh]
            notes.append(f"{plat.name} has no corners that differ in supply alone: VDDL ({vl}, "
                         f"{plat.corner(vl).voltage} V, {plat.corner(vl).process} {plat.corner(vl).temperature} °C) "
                         f"differs from VDDH ({vh}, {plat.corner(vh).process} {plat.corner(vh).temperature} °C) in "
                         "process and temperature too, so these figures are not a voltage-only study")
        if vh not in corners or (cfg["FINEVH_VDDL_CORNER"] and vl not in corners):
            raise ConfigError(f"FINE-VH rails {vl}/{vh} must be among the same-process corners {corners}")
        corners = [c for c in corners if plat.corner(c).voltage <= plat.corner(vh).voltage]
        libs = {c: ctx.cached(("engine_liberty", c), lambda c=c: corner_library(plat, c)) for c in corners}
        tc = sta_engine.load_constraints(state["sdc"], design, libs[vh])
        ann = load_activity(Path(cfg["ACTIVITY"]), cfg.get("ACTIVITY_SCOPE")) if cfg.get("ACTIVITY") else None
        sm = SignoffModel(design, libs, tc, input_activity=cfg.get("INPUT_ACTIVITY", 0.1), annotated=ann)
        sdc_period = sm.period
        top = corners.index(vh)
        if cfg["FINEVH_CLOCK"] == "vddh":
            sm = study.retime(sm, study.nominal_clock(sm, top, margin=float(cfg["FINEVH_CLOCK_MARGIN"]) / 100))
        sweep = study.sweep_corners(sm)
        k = cfg["FINEVH_ISLANDS"] or max(1, math.ceil(n / cfg["FINEVH_ISLAND_SIZE"]))
        k = max(1, min(k, n))
        ls_cell = study.level_shifter_cell(plat, libs[vh], platform_lef(ctx))
        weights = _activity_weights(cfg, design)
        xy = _placement_xy(ctx, state, design, k)
        if cfg["FINEVH_VDDL_CORNER"]:
            candidates = [[corners.index(vl), top]]
        else:  # rails per design and workload: every lower same-process corner as VDDL
            candidates = [[j, top] for j in range(top)]
        if cfg["FINEVH_VDDM_CORNER"]:
            vm = corners.index(cfg["FINEVH_VDDM_CORNER"])
            candidates = [sorted({c[0], vm, top}) for c in candidates if c[0] < vm]
        tried = []
        budget = int(cfg.get("FINEVH_LS_BUDGET") or 0)
        for rails in candidates:
            kk = k
            while True:
                fv = study.build(sm, sweep, rails, kk, platform=plat, ls_cell=ls_cell, net_weight=weights,
                                 margin=float(cfg["FINEVH_RAIL_MARGIN"]) / 100,
                                 seed=cfg["FINEVH_SEED"], ir_drop=cfg["FINEVH_IR_DROP_MV"] * 1e-3,
                                 min_size=int(cfg.get("FINEVH_MIN_ISLAND") or 1), xy=xy)
                if not budget or fv.level_shifters <= budget or kk <= len(rails):
                    break
                kk = max(len(rails), kk // 2)  # fewer islands cut fewer nets
            if budget and fv.level_shifters > budget:
                ctx.log.warning("FINE-VH rails %s: %d level shifters even with %d islands (budget %d): rejected",
                                [corners[j] for j in rails], fv.level_shifters, kk, budget)
                continue
            trace, _ = workload(fv.system, cfg.get("FINEVH_TRACE"))
            r = pol.evaluate(fv.system, trace, "finevh")
            tried.append((r.misses > 0 or not fv.fast.meets, r.energy_j, rails, fv))
            ctx.log.info("FINE-VH rails %s: %d islands, %d level shifters, fast WNS %.3f ns, %d misses, %.4g uJ",
                         [corners[j] for j in rails], fv.rail_class.size, fv.level_shifters, fv.fast.wns * 1e9,
                         r.misses, r.energy_j * 1e6)
        if not tried:
            raise ConfigError(f"FINE-VH: no rail choice fits the level-shifter budget FINEVH_LS_BUDGET={budget}")
        _, _, rails, fv = min(tried, key=lambda t: (t[0], t[1]))
        doc = islands_doc(fv, sm, sweep, rails, corners, plat, notes,
                          [{"rails": [corners[j] for j in t[2]], "energy_uj": t[1] * 1e6, "rejected": t[0]}
                           for t in tried])
        doc["sdc_period_s"] = sdc_period
        doc["partition"] = "netlist" if xy is None else "placement"
        if xy is not None:  # where each island's cells sit unfenced: the island floorplan follows it
            doc["island_xy"] = [[float(np.mean(xy[fv.island == j, 0])), float(np.mean(xy[fv.island == j, 1]))]
                                for j in range(fv.rail_class.size)]
        out = ctx.path("islands.json")
        out.write_text(json.dumps(doc, indent=1))
        k_isl = fv.rail_class.size
        n_vh = int(np.sum(fv.rail_class == len(rails) - 1))
        ctx.log.info("FINE-VH: %d islands (%d hopping), VDDL %s, fast-mode WNS %.3f ns, %d level shifters", k_isl,
                     int(fv.hopping.sum()), doc["vddl"], fv.fast.wns * 1e9, fv.level_shifters)
        return StageResult(views={"islands": out}, metrics={
            "finevh__islands": k_isl, "finevh__islands__vddh": n_vh,
            "finevh__partition__cut_nets": len(doc["crossings"]),
            "finevh__timing__setup__ws_mixed": fv.fast.wns if math.isfinite(fv.fast.wns) else 0.0,
        })


def _placement_xy(ctx: StageContext, state: State, design, k: int) -> Any:
    """Cell centres of an unfenced placement spread over the floorplan's core when the islands
    are to be cut from it (FINEVH_PARTITION), else None."""
    mode = ctx.config.get("FINEVH_PARTITION", "auto")
    if mode not in ("auto", "netlist", "placement"):
        raise ConfigError(f"FINEVH_PARTITION = {mode!r}: must be auto, netlist or placement")
    if mode == "netlist" or (mode == "auto" and (k <= PLACEMENT_DRIVEN_ISLANDS or "placement" not in state)):
        return None
    if "placement" not in state:
        raise ConfigError("FINEVH_PARTITION = placement needs a floorplan before the partition (run the whole flow)")
    from flow.stages.place import spread_positions

    fp = dict(np.load(state["placement"]))
    if list(map(str, fp["inst_names"])) != list(design.inst_names):
        raise ConfigError("placement view does not match the netlist (rerun floorplan)")
    cx, cy = spread_positions(design, fp, int(ctx.config.get("PLACE_SEED") or 0))
    ctx.log.info("FINE-VH: islands cut from an unfenced placement of %d cells (FINEVH_PARTITION)", len(cx))
    return np.column_stack([cx, cy])


def islands_doc(fv, sm, sweep, rails: list[int], corners: list[str], plat, notes: list[str], tried: list) -> dict:
    """The `islands` view: membership, fast-mode rails (what sign-off times), the planned level
    shifters and switches, and the signed-off policy model."""
    from plugins.finevh.criticality import island_criticality

    k = fv.rail_class.size
    names = [f"isl{i}" for i in range(k)]
    rail_names = [corners[rails[c]] for c in fv.rail_class]
    top = rails[-1]
    design = sm.design
    area = np.array([sm.libs[top]["cells"][c]["area"] for c in design.inst_cell]) * 1e12
    crit = island_criticality(sweep.through_slack[top], fv.island, k, sm.period)
    e = np.bincount(fv.island, weights=sweep.at_nominal[top].inst_e_dyn, minlength=k)
    lk = np.bincount(fv.island, weights=sweep.at_nominal[top].inst_leak, minlength=k)
    drv = lsh.driver_mask(design, sm.libs[top])
    cross = lsh.crossings(design, fv.island, drv, needs=lambda a, b: fv.rail_class[a] < fv.rail_class[b])
    return {
        "vddh": corners[top], "vddl": corners[rails[0]], "rail_corners": [corners[j] for j in rails],
        "rail_voltage": {corners[j]: float(sm.volts[j]) for j in range(len(corners))},
        "clock_period_s": sm.period, "f_nom_hz": 1.0 / sm.period,
        "instances": {nm: names[fv.island[i]] for i, nm in enumerate(design.inst_names)},
        "rails": dict(zip(names, rail_names, strict=True)),
        "islands": [{"name": names[i], "cells": int(np.sum(fv.island == i)), "area_um2": float(area[fv.island == i].sum()),
                     "rail": rail_names[i], "rail_class": int(fv.rail_class[i]), "hopping": bool(fv.hopping[i]),
                     "crit": float(crit[i]), "dynamic_w": float(e[i] / sm.period), "leakage_w": float(lk[i])}
                    for i in range(k)],
        "crossings": [[int(a), int(b), [int(x) for x in c]] for a, b, c in cross],
        "level_shifters_planned": int(fv.level_shifters), "level_shifter_cell": fv.ls_cell,
        "level_shifter_area_um2": fv.ls_area_um2, "switch_area_um2": fv.switch_area_um2,
        "area_overhead_pct": fv.area_overhead_pct,
        "modes": {"fast": {"period_s": fv.fast.period, "wns_s": fv.fast.wns, "meets": fv.fast.meets},
                  "slow": {"period_s": fv.slow.period, "wns_s": fv.slow.wns, "meets": fv.slow.meets}},
        "assignment": {"wns_s": fv.fast.wns if math.isfinite(fv.fast.wns) else 0.0, "promotions": fv.promotions},
        "rails_tried": tried, "notes": notes + fv.notes,
        "policy_model": fv.system.to_json(),
    }


class IslandsStage(Stage):
    id = "finevh_islands"
    name = "FINE-VH: island floorplan, switches, level shifters, UPF"
    inputs = ("islands", "placement", "verilog")
    outputs = ("islands", "fences", "upf", "verilog", "placement")

    @classmethod
    def enabled(cls, config) -> bool:
        return _enabled(config)

    def run(self, state: State, ctx: StageContext) -> StageResult:
        cfg = ctx.config
        doc = json.loads(Path(state["islands"]).read_text())
        fp = np.load(state["placement"])
        plat = ctx.platform
        isl = doc["islands"]
        k = len(isl)
        names = [i["name"] for i in isl]
        vh_v = doc["rail_voltage"][doc["vddh"]]
        drop = cfg["FINEVH_IR_DROP_MV"] * 1e-3
        if not 0 < drop < vh_v:
            raise ConfigError("FINEVH_IR_DROP_MV must be positive and below the supply")
        # header switches only where an island hops (a static-VDDL island sits on its rail)
        banks = [islands.size_switch(i["dynamic_w"] + i["leakage_w"], vh_v, drop, plat.power_switch) if i.get("hopping", True)
                 else islands.SwitchBank(0.0, 0.0, 0.0, math.inf) for i in isl]
        ls_per_island = np.zeros(k, dtype=int)
        for _, drv, recv in doc["crossings"]:
            for r in recv:
                if r != drv:
                    ls_per_island[r] += 1
        ls = dict(plat.level_shifter)
        ls_cell = _level_shifter_cell(ctx, doc["vddh"])
        if ls_cell is not None:  # the real cell's footprint, not the model's
            ls["area_um2"] = ls_cell[3] * ls_cell[4] * 1e12
        # room per island: its cells, both switch banks and its level shifters; the islands tile
        # the core in proportion (the switch and shifter area is reserved inside each fence)
        # plus FINEVH_FENCE_HEADROOM of its cell area for what the back end adds (repair and hold
        # buffers must land in their own island's fence, on its rail)
        room = float(cfg.get("FINEVH_FENCE_HEADROOM", 15.0)) / 100
        if not 0 <= room < 1:
            raise ConfigError("FINEVH_FENCE_HEADROOM must be in [0, 100) %")
        need = np.array([(i["area_um2"] * (1 + room) + 2 * b.area_um2 + ls_per_island[j] * float(ls.get("area_um2", 3.0)))
                         * 1e-12 for j, (i, b) in enumerate(zip(isl, banks, strict=True))])
        core = tuple(float(v) for v in fp["core"])
        core_area = (core[2] - core[0]) * (core[3] - core[1])
        if need.sum() > 0.95 * core_area:
            raise ConfigError(f"FINE-VH islands need {need.sum() * 1e12:.0f} µm² (cells, switches, level shifters), "
                              f"the core has {core_area * 1e12:.0f} µm²: lower CORE_UTILIZATION")
        rh = float(fp["row_height"])
        min_w, unit = 0.0, 1
        if ls_cell is not None and n_cross(doc):  # a shifter fits beside a tap column in every island
            tap_w = float(np.max(fp["tap_w"])) if len(fp.get("tap_w", [])) else 0.0
            min_w, unit = 2 * ls_cell[3] + tap_w, max(1, int(round(ls_cell[4] / rh)))
        layout = (np.asarray(doc["island_xy"], dtype=float) if doc.get("island_xy") is not None
                  else islands.spectral_embedding(k, _island_adjacency(ctx, state, doc, names)))
        rects, slots, redone = _fit_islands(need, layout,
                                            core, fp, doc, names,
                                            ls_cell if n_cross(doc) else None, min_w, unit)
        ctx.log.info("FINE-VH: %d island rectangles, every island's cells pack beside its taps and shifters "
                     "(%d re-floorplans)", k, redone)
        views: dict[str, Path] = {}
        if ls_cell is not None and n_cross(doc):
            views = self._insert_shifters(state, ctx, doc, names, slots, ls_cell, fp)
        planned = doc.get("level_shifters_planned")
        if planned is not None and planned != int(ls_per_island.sum()):
            raise ConfigError(f"FINE-VH: {int(ls_per_island.sum())} level shifters placed, the signed-off policy model "
                              f"has {planned}: the islands view is inconsistent")
        members: dict[str, list[str]] = {n: [] for n in names}
        for inst, name in doc["instances"].items():
            members[name].append(inst)
        fences = {"regions": [{"name": n, "rects": [list(rects[j])], "instances": members[n], "exclusive": True}
                              for j, n in enumerate(names)],
                  # pre-placed cells (level shifters), lower-left in metres: fixed for every placer
                  "fixed": [{"name": nm, "x": v["x"], "y": v["y"]}
                            for nm, v in doc.get("level_shifter_cells", {}).items()]}
        fpath = ctx.path("fences.json")
        fpath.write_text(json.dumps(fences))
        upf = build_upf(names, members, rects, doc)
        upath = ctx.path(f"{cfg['DESIGN_NAME']}.upf")
        write_upf(upf, upath, header="FINE-VH power intent written by vhflow (see plugins/finevh/plugin.py)")
        switch_area = 2 * sum(b.area_um2 for b in banks)
        n_ls = int(ls_per_island.sum())
        ls_area = n_ls * float(ls.get("area_um2", 3.0))
        cell_area = sum(i["area_um2"] for i in isl)
        doc.update(
            switch_width_um={n: b.width_um for n, b in zip(names, banks, strict=True)},
            switch_r_on_ohm_um=float(plat.power_switch.get("r_on_ohm_um", 1500.0)),
            level_shifters={n: int(c) for n, c in zip(names, ls_per_island, strict=True)},
            level_shifter_model={k2: ls[k2] for k2 in ls},
            fences={n: list(r) for n, r in zip(names, rects, strict=True)},
        )
        for j, i in enumerate(isl):
            i.update(switch_width_um=banks[j].width_um, switch_area_um2=2 * banks[j].area_um2,
                     switch_leak_w=banks[j].leakage_w, level_shifters=int(ls_per_island[j]))
        ipath = ctx.path("islands.json")
        ipath.write_text(json.dumps(doc, indent=1))
        return StageResult(views={"islands": ipath, "fences": fpath, "upf": upath, **views}, metrics={
            "finevh__level_shifters": n_ls,
            "finevh__switch_area_um2": round(switch_area, 3),
            "finevh__area_overhead_pct": round(100 * (switch_area + ls_area) / cell_area, 3),
            # what the fences hold (cells + switches + shifters) over the core: the utilisation with
            # FINE-VH's own area counted
            "finevh__utilization_pct": round(100 * float(need.sum()) / core_area, 3),
            # the fullest fence: what the legaliser must fit in one island
            "finevh__utilization_pct__max_island": round(100 * max(
                float(need[j]) / ((r[2] - r[0]) * (r[3] - r[1])) for j, r in enumerate(rects)), 3),
        })


    def _insert_shifters(self, state: State, ctx: StageContext, doc: dict, names: list[str],
                         slots: dict[int, list[tuple[float, float]]], ls_cell: tuple[str, str, str, float, float],
                         fp) -> dict[str, Path]:
        """Level-shifter instances on every island-to-island net (`level_shifters.py`), fixed in
        the `slots` `_fit_islands` found at the receiving island's edge facing the driver; new
        netlist and placement views."""
        from flow.formats.verilog import write_verilog
        from flow.stages.floorplan import load_netlist
        from flow.stages.signoff import corner_library

        cfg = ctx.config
        cell, in_pin, out_pin, w, h = ls_cell
        design = load_netlist(ctx, state)
        lib = ctx.cached(("engine_liberty", doc["vddh"]), lambda: corner_library(ctx.platform, doc["vddh"]))
        col = {n: j for j, n in enumerate(names)}
        island = np.array([col[doc["instances"][nm]] for nm in design.inst_names], dtype=np.int64)
        cls = [int(i.get("rail_class", 1)) for i in doc["islands"]]
        ins = lsh.insert_level_shifters(design, island, lsh.driver_mask(design, lib), cell, in_pin, out_pin,
                                        needs=lambda a, b: cls[a] < cls[b])
        pos: dict[str, tuple[float, float]] = {}
        for j in range(len(names)):
            mine = [q for q, r in enumerate(ins.island) if r == j]
            if len(mine) != len(slots.get(j, [])):
                raise ConfigError(f"FINE-VH: island {names[j]} has {len(mine)} level shifters, its floorplan "
                                  f"{len(slots.get(j, []))}: the islands view is inconsistent")
            for q, xy in zip(mine, slots.get(j, []), strict=True):
                pos[ins.names[q]] = xy
        new = ins.design
        vpath = ctx.path(f"{cfg['DESIGN_NAME']}.finevh.v")
        write_verilog(new, vpath, cfg["DESIGN_NAME"])
        n_old = len(design.inst_names)
        k = len(ins.names)
        fixed = np.zeros(n_old + k, dtype=bool)
        fixed[n_old:] = True
        placement = dict(fp)
        placement.update(
            inst_names=np.asarray(new.inst_names), cell=np.asarray(new.inst_cell),
            w=np.concatenate([fp["w"], np.full(k, w)]), h=np.concatenate([fp["h"], np.full(k, h)]), fixed=fixed,
            fixed_x=np.concatenate([np.zeros(n_old), [pos[nm][0] for nm in ins.names]]),
            fixed_y=np.concatenate([np.zeros(n_old), [pos[nm][1] for nm in ins.names]]),
            x=np.concatenate([fp["x"], [pos[nm][0] for nm in ins.names]]),
            y=np.concatenate([fp["y"], [pos[nm][1] for nm in ins.names]]),
            region=np.concatenate([fp["region"], np.full(k, -1, dtype=np.int64)]))
        ppath = ctx.path("placement.npz")
        np.savez_compressed(ppath, **placement)
        for nm, r in zip(ins.names, ins.island, strict=True):
            doc["instances"][nm] = names[r]
        doc["level_shifter_cells"] = {nm: {"island": names[r], "net": net, "x": pos[nm][0], "y": pos[nm][1]}
                                      for nm, r, net in zip(ins.names, ins.island, ins.net, strict=True)}
        doc["level_shifters_inserted"] = True
        doc["level_shifter_cell"] = cell
        ctx.log.info("FINE-VH: %d level shifters (%s) inserted at island edges", k, cell)
        return {"verilog": vpath, "placement": ppath}


def _island_adjacency(ctx: StageContext, state: State, doc: dict, names: list[str], most: int = 16) -> Any:
    """Island-to-island connectivity over every net (clique model, weight 1/(islands - 1)), not
    only the nets that need shifters: the floorplan keeps islands that talk next to each other.
    Nets touching more than `most` islands (clock, resets, broadcast operands) pull everywhere
    and are left out."""
    import scipy.sparse as sp  # here, not at module level: find_spec of a submodule imports scipy

    from flow.stages.floorplan import load_netlist

    design = load_netlist(ctx, state)
    col = {n: j for j, n in enumerate(names)}
    island = np.array([col[doc["instances"][nm]] for nm in design.inst_names], dtype=np.int64)
    ok = design.pin_net >= 0
    pairs = np.unique(np.column_stack([design.pin_net[ok], island[design.pin_inst[ok]]]), axis=0)
    rows, cols, vals = [], [], []
    for group in np.split(pairs[:, 1], np.flatnonzero(np.diff(pairs[:, 0])) + 1):
        n = group.size
        if 2 <= n <= most:
            a, b = np.meshgrid(group, group)
            keep = a != b
            rows.append(a[keep])
            cols.append(b[keep])
            vals.append(np.full(int(keep.sum()), 1.0 / (n - 1)))
    k = len(names)
    if not rows:
        return sp.csr_matrix((k, k))
    return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(k, k))


def _fit_islands(need: np.ndarray, order: list[int], core: tuple, fp, doc: dict, names: list[str],
                 ls_cell: tuple[str, str, str, float, float] | None, min_w: float, unit: int,
                 rounds: int = 8) -> tuple[list, dict[int, list[tuple[float, float]]], int]:
    """Island rectangles and their level-shifter slots, checked before placement: every island's
    cells must pack (first-fit decreasing) into the row stretches its taps and shifters leave.
    An island that does not pack, or whose fence is below its need (a slicing cut rounds to row
    pairs), gets a larger share and the floorplan is redone — area alone
    misleads where 16-site flip-flops meet 30-site tap pitches and 14-site shifters."""
    rh, sw = float(fp["row_height"]), float(fp["site_width"])
    taps = np.column_stack([np.asarray(fp.get(k, []), dtype=float) for k in ("tap_x", "tap_y", "tap_w", "tap_h")]) \
        if len(fp.get("tap_x", [])) else np.zeros((0, 4))
    if len(taps):
        taps[:, 2] += taps[:, 0]
        taps[:, 3] += taps[:, 1]
    col = {n: j for j, n in enumerate(names)}
    island_of = np.array([col[doc["instances"][str(nm)]] for nm in fp["inst_names"]], dtype=np.int64)
    widths = [np.ceil(fp["w"][island_of == j] / sw - 1e-9).astype(int).tolist() for j in range(len(names))]
    drivers: dict[int, list[int]] = {}
    for _, drv, recv in doc["crossings"]:
        for r in recv:
            if r != drv:
                drivers.setdefault(r, []).append(drv)
    weight = need.astype(float).copy()
    for n in range(rounds):
        rects = (islands.slicing_rects(weight, order, core, rh, sw, min_w, unit) if doc.get("island_xy") is not None
                 else islands.island_rects(weight, order, core, rh, sw, min_w, unit))
        centre = [(r[0] + r[2]) / 2 for r in rects]
        slots: dict[int, list[tuple[float, float]]] = {}
        bad = []
        for j, rect in enumerate(rects):
            near = taps[(taps[:, 0] < rect[2]) & (taps[:, 2] > rect[0]) & (taps[:, 1] < rect[3]) & (taps[:, 3] > rect[1])]
            blocked = near
            if ls_cell is not None and drivers.get(j):
                w, h = ls_cell[3], ls_cell[4]
                facing_left = float(np.mean([centre[d] for d in drivers[j]])) < centre[j]
                slots[j] = lsh.edge_slots(rect, facing_left, w, h, rh, sw, core[1],
                                          [tuple(t) for t in near.tolist()], len(drivers[j]))
                blocked = np.vstack([near, np.array([(x, y, x + w, y + h) for x, y in slots[j]])])
            # a slicing cut rounds to row pairs: a fence below its need (headroom included) grows too
            small = (rect[2] - rect[0]) * (rect[3] - rect[1]) < need[j] * (1 - 1e-9)
            if small or not islands.packs(widths[j], islands.free_runs(rect, blocked, rh, sw)):
                bad.append(j)
        if not bad:
            return rects, slots, n
        weight[bad] *= 1.25
    raise ConfigError(f"FINE-VH: the cells of islands {', '.join(names[j] for j in bad[:5])}"
                      f"{' …' if len(bad) > 5 else ''} do not pack into their rows beside taps and level shifters "
                      f"after {rounds} re-floorplans: lower CORE_UTILIZATION or FINEVH_ISLANDS")


def n_cross(doc: dict) -> int:
    return sum(1 for _, drv, recv in doc["crossings"] for r in recv if r != drv)


def _level_shifter_cell(ctx: StageContext, corner: str) -> tuple[str, str, str, float, float] | None:
    """(cell, data input pin, output pin, width, height) of the platform's level shifter when its
    Liberty and LEF have it; None: the documented model stands in."""
    from flow.stages.floorplan import platform_lef
    from flow.stages.signoff import corner_library

    name = str(ctx.platform.level_shifter.get("cell") or "")
    if not name:
        return None
    lib = ctx.cached(("engine_liberty", corner), lambda: corner_library(ctx.platform, corner))
    cell = lib["cells"].get(name)
    macro = platform_lef(ctx).macros.get(name)
    if cell is None or macro is None:
        raise ConfigError(f"level shifter {name} (platform {ctx.platform.name}) is not in its Liberty and LEF")
    ins = [p for p, d in cell["pins"].items() if d.get("direction") == "input"]
    outs = [p for p, d in cell["pins"].items() if d.get("direction") == "output"]
    if len(ins) != 1 or len(outs) != 1:
        raise ConfigError(f"level shifter {name}: expected one data input and one output, got {ins} / {outs}")
    return name, ins[0], outs[0], macro.width, macro.height


def _activity_weights(cfg, design) -> np.ndarray | None:
    """Per-net cut weight 1 + density / mean density from the workload's ACTIVITY file (None
    without one): busy nets stay inside an island, idle ones may cross."""
    act = cfg.get("ACTIVITY")
    if not act:
        return None
    from flow.stages.signoff import load_activity

    ann = load_activity(Path(act), cfg.get("ACTIVITY_SCOPE"))
    dens = np.array([ann.get(n, (0.0, 0.0))[0] for n in design.net_names])
    mean = dens[dens > 0].mean() if np.any(dens > 0) else 0.0
    return 1.0 + dens / mean if mean > 0 else None


def build_upf(names: list[str], members: dict[str, list[str]], rects: list, doc: dict) -> Upf:
    c: list[UpfCommand] = []

    def cmd(name: str, *args: Any) -> None:
        c.append(UpfCommand(name, list(args), 0))

    cmd("upf_version", "2.1")
    for port in ("VDDH", "VDDL", "VSS"):
        cmd("create_supply_port", port)
        cmd("create_supply_net", port)
        cmd("connect_supply_net", port, "-ports", port)
    cmd("create_power_domain", "PD_TOP", "-include_scope")
    cmd("set_domain_supply_net", "PD_TOP", "-primary_power_net", "VDDH", "-primary_ground_net", "VSS")
    for j, n in enumerate(names):
        pd = f"PD_{n}"
        cmd("create_power_domain", pd, "-elements", members[n])
        cmd("create_supply_net", f"VDD_{n}", "-domain", pd)
        cmd("create_logic_port", f"hop_{n}")
        cmd("create_power_switch", f"SW_{n}_H", "-domain", pd, "-output_supply_port", ["vout", f"VDD_{n}"],
            "-input_supply_port", ["vin", "VDDH"], "-control_port", ["ctrl", f"hop_{n}"],
            "-on_state", ["on_h", "vin", "{ctrl}"])
        cmd("create_power_switch", f"SW_{n}_L", "-domain", pd, "-output_supply_port", ["vout", f"VDD_{n}"],
            "-input_supply_port", ["vin", "VDDL"], "-control_port", ["ctrl", f"hop_{n}"],
            "-on_state", ["on_l", "vin", "{!ctrl}"])
        cmd("set_domain_supply_net", pd, "-primary_power_net", f"VDD_{n}", "-primary_ground_net", "VSS")
        r = rects[j]
        cmd("set_domain_area", pd, "-area", [f"{r[0] * 1e6:.3f}", f"{r[1] * 1e6:.3f}", f"{r[2] * 1e6:.3f}", f"{r[3] * 1e6:.3f}"])
        cmd("set_level_shifter", f"LS_{n}", "-domain", pd, "-applies_to", "inputs", "-rule", "both", "-location", "self")
        # OpenROAD's form (one voltage per domain): the island's high rail; the low rail it hops to
        # is the input supply of its other header switch (VDDL, see islands.json rail_voltage)
        cmd("set_domain_voltage", "-domain", pd, "-voltage", f"{doc['rail_voltage'][doc['vddh']]}")
    return Upf(c)


def policy_model(doc: dict, path: Path | str = "islands.json") -> pol.SystemModel:
    """The signed-off policy model: after routing the one `finevh_signoff` rebuilt from routed
    points, else the partition stage's; an islands file without one (an older run) is refused
    rather than re-modelled without its overheads."""
    if "policy_model" not in doc:
        raise ConfigError(f"{path}: no signed-off FINE-VH policy model (an islands file from an older vhflow): "
                          "re-run the flow")
    if "policy_model_routed" in doc:  # finevh_signoff: every point re-timed and re-powered with the SPEF
        return pol.SystemModel.from_json(doc["policy_model_routed"])
    return pol.SystemModel.from_json(doc["policy_model"])


def _islands_doc(state) -> dict | None:
    if "islands" not in state:
        return None
    doc = json.loads(Path(state["islands"]).read_text())
    return doc if "policy_model" in doc else None


@hookimpl
def vhflow_add_stages(flow) -> None:
    # after the floorplan: a placement-driven partition needs the core (FINEVH_PARTITION)
    flow.insert_after("floorplan" if "floorplan" in flow.ids() else "synth", PartitionStage)
    if "place" in flow.ids():
        flow.insert_before("place", IslandsStage)
    from plugins.finevh.routed_stages import RepairStage, SignoffStage

    ids = flow.ids()
    if "route" in ids and "place" in ids:
        flow.insert_before("route", RepairStage)
    if "signoff" in ids and "route" in ids:
        flow.insert_after("signoff", SignoffStage)


def _trace_path(run_dir) -> Path | None:
    try:
        cfg = json.loads((Path(run_dir) / "config.resolved.json").read_text())
    except (OSError, ValueError):
        return None
    value = (cfg.get("variables", {}).get("FINEVH_TRACE") or {}).get("value")
    return Path(value) if value else None


def workload(m: pol.SystemModel, trace: Path | None) -> tuple[list[pol.Interval], str]:
    """The policy workload: FINEVH_TRACE when set (intervals, or a ConvNet layer trace run as
    real-time frames: `policy.convnet_frames`), else the synthetic bursty trace; and a label."""
    if trace is None:
        return pol.synthetic_trace(m.f_nom), "a synthetic bursty trace (40 × 1 ms, 20–95 % load)"
    trace = Path(trace)
    tr = pol.read_trace(trace, m.f_nom)
    return tr, f"the workload trace {trace.name} ({len(tr)} intervals)"


def post_route_check(state, doc: dict) -> float | None:
    """Slack (s) of the fast mode at FINE-VH's clock in the run's final sign-off (the islands on
    their fast-mode rails, routed parasitics, real shifters), or None before sign-off. The sign-off
    runs at the SDC clock, so a FINE-VH clock shorter than the SDC's costs the difference."""
    if "routed" in doc:  # finevh_signoff timed both modes and the all-VDDH nominal at their clocks
        r = doc["routed"]
        if r.get("unshifted_crossings"):  # a low swing into a higher-rail island: no timing claim holds
            return -math.inf
        return min(float(r[k]) for k in ("fast_wns_s", "slow_wns_s", "nominal_wns_s", "fast_hold_wns_s",
                                          "slow_hold_wns_s") if k in r)
    if "timing" not in set(state):
        return None
    try:
        t = json.loads(Path(state["timing"]).read_text())
    except (OSError, ValueError):
        return None
    ws = (t.get("corners", {}).get("mixed") or {}).get("setup_ws", t.get("setup_ws"))
    if ws is None:
        return None
    return float(ws) - max(0.0, float(doc.get("sdc_period_s", doc["clock_period_s"])) - float(doc["clock_period_s"]))


def _unshifted_text(routed: dict) -> str:
    """The routed check's count of rail crossings without a level shifter, as report text."""
    n = routed.get("unshifted_crossings")
    return f"{n} rail crossings without a level shifter" if n else ""


@hookimpl
def vhflow_metrics(state, run_dir) -> dict[str, float]:
    doc = _islands_doc(state)
    if doc is None:
        return {}
    m = policy_model(doc)
    res = pol.compare(m, workload(m, _trace_path(run_dir))[0])
    s = pol.savings(res)
    post = post_route_check(state, doc)
    if post is not None and post < 0:  # a mode that misses timing after routing is rejected: no saving claimed
        s = dict.fromkeys(s)
    out = {f"finevh__saving__{k}": round(float(v), 3) for k, v in s.items() if v is not None}
    if post is not None:
        out["finevh__signoff__fast_mode__ws"] = round(post * 1e9, 6)  # ns
        out["finevh__signoff__fast_mode__meets"] = int(post >= 0)
    out.update({f"finevh__misses__{p}": r.misses for p, r in res.items()})
    return out


@hookimpl
def vhflow_report_sections(state, run_dir, config) -> list[ReportSection]:
    doc = _islands_doc(state)
    if doc is None:
        return []
    m = policy_model(doc)
    trace, label = workload(m, _trace_path(run_dir))
    res = pol.compare(m, trace)
    shown = doc["islands"][:64]
    rows = "".join(f"<tr><td>{html.escape(i['name'])}</td><td>{i['cells']}</td><td>{i['area_um2']:.1f}</td>"
                   f"<td>{html.escape(i['rail'])}</td><td>{'yes' if i.get('hopping') else 'no'}</td><td>{i['crit']:.3f}</td>"
                   f"<td>{(i['dynamic_w'] + i['leakage_w']) * 1e3:.4f}</td>"
                   f"<td>{i.get('switch_width_um', 0):.1f}</td><td>{i.get('level_shifters', 0)}</td></tr>"
                   for i in shown)
    more = f"<p>({len(doc['islands']) - len(shown)} more islands in islands.json)</p>" if len(doc["islands"]) > 64 else ""
    prow = "".join(f"<tr><td>{p}</td><td>{r.energy_j * 1e6:.4f}</td><td>{r.misses}</td></tr>" for p, r in res.items())
    sv = pol.savings(res)
    modes = doc["modes"]
    post = post_route_check(state, doc)
    post_html = ""
    if post is not None and post < 0:
        sv = dict.fromkeys(sv)
        post_html = (f"<p><b>Rejected after routing:</b> the final sign-off of the fast mode (islands on their rails, "
                     f"routed parasitics, level-shifter cells) misses FINE-VH's clock by {-post * 1e9:.3f} ns, so no "
                     "saving is claimed for this run; the energies below are the netlist-level model.</p>")
    elif post is not None:
        post_html = (f"<p>Final sign-off of the fast mode (routed parasitics): slack {post * 1e9:.3f} ns at FINE-VH's "
                     "clock — met.</p>")
    if "routed" in doc:  # finevh_signoff: the figures below are the routed ones
        r = doc["routed"]
        post_html = (f"<p>{'<b>Rejected after routing:</b> ' if post is not None and post < 0 else ''}Routed re-check "
                     f"(SPEF, each cell on its rail, header-switch IR-drop derate): fast mode WNS "
                     f"{r['fast_wns_s'] * 1e9:.3f} ns at {r.get('fast_period_s', doc['clock_period_s']) * 1e9:.3f} ns "
                     f"(FINE-VH's clock {doc['clock_period_s'] * 1e9:.3f} ns), slow mode WNS "
                     f"{r['slow_wns_s'] * 1e9:.3f} ns at {r['slow_period_s'] * 1e9:.3f} ns, the whole chip on VDDH "
                     f"{r['nominal_wns_s'] * 1e9:.3f} ns; {r['added_instances']} back-end cells assigned to islands "
                     f"({r['clock_tree_instances']} clock-tree cells on the chip's rail)"
                     + (f"; <b>{_unshifted_text(r)}</b>" if _unshifted_text(r) else "")
                     + ". Every energy below (nominal, "
                     "DVFS levels, ideal DVFS curve, both FINE-VH modes, switches, shifters, hops) is re-powered on "
                     "the routed netlist; ideal per-island DVFS keeps the netlist-level curves (a model bound).</p>")

    def pct(x: float | None) -> str:
        if x is None:
            return "not claimed (timing missed after routing)" if post is not None and post < 0 else \
                "not compared (deadline misses)"
        return f"{x:.1f} %"

    rails = ", ".join(f"{html.escape(c)} ({doc['rail_voltage'][c]} V)" for c in doc["rail_corners"])
    notes = "".join(f"<p><b>Note:</b> {html.escape(n)}</p>" for n in doc.get("notes", []))
    body = (f"{notes}{post_html}<p>Rails: {rails} — chosen per design and workload among "
            f"{len(doc.get('rails_tried', []))} candidates. Clock {doc['clock_period_s'] * 1e9:.3f} ns. "
            f"Signed-off modes (multi-voltage STA with the level shifters in the netlist): fast (islands on their "
            f"rails) at {modes['fast']['period_s'] * 1e9:.3f} ns, WNS {modes['fast']['wns_s'] * 1e9:.3f} ns; slow (all "
            f"on VDDL) at {modes['slow']['period_s'] * 1e9:.3f} ns, WNS {modes['slow']['wns_s'] * 1e9:.3f} ns. "
            f"Delay/energy between the Liberty corners: PCHIP interpolation (ideal DVFS and the per-island bound "
            f"only, model). {_ls_text(doc)} Area overhead (switches + shifters): {doc['area_overhead_pct']:.1f} %.</p>"
            "<table><tr><th>island</th><th>cells</th><th>area µm²</th><th>rail (fast mode)</th><th>hops</th>"
            f"<th>criticality</th><th>power mW</th><th>switch W µm</th><th>level shifters</th></tr>{rows}</table>{more}"
            f"<h3>Policies on {html.escape(label)}</h3>"
            f"<table><tr><th>policy</th><th>energy µJ</th><th>deadline misses</th></tr>{prow}</table>"
            f"<p>FINE-VH vs realistic chip-wide DVFS: {pct(sv['finevh_vs_dvfs_pct'])}; vs ideal chip-wide DVFS: "
            f"{pct(sv['finevh_vs_ideal_dvfs_pct'])}; above ideal per-island DVFS (lower bound): "
            f"{pct(sv['finevh_above_lower_bound_pct'])}. Assumptions: plugins/finevh/policy.py (regulator 10 µs and "
            "½·1 nF·ΔV² per DVFS change, header switch on-time per hop, rail recharge of the island's load "
            "capacitance).</p>")
    body += _figures(state, doc, m, res, trace)
    return [ReportSection("FINE-VH islands and policy", body, order=50, source="finevh")]


def _ls_text(doc: dict) -> str:
    """How the level shifters are represented: real cells in the netlist, or the model."""
    n = sum(int(i.get("level_shifters", 0)) for i in doc["islands"]) or int(doc.get("level_shifters_planned", 0))
    if doc.get("level_shifters_inserted") or doc.get("level_shifter_cell"):
        return (f"{n} level shifters ({html.escape(doc['level_shifter_cell'])}) inserted into the netlist, one per "
                "net from a lower-rail island into a higher-rail one and receiving island, timed and powered from "
                "their Liberty" + (", fixed at the receiving island's edge." if doc.get("level_shifters_inserted")
                                   else " in the signed-off modes."))
    lsm = doc.get("level_shifter_model", {})
    return (f"{n} level shifters modelled (the platform library has no level-shifter cell): "
            f"{lsm.get('delay_ps', 0)} ps on crossing nets in STA, {lsm.get('area_um2', 0)} µm², "
            f"{lsm.get('leakage_nw', 0)} nW and {lsm.get('energy_fj', 0)} fJ per toggle each.")


def _figures(state, doc: dict, m: pol.SystemModel, res: dict, trace: list) -> str:
    from plugins.finevh.figures import island_map, rail_timeline

    names = [i["name"] for i in doc["islands"]]
    vl, vh = doc["rail_voltage"][doc["vddl"]], doc["rail_voltage"][doc["vddh"]]
    out = rail_timeline(res, trace, names, vl, vh)
    if doc.get("fences") and "placement" in state:
        die = np.load(state["placement"])["die"]
        out += island_map(doc["fences"], die, res, trace, vh, {i["name"]: bool(i.get("hopping")) for i in doc["islands"]})
    return out


def policy_cmd(
    run_dir: Annotated[Path, typer.Argument(help="A run with FINE-VH islands.")],
    trace: Annotated[Path | None, typer.Option(help="Policy trace or ConvNet layer trace (JSON); default: the "
                                                    "run's FINEVH_TRACE, else a synthetic trace.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """Energy and deadline misses of nominal / DVFS / ideal DVFS / FINE-VH / ideal per-island DVFS."""
    files = (sorted(run_dir.glob("*_finevh_signoff/islands.json")) or sorted(run_dir.glob("*_finevh_islands/islands.json"))
             or sorted(run_dir.glob("*_finevh_partition/islands.json")))
    if not files:
        raise ConfigError(f"{run_dir}: no FINE-VH islands in this run (run with --set FINEVH_ISLANDS=N)")
    doc = json.loads(files[-1].read_text())
    # both stages carry the partition stage's signed-off model (shifters and switches included):
    # the same overheads whichever file is read, or a refusal for a file without it
    m = policy_model(doc, files[-1])
    trace = trace or _trace_path(run_dir)  # default: the run's own FINEVH_TRACE, as its report
    tr = pol.read_trace(trace, m.f_nom) if trace else pol.synthetic_trace(m.f_nom)
    res = pol.compare(m, tr)
    sv = pol.savings(res)
    signed = sorted(run_dir.glob("*_signoff/timing.json"))
    post = post_route_check({"timing": signed[-1]}, doc) if signed or "routed" in doc else None
    if post is not None and post < 0:  # the routed fast mode misses timing: no saving is claimed
        sv = dict.fromkeys(sv)
    if as_json:
        typer.echo(json.dumps({"policies": {p: {"energy_j": r.energy_j, "misses": r.misses} for p, r in res.items()},
                               "savings": sv, "islands_file": str(files[-1]),
                               "level_shifters": doc.get("level_shifters_planned"),
                               "hop_energy_j": m.hop_energy, "fast_leak_w": m.fast.leak,
                               "post_route_fast_mode_slack_s": post}, indent=2))
        return
    typer.echo(f"{files[-1]}: {len(doc['islands'])} islands, rails {', '.join(doc.get('rail_corners', []))}, "
               f"{doc.get('level_shifters_planned', 0)} level shifters, area +{doc.get('area_overhead_pct', 0):.1f} %; "
               f"fast mode WNS {doc['modes']['fast']['wns_s'] * 1e9:.3f} ns, slow mode WNS "
               f"{doc['modes']['slow']['wns_s'] * 1e9:.3f} ns (multi-voltage STA, netlist level); workload "
               f"{trace or 'synthetic'}")
    for note in doc.get("notes", []):
        typer.echo(f"note: {note}")
    if post is None:
        typer.echo("verified on the netlist before placement: this run has no routed sign-off to re-check the fast mode")
    elif "routed" in doc:
        r = doc["routed"]
        typer.echo(f"routed re-check (SPEF; energies below re-powered on the routed netlist): fast mode WNS "
                   f"{r['fast_wns_s'] * 1e9:.3f} ns (hold {r.get('fast_hold_wns_s', math.nan) * 1e9:.3f}) at "
                   f"{r.get('fast_period_s', doc['clock_period_s']) * 1e9:.3f} ns (FINE-VH's clock "
                   f"{doc['clock_period_s'] * 1e9:.3f} ns), slow mode WNS {r['slow_wns_s'] * 1e9:.3f} ns (hold "
                   f"{r.get('slow_hold_wns_s', math.nan) * 1e9:.3f}) at {r['slow_period_s'] * 1e9:.3f} ns, all-VDDH nominal "
                   f"{r['nominal_wns_s'] * 1e9:.3f} ns"
                   + (f", {_unshifted_text(r)}" if _unshifted_text(r) else "")
                   + " — " + ("met" if post >= 0 else
                                                             "MISSED: FINE-VH is rejected for this run, no saving claimed"))
    else:
        typer.echo(f"final sign-off of the fast mode (routed): slack {post * 1e9:.3f} ns at FINE-VH's clock — "
                   + ("met" if post >= 0 else "MISSED: FINE-VH is rejected for this run, no saving claimed"))
    for p, r in res.items():
        typer.echo(f"{p:14s} {r.energy_j * 1e6:12.4f} uJ  misses {r.misses}")
    typer.echo(" ".join(f"{k}={'n/a' if v is None else f'{v:.2f}'}" for k, v in sv.items()))


@hookimpl
def vhflow_cli(app) -> None:
    sub = typer.Typer(help="FINE-VH: Vdd-hopping islands.", no_args_is_help=True)
    sub.command("policy")(policy_cmd)
    app.add_typer(sub, name="finevh")
