"""Repair stages (embedded): `repair_design` after placement, `repair_timing` after CTS.

As in ORFS (`repair_design` in 3_4_place_resized, `repair_timing` in 4_1_cts and after global
route): design rules first, on the placed netlist; timing once the clock tree exists, so setup
and hold are fixed against propagated clock arrivals. Both write a new netlist, placement and
DEF; added cells are legalised without moving the others (`place.place_new_cells`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from flow.engines import sta
from flow.engines.repair import SETUP_MOVES, DesignRules, LibView, Repairer, Timer
from flow.errors import ConfigError
from flow.metrics import instance_area_metrics, timing_summary
from flow.stage import Stage, StageContext, StageResult, Variable
from flow.stages.floorplan import platform_lef
from flow.stages.place import legalize_added, placed_netlist, save_placed
from flow.state import State


def repair_corners(ctx: StageContext) -> list[str]:
    """The corners repair closes: REPAIR_CORNERS, else SIGNOFF_CORNERS, else the platform's
    default corner — the one library ORFS's platform signs off with (nangate45 typical,
    sky130hd tt_025C_1v80)."""
    return list(ctx.config.get("REPAIR_CORNERS") or ctx.config.get("SIGNOFF_CORNERS")
                or [ctx.platform.default_corner])


def cell_footprint(ctx: StageContext) -> Callable[[str], tuple[float, float]]:
    """(width, height) µm of a cell from the platform LEF, for placing the cells repair adds."""
    lef = platform_lef(ctx)

    def sizes(cell: str) -> tuple[float, float]:
        m = lef.macros.get(cell)
        if m is None:
            raise ConfigError(f"cell {cell} has no LEF macro: cannot place it")
        return m.width, m.height

    return sizes


def design_rules(cfg: Any) -> DesignRules:
    """Max fanout and the slew/capacitance margins (% of the Liberty limits) repair works to."""
    margin = {k: 20.0 if cfg.get(k) is None else float(cfg[k]) for k in ("SLEW_MARGIN", "CAP_MARGIN")}
    return DesignRules(cfg.get("MAX_FANOUT"), margin["SLEW_MARGIN"] / 100.0, margin["CAP_MARGIN"] / 100.0)


def repair_setup(ctx: StageContext, state: State, propagated: bool | None = None):
    """Netlist, placement, per-corner library views, timer and repairer of a repair stage."""
    plat = ctx.platform
    nl, fp = placed_netlist(ctx, state)
    corners = repair_corners(ctx)
    libs = {c: ctx.cached(("engine_liberty", c), lambda c=c: plat.liberty(c)) for c in corners}
    extra = list(ctx.config.get("DONT_USE_CELLS") or [])

    def dont_use(name: str) -> bool:
        return plat.is_dont_use(name, extra)

    lvs = {c: LibView(lib, dont_use) for c, lib in libs.items()}
    tc = sta.load_constraints(state["sdc"], nl.design(), next(iter(libs.values())))
    timer = Timer(libs, tc, plat.signal_layer, propagated,
                  "steiner" if len(nl.inst_names) <= ctx.config.get("REPAIR_STEINER_MAX_INSTANCES", 20000) else "lumped")
    sizes = cell_footprint(ctx)
    # build decisions on the slowest corner: its delays and slews are the ones that break limits
    probe = lvs[corners[0]].buffers[0] if lvs[corners[0]].buffers else None
    slow = max(corners, key=lambda c: lvs[c].arc_delay_slew(probe, lvs[c].cells[probe].outputs[0], 5e-11, 5e-15)[0]
               if probe else 0.0)
    rep = Repairer(nl, lvs[slow], timer, sizes, design_rules(ctx.config), ctx.config.get("REPAIR_BUFFER_CELL"))
    return nl, fp, lvs, rep


#: OpenROAD `repair_timing -sequence` move names (an ORFS config may list any of them)
OPENROAD_SETUP_MOVES = ("unbuffer", "vt_swap", "sizeup", "sizedown", "size", "swap", "buffer", "clone", "split")


def setup_moves(sequence: str | None, log: Any = None) -> tuple[str, ...]:
    """SETUP_MOVE_SEQUENCE as the embedded repair's moves, in order (`size` is `sizeup` here);
    OpenROAD moves the embedded repair lacks are skipped with a warning, a name OpenROAD does
    not know either is a ConfigError."""
    if sequence is None or not str(sequence).strip():
        return SETUP_MOVES
    names = [m.strip() for m in str(sequence).split(",") if m.strip()]
    bad = [m for m in names if m not in OPENROAD_SETUP_MOVES]
    if bad:
        raise ConfigError(f"SETUP_MOVE_SEQUENCE: unknown move {bad[0]!r} (OpenROAD's repair_timing -sequence "
                          f"takes {', '.join(OPENROAD_SETUP_MOVES)})")
    moves = tuple(dict.fromkeys("sizeup" if m == "size" else m for m in names if m in SETUP_MOVES + ("size",)))
    skipped = [m for m in names if m not in SETUP_MOVES + ("size",)]
    if skipped and log is not None:
        log.warning("SETUP_MOVE_SEQUENCE: %s not implemented by the embedded repair (it has %s); skipped",
                    ", ".join(skipped), ", ".join(SETUP_MOVES))
    return moves


def _drv_metrics(prefix: str, cnt: Any) -> dict[str, int]:
    return {f"{prefix}__timing__drv__max_slew": cnt.max_slew, f"{prefix}__timing__drv__max_cap": cnt.max_cap,
            f"{prefix}__timing__drv__max_fanout": cnt.max_fanout}


class RepairDesignStage(Stage):
    id = "repair_design"
    name = "Electrical repair: buffer trees and sizing for max slew/cap/fanout (embedded)"
    inputs = ("verilog", "sdc", "placement")
    outputs = ("verilog", "placement", "def")
    config_vars = (
        Variable("REPAIR_DESIGN", bool, "Run electrical repair after placement (ORFS repair_design).", True,
                 source="repair_design"),
        Variable("MAX_FANOUT", int | None, "Largest fanout of a net (clock nets excepted); none by default, as "
                 "OpenROAD without set_max_fanout.", None, source="repair_design"),
        Variable("SLEW_MARGIN", float | None, "Slew limits are tightened by this much when repairing (over-fix: default "
                 "20 (embedded backend; OpenROAD's own default with the openroad backend): placement wire estimates "
                 "miss the routed wires' slew degradation.", None, unit="%", source="repair_design"),
        Variable("CAP_MARGIN", float | None, "Capacitance limits are tightened by this much when repairing; "
                 "default 20 (embedded backend).", None, unit="%", source="repair_design"),
        Variable("REPAIR_CORNERS", list[str] | None, "Corners repair and CTS time at; default SIGNOFF_CORNERS, "
                 "else the platform's default (sign-off) corner.", None, source="repair_design"),
        Variable("REPAIR_STEINER_MAX_INSTANCES", int, "Up to this many instances repair times with the route "
                 "stage's Steiner RC trees; above, with lumped wire capacitance (faster, optimistic).", 20000,
                 source="repair_design"),
        Variable("REPAIR_BUFFER_CELL", str | None, "Buffer used for buffer trees; default: the non-dont_use "
                 "buffer driving the most load per area within its limits.", None, source="repair_design"),
    )

    @classmethod
    def enabled(cls, config) -> bool:
        return bool(config.get("REPAIR_DESIGN", True))

    def run(self, state: State, ctx: StageContext) -> StageResult:
        nl, fp, _lvs, rep = repair_setup(ctx, state)
        before, after = rep.repair_design()
        n_added = len(nl.added)
        legalize_added(nl, fp)
        views = save_placed(ctx, nl, fp, "repair_design")
        ctx.log.info("repair_design: %d buffers, %d resized; violations slew/cap/fanout %d/%d/%d -> %d/%d/%d "
                     "(buffer %s, %d timing runs)", rep.stats.buffers, rep.stats.resized, before.max_slew,
                     before.max_cap, before.max_fanout, after.max_slew, after.max_cap, after.max_fanout, rep.buffer,
                     rep.timer.runs)
        metrics: dict[str, Any] = {"repair_design__buffers": n_added, "repair_design__resized": rep.stats.resized}
        metrics.update(instance_area_metrics("placeopt", nl.inst_cell, {c: ci.area for c, ci in rep.lv.cells.items()},
                                             float(np.sum(fp["tap_w"] * fp["tap_h"])) if "tap_w" in fp else 0.0,
                                             len(fp["tap_w"]) if "tap_w" in fp else 0))
        metrics.update(_drv_metrics("repair_design__before", before))
        metrics.update(_drv_metrics("repair_design", after))
        return StageResult(views=views, metrics=metrics)


class RepairTimingStage(Stage):
    id = "repair_timing"
    name = "Timing repair: setup sizing, then hold buffers (embedded)"
    inputs = ("verilog", "sdc", "placement")
    outputs = ("verilog", "placement", "def")
    config_vars = (
        Variable("REPAIR_TIMING", bool, "Run timing repair after CTS (ORFS repair_timing in 4_1_cts).", True,
                 source="repair_timing"),
        Variable("SETUP_SLACK_MARGIN", float | None, "Setup repair stops when the worst slack reaches this "
                 "(default 0).", None,
                 unit="ns", source="repair_timing"),
        Variable("HOLD_SLACK_MARGIN", float | None, "Hold repair fixes endpoints up to this slack (default 0).",
                 None, unit="ns",
                 source="repair_timing"),
        Variable("TNS_END_PERCENT", float | None, "Percent of the violating endpoints whose paths each setup "
                 "round works on (the worst path always); default 100.", None, unit="%", source="repair_timing"),
        Variable("SKIP_HOLD_REPAIR", bool, "Only repair setup.", False, source="repair_timing"),
        Variable("SETUP_MOVE_SEQUENCE", str | None, "Comma-separated setup moves, in order (OpenROAD "
                 "repair_timing -sequence names); the embedded repair has sizeup (gate sizing; size too), buffer "
                 "(off-path loads of a critical driver behind a buffer) and clone (onto a copy of the driver), "
                 "and skips OpenROAD's others; default sizeup,buffer,clone.", None, source="repair_timing"),
    )

    @classmethod
    def enabled(cls, config) -> bool:
        return bool(config.get("REPAIR_TIMING", True))

    def run(self, state: State, ctx: StageContext) -> StageResult:
        cfg = ctx.config
        nl, fp, lvs, rep = repair_setup(ctx, state)
        setup_m = (cfg["SETUP_SLACK_MARGIN"] or 0.0) * 1e-9
        hold_m = (cfg["HOLD_SLACK_MARGIN"] or 0.0) * 1e-9
        tns_pct = 100.0 if cfg["TNS_END_PERCENT"] is None else float(cfg["TNS_END_PERCENT"])
        ws0, ws1 = rep.repair_setup(setup_m, tns_pct, moves=setup_moves(cfg.get("SETUP_MOVE_SEQUENCE"), ctx.log))
        h0 = h1 = None
        if not cfg["SKIP_HOLD_REPAIR"]:
            h0, h1 = rep.repair_hold(lvs, hold_m, setup_m)
        legalize_added(nl, fp)
        views = save_placed(ctx, nl, fp, "repair_timing")
        res = rep.timer.run(nl)
        ws = min(t.setup_wns for t in res.values())
        hs = min(t.hold_wns for t in res.values())
        ctx.log.info("repair_timing: setup WNS %.4f -> %.4f ns (%d resized, %d setup buffers, %d clones), hold WNS "
                     "%s -> %.4f ns (%d hold buffers), placement estimate", ws0 * 1e9, ws * 1e9, rep.stats.resized,
                     rep.stats.setup_buffers, rep.stats.clones,
                     f"{h0 * 1e9:.4f}" if h0 is not None else "-", hs * 1e9, rep.stats.hold_buffers)
        del ws1, h1
        orfs_cts = timing_summary("cts", res)  # ORFS's CTS step ends after repair_timing
        return StageResult(views=views, metrics={**orfs_cts,
            "repair_timing__before__setup__ws__estimate": round(ws0 * 1e9, 6),
            "repair_timing__before__hold__ws__estimate": round(h0 * 1e9, 6) if h0 is not None else None,
            "repair_timing__resized": rep.stats.resized, "repair_timing__hold_buffers": rep.stats.hold_buffers,
            "repair_timing__buffers": rep.stats.setup_buffers,  # for setup (ORFS setup_buffer)
            "repair_timing__clones": rep.stats.clones,
            # estimates with placement wires (the route stage's SPEF gives the sign-off figures)
            "repair_timing__setup__ws__estimate": round(ws * 1e9, 6),
            "repair_timing__hold__ws__estimate": round(hs * 1e9, 6),
        })
