"""Floorplan stage: core and die from utilisation (or explicit areas), rows, I/O pins."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from flow.engines.physical import cell_sizes, io_positions
from flow.engines.sta import load_design
from flow.errors import ConfigError, FormatError
from flow.formats.deflib import read_def, write_def
from flow.formats.lef import read_lef
from flow.stage import Stage, StageContext, StageResult, Variable
from flow.state import State


def platform_lef(ctx: StageContext):
    plat = ctx.platform
    files = [plat.tech_lef, *plat.cell_lefs]
    lef = ctx.cached(("lef", tuple(map(str, files))), lambda: read_lef(files))
    if plat.site.name not in lef.sites:
        raise FormatError(plat.tech_lef, None, f"site {plat.site.name} (the platform's) is not defined in the LEF")
    return lef


def load_netlist(ctx: StageContext, state: State):
    path = state["verilog"]
    return ctx.cached(("design", str(path), path.stat().st_mtime_ns),
                      lambda: load_design([path], ctx.config["DESIGN_NAME"]))


class FloorplanStage(Stage):
    id = "floorplan"
    name = "Floorplan"
    inputs = ("verilog",)
    outputs = ("def", "placement")
    config_vars = (
        Variable("FLOORPLAN_TAPCELLS", bool, "Insert the platform's well-tap cells (fixed, checkerboard at "
                 "its tap distance), as OpenROAD `tapcell` does.", True, source="floorplan"),
        Variable("CORE_UTILIZATION", float, "Cell area / core area.", 40.0, unit="%", source="floorplan"),
        Variable("CORE_ASPECT_RATIO", float, "Core height / width.", 1.0, source="floorplan"),
        Variable("CORE_MARGIN", float, "Space between core and die edge.", 2.0, unit="µm", source="floorplan"),
        Variable("DIE_AREA", list[float] | None, "Die x0 y0 x1 y1 (overrides utilisation).", None, unit="µm",
                 source="floorplan"),
        Variable("CORE_AREA", list[float] | None, "Core x0 y0 x1 y1 (with DIE_AREA).", None, unit="µm",
                 source="floorplan"),
        Variable("FLOORPLAN_DEF", Path | None, "Floorplan DEF (as in ORFS): its DIEAREA and the extent of its ROWs "
                 "give the die and core (components and pins in it are not imported).", None, source="floorplan"),
    )

    def run(self, state: State, ctx: StageContext) -> StageResult:
        cfg = ctx.config
        plat = ctx.platform
        lef = platform_lef(ctx)
        design = load_netlist(ctx, state)
        geo = cell_sizes(design, lef, state["verilog"])
        cell_area = float(np.sum(geo.w * geo.h))
        sw, rh = plat.site.width, plat.site.height
        if cfg["FLOORPLAN_DEF"] is not None and (cfg["DIE_AREA"] is not None or cfg["CORE_AREA"] is not None):
            raise ConfigError("FLOORPLAN_DEF and DIE_AREA/CORE_AREA both give the floorplan: set one of them")
        if cfg["FLOORPLAN_DEF"] is not None or cfg["DIE_AREA"] is not None or cfg["CORE_AREA"] is not None:
            if cfg["FLOORPLAN_DEF"] is not None:
                die, c = def_die_core(Path(cfg["FLOORPLAN_DEF"]), sw, rh)
            else:
                if cfg["DIE_AREA"] is None or cfg["CORE_AREA"] is None or len(cfg["DIE_AREA"]) != 4 \
                        or len(cfg["CORE_AREA"]) != 4:
                    raise ConfigError("DIE_AREA and CORE_AREA must both be given as 4 numbers (µm)")
                die = tuple(v * 1e-6 for v in cfg["DIE_AREA"])
                c = [v * 1e-6 for v in cfg["CORE_AREA"]]
            if c[0] < die[0] or c[1] < die[1] or c[2] > die[2] or c[3] > die[3] or c[2] <= c[0] or c[3] <= c[1]:
                if cfg["FLOORPLAN_DEF"] is not None:
                    raise FormatError(Path(cfg["FLOORPLAN_DEF"]), None, "its rows are not inside its DIEAREA")
                raise ConfigError(f"CORE_AREA {cfg['CORE_AREA']} is not inside DIE_AREA {cfg['DIE_AREA']}")
            x0 = die[0] + math.ceil((c[0] - die[0]) / sw - 1e-9) * sw
            y0 = die[1] + math.ceil((c[1] - die[1]) / rh - 1e-9) * rh
            ncols = int((c[2] - x0) / sw + 1e-9)
            nrows = int((c[3] - y0) / rh + 1e-9)
        else:
            util = cfg["CORE_UTILIZATION"] / 100.0
            if not 0 < util <= 1:
                raise ConfigError(f"CORE_UTILIZATION = {cfg['CORE_UTILIZATION']}: must be in (0, 100] %")
            if cfg["CORE_ASPECT_RATIO"] <= 0:
                raise ConfigError("CORE_ASPECT_RATIO must be positive")
            area = cell_area / util
            width = math.sqrt(area / cfg["CORE_ASPECT_RATIO"])
            nrows = max(1, math.ceil(width * cfg["CORE_ASPECT_RATIO"] / rh))
            ncols = max(1, math.ceil(area / (nrows * rh) / sw))
            widest = float(geo.w.max()) if geo.w.size else 0.0
            ncols = max(ncols, math.ceil(widest / sw))
            margin = cfg["CORE_MARGIN"] * 1e-6
            if margin < 0:
                raise ConfigError("CORE_MARGIN must not be negative")
            x0 = math.ceil(margin / sw) * sw
            y0 = math.ceil(margin / rh) * rh
            die = (0.0, 0.0, x0 * 2 + ncols * sw, y0 * 2 + nrows * rh)
        core = (x0, y0, x0 + ncols * sw, y0 + nrows * rh)
        if nrows < 1 or ncols < 1:
            raise ConfigError("the core holds no placement row")
        if geo.w.size and (geo.w.max() > core[2] - core[0] or geo.h.max() > core[3] - core[1]):
            big = design.inst_cell[int(np.argmax(geo.w))]
            raise ConfigError(f"cell/macro {big} is bigger than the core")
        if cell_area > (core[2] - core[0]) * (core[3] - core[1]) * (1 + 1e-9):
            raise ConfigError("cell area exceeds the core area (utilisation above 100 %)")
        taps = tap_positions(plat, lef, core, rh, sw) if cfg["FLOORPLAN_TAPCELLS"] else []
        px, py = io_positions(list(design.port_names), die, sw)
        rows = [(f"ROW_{r}", plat.site.name, core[0], core[1] + r * rh, ncols, sw) for r in range(nrows)]
        def_path = ctx.path(f"{cfg['DESIGN_NAME']}.floorplan.def")
        dirs = {"input": "INPUT", "output": "OUTPUT"}
        write_def(def_path, cfg["DESIGN_NAME"], lef.dbu_per_micron or 1000, die, rows,
                  list(zip(design.inst_names, design.inst_cell, strict=True)), None,
                  [(p, dirs.get(d, "INOUT"), x, y) for p, d, x, y in zip(design.port_names, design.port_dir, px, py, strict=True)],
                  fixed=[(f"TAP_{k}", t[0], t[1], t[2]) for k, t in enumerate(taps)])
        npz = ctx.path("floorplan.npz")
        cx = (core[0] + core[2]) / 2
        cy = (core[1] + core[3]) / 2
        np.savez_compressed(
            npz, inst_names=np.asarray(design.inst_names), cell=np.asarray(design.inst_cell),
            x=np.full(geo.w.size, cx) - geo.w / 2, y=np.full(geo.w.size, cy) - geo.h / 2, w=geo.w, h=geo.h,
            die=np.array(die), core=np.array(core), region=np.full(geo.w.size, -1),
            pin_names=np.asarray(design.port_names), pin_x=px, pin_y=py, placed=np.array(False),
            row_height=np.array(rh), site_width=np.array(sw),
            tap_cell=np.asarray([t[0] for t in taps], dtype=str), tap_x=np.array([t[1] for t in taps]),
            tap_y=np.array([t[2] for t in taps]), tap_w=np.array([t[3] for t in taps]),
            tap_h=np.array([t[4] for t in taps]),
        )
        core_area = (core[2] - core[0]) * (core[3] - core[1])
        return StageResult(
            views={"def": def_path, "placement": npz},
            metrics={
                "floorplan__design__core__area": round(core_area * 1e12, 4),
                "floorplan__design__die__area": round((die[2] - die[0]) * (die[3] - die[1]) * 1e12, 4),
                "floorplan__design__utilization": round(cell_area / core_area, 6),
                "floorplan__design__rows": nrows,
                "floorplan__design__tapcells": len(taps),
            },
        )


def def_die_core(path: Path, site_w: float, row_h: float) -> tuple[tuple[float, float, float, float], list[float]]:
    """Die (DIEAREA) and core (bounding box of the ROWs, each `DO nx BY ny STEP sx sy` of sites
    `site_w` x `row_h`) of a floorplan DEF, in metres."""
    fp = read_def(path)
    if fp.die is None:
        raise FormatError(path, None, "FLOORPLAN_DEF has no DIEAREA")
    if not fp.rows:
        raise FormatError(path, None, "FLOORPLAN_DEF has no ROW: the core cannot be derived")
    xs0, ys0, xs1, ys1 = [], [], [], []
    for _name, _site, x, y, _orient, nx, ny, sx, sy in fp.rows:
        xs0.append(x)
        ys0.append(y)
        xs1.append(x + (max(nx, 1) - 1) * sx + site_w)
        ys1.append(y + (max(ny, 1) - 1) * sy + row_h)
    return fp.die, [min(xs0), min(ys0), max(xs1), max(ys1)]


def tap_positions(plat, lef, core: tuple[float, float, float, float], rh: float,
                  sw: float) -> list[tuple[str, float, float, float, float]]:
    """Well taps where the platform asks for them: in every row, one every `tapcell_distance_um`
    (odd rows shifted by half, a checkerboard like OpenROAD `tapcell -distance`), on sites.
    Returns (macro, x, y, w, h) per tap (m)."""
    cell = plat.cells.get("tapcell")
    dist = float(plat.cells.get("tapcell_distance_um") or 0.0) * 1e-6
    if not cell or dist <= 0:
        return []
    macro = lef.macros.get(cell)
    if macro is None:
        raise ConfigError(f"tap cell {cell} (platform {plat.name}) is not in the cell LEF")
    w = macro.width * 1e-6
    x0, y0, x1, y1 = core
    nrows = int(round((y1 - y0) / rh))
    step = max(1, int(round(dist / sw)))
    wsites = max(1, int(math.ceil(w / sw - 1e-9)))
    ncols = int(round((x1 - x0) / sw))
    out = []
    for r in range(nrows):
        first = 0 if r % 2 == 0 else step // 2
        for site in range(first, ncols - wsites + 1, step):
            out.append((cell, x0 + site * sw, y0 + r * rh, wsites * sw, rh))
    return out
