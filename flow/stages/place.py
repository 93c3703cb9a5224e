"""Placement stage: analytic global placement, Tetris legalisation, legality report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import numpy as np

from flow.engines.eplace import Routability, criticality_weights
from flow.engines.eplace import global_place as gpl
from flow.engines.physical import Geometry, build_problem, io_positions
from flow.engines.place import (
    assign_io,
    check_legal,
    detailed_move,
    detailed_swap,
    hpwl,
    legalize,
    net_spans,
)
from flow.errors import ConfigError, FormatError
from flow.formats.deflib import write_def
from flow.formats.verilog import as_read_back
from flow.stage import Stage, StageContext, StageResult, Variable
from flow.stages.floorplan import load_netlist
from flow.state import State


def read_fences(path, names: list[str]) -> tuple[np.ndarray, list, list]:
    """Region per instance, rects per region, region names from a `fences` JSON view."""
    doc = json.loads(path.read_text())
    index = {n: i for i, n in enumerate(names)}
    region = np.full(len(names), -1, dtype=np.int64)
    rects, rnames = [], []
    for r, reg in enumerate(doc.get("regions", [])):
        rects.append([tuple(float(v) for v in rect) for rect in reg["rects"]])
        rnames.append(reg["name"])
        for inst in reg.get("instances", []):
            if inst not in index:
                raise FormatError(path, None, f"fence {reg['name']}: unknown instance {inst}")
            region[index[inst]] = r
    return region, rects, rnames


class PlaceStage(Stage):
    id = "place"
    name = "Global + detailed placement (analytic, embedded)"
    inputs = ("verilog", "placement")
    outputs = ("def", "placement")
    config_vars = (
        Variable("PLACE_DENSITY", float | None, "Target cell density in the placement region; default: the "
                 "platform's.", None, source="place"),
        Variable("PLACE_DENSITY_LB_ADDON", float | None, "As ORFS (and instead of PLACE_DENSITY): target "
                 "density = lb + (1 - lb) * addon + 0.01, lb the utilisation (its lower bound).", None, source="place"),
        Variable("PLACE_ITERATIONS", int, "Spreading iterations of global placement.", 40, source="place"),
        Variable("GPL_ALGORITHM", Literal["nesterov", "quadratic"], "Global placer: electrostatic (ePlace-style "
                 "Nesterov, flow/engines/eplace.py) or quadratic with spreading (PLACE_ITERATIONS).", "nesterov",
                 source="place"),
        Variable("PLACE_SEED", int, "Seed of the initial placement jitter.", 0, source="place"),
        Variable("DETAILED_PLACE_PASSES", int, "Passes of detailed placement: moves of single cells into free "
                 "sites of their optimal region, then adjacent swaps.", 2, source="place"),
        Variable("GPL_TIMING_DRIVEN", bool | None, "As ORFS: after a first global placement, time it (first "
                 "repair/sign-off corner, wire capacitance from the placement) and place again with the nets of "
                 "the GPL_TIMING_DRIVEN_PATHS worst setup paths weighted up to 1.9 by criticality (nesterov "
                 "placer); default off (ORFS: on).", None, source="place"),
        Variable("GPL_TIMING_DRIVEN_PATHS", int, "Worst setup paths (one per endpoint) whose nets timing-driven "
                 "placement weights.", 100, source="place"),
        Variable("GPL_ROUTABILITY_DRIVEN", bool | None, "As ORFS: inflate cells in bins whose RUDY wire demand "
                 "exceeds the routing layers' supply, so congested regions spread (nesterov placer); default off "
                 "(ORFS: on).", None, source="place"),
        Variable("PLACE_PINS", bool, "After a first global placement, move each I/O pin to the free boundary slot "
                 "nearest its logic (exact assignment) and place again, as ORFS's io placement step does.", True,
                 source="place"),
    )

    def run(self, state: State, ctx: StageContext) -> StageResult:
        cfg = ctx.config
        fp = dict(np.load(state["placement"]))
        design = load_netlist(ctx, state)
        names = list(design.inst_names)
        if list(map(str, fp["inst_names"])) != names:
            raise ConfigError("placement view does not match the netlist (rerun floorplan)")
        core = tuple(float(v) for v in fp["core"])
        util = float(np.sum(fp["w"] * fp["h"])) / ((core[2] - core[0]) * (core[3] - core[1]))
        if cfg["PLACE_DENSITY_LB_ADDON"] is not None:  # as ORFS: it wins over PLACE_DENSITY
            density = util + (1.0 - util) * cfg["PLACE_DENSITY_LB_ADDON"] + 0.01
            if density > 1.0:
                raise ConfigError(f"place density {density:.3f} exceeds 1 (PLACE_DENSITY_LB_ADDON = "
                                  f"{cfg['PLACE_DENSITY_LB_ADDON']}: use a value between 0 and 0.99)")
        elif cfg["PLACE_DENSITY"] is not None:
            density = cfg["PLACE_DENSITY"]
        else:
            density = ctx.platform.place_density
        if not 0 < density <= 1:
            raise ConfigError(f"PLACE_DENSITY = {density}: must be in (0, 1]")
        density = max(density, util)  # cannot be denser than the utilisation allows
        region, rects, rnames = (np.zeros(0, dtype=np.int64), [], [])
        if "fences" in state:
            region, rects, rnames = read_fences(state["fences"], names)
        geo = Geometry(design, fp["w"], fp["h"])
        # pre-placed instances (FINE-VH level shifters): fixed pins and blockages for the placer
        fixed = np.asarray(fp["fixed"], dtype=bool) if "fixed" in fp else np.zeros(len(names), dtype=bool)
        fixed_x = np.asarray(fp["fixed_x"], dtype=float) if "fixed_x" in fp else np.zeros(len(names))
        fixed_y = np.asarray(fp["fixed_y"], dtype=float) if "fixed_y" in fp else np.zeros(len(names))
        prob = build_problem(geo, fp["pin_x"], fp["pin_y"], core, float(fp["row_height"]), float(fp["site_width"]),
                             region, rects, fixed=fixed, fixed_x=fixed_x, fixed_y=fixed_y)
        prob.blockages = tap_blockages(fp) + [
            (fixed_x[i], fixed_y[i], fixed_x[i] + fp["w"][i], fixed_y[i] + fp["h"][i]) for i in np.flatnonzero(fixed)]
        if (cfg["GPL_TIMING_DRIVEN"] or cfg["GPL_ROUTABILITY_DRIVEN"]) and cfg["GPL_ALGORITHM"] != "nesterov":
            raise ConfigError("GPL_TIMING_DRIVEN / GPL_ROUTABILITY_DRIVEN need GPL_ALGORITHM = nesterov")
        routability = None
        if cfg["GPL_ROUTABILITY_DRIVEN"]:
            layers = [ly for ly in ctx.platform.layers.values() if ly.pitch > 0]
            routability = Routability(sum(1.0 / ly.pitch for ly in layers[1:]) or 1.0)  # metal1 kept for cells

        def place_globally(weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
            return gpl(prob, density, cfg["PLACE_ITERATIONS"], cfg["PLACE_SEED"], cfg["GPL_ALGORITHM"],
                       net_weight=weights, routability=routability)

        cx, cy = place_globally()
        n_ports = len(design.port_names)
        if cfg["PLACE_PINS"] and n_ports:
            die = tuple(float(v) for v in fp["die"])
            sw = float(fp["site_width"])
            # up to 4 slots per pin, at least 2 sites apart along the perimeter
            n_slots = max(n_ports, min(4 * n_ports, int((die[2] - die[0] + die[3] - die[1]) / sw)))
            sx, sy = io_positions([""] * n_slots, die, sw)
            slots = np.unique(np.column_stack([sx, sy]), axis=0)
            px, py = assign_io(prob, cx, cy, n_ports, slots[:, 0], slots[:, 1])
            if not (np.array_equal(px, prob.fixed_x[:n_ports]) and np.array_equal(py, prob.fixed_y[:n_ports])):
                before = hpwl(prob, cx, cy)
                prob.fixed_x[:n_ports], prob.fixed_y[:n_ports] = px, py
                cx, cy = place_globally()
                ctx.log.info("io placement: HPWL %.1f um with the floorplan's pins, %.1f um after moving them",
                             before * 1e6, hpwl(prob, cx, cy) * 1e6)
                fp["pin_x"], fp["pin_y"] = px, py
        timing_metrics: dict[str, float] = {}
        if cfg["GPL_TIMING_DRIVEN"]:
            weights = timing_weights(ctx, state, design, fp, fixed, cx, cy, cfg["GPL_TIMING_DRIVEN_PATHS"])
            critical = np.flatnonzero(weights > 1.0)
            before = net_hpwl(prob, cx, cy, critical)
            cx, cy = place_globally(weights)
            after = net_hpwl(prob, cx, cy, critical)
            ctx.log.info("timing-driven placement: %d critical nets, their HPWL %.1f -> %.1f um",
                         critical.size, before * 1e6, after * 1e6)
            timing_metrics = {"globalplace__timing_driven__nets": int(critical.size),
                              "globalplace__timing_driven__critical_hpwl_before": round(before * 1e6, 3),
                              "globalplace__timing_driven__critical_hpwl": round(after * 1e6, 3)}
        gp = hpwl(prob, cx, cy)
        mx, my = legalize(prob, cx, cy)
        legal_hpwl = hpwl(prob, mx + prob.w / 2, my + prob.h / 2)
        mx, my, moves = detailed_move(prob, mx, my, passes=cfg["DETAILED_PLACE_PASSES"])
        mx, my, swaps = detailed_swap(prob, mx, my, passes=cfg["DETAILED_PLACE_PASSES"])
        dp = hpwl(prob, mx + prob.w / 2, my + prob.h / 2)
        legal = check_legal(prob, mx, my)
        violations = legal["overlaps"] + legal["off_site"] + legal["outside_core"] + legal["fence"]
        lx, ly = fixed_x.copy(), fixed_y.copy()
        lx[~fixed], ly[~fixed] = mx, my
        full_region = region if region.size else np.full(len(names), -1, dtype=np.int64)
        npz = ctx.path("placement.npz")
        fp.update(x=lx, y=ly, region=full_region, placed=np.array(True))
        np.savez_compressed(npz, **fp)
        members = [[names[i] for i in np.nonzero(full_region == r)[0]] for r in range(len(rects))]
        def_path = write_placement_def(ctx, design, fp, regions=[(rnames[r], rects[r], members[r])
                                                                  for r in range(len(rects))])
        ctx.log.info("placement: HPWL %.1f um global, %.1f um legal; %s", gp * 1e6, dp * 1e6, legal)
        return StageResult(
            views={"def": def_path, "placement": npz},
            metrics={
                "globalplace__hpwl": round(gp * 1e6, 3),
                "legalize__hpwl": round(legal_hpwl * 1e6, 3),
                "detailedplace__swaps": swaps,
                "detailedplace__moves": moves,
                "detailedplace__hpwl": round(dp * 1e6, 3),
                "detailedplace__design__violations": violations,
                "placement__fence__violations": legal["fence"],
                "placement__design__density_target": round(density, 4),
                **timing_metrics,
            },
        )


def tap_blockages(fp: dict) -> list[tuple[float, float, float, float]]:
    """The floorplan's tap cells as (x0, y0, x1, y1) placement blockages."""
    return [(float(x), float(y), float(x + w), float(y + h)) for x, y, w, h in
            zip(fp.get("tap_x", []), fp.get("tap_y", []), fp.get("tap_w", []), fp.get("tap_h", []), strict=True)]


def spread_positions(design, fp: dict, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Instance centres (m) from an unfenced global placement of the floorplan's view, spread
    evenly over the whole core (target density = the utilisation): where each cell would go
    with no fences, for a stage that must form regions before placement (FINE-VH islands tile
    the core, so their cells are spread like this, not packed at PLACE_DENSITY)."""
    core = tuple(float(v) for v in fp["core"])
    util = float(np.sum(fp["w"] * fp["h"])) / ((core[2] - core[0]) * (core[3] - core[1]))
    prob = build_problem(Geometry(design, fp["w"], fp["h"]), fp["pin_x"], fp["pin_y"], core,
                         float(fp["row_height"]), float(fp["site_width"]))
    prob.blockages = tap_blockages(fp)
    return gpl(prob, min(1.0, util * 1.02 + 0.005), 40, seed)


def net_hpwl(prob, cx: np.ndarray, cy: np.ndarray, nets: np.ndarray) -> float:
    """Total HPWL (m) of the given nets of a placement problem (cell centres cx, cy)."""
    idx, sx, sy = net_spans(prob, cx, cy)
    keep = np.isin(idx, nets)
    return float(sx[keep].sum() + sy[keep].sum())


def timing_weights(ctx: StageContext, state: State, design, fp: dict, fixed: np.ndarray, cx: np.ndarray,
                   cy: np.ndarray, n_paths: int) -> np.ndarray:
    """Per-net weights for timing-driven global placement: the embedded STA at the first repair /
    sign-off corner on the globally placed netlist (lumped wire capacitance from its pin boxes),
    then `eplace.criticality_weights` over the nets of the worst setup paths."""
    from flow.engines import sta
    from flow.engines.repair import Netlist, Timer
    from flow.stages.repair import repair_corners

    if "sdc" not in state:
        raise ConfigError("GPL_TIMING_DRIVEN needs the SDC from synthesis (run from synth)")
    corner = repair_corners(ctx)[0]
    lib = ctx.cached(("engine_liberty", corner), lambda: ctx.platform.liberty(corner))
    tc = sta.load_constraints(state["sdc"], design, lib)
    x = np.asarray(fp.get("fixed_x", np.zeros(len(fixed))), dtype=float).copy()
    y = np.asarray(fp.get("fixed_y", np.zeros(len(fixed))), dtype=float).copy()
    x[~fixed] = cx - fp["w"][~fixed] / 2
    y[~fixed] = cy - fp["h"][~fixed] / 2
    nl = Netlist(design, x, y, fp["w"], fp["h"], fixed, fp["pin_x"], fp["pin_y"])
    res = Timer({corner: lib}, tc, ctx.platform.signal_layer, None, "lumped").run(nl, max_paths=n_paths)[corner]
    node = {name: k for k, name in enumerate(res.node_names)}
    node_net = np.concatenate([design.pin_net, design.port_net]).astype(np.int64)
    paths = [p for p in res.setup_paths if np.isfinite(p.slack)]
    path_nets = [node_net[[node[st.node] for st in p.stages if st.node in node]] for p in paths]
    return criticality_weights(path_nets, np.array([p.slack for p in paths]), len(design.net_names))


def write_placement_def(ctx: StageContext, design, fp: dict, regions: list = (), stem: str = "place") -> Path:
    """`<design>.<stem>.def` of a placement view (rows, movable and fixed cells, pins, taps)."""
    cfg = ctx.config
    core = tuple(float(v) for v in fp["core"])
    rh, sw = float(fp["row_height"]), float(fp["site_width"])
    nrows = int(round((core[3] - core[1]) / rh))
    ncols = int(round((core[2] - core[0]) / sw))
    rows = [(f"ROW_{r}", ctx.platform.site.name, core[0], core[1] + r * rh, ncols, sw) for r in range(nrows)]
    names = list(design.inst_names)
    fixed = np.asarray(fp["fixed"], dtype=bool) if "fixed" in fp else np.zeros(len(names), dtype=bool)
    lx, ly = np.asarray(fp["x"], dtype=float), np.asarray(fp["y"], dtype=float)
    taps = list(zip(fp.get("tap_cell", []), fp.get("tap_x", []), fp.get("tap_y", []), strict=True))
    def_path = ctx.path(f"{cfg['DESIGN_NAME']}.{stem}.def")
    mov = np.flatnonzero(~fixed)
    write_def(def_path, cfg["DESIGN_NAME"], 1000, fp["die"], rows,
              [(names[i], design.inst_cell[i]) for i in mov], np.column_stack([lx[mov], ly[mov]]),
              [(str(p), d.upper() if d in ("input", "output") else "INOUT", x, y)
               for p, d, x, y in zip(fp["pin_names"], design.port_dir, fp["pin_x"], fp["pin_y"], strict=True)],
              regions=regions,
              fixed=[(f"TAP_{k}", str(c), float(x), float(y)) for k, (c, x, y) in enumerate(taps)]
              + [(names[i], design.inst_cell[i], lx[i], ly[i]) for i in np.flatnonzero(fixed)])
    return def_path


def placed_netlist(ctx: StageContext, state: State):
    """The placed netlist as an editable `repair.Netlist` and the placement view's arrays."""
    from flow.engines.repair import Netlist

    fp = dict(np.load(state["placement"]))
    design = load_netlist(ctx, state)
    if list(map(str, fp["inst_names"])) != list(design.inst_names):
        raise ConfigError("placement view does not match the netlist (rerun place)")
    fixed = np.asarray(fp["fixed"], dtype=bool) if "fixed" in fp else np.zeros(len(design.inst_names), dtype=bool)
    return Netlist(design, fp["x"], fp["y"], fp["w"], fp["h"], fixed, fp["pin_x"], fp["pin_y"]), fp


def legalize_added(nl, fp: dict) -> None:
    """Place the instances `nl` gained (buffers) in free sites near where they were put."""
    from flow.engines.place import place_new_cells

    new = [k for k in nl.added]
    if not new:
        return
    old = np.ones(len(nl.inst_names), dtype=bool)
    old[new] = False
    blocked = [np.column_stack([np.asarray(nl.x)[old], np.asarray(nl.y)[old], np.asarray(nl.w)[old],
                                np.asarray(nl.h)[old]])]
    if "tap_x" in fp and len(fp["tap_x"]):
        blocked.append(np.column_stack([fp["tap_x"], fp["tap_y"], fp["tap_w"], fp["tap_h"]]))
    tx = np.array([nl.x[k] + nl.w[k] / 2 for k in new])
    ty = np.array([nl.y[k] + nl.h[k] / 2 for k in new])
    w = np.array([nl.w[k] for k in new])
    x, y = place_new_cells(tuple(float(v) for v in fp["core"]), float(fp["row_height"]), float(fp["site_width"]),
                           np.vstack(blocked), w, tx, ty)
    for j, k in enumerate(new):
        nl.x[k], nl.y[k] = float(x[j]), float(y[j])
    nl.added = []


def save_placed(ctx: StageContext, nl, fp: dict, stem: str) -> dict[str, Path]:
    """Write the edited netlist (`<design>.v`), its placement view and DEF; returns the views."""
    from flow.formats.verilog import write_verilog

    design = nl.design()
    n = len(design.inst_names)
    region = np.asarray(fp.get("region", np.full(0, -1)), dtype=np.int64)
    fp = dict(fp)
    fp.update(inst_names=np.asarray(design.inst_names), cell=np.asarray(design.inst_cell),
              x=np.asarray(nl.x), y=np.asarray(nl.y), w=np.asarray(nl.w), h=np.asarray(nl.h),
              region=np.concatenate([region, np.full(n - region.size, -1, dtype=np.int64)]),
              placed=np.array(True))
    if "fixed" in fp:
        fp["fixed"] = np.asarray(nl.fixed, dtype=bool)
    for key in ("fixed_x", "fixed_y"):
        if key in fp:
            fp[key] = np.concatenate([np.asarray(fp[key], dtype=float), np.zeros(n - len(fp[key]))])
    verilog = ctx.path(f"{ctx.config['DESIGN_NAME']}.v")
    write_verilog(design, verilog, ctx.config["DESIGN_NAME"])
    read_back = as_read_back(design)
    if read_back is not None:  # the next stage's load_netlist finds it (mac_array 8x8: ~6 s a parse)
        ctx.cached(("design", str(verilog), verilog.stat().st_mtime_ns), lambda: read_back)
    npz = ctx.path("placement.npz")
    np.savez_compressed(npz, **fp)
    return {"verilog": verilog, "placement": npz, "def": write_placement_def(ctx, design, fp, stem=stem)}
