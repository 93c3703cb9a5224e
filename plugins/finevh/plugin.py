"""FINE-VH plugin: stages `finevh_partition` (after synthesis) and `finevh_islands` (before
placement), the `islands`/`fences`/`upf` views, metrics, report section and `vhflow finevh`.

Opt-in per design: the stages run when `FINEVH_ISLANDS > 0` or `FINEVH_ISLAND_SIZE > 0`
(`vhflow run CONFIG --set FINEVH_ISLANDS=8` works on any design).

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
from typing import Annotated, Any

import numpy as np
import typer

from flow.errors import ConfigError
from flow.formats.upf import Upf, UpfCommand, write_upf
from flow.plugin_manager import hookimpl
from flow.report.sections import ReportSection
from flow.stage import Stage, StageContext, StageResult, Variable
from flow.state import State
from plugins.finevh import level_shifters as lsh
from plugins.finevh import policy as pol
from plugins.finevh.islands import island_rects, size_switch, spectral_order
from plugins.finevh.partition import assign_rails, cell_graph, cut_nets, partition
from plugins.finevh.supply import default_rails, fit_alpha_power

VARIABLES = (
    Variable("FINEVH_ISLANDS", int, "Number of Vdd-hopping islands (0: FINE-VH off).", 0, source="finevh"),
    Variable("FINEVH_ISLAND_SIZE", int, "Target cells per island (sets the island count when > 0).", 0,
             source="finevh"),
    Variable("FINEVH_VDDH_CORNER", str | None, "Liberty corner of the high rail; default: highest supply.", None,
             source="finevh"),
    Variable("FINEVH_VDDL_CORNER", str | None, "Liberty corner of the low rail; default: lowest supply.", None,
             source="finevh"),
    Variable("FINEVH_IR_DROP_MV", float, "IR-drop budget across an island's header switches.", 30.0, unit="mV",
             source="finevh"),
    Variable("FINEVH_TRACE", Path | None, "Workload trace for the policy evaluation; default: synthetic.", None,
             source="finevh"),
    Variable("FINEVH_SEED", int, "METIS seed.", 0, source="finevh"),
)


def _enabled(config) -> bool:
    return int(config.get("FINEVH_ISLANDS", 0) or 0) > 0 or int(config.get("FINEVH_ISLAND_SIZE", 0) or 0) > 0


def _rails(ctx: StageContext) -> tuple[str, str]:
    vh, vl = default_rails(ctx.platform)
    vh = ctx.config["FINEVH_VDDH_CORNER"] or vh
    vl = ctx.config["FINEVH_VDDL_CORNER"] or vl
    for c in (vh, vl):
        ctx.platform.corner(c)
    if ctx.platform.corner(vl).voltage >= ctx.platform.corner(vh).voltage:
        raise ConfigError(f"FINE-VH: VDDL corner {vl} must have a lower supply than VDDH corner {vh}")
    return vh, vl


class PartitionStage(Stage):
    id = "finevh_partition"
    name = "FINE-VH: island partitioning and rail assignment"
    inputs = ("verilog", "sdc")
    outputs = ("islands",)
    config_vars = VARIABLES

    @classmethod
    def enabled(cls, config) -> bool:
        return _enabled(config)

    def run(self, state: State, ctx: StageContext) -> StageResult:
        from flow.stages.floorplan import load_netlist
        from flow.stages.signoff import corner_library, run_signoff

        cfg = ctx.config
        vh, vl = _rails(ctx)
        design = load_netlist(ctx, state)  # parsed once per run (cached)
        n = len(design.inst_names)
        k = cfg["FINEVH_ISLANDS"] or max(1, math.ceil(n / cfg["FINEVH_ISLAND_SIZE"]))
        k = max(1, min(k, n))
        libs = {c: ctx.cached(("engine_liberty", c), lambda c=c: corner_library(ctx.platform, c)) for c in (vh, vl)}
        area = np.array([libs[vh]["cells"][c]["area"] for c in design.inst_cell]) if n else np.zeros(0)
        island = partition(cell_graph(design, net_weight=_activity_weights(cfg, design)), k, area * 1e12,
                           seed=cfg["FINEVH_SEED"])
        ls_delay = float(ctx.platform.level_shifter.get("delay_ps", 0.0)) * 1e-12

        def mixed(ic: np.ndarray) -> tuple[float, list[list[str]]]:
            res = run_signoff([state["verilog"]], cfg["DESIGN_NAME"], libs, state["sdc"], instance_corner=ic,
                              level_shifter_delay=ls_delay, do_power=False, design=design)
            t = res.timing["mixed"]
            paths = [[s.node.split("/")[0] for s in p.stages] for p in t.setup_paths if p.slack < 0]
            return (t.setup_wns if math.isfinite(t.setup_wns) else 0.0), paths

        ra = assign_rails(k, island, list(design.inst_names), vh, vl, mixed)
        # reference analysis at VDDH: per-island criticality, energy per cycle and leakage
        ref = run_signoff([state["verilog"]], cfg["DESIGN_NAME"], {vh: libs[vh]}, state["sdc"],
                          input_activity=cfg.get("INPUT_ACTIVITY", 0.1), design=design)
        t_ref, p_ref = ref.timing[vh], ref.power[vh]
        period = (t_ref.clock_periods or [cfg.get("CLOCK_PERIOD") or 1e-9])[0]
        f_nom = 1.0 / period
        index = {nm: i for i, nm in enumerate(design.inst_names)}
        crit = np.full(k, 0.05)
        for name, slack in zip(t_ref.endpoint_names, t_ref.setup_slack, strict=True):
            inst = name.split("/")[0]
            if inst in index and math.isfinite(slack):
                i = island[index[inst]]
                crit[i] = max(crit[i], (period - slack) / period)
        pidx = np.array([index[nm] for nm in p_ref.inst_names])
        dyn = np.bincount(island[pidx], weights=np.asarray(p_ref.internal) + np.asarray(p_ref.switching), minlength=k)
        leak = np.bincount(island[pidx], weights=np.asarray(p_ref.leakage), minlength=k)
        # alpha-power law from the critical delay at both rails (all-VDDH vs all-VDDL STA)
        slow = run_signoff([state["verilog"]], cfg["DESIGN_NAME"], {vl: libs[vl]}, state["sdc"], do_power=False,
                           design=design).timing[vl]
        d_h = period - t_ref.setup_wns
        d_l = period - slow.setup_wns
        law = fit_alpha_power([ctx.platform.corner(vh).voltage, ctx.platform.corner(vl).voltage], [d_h, d_l])
        cuts = cut_nets(design, island)
        # island-to-island nets by their real (Liberty) driver: where level shifters go
        cross = lsh.crossings(design, island, lsh.driver_mask(design, libs[vh]))
        names = [f"isl{i}" for i in range(k)]
        doc = {
            "vddh": vh, "vddl": vl,
            "rail_voltage": {vh: ctx.platform.corner(vh).voltage, vl: ctx.platform.corner(vl).voltage},
            "instances": {nm: names[island[i]] for i, nm in enumerate(design.inst_names)},
            "rails": dict(zip(names, ra.rails, strict=True)),
            "islands": [{"name": names[i], "cells": int(np.sum(island == i)), "area_um2": float(area[island == i].sum() * 1e12),
                         "rail": ra.rails[i], "crit": float(crit[i]), "dynamic_w": float(dyn[i]), "leakage_w": float(leak[i])}
                        for i in range(k)],
            "cut_nets": len(cuts),
            "crossings": [[int(a), int(b), [int(x) for x in c]] for a, b, c in cross],
            "assignment": {"wns_s": ra.wns, "iterations": ra.iterations, "history": ra.history},
            "f_nom_hz": f_nom, "alpha_power": {"vt": law.vt, "alpha": law.alpha,
                                               "note": "fitted on the two rail corners' critical delays"},
        }
        out = ctx.path("islands.json")
        out.write_text(json.dumps(doc, indent=1))
        ctx.log.info("FINE-VH: %d islands, %d on VDDH, WNS %.3f ns, %d cut nets", k,
                     sum(r == vh for r in ra.rails), ra.wns * 1e9, len(cuts))
        return StageResult(views={"islands": out}, metrics={
            "finevh__islands": k, "finevh__islands__vddh": int(sum(r == vh for r in ra.rails)),
            "finevh__partition__cut_nets": len(cuts), "finevh__timing__setup__ws_mixed": ra.wns,
        })


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
        banks = [size_switch(i["dynamic_w"] + i["leakage_w"], vh_v, drop, plat.power_switch) for i in isl]
        ls_per_island = np.zeros(k, dtype=int)
        adj = np.zeros((k, k))
        for _, drv, recv in doc["crossings"]:
            for r in recv:
                if r != drv:
                    ls_per_island[r] += 1
                    adj[drv, r] += 1
                    adj[r, drv] += 1
        ls = dict(plat.level_shifter)
        ls_cell = _level_shifter_cell(ctx, doc["vddh"])
        if ls_cell is not None:  # the real cell's footprint, not the model's
            ls["area_um2"] = ls_cell[3] * ls_cell[4] * 1e12
        # room per island: its cells, both switch banks and its level shifters; the islands tile
        # the core in proportion (the switch and shifter area is reserved inside each fence)
        need = np.array([(i["area_um2"] + 2 * b.area_um2 + ls_per_island[j] * float(ls.get("area_um2", 3.0))) * 1e-12
                         for j, (i, b) in enumerate(zip(isl, banks, strict=True))])
        core = tuple(float(v) for v in fp["core"])
        core_area = (core[2] - core[0]) * (core[3] - core[1])
        if need.sum() > 0.95 * core_area:
            raise ConfigError(f"FINE-VH islands need {need.sum() * 1e12:.0f} µm² (cells, switches, level shifters), "
                              f"the core has {core_area * 1e12:.0f} µm²: lower CORE_UTILIZATION")
        rects = island_rects(need, spectral_order(k, adj), core, float(fp["row_height"]), float(fp["site_width"]))
        views: dict[str, Path] = {}
        if ls_cell is not None and n_cross(doc):
            views = self._insert_shifters(state, ctx, doc, names, rects, ls_cell, fp)
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
        })


    def _insert_shifters(self, state: State, ctx: StageContext, doc: dict, names: list[str], rects: list,
                         ls_cell: tuple[str, str, str, float, float], fp) -> dict[str, Path]:
        """Level-shifter instances on every island-to-island net (`level_shifters.py`), fixed at
        the receiving island's edge facing the driver; new netlist and placement views."""
        from flow.formats.verilog import write_verilog
        from flow.stages.floorplan import load_netlist
        from flow.stages.signoff import corner_library

        cfg = ctx.config
        cell, in_pin, out_pin, w, h = ls_cell
        design = load_netlist(ctx, state)
        lib = ctx.cached(("engine_liberty", doc["vddh"]), lambda: corner_library(ctx.platform, doc["vddh"]))
        col = {n: j for j, n in enumerate(names)}
        island = np.array([col[doc["instances"][nm]] for nm in design.inst_names], dtype=np.int64)
        ins = lsh.insert_level_shifters(design, island, lsh.driver_mask(design, lib), cell, in_pin, out_pin)
        rh, sw = float(fp["row_height"]), float(fp["site_width"])
        core = [float(v) for v in fp["core"]]
        taps = [(float(x), float(y), float(x) + float(tw), float(y) + float(th))
                for x, y, tw, th in zip(fp.get("tap_x", []), fp.get("tap_y", []), fp.get("tap_w", []),
                                        fp.get("tap_h", []), strict=True)]
        centre = [((r[0] + r[2]) / 2) for r in rects]
        pos: dict[str, tuple[float, float]] = {}
        for j in range(len(names)):
            mine = [q for q, r in enumerate(ins.island) if r == j]
            if not mine:
                continue
            drivers_x = float(np.mean([centre[ins.driver_island[q]] for q in mine]))
            slots = lsh.edge_slots(tuple(rects[j]), drivers_x < centre[j], w, h, rh, sw, core[1], taps, len(mine))
            for q, xy in zip(mine, slots, strict=True):
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


def policy_model(doc: dict, platform_switch: dict | None = None) -> pol.SystemModel:
    from plugins.finevh.supply import AlphaPower

    vh, vl = doc["rail_voltage"][doc["vddh"]], doc["rail_voltage"][doc["vddl"]]
    f = doc["f_nom_hz"]
    islands = []
    for i in doc["islands"]:
        e_cycle = i["dynamic_w"] / f
        # rail change: recharge the island's switched capacitance (≈ e_cycle/(α·V²), α = 0.1) by ΔV
        cap = e_cycle / (0.1 * vh**2)
        hop = 0.5 * cap * (vh**2 - vl**2) + 1e-15 * i.get("switch_width_um", 1.0) * vh**2
        ir = 1.0
        islands.append(pol.IslandModel(i["name"], i["crit"], e_cycle, i["leakage_w"], i.get("level_shifters", 0),
                                       hop, i.get("switch_leak_w", 0.0), ir))
    law = AlphaPower(doc["alpha_power"]["vt"], doc["alpha_power"]["alpha"])
    return pol.SystemModel(f, vh, vl, law, islands)


def _islands_doc(state) -> dict | None:
    if "islands" not in state:
        return None
    doc = json.loads(Path(state["islands"]).read_text())
    return doc if "f_nom_hz" in doc else None


@hookimpl
def vhflow_add_stages(flow) -> None:
    flow.insert_after("synth", PartitionStage)
    if "place" in flow.ids():
        flow.insert_before("place", IslandsStage)


def _trace_path(run_dir) -> Path | None:
    try:
        cfg = json.loads((Path(run_dir) / "config.resolved.json").read_text())
    except (OSError, ValueError):
        return None
    value = (cfg.get("variables", {}).get("FINEVH_TRACE") or {}).get("value")
    return Path(value) if value else None


def workload(m: pol.SystemModel, trace: Path | None) -> tuple[list[pol.Interval], str]:
    """The policy workload: FINEVH_TRACE when set (a ConvNet layer trace or intervals), else the
    synthetic bursty trace; and a label for the report."""
    if trace is None:
        return pol.synthetic_trace(m.f_nom), "a synthetic bursty trace (40 × 1 ms)"
    tr = pol.read_trace(trace, m.f_nom)
    return tr, f"the workload trace {trace.name} ({len(tr)} intervals)"


@hookimpl
def vhflow_metrics(state, run_dir) -> dict[str, float]:
    doc = _islands_doc(state)
    if doc is None:
        return {}
    m = policy_model(doc)
    res = pol.compare(m, workload(m, _trace_path(run_dir))[0])
    s = pol.savings(res)
    return {f"finevh__saving__{k}": round(float(v), 3) for k, v in s.items()}


@hookimpl
def vhflow_report_sections(state, run_dir, config) -> list[ReportSection]:
    doc = _islands_doc(state)
    if doc is None:
        return []
    m = policy_model(doc)
    trace, label = workload(m, _trace_path(run_dir))
    res = pol.compare(m, trace)
    rows = "".join(f"<tr><td>{html.escape(i['name'])}</td><td>{i['cells']}</td><td>{i['area_um2']:.1f}</td>"
                   f"<td>{html.escape(i['rail'])}</td><td>{i['crit']:.3f}</td><td>{(i['dynamic_w'] + i['leakage_w']) * 1e3:.4f}</td>"
                   f"<td>{i.get('switch_width_um', 0):.1f}</td><td>{i.get('level_shifters', 0)}</td></tr>"
                   for i in doc["islands"])
    prow = "".join(f"<tr><td>{p}</td><td>{r.energy_j * 1e6:.3f}</td><td>{r.misses}</td></tr>" for p, r in res.items())
    sv = pol.savings(res)
    body = (f"<p>Rails: VDDH = {html.escape(doc['vddh'])} ({doc['rail_voltage'][doc['vddh']]} V), VDDL = "
            f"{html.escape(doc['vddl'])} ({doc['rail_voltage'][doc['vddl']]} V). Alpha-power law Vt = "
            f"{doc['alpha_power']['vt']:.3f} V, α = {doc['alpha_power']['alpha']:.2f} ({html.escape(doc['alpha_power']['note'])})."
            f" Mixed-rail WNS after assignment: {doc['assignment']['wns_s'] * 1e9:.3f} ns. {_ls_text(doc)}</p>"
            "<table><tr><th>island</th><th>cells</th><th>area µm²</th><th>rail (static)</th><th>criticality</th>"
            f"<th>power mW</th><th>switch W µm</th><th>level shifters</th></tr>{rows}</table>"
            f"<h3>Policies on {html.escape(label)}</h3>"
            f"<table><tr><th>policy</th><th>energy µJ</th><th>deadline misses</th></tr>{prow}</table>"
            f"<p>FINE-VH saves {sv['finevh_vs_dvfs_pct']:.1f} % over realistic chip-wide DVFS and "
            f"{sv['finevh_vs_ideal_dvfs_pct']:.1f} % over ideal chip-wide DVFS; it is {sv['finevh_above_lower_bound_pct']:.1f} % "
            "above ideal per-island DVFS. Assumptions: plugins/finevh/policy.py (regulator 10 µs / 1 µJ per "
            "transition, leakage ∝ V³, dynamic ∝ V², switch recharge of the island's switched capacitance).</p>")
    body += _figures(state, doc, m, res, trace)
    return [ReportSection("FINE-VH islands and policy", body, order=50, source="finevh")]


def _ls_text(doc: dict) -> str:
    """How the level shifters are represented: real cells in the netlist, or the model."""
    n = sum(int(i.get("level_shifters", 0)) for i in doc["islands"])
    if doc.get("level_shifters_inserted"):
        return (f"{n} level shifters ({html.escape(doc['level_shifter_cell'])}) inserted into the netlist, one per "
                "island-to-island net and receiving island, fixed at the receiving island's edge and signed off "
                "from their Liberty.")
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
        out += island_map(doc["fences"], die, res, trace, vh)
    return out


def policy_cmd(
    run_dir: Annotated[Path, typer.Argument(help="A run with FINE-VH islands.")],
    trace: Annotated[Path | None, typer.Option(help="Policy trace or ConvNet layer trace (JSON).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """Energy and deadline misses of nominal / DVFS / ideal DVFS / FINE-VH / ideal per-island DVFS."""
    files = sorted(run_dir.glob("*_finevh_islands/islands.json")) or sorted(run_dir.glob("*_finevh_partition/islands.json"))
    if not files:
        raise ConfigError(f"{run_dir}: no FINE-VH islands in this run (run with --set FINEVH_ISLANDS=N)")
    doc = json.loads(files[-1].read_text())
    m = policy_model(doc)
    tr = pol.read_trace(trace, m.f_nom) if trace else pol.synthetic_trace(m.f_nom)
    res = pol.compare(m, tr)
    sv = pol.savings(res)
    if as_json:
        typer.echo(json.dumps({"policies": {p: {"energy_j": r.energy_j, "misses": r.misses} for p, r in res.items()},
                               "savings": sv}, indent=2))
        return
    for p, r in res.items():
        typer.echo(f"{p:14s} {r.energy_j * 1e6:12.4f} uJ  misses {r.misses}")
    typer.echo(" ".join(f"{k}={v:.2f}" for k, v in sv.items()))


@hookimpl
def vhflow_cli(app) -> None:
    sub = typer.Typer(help="FINE-VH: Vdd-hopping islands.", no_args_is_help=True)
    sub.command("policy")(policy_cmd)
    app.add_typer(sub, name="finevh")
