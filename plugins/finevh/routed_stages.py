"""FINE-VH stages of the back end: `finevh_repair` (after `repair_timing`, before routing: every
cell on its island's rail, electrical and setup repair at the mixed rails — design rules at each
cell's own rail's limits, repeaters on long critical wires, back-end cells kept in their island's
fence, and the legalised netlist re-timed and repaired again until it meets) and `finevh_signoff`
(after `signoff`: both modes and the chip-wide DVFS levels re-timed and re-powered with the
route's SPEF; the policy model those points give is stored as `policy_model_routed`). See
`plugins/finevh/routed.py` for why the flow's own chip-wide repair cannot close FINE-VH timing.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from flow.stage import Stage, StageContext, StageResult, Variable
from flow.state import State

VARIABLES = (
    Variable("FINEVH_REPAIR", bool, "Repair (electrical + setup sizing) each island at its own rail before routing "
             "(the flow's repair times one chip-wide corner).", True, source="finevh"),
    Variable("FINEVH_SETUP_MARGIN", float, "Setup slack the mixed-rail repair aims for, over FINE-VH's clock "
             "(placement estimates miss some routed wire delay).", 0.3, unit="ns", source="finevh"),
    Variable("FINEVH_REPAIR_ROUNDS", int, "Rounds of re-timing the legalised netlist (buffers in their island's "
             "fence) and repairing what legalisation broke (setup, hold, slew/cap).", 4, source="finevh"),
)


def _enabled(config) -> bool:
    return int(config.get("FINEVH_ISLANDS", 0) or 0) > 0 or int(config.get("FINEVH_ISLAND_SIZE", 0) or 0) > 0


def _doc(state: State) -> dict:
    return json.loads(Path(state["islands"]).read_text())


def _rail_libs(ctx: StageContext, doc: dict, *, all_corners: bool) -> dict[str, Any]:
    """Engine libraries of the rails (or of every same-process corner up to VDDH), lowest first."""
    from flow.stages.signoff import corner_library
    from plugins.finevh.voltage import voltage_only_corners

    plat = ctx.platform
    if all_corners:
        try:
            corners = voltage_only_corners(plat)
        except Exception:  # noqa: BLE001 - a platform without them: the two rails only
            corners = list(doc["rail_corners"])
        vh = plat.corner(doc["vddh"]).voltage
        corners = [c for c in corners if plat.corner(c).voltage <= vh]
    else:
        corners = list(doc["rail_corners"])
    corners = sorted(corners, key=lambda c: plat.corner(c).voltage)
    return {c: ctx.cached(("engine_liberty", c), lambda c=c: corner_library(plat, c)) for c in corners}


def _clock_ports(state: State, design, lib) -> list[str]:
    from flow.engines import sta

    tc = sta.load_constraints(state["sdc"], design, lib)
    return [s for c in tc.clocks for s in c.sources if s in set(design.port_names)]


class RepairStage(Stage):
    id = "finevh_repair"
    name = "FINE-VH: repair each island at its rail (mixed-rail timing)"
    inputs = ("verilog", "sdc", "placement", "islands")
    outputs = ("verilog", "placement", "def", "islands")
    config_vars = VARIABLES

    @classmethod
    def enabled(cls, config) -> bool:
        # with the flow's own repair off (REPAIR_TIMING=false) nothing is repaired here either
        return _enabled(config) and bool(config.get("FINEVH_REPAIR", True)) and bool(config.get("REPAIR_TIMING", True))

    def run(self, state: State, ctx: StageContext) -> StageResult:
        import numpy as np

        from flow.engines import sta
        from flow.engines.repair import LibView, Repairer, check_design_rules
        from flow.stages.place import legalize_added, placed_netlist, save_placed
        from flow.stages.repair import cell_footprint, design_rules
        from plugins.finevh.operating import scaled_constraints
        from plugins.finevh.policy import SystemModel
        from plugins.finevh.routed import (
            MixedTimer,
            complete_assignment,
            corners_of,
            island_derate,
            keep_in_fences,
        )

        cfg, plat = ctx.config, ctx.platform
        doc = _doc(state)
        libs = _rail_libs(ctx, doc, all_corners=False)
        order = list(libs)
        vh, vl = doc["vddh"], doc["vddl"]
        nl, fp = placed_netlist(ctx, state)
        d0 = nl.design()
        clock_ports = _clock_ports(state, d0, libs[vh])
        tc = sta.load_constraints(state["sdc"], d0, libs[vh])
        tc = scaled_constraints(tc, float(doc["clock_period_s"]) / float(tc.clocks[0].period))
        model = SystemModel.from_json(doc["policy_model"])
        drop = float(cfg["FINEVH_IR_DROP_MV"]) * 1e-3
        known = dict(doc["instances"])  # grows as repair adds cells (a rolled-back name is never reused)

        def assignment(netlist) -> dict[str, str]:
            if any(nm not in known for nm in netlist.inst_names):
                known.update(complete_assignment(netlist.design(), libs[vh], {**doc, "instances": known},
                                                 clock_ports))
            return known

        def corner_of(netlist) -> np.ndarray:
            return corners_of(netlist.design(), assignment(netlist), doc["rails"], order, clock_rail=vh)

        def derate_of(netlist) -> np.ndarray:
            return island_derate(netlist.design(), assignment(netlist), doc, model.chip_delay,
                                 float(doc["rail_voltage"][vh]), drop, mode="fast")

        extra = list(cfg.get("DONT_USE_CELLS") or [])
        raw = {c: ctx.cached(("liberty", c), lambda c=c: plat.liberty(c)) for c in order}
        lvs = {c: LibView(raw[c], lambda name: plat.is_dont_use(name, extra)) for c in order}
        timer = MixedTimer(raw, tc, plat.signal_layer, None, "steiner", corner_of=corner_of, derate_of=derate_of,
                           uniform={"nominal": order.index(vh)})
        # design rules at each cell's own rail: the 1.28 V Liberty allows 5 ns slews, a level
        # shifter's input on a VDDH island 1.5 ns
        view_of = [lvs[c] for c in order]

        def limits(netlist) -> list[LibView]:
            return [view_of[j] for j in corner_of(netlist).tolist()]

        # sizing decisions on VDDL's library: its cells are the ones wires slow down most
        rep = Repairer(nl, lvs[vl], timer, cell_footprint(ctx), design_rules(cfg), cfg.get("REPAIR_BUFFER_CELL"),
                       limits=limits)
        base = set(doc["instances"])  # the islands stage's cells (synthesis + level shifters)
        fences = {str(k): v for k, v in (doc.get("fences") or {}).items()}
        # islands whose nets need no level shifter between them: a full fence spills into these
        like = {i["name"]: (doc["rails"][i["name"]], bool(i.get("hopping", True))) for i in doc["islands"]}

        def fence_back_end() -> int:
            """Back-end cells (flow repair, this stage) into their island's fence (not the clock tree)."""
            return keep_in_fences(nl, fp, assignment(nl), fences,
                                  [k for k, nm in enumerate(nl.inst_names) if nm not in base], equivalent=like)

        moved = fence_back_end()
        drv0, drv1 = rep.repair_design()
        setup_m = float(cfg["FINEVH_SETUP_MARGIN"]) * 1e-9
        ws0, ws1 = rep.repair_setup(setup_m, 100.0, max_rounds=60, repeat=True)
        ctx.log.info("finevh_repair: mixed rails, placement estimate: %d moved into their fence, slew/cap violations "
                     "%d/%d -> %d/%d, setup WNS %.3f -> %.3f ns", moved, drv0.max_slew, drv0.max_cap, drv1.max_slew,
                     drv1.max_cap, ws0 * 1e9, ws1 * 1e9)
        # hold at the mixed rails too (no-op when met), over-fixed by a tenth of the setup margin
        # (the engine plans each delay cell at the delay of the analysis' corner: one "mixed" run,
        # planned at VDDH's delay; an endpoint takes one only with setup room for the same cell on
        # VDDL — ~4 ns at 1.28 V — so a hold fix never breaks setup on a low-rail island)
        hold_libs = {"mixed": lvs[vh]}
        hcell = rep._hold_cell(hold_libs)
        hin, hout = lvs[vl].cells[hcell].inputs[0], lvs[vl].cells[hcell].outputs[0]
        d_low = lvs[vl].arc_delay_slew(hcell, hout, 5e-11, lvs[vl].cells[hcell].pin_cap[hin] * 2)[0]
        h0, h1 = rep.repair_hold(hold_libs, 0.1 * setup_m, setup_m + d_low, max_rounds=16, hold_cell=hcell)
        ctx.log.info("finevh_repair: hold WNS %.3f -> %.3f ns, %d cells added", h0 * 1e9, h1 * 1e9, len(nl.added))
        n_added = len(nl.added)
        legalize_added(nl, fp)
        moved += fence_back_end()
        # the legal placement timed as sign-off will time it (the route's Steiner RC on these
        # positions, each cell at its rail): what legalisation broke is repaired and legalised again
        rules = design_rules(cfg)
        legal = []
        for _ in range(int(cfg["FINEVH_REPAIR_ROUNDS"]) + 1):
            both = timer.run(nl, max_paths=10)
            cnt = check_design_rules(nl, lvs[vl], both["mixed"], rules, limits=limits(nl))[0]
            ws_now = min(float(t.setup_wns) for t in both.values())
            hs_now = min(float(t.hold_wns) for t in both.values())
            legal.append((ws_now, hs_now, cnt))
            ctx.log.info("finevh_repair: legal placement, mixed rails: setup WNS %.3f ns (all-VDDH %.3f), hold WNS "
                         "%.3f ns, slew/cap violations %d/%d", both["mixed"].setup_wns * 1e9,
                         both["nominal"].setup_wns * 1e9, hs_now * 1e9, cnt.max_slew, cnt.max_cap)
            if len(legal) > int(cfg["FINEVH_REPAIR_ROUNDS"]) or (
                    ws_now >= 0.1 * setup_m and hs_now >= 0 and cnt.max_slew + cnt.max_cap == 0):
                break
            if len(legal) > 1 and legal[-1][0] < legal[-2][0] + 1e-12 and legal[-1][2] == legal[-2][2]:
                break  # the last round gained nothing
            rep.repair_design()
            rep.repair_setup(setup_m, 100.0, max_rounds=30, repeat=True)
            rep.repair_hold(hold_libs, 0.1 * setup_m, setup_m + d_low, max_rounds=8, hold_cell=hcell)
            n_added += len(nl.added)
            legalize_added(nl, fp)
            moved += fence_back_end()
        views = save_placed(ctx, nl, fp, "finevh_repair")
        final = nl.design()
        doc = dict(doc)
        # the islands the repair timed and fenced each new cell in (re-deriving them from the final
        # drivers could put a buffer of a re-parented tree on another island than its fence's)
        got = assignment(nl)
        doc["instances"] = {nm: got[nm] for nm in final.inst_names}
        doc["rails"] = {**doc["rails"], "clk_tree": vh}
        doc["clock_tree_rail"] = {"fast": vh, "slow": vh}  # always on (plugins/finevh/routed.py)
        out = ctx.path("islands.json")
        out.write_text(json.dumps(doc, indent=1))
        ws_l, hs_l, cnt_l = legal[-1]
        ctx.log.info("finevh_repair: mixed-rail setup WNS %.3f -> %.3f ns at FINE-VH's clock (placement estimate), "
                     "%d buffers, %d resized, %d back-end cells moved into their fence; slew/cap violations %d/%d -> "
                     "%d/%d; legal placement after %d rounds: setup %.3f ns, hold %.3f ns, slew/cap %d/%d", ws0 * 1e9,
                     ws1 * 1e9, n_added, rep.stats.resized, moved, drv0.max_slew, drv0.max_cap, drv1.max_slew,
                     drv1.max_cap, len(legal) - 1, ws_l * 1e9, hs_l * 1e9, cnt_l.max_slew, cnt_l.max_cap)
        return StageResult(views={**views, "islands": out}, metrics={
            "finevh_repair__before__setup__ws__estimate": round(ws0 * 1e9, 6),
            "finevh_repair__setup__ws__estimate": round(ws_l * 1e9, 6),
            "finevh_repair__hold__ws__estimate": round(hs_l * 1e9, 6),
            "finevh_repair__buffers": n_added, "finevh_repair__resized": rep.stats.resized,
            "finevh_repair__fence_moves": moved, "finevh_repair__rounds": len(legal) - 1,
            "finevh_repair__timing__drv__max_slew": cnt_l.max_slew, "finevh_repair__timing__drv__max_cap": cnt_l.max_cap,
        })


class SignoffStage(Stage):
    id = "finevh_signoff"
    name = "FINE-VH: routed modes and DVFS levels re-timed and re-powered (SPEF)"
    inputs = ("verilog", "sdc", "spef", "islands")
    outputs = ("islands",)

    @classmethod
    def enabled(cls, config) -> bool:
        return _enabled(config)

    def run(self, state: State, ctx: StageContext) -> StageResult:
        from flow.engines import sta
        from flow.engines.parasitics import Parasitics
        from flow.formats.spef import read_spef
        from flow.stages.floorplan import load_netlist
        from flow.stages.signoff import load_activity
        from plugins.finevh.routed import routed_model, unshifted_crossings

        cfg = ctx.config
        doc = _doc(state)
        design = load_netlist(ctx, state)
        libs = _rail_libs(ctx, doc, all_corners=True)
        par = Parasitics.from_spef(read_spef(state["spef"]), design)
        tc = sta.load_constraints(state["sdc"], design, libs[doc["vddh"]])
        ann = load_activity(Path(cfg["ACTIVITY"]), cfg.get("ACTIVITY_SCOPE")) if cfg.get("ACTIVITY") else None
        rm = routed_model(design, libs, tc, doc, par, ctx.platform,
                          clock_ports=[s for c in tc.clocks for s in c.sources if s in set(design.port_names)],
                          ir_drop=float(cfg["FINEVH_IR_DROP_MV"]) * 1e-3,
                          input_activity=cfg.get("INPUT_ACTIVITY", 0.1), annotated=ann)
        unshifted = unshifted_crossings(design, libs[doc["vddh"]], rm.assignment, doc)
        meets = rm.meets and not unshifted
        for net, pin in unshifted[:10]:
            ctx.log.error("finevh_signoff: net %s reaches %s from a lower-rail island without a level shifter",
                          net, pin)
        doc = dict(doc)
        doc["policy_model_routed"] = rm.system.to_json()
        doc["routed"] = {"fast_wns_s": rm.fast_wns, "fast_period_s": rm.fast_period,
                         "fast_wns_at_nominal_s": rm.fast_wns_at_nominal, "slow_wns_s": rm.slow_wns, "slow_period_s": rm.slow_period,
                         "nominal_wns_s": rm.nominal_wns, "level_wns_s": rm.level_wns,
                         "meets": meets, "unshifted_crossings": len(unshifted),
                         "fast_hold_wns_s": rm.fast_hold_wns, "slow_hold_wns_s": rm.slow_hold_wns,
                         "added_instances": rm.added_instances, "clock_tree_instances": rm.clock_tree_instances,
                         "spef": str(state["spef"])}
        doc["instances"] = rm.assignment
        out = ctx.path("islands.json")
        out.write_text(json.dumps(doc, indent=1))
        metrics: dict[str, Any] = {
            "finevh__routed__fast__ws": round(rm.fast_wns * 1e9, 6) if math.isfinite(rm.fast_wns) else None,
            "finevh__routed__fast__period_ns": round(rm.fast_period * 1e9, 6),
            "finevh__routed__fast__ws_at_nominal": round(rm.fast_wns_at_nominal * 1e9, 6)
            if math.isfinite(rm.fast_wns_at_nominal) else None,
            "finevh__routed__slow__ws": round(rm.slow_wns * 1e9, 6) if math.isfinite(rm.slow_wns) else None,
            "finevh__routed__slow__period_ns": round(rm.slow_period * 1e9, 6),
            "finevh__routed__nominal__ws": round(rm.nominal_wns * 1e9, 6) if math.isfinite(rm.nominal_wns) else None,
            "finevh__routed__fast__hold_ws": round(rm.fast_hold_wns * 1e9, 6) if math.isfinite(rm.fast_hold_wns) else None,
            "finevh__routed__slow__hold_ws": round(rm.slow_hold_wns * 1e9, 6) if math.isfinite(rm.slow_hold_wns) else None,
            "finevh__routed__meets": int(meets),
            "finevh__routed__unshifted_crossings": len(unshifted),
        }
        ctx.log.info("finevh_signoff (SPEF): fast mode WNS %.3f ns at FINE-VH's clock, verified at %.3f ns (hold "
                     "%.3f), slow mode WNS %.3f ns at %.3f ns (hold %.3f), nominal (all VDDH) WNS %.3f ns",
                     rm.fast_wns_at_nominal * 1e9, rm.fast_period * 1e9, rm.fast_hold_wns * 1e9, rm.slow_wns * 1e9, rm.slow_period * 1e9,
                     rm.slow_hold_wns * 1e9, rm.nominal_wns * 1e9)
        return StageResult(views={"islands": out}, metrics=metrics)
