"""What a physical-design engineer opens first: the layout (from the DEF), the congestion and
IR-drop maps, the clock tree, the worst paths with a link to the full report, the DRV counts and
the check against ORFS limits. Each piece reads the run directory and returns HTML (or "" when
the run has nothing to show for it)."""

from __future__ import annotations

import functools
import html
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from flow.metrics import describe, display, format_number
from flow.report import figures

_PIN_SIZE_FRAC = 0.012  # I/O pin marker size as a fraction of the die's larger side


def stage_dirs(run_dir: Path, run_info: dict[str, Any]) -> dict[str, Path]:
    """stage id -> its folder, for the stages that finished."""
    return {s["id"]: run_dir / s["dir"] for s in run_info.get("stages", [])
            if s.get("status") == "done" and (run_dir / s["dir"]).is_dir()}


# ---- layout ------------------------------------------------------------------------------------
def _macro_sizes(platform: Any) -> dict[str, tuple[float, float]]:
    return _lef_sizes((platform.tech_lef, *platform.cell_lefs))


@functools.lru_cache(maxsize=4)
def _lef_sizes(paths: tuple[Path, ...]) -> dict[str, tuple[float, float]]:
    from flow.formats.lef import read_lef

    lef = read_lef(list(paths))
    return {name: (m.width, m.height) for name, m in lef.macros.items()}


def layout_figure(def_path: Path, platform: Any, islands: dict[str, str] | None = None,
                  placement: Path | None = None) -> str:
    """Cells (coloured by FINE-VH island, taps and clock/repair buffers apart), island fences and
    I/O pins from a DEF, in µm. Pin names are drawn only where they do not overlap."""
    drawn = layout_axes(def_path, platform, islands, placement)
    if drawn is None:
        return ""
    fig, caption = drawn
    return _captioned(figures.to_img(fig, "layout"), caption)


_INSERTED = re.compile(r"(cts|clkbuf|rsz|repair|hold)", re.I)  # names of clock/repair buffers


@dataclass
class _Placed:
    """What the layout draws, from a DEF or from the placement view written with it."""

    die: tuple[float, float, float, float] | None
    cells: list[tuple[str, str, float, float, float, float]]  # name, macro, x, y, w, h (m)
    pins: list[tuple[str, float, float]]
    regions: list[tuple[str, list, list]]


def _placed_from_npz(placement: Path) -> _Placed | None:
    """The placement view's cells, taps and pins: the same positions as the stage's DEF without
    parsing it (~5 s at 100k cells); None when it has fence regions (their boxes are in the DEF)."""
    with np.load(placement) as fp:
        if "region" in fp.files and np.any(np.asarray(fp["region"]) >= 0):
            return None
        f = {k: fp[k] for k in ("inst_names", "cell", "x", "y", "w", "h", "die", "pin_names", "pin_x", "pin_y")}
        taps = [fp[k] for k in ("tap_cell", "tap_x", "tap_y", "tap_w", "tap_h")] if "tap_cell" in fp.files else []
    fixed = [(str(n), str(c), float(x), float(y), float(w), float(h)) for n, c, x, y, w, h in
             zip(f["inst_names"].tolist(), f["cell"].tolist(), f["x"].tolist(), f["y"].tolist(), f["w"].tolist(),
                 f["h"].tolist(), strict=True)]
    if taps:
        fixed += [(f"TAP_{k}", str(c), float(x), float(y), float(w), float(h))
                  for k, (c, x, y, w, h) in enumerate(zip(*(t.tolist() for t in taps), strict=True))]
    pins = [(str(n), float(x), float(y)) for n, x, y in zip(f["pin_names"].tolist(), f["pin_x"].tolist(),
                                                            f["pin_y"].tolist(), strict=True)]
    return _Placed(tuple(float(v) for v in f["die"]), fixed, pins, [])


def _placed_from_def(def_path: Path, platform: Any) -> _Placed:
    from flow.formats.deflib import read_def

    d = read_def(def_path)
    sizes = _macro_sizes(platform)
    cells = [(c.name, c.macro, c.x, c.y, *sizes.get(c.macro, (0.0, 0.0))) for c in d.components
             if c.x is not None and c.y is not None]
    pins = [(p.name, p.x, p.y) for p in d.pins if p.x is not None and p.y is not None]
    return _Placed(d.die, cells, pins, list(d.regions))


def layout_axes(def_path: Path, platform: Any, islands: dict[str, str] | None = None,
                placement: Path | None = None) -> tuple[Any, str] | None:
    """The layout figure (open) and its caption; None for a DEF without a die area. `placement`:
    the placement view the same stage wrote with the DEF, read instead of it when it can be."""
    from matplotlib.collections import PolyCollection
    from matplotlib.patches import Rectangle

    d = _placed_from_npz(placement) if placement is not None else None
    if d is None:
        d = _placed_from_def(def_path, platform)
    if d.die is None:
        return None
    x0, y0, x1, y1 = (v * 1e6 for v in d.die)
    fig, ax = figures.plt.subplots(figsize=(7.0, 7.0 * (y1 - y0) / max(x1 - x0, 1e-9) + 0.6))
    island_keys = sorted(set(islands.values())) if islands else []
    cmap = figures.plt.get_cmap("tab20")
    tap = str(platform.cells.get("tapcell", ""))
    # colours per cell, a whole class at a time: taps, then island members, then inserted
    # buffers (by name), then the rest
    names = [c[0] for c in d.cells]
    boxes_um = np.array([c[2:6] for c in d.cells], dtype=float).reshape(-1, 4) * 1e6
    is_tap = np.array([c[1] == tap for c in d.cells], dtype=bool)
    colors = np.tile(np.array([0.45, 0.6, 0.8, 1.0]), (len(names), 1))
    in_island = np.zeros(len(names), dtype=bool)
    if islands:
        slot = {k: cmap(j % 20) for j, k in enumerate(island_keys)}
        for i, name in enumerate(names):
            if not is_tap[i] and name in islands:
                in_island[i] = True
                colors[i] = slot[islands[name]]
    rest = ~is_tap & ~in_island
    buffer = rest & np.array([bool(_INSERTED.search(nm)) for nm in names], dtype=bool)
    colors[is_tap] = (0.35, 0.35, 0.35, 1.0)
    colors[buffer] = (0.85, 0.33, 0.1, 1.0)
    kinds = {"cell": int(np.sum(~is_tap & ~buffer)), "tap": int(np.sum(is_tap)), "buffer": int(np.sum(buffer))}
    # one polygon collection (a Rectangle artist per cell cost ~1 min at 100k cells), an image above
    # figures.RASTER_CELLS; cell edges only where they can be seen
    figures.draw_cells(ax, boxes_um, colors, (x0, y0, x1, y1), edges=True)
    for name, boxes, _ in d.regions:
        for bx in boxes:
            ax.add_patch(Rectangle((bx[0] * 1e6, bx[1] * 1e6), (bx[2] - bx[0]) * 1e6, (bx[3] - bx[1]) * 1e6,
                                   fill=False, lw=1.0, ec="#c62828", ls="--"))
        if boxes:
            ax.text(boxes[0][0] * 1e6, boxes[0][3] * 1e6, f" {name}", fontsize=7, color="#c62828", va="top")
    ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, lw=1.2, ec="black"))
    # I/O pins: triangles pointing into the die, labels only where they fit
    s = _PIN_SIZE_FRAC * max(x1 - x0, y1 - y0)
    placed: list[tuple[float, float]] = []
    triangles: list[list[tuple[float, float]]] = []
    min_gap = 0.035 * max(x1 - x0, y1 - y0)
    for pin_name, pin_x, pin_y in d.pins:
        px, py = pin_x * 1e6, pin_y * 1e6
        side = min((abs(px - x0), "W"), (abs(x1 - px), "E"), (abs(py - y0), "S"), (abs(y1 - py), "N"))[1]
        tri = {"W": [(px, py - s / 2), (px, py + s / 2), (px + s, py)], "E": [(px, py - s / 2), (px, py + s / 2), (px - s, py)],
               "S": [(px - s / 2, py), (px + s / 2, py), (px, py + s)], "N": [(px - s / 2, py), (px + s / 2, py), (px, py - s)]}[side]
        triangles.append(tri)
        if all(abs(px - qx) + abs(py - qy) > min_gap for qx, qy in placed):
            placed.append((px, py))
            kw = {"W": dict(ha="right", va="center"), "E": dict(ha="left", va="center"),
                  "S": dict(ha="center", va="top", rotation=90), "N": dict(ha="center", va="bottom", rotation=90)}[side]
            off = {"W": (-s * 0.4, 0), "E": (s * 0.4, 0), "S": (0, -s * 0.4), "N": (0, s * 0.4)}[side]
            ax.text(px + off[0], py + off[1], pin_name, fontsize=5.5, color="#4a148c", clip_on=True, **kw)
    ax.add_collection(PolyCollection(triangles, facecolors="#6a1b9a", edgecolors="none"))  # one artist
    margin = 0.16 * max(x1 - x0, y1 - y0)  # room for the pin names outside the die
    ax.set_xlim(x0 - margin, x1 + margin)
    ax.set_ylim(y0 - margin, y1 + margin)
    ax.set_aspect("equal")
    ax.set_xlabel("x (µm)")
    ax.set_ylabel("y (µm)")
    caption = (f"Layout ({def_path.name}): {kinds['cell']} cells, {kinds['tap']} taps"
               + (f", {kinds['buffer']} inserted buffers" if kinds["buffer"] else "")
               + (f", {len(island_keys)} islands" if island_keys else "")
               + f", {len(d.pins)} I/O pins ({len(placed)} labelled)")
    return fig, caption


def _captioned(img: str, caption: str) -> str:
    """A figure with its caption as HTML text (searchable, and checked by the tests)."""
    return f"{img}<p class='cap'>{html.escape(caption)}</p>"


# ---- maps --------------------------------------------------------------------------------------
def congestion_figure(cong: np.ndarray, die: tuple[float, float, float, float]) -> str:
    """Routing demand / supply per bin (estimate), 1.0 = full."""
    x0, y0, x1, y1 = (v * 1e6 for v in die)
    fig, ax = figures.plt.subplots(figsize=(6.2, 5.2))
    im = ax.imshow(np.asarray(cong).T, origin="lower", extent=(x0, x1, y0, y1), cmap="RdYlGn_r",
                   vmin=0.0, vmax=max(1.0, float(np.max(cong))), aspect="equal")
    figures.colorbar(fig, im, ax, "demand / supply")
    ax.set_xlabel("x (µm)")
    ax.set_ylabel("y (µm)")
    over = int(np.sum(np.asarray(cong) > 1.0))
    caption = f"Routing congestion (estimate): max {format_number(float(np.max(cong)))}, {over} bins over 1"
    return _captioned(figures.to_img(fig, "congestion map"), caption)


def ir_drop_figure(npz: Any, islands: dict[str, str], drops_v: dict[str, float]) -> str:
    """Each cell coloured by the static IR drop of its island's header switches (mV, estimate)."""
    from matplotlib.collections import PolyCollection

    names = [str(n) for n in npz["inst_names"]]
    x, y, w, h = (np.asarray(npz[k], dtype=float) * 1e6 for k in ("x", "y", "w", "h"))
    vals = np.array([drops_v.get(islands.get(n, ""), np.nan) * 1e3 for n in names])
    die = np.asarray(npz["die"], dtype=float) * 1e6
    fig, ax = figures.plt.subplots(figsize=(6.2, 5.2))
    ok = np.isfinite(vals)
    verts = np.stack([np.column_stack([x, y]), np.column_stack([x + w, y]), np.column_stack([x + w, y + h]),
                      np.column_stack([x, y + h])], axis=1)
    ax.add_collection(PolyCollection(verts[~ok], facecolors="#cfd8dc", edgecolors="none"))
    pc = PolyCollection(verts[ok], array=vals[ok], cmap="plasma", edgecolors="none")
    ax.add_collection(pc)
    figures.colorbar(fig, pc, ax, "IR drop (mV)")
    ax.set_xlim(die[0], die[2])
    ax.set_ylim(die[1], die[3])
    ax.set_aspect("equal")
    ax.set_xlabel("x (µm)")
    ax.set_ylabel("y (µm)")
    caption = f"Static IR drop per island (estimate): worst {format_number(float(np.nanmax(vals)))} mV"
    return _captioned(figures.to_img(fig, "IR-drop map"), caption)


# ---- clock tree --------------------------------------------------------------------------------
def connectivity_from_netlist(verilog: Path, placement: Path) -> tuple[dict, dict, dict]:
    """(nets: name -> [(inst | "PIN", pin)], macro of each instance, centre (µm) of each
    instance and I/O pin) from a stage's netlist and placement."""
    from flow.formats.verilog import read_verilog

    d = read_verilog([verilog])
    nets: dict[str, list[tuple[str, str]]] = {}
    for p in range(len(d.pin_name)):
        nets.setdefault(d.net_names[d.pin_net[p]], []).append((d.inst_names[d.pin_inst[p]], d.pin_name[p]))
    for k, port in enumerate(d.port_names):
        nets.setdefault(d.net_names[d.port_net[k]], []).append(("PIN", port))
    macro = dict(zip(d.inst_names, d.inst_cell, strict=True))
    return nets, macro, _positions(placement)


def _pin_roles(cells: dict[str, Any]) -> tuple[Any, Any]:
    """(is_sink, direction) of a (cell, pin): a register clock pin (Liberty `clocked_on` or
    `clock: true`), and the pin's Liberty direction (None when unknown)."""
    def pin_info(cell: str, pin: str) -> dict[str, Any]:
        return cells.get(cell, {}).get("pins", {}).get(pin, {})

    @functools.cache
    def is_sink(cell: str, pin: str) -> bool:
        ff = cells.get(cell, {}).get("ff") or {}
        clocked = re.findall(r"[A-Za-z_][A-Za-z0-9_]*", str(ff.get("clocked_on") or ""))
        return pin in clocked or bool(pin_info(cell, pin).get("is_clock"))

    @functools.cache
    def direction(cell: str, pin: str) -> str | None:
        return pin_info(cell, pin).get("direction")

    return is_sink, direction


def clock_tree(nets: dict[str, list[tuple[str, str]]], macro: dict[str, str], liberty: dict[str, Any]) -> dict[str, Any] | None:
    """The clock nets: those reaching a register clock pin, and upstream through the buffers
    and inverters that drive them; each net's driver and level (0 at the root).
    (`clock_tree_of_netlist` finds the same tree from a netlist file without these dicts.)"""
    cells = liberty.get("cells", {})
    sink_of, direction_of = _pin_roles(cells)

    def is_sink(inst: str, pin: str) -> bool:
        return sink_of(macro.get(inst, ""), pin)

    def direction(inst: str, pin: str) -> str | None:
        return direction_of(macro.get(inst, ""), pin)

    driver_of: dict[str, tuple[str, str]] = {}
    for name, conns in nets.items():
        for inst, pin in conns:
            if (inst == "PIN" and len(conns) > 1) or direction(inst, pin) == "output":
                driver_of[name] = (inst, pin)
                break
    by_inst_inputs: dict[str, list[str]] = {}
    for name, conns in nets.items():
        for inst, pin in conns:
            if inst != "PIN" and direction(inst, pin) == "input":
                by_inst_inputs.setdefault(inst, []).append(name)
    clock_nets = {n for n, conns in nets.items() if any(i != "PIN" and is_sink(i, p) for i, p in conns)}
    return _clock_closure(clock_nets, nets.__getitem__, driver_of.get, lambda i: by_inst_inputs.get(i, []),
                          lambda i: bool(cells.get(macro.get(i, ""), {}).get("ff")), is_sink)


def _clock_closure(clock_nets: set[str], conns_of: Any, driver: Any, inputs: Any, is_ff: Any,
                   is_sink: Any) -> dict[str, Any] | None:
    """The clock tree from the nets with a register clock pin (`clock_nets`, extended in
    place): upstream through the drivers with at most two inputs (buffers, inverters, clock
    gates), then the driver and level of each net. conns_of(net) -> [(inst | "PIN", pin)],
    driver(net) -> (inst, pin) | None, inputs(inst) -> nets of its input pins, is_ff(inst)."""
    frontier = list(clock_nets)
    while frontier:
        inst = (driver(frontier.pop()) or ("", ""))[0]
        if inst in ("", "PIN") or is_ff(inst):
            continue
        ins = inputs(inst)
        if len(ins) <= 2:  # buffers, inverters, clock gates
            for n in ins:
                if n not in clock_nets:
                    clock_nets.add(n)
                    frontier.append(n)
    if not clock_nets:
        return None
    nets = {n: conns_of(n) for n in clock_nets}
    driver_of = {n: d for n in clock_nets if (d := driver(n)) is not None}
    drives = {}  # instance -> the clock nets it drives
    for n in clock_nets:
        drives.setdefault(driver_of.get(n, ("", ""))[0], []).append(n)
    loads = {i for n in clock_nets for i, _ in nets[n] if i != driver_of.get(n, ("", ""))[0]}
    roots = [n for n in clock_nets if driver_of.get(n, ("PIN", ""))[0] not in loads]
    level: dict[str, int] = {}
    queue = [(r, 0) for r in roots]
    while queue:
        net, lv = queue.pop(0)
        if net in level:
            continue
        level[net] = lv
        for inst, _ in nets[net]:
            if inst != driver_of.get(net, ("", ""))[0]:
                queue.extend((m, lv + 1) for m in drives.get(inst, []) if m not in level)
    sinks = sum(1 for n in clock_nets for i, p in nets[n] if i != "PIN" and is_sink(i, p))
    return {"nets": nets, "driver": driver_of, "level": level, "sinks": sinks}


def clock_tree_of_netlist(verilog: Path, placement: Path, liberty: dict[str, Any]) -> tuple[dict[str, Any] | None, dict]:
    """`clock_tree(*connectivity_from_netlist(verilog, placement)[:2], liberty)` and the centres
    (µm) of the tree's instances and I/O pins (and "__die__"), from the netlist's arrays: the
    pin roles per distinct (cell, pin), the drivers and clock pins per net by numpy, and Python
    only on the clock nets, where the dict version walked every pin of a 100k-cell netlist
    (3 s). `tree["driver"]` holds the clock nets' drivers only."""
    from flow.formats.verilog import read_verilog

    d = read_verilog([verilog])
    inst_names, net_names = list(d.inst_names), list(d.net_names)
    if "PIN" in inst_names or len(set(inst_names)) != len(inst_names) or len(set(net_names)) != len(net_names):
        nets, macro, pos = connectivity_from_netlist(verilog, placement)  # names the dicts conflate
        return clock_tree(nets, macro, liberty), pos
    cells = liberty.get("cells", {})
    sink_of, direction_of = _pin_roles(cells)
    n_pins = len(d.pin_name)
    pin_inst = np.asarray(d.pin_inst, dtype=np.int64)
    pin_net = np.asarray(d.pin_net, dtype=np.int64)
    port_net = np.asarray(d.port_net, dtype=np.int64)
    cell_names, cell_of_inst = np.unique(np.asarray(d.inst_cell, dtype=str), return_inverse=True)
    pin_names, pin_of = np.unique(np.asarray(d.pin_name, dtype=str), return_inverse=True)
    n_pn = max(len(pin_names), 1)
    pair, pair_of = np.unique(cell_of_inst[pin_inst] * n_pn + pin_of, return_inverse=True)
    keys = [(str(cell_names[q // n_pn]), str(pin_names[q % n_pn])) for q in pair.tolist()]
    sink = np.array([sink_of(*k) for k in keys], dtype=bool)[pair_of] if keys else np.zeros(0, dtype=bool)
    pdir = np.array([str(direction_of(*k)) for k in keys], dtype=object)[pair_of] if keys else np.zeros(0, dtype=object)
    is_in = pdir == "input"
    # nodes: pins, then ports; a net's connections are its nodes in node order
    node_net = np.concatenate([pin_net, port_net])
    n_nets = len(net_names)
    size = np.bincount(node_net, minlength=n_nets)
    cn = np.flatnonzero(np.concatenate([pdir == "output", size[port_net] > 1]))  # driver candidates
    first_net, first_at = np.unique(node_net[cn], return_index=True)
    drv_node = np.full(n_nets, -1, dtype=np.int64)
    drv_node[first_net] = cn[first_at]  # the first candidate of each net, in node order
    order = np.argsort(node_net, kind="stable")
    starts = np.searchsorted(node_net[order], np.arange(n_nets + 1))
    pin_name_list, port_names, inst_cell = list(d.pin_name), list(d.port_names), list(d.inst_cell)
    net_index = {nm: k for k, nm in enumerate(net_names)}
    inst_index = {nm: k for k, nm in enumerate(inst_names)}
    ipstart = np.asarray(d.inst_pin_start, dtype=np.int64)

    def conn(v: int) -> tuple[str, str]:
        return (inst_names[pin_inst[v]], pin_name_list[v]) if v < n_pins else ("PIN", port_names[v - n_pins])

    def conns_of(name: str) -> list[tuple[str, str]]:
        k = net_index[name]
        return [conn(v) for v in order[starts[k]:starts[k + 1]].tolist()]

    def driver(name: str) -> tuple[str, str] | None:
        v = int(drv_node[net_index[name]])
        return conn(v) if v >= 0 else None

    def inputs(inst: str) -> list[str]:
        i = inst_index[inst]
        return [net_names[k] for k, inp in zip(pin_net[ipstart[i]:ipstart[i + 1]].tolist(),
                                                is_in[ipstart[i]:ipstart[i + 1]].tolist(), strict=True) if inp]

    def is_ff(inst: str) -> bool:
        return bool(cells.get(inst_cell[inst_index[inst]], {}).get("ff"))

    def is_sink(inst: str, pin: str) -> bool:
        return sink_of(inst_cell[inst_index[inst]], pin)

    seed = {net_names[k] for k in np.unique(pin_net[sink]).tolist()}
    tree = _clock_closure(seed, conns_of, driver, inputs, is_ff, is_sink)
    used = {i for conns in (tree or {}).get("nets", {}).values() for i, _ in conns} - {"PIN"}
    return tree, _positions(placement, used)


def _positions(placement: Path, insts: set[str] | None = None) -> dict[str, Any]:
    """Centre (µm) of each instance (of `insts`, default all) and I/O pin ("PIN:<name>") of a
    placement view, and its die ("__die__")."""
    pos: dict[str, Any] = {}
    with np.load(placement) as fp:
        x, y, w, h = (np.asarray(fp[k], dtype=float) * 1e6 for k in ("x", "y", "w", "h"))
        names = fp["inst_names"].tolist()
        if insts is None:
            for i, n in enumerate(names):
                pos[str(n)] = (x[i] + w[i] / 2, y[i] + h[i] / 2)
        else:
            last = {str(n): i for i, n in enumerate(names)}  # the last of a name, as the loop above
            for n in sorted(insts & last.keys(), key=last.__getitem__):
                i = last[n]
                pos[n] = (x[i] + w[i] / 2, y[i] + h[i] / 2)
        if "pin_names" in fp.files:
            for k, port in enumerate(fp["pin_names"].tolist()):
                pos["PIN:" + str(port)] = (float(fp["pin_x"][k]) * 1e6, float(fp["pin_y"][k]) * 1e6)
        die = tuple(float(v) * 1e6 for v in fp["die"])
    pos["__die__"] = die
    return pos


def clock_tree_figure(tree: dict[str, Any], pos: dict[str, Any]) -> str:
    """Driver-to-load lines of every clock net (straight lines, not routed wires), by level."""
    from matplotlib.collections import LineCollection
    from matplotlib.patches import Rectangle

    def at(inst: str, pin: str) -> tuple[float, float] | None:
        return pos.get("PIN:" + pin) if inst == "PIN" else pos.get(inst)

    x0, y0, x1, y1 = pos["__die__"]
    fig, ax = figures.plt.subplots(figsize=(6.2, 6.2 * (y1 - y0) / max(x1 - x0, 1e-9) + 0.5))
    cmap = figures.plt.get_cmap("viridis")
    depth = max(tree["level"].values(), default=0)
    drivers = {tree["driver"][n] for n in tree["nets"] if n in tree["driver"]}
    driver_insts = {i for i, _ in drivers if i != "PIN"}
    # one LineCollection and one marker line per kind: an artist per wire cost minutes at 2,500 sinks
    segments, colors, sinks = [], [], []
    for net, conns in tree["nets"].items():
        drv = tree["driver"].get(net)
        a = at(*drv) if drv else None
        if a is None:
            continue
        color = cmap(tree["level"].get(net, 0) / max(depth, 1) * 0.85)
        for inst, pin in conns:
            b = at(inst, pin) if (inst, pin) != drv else None
            if b is not None:
                segments.append([a, b])
                colors.append(color)
                if inst not in driver_insts:
                    sinks.append(b)
    ax.add_collection(LineCollection(segments, colors=colors, linewidths=0.7, alpha=0.85))
    if sinks:
        ax.plot(*np.asarray(sinks, dtype=float).T, "o", ls="none", ms=2.2, color="#37474f")
    buffers = [c for c in (at(inst, "") for inst in driver_insts) if c is not None]
    if buffers:
        ax.plot(*np.asarray(buffers, dtype=float).T, "s", ls="none", ms=5, color="#d84315")
    for inst, pin in drivers:
        if inst == "PIN" and at(inst, pin) is not None:
            ax.plot(*at(inst, pin), "^", ms=7, color="#6a1b9a")
    ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, lw=1.2, ec="black"))
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.set_xlabel("x (µm)")
    ax.set_ylabel("y (µm)")
    caption = f"Clock tree: {tree['sinks']} sinks, {len(driver_insts)} buffers (squares), {depth + 1} level(s) of nets"
    return _captioned(figures.to_img(fig, "clock tree"), caption)


# ---- tables ------------------------------------------------------------------------------------
def _ns(v: Any) -> str:
    return "—" if not isinstance(v, int | float) else format_number(float(v) * 1e9)


def worst_paths_table(timing_json: Path, report_link: str | None, limit: int = 5) -> str:
    """The `limit` worst setup paths, then the `limit` worst hold paths, over every corner (ns):
    hold slacks are usually the smaller numbers, and a single sorted list would hide setup."""
    try:
        doc = json.loads(timing_json.read_text())
    except (OSError, ValueError):
        return ""
    rows = []
    for kind in ("setup", "hold"):
        found = [(float(p.get("slack", np.inf)), corner, kind, p) for corner, c in doc.get("corners", {}).items()
                 for p in c.get(f"{kind}_paths", []) or []]
        rows += sorted(found, key=lambda r: r[0])[:limit]
    if not rows:
        return ""
    body = "".join(
        f"<tr class='{'bad' if s < 0 else ''}'><td>{html.escape(k)}</td><td>{html.escape(corner)}</td>"
        f"<td><code>{html.escape(str(p.get('startpoint', '')))}</code></td>"
        f"<td><code>{html.escape(str(p.get('endpoint', '')))}</code></td>"
        f"<td>{html.escape(str(p.get('capture_clock') or ''))}</td>"
        f"<td class='num'>{_ns(p.get('arrival'))}</td><td class='num'>{_ns(p.get('required'))}</td>"
        f"<td class='num'><b>{_ns(s)}</b></td><td class='num'>{len(p.get('stages') or [])}</td></tr>"
        for s, corner, k, p in rows
    )
    link = (f"<p>Full paths in OpenSTA <code>report_checks</code> format: "
            f"<a href='{html.escape(report_link)}'>{html.escape(report_link)}</a></p>") if report_link else ""
    return ("<table><tr><th>check</th><th>corner</th><th>startpoint</th><th>endpoint</th><th>clock</th>"
            "<th>arrival (ns)</th><th>required (ns)</th><th>slack (ns)</th><th>stages</th></tr>"
            f"{body}</table>{link}")


def drv_table(metrics: dict[str, Any]) -> str:
    """Design-rule violations (max slew / cap / fanout) before and after repair and at sign-off,
    as ORFS names them; pass/fail is the sign-off count."""
    stages = (("before repair", "repair_design__before__timing__drv__"), ("after repair", "repair_design__timing__drv__"),
              ("sign-off", "finish__timing__drv__"))
    cols = [(label, prefix) for label, prefix in stages if any(k.startswith(prefix) for k in metrics)]
    if not cols:
        return ""
    rows = []
    for check, title in (("max_slew", "max slew"), ("max_cap", "max capacitance"), ("max_fanout", "max fanout")):
        vals = [metrics.get(prefix + check) for _, prefix in cols]
        if all(v is None for v in vals):
            continue
        final = metrics.get("finish__timing__drv__" + check)
        slack_key = f"finish__timing__drv__{check}_slack"
        slack = metrics.get(slack_key)
        slack_txt = "—" if slack is None else " ".join(display(slack_key, slack)).strip()
        verdict = "" if final is None else ("✔" if final == 0 else "✘")
        cells = "".join(f"<td class='num'>{'—' if v is None else format_number(v)}</td>" for v in vals)
        rows.append(f"<tr class='{'bad' if final else ''}'><td>{title}</td>{cells}"
                    f"<td class='num'>{html.escape(slack_txt)}</td><td>{verdict}</td></tr>")
    head = "".join(f"<th>{html.escape(label)}</th>" for label, _ in cols)
    return (f"<table><tr><th>check</th>{head}<th>worst slack</th><th></th></tr>{''.join(rows)}</table>"
            "<p class='muted'>Violating pins (slew) or drivers (capacitance, fanout), as OpenSTA "
            "report_check_types counts them; metrics <code>*__timing__drv__*</code>.</p>")


def rules_table(metrics: dict[str, Any], rules_path: Path, backend: str | None = None) -> str:
    """Each ORFS rule (`rules-base.json`) with this run's value and pass / fail / not computed
    (a metric `backend` has no engine for)."""
    from flow.metrics import check_rules, load_rules, rules_summary

    results = check_rules(metrics, load_rules(rules_path), backend)
    mark = {"pass": "✔ pass", "fail": "✘ fail", "not computed": "– not computed"}
    rows = "".join(
        f"<tr class='{ {'pass': '', 'fail': 'bad'}.get(r.verdict, 'muted') }'><td><code>{html.escape(r.field)}</code></td>"
        f"<td class='num'>{html.escape(_plain(r.value))}</td>"
        f"<td class='num'>{html.escape(r.compare)} {html.escape(str(r.limit))}</td>"
        f"<td>{html.escape(describe(r.field).unit if describe(r.field) else '')}</td>"
        f"<td>{mark[r.verdict]}{' (' + html.escape(r.note) + ')' if r.note and r.verdict == 'fail' else ''}"
        f"{html.escape(r.note[len('not computed'):]) if r.verdict == 'not computed' else ''}</td></tr>"
        for r in results)
    return (f"<p>{rules_summary(results)} for <code>{html.escape(rules_path.name)}</code>."
            " Values in the rule's units (ORFS: ns, W, µm, µm²).</p>"
            "<table><tr><th>metric</th><th>value</th><th>rule</th><th>unit</th><th>result</th></tr>"
            f"{rows}</table>")


def _plain(v: Any) -> str:
    if v is None:
        return "—"
    return format_number(v) if isinstance(v, int | float) and not isinstance(v, bool) else str(v)


def relative_link(target: Path, run_dir: Path) -> str:
    return os.path.relpath(target, run_dir)
