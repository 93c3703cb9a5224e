"""Glue between the netlist, the LEF and the placement engine: cell sizes, pins, problems."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flow.engines.model import FlatDesign
from flow.engines.place import PlaceProblem
from flow.engines.steiner import rsmt
from flow.errors import FormatError
from flow.formats.lef import Lef
from flow.formats.spef import SpefNet


@dataclass
class Geometry:
    design: FlatDesign
    w: np.ndarray
    h: np.ndarray


def cell_sizes(design: FlatDesign, lef: Lef, verilog: Path) -> Geometry:
    """Width/height (m) of every instance from its LEF macro."""
    sizes = {}
    for cell in set(design.inst_cell):
        macro = lef.macros.get(cell)
        if macro is None or macro.width <= 0:
            raise FormatError(verilog, None, f"cell {cell} has no LEF macro with a SIZE in the platform LEFs")
        sizes[cell] = (macro.width, macro.height)
    w = np.array([sizes[c][0] for c in design.inst_cell])
    h = np.array([sizes[c][1] for c in design.inst_cell])
    return Geometry(design, w, h)


def io_positions(ports: list[str], die: tuple[float, float, float, float], grid: float) -> tuple[np.ndarray, np.ndarray]:
    """Ports spread evenly around the die boundary (counter-clockwise from the lower-left),
    snapped to `grid` (a routing pitch), as `place_pins` does without constraints."""
    x0, y0, x1, y1 = die
    w, h = x1 - x0, y1 - y0
    per = 2 * (w + h)
    n = max(len(ports), 1)
    t = (np.arange(len(ports)) + 0.5) / n * per
    x = np.empty(len(ports))
    y = np.empty(len(ports))
    for i, s in enumerate(t):
        if s < w:
            x[i], y[i] = x0 + s, y0
        elif s < w + h:
            x[i], y[i] = x1, y0 + (s - w)
        elif s < 2 * w + h:
            x[i], y[i] = x1 - (s - w - h), y1
        else:
            x[i], y[i] = x0, y1 - (s - 2 * w - h)
    if grid > 0:
        x = np.clip(x0 + np.round((x - x0) / grid) * grid, x0, x1)
        y = np.clip(y0 + np.round((y - y0) / grid) * grid, y0, y1)
    return x, y


def build_problem(geo: Geometry, port_x: np.ndarray, port_y: np.ndarray, core: tuple[float, float, float, float],
                  row_height: float, site_width: float, region: np.ndarray | None = None,
                  region_rects: list | None = None, fixed: np.ndarray | None = None,
                  fixed_x: np.ndarray | None = None, fixed_y: np.ndarray | None = None) -> PlaceProblem:
    """Nets as pin lists over movable cells and fixed ports (constant nets are not placed).

    Instances flagged in `fixed` (pre-placed at lower-left `fixed_x/fixed_y`, e.g. FINE-VH level
    shifters at island edges) are not cells of the problem: their pins become fixed pins at the
    instance centre, and the problem's cells are the movable instances in order
    (`np.flatnonzero(~fixed)`)."""
    d = geo.design
    n_ports = len(d.port_names)
    n_inst = len(d.inst_names)
    fx = np.zeros(n_inst, dtype=bool) if fixed is None else np.asarray(fixed, dtype=bool)
    cell_of = np.full(n_inst, -1, dtype=np.int64)
    cell_of[~fx] = np.arange(int((~fx).sum()))
    fixed_ids = np.flatnonzero(fx)
    fixed_pin_of = np.full(n_inst, 0, dtype=np.int64)
    fixed_pin_of[fixed_ids] = n_ports + np.arange(fixed_ids.size)
    net = np.concatenate([d.pin_net, d.port_net]).astype(np.int64)
    pi = d.pin_inst.astype(np.int64)
    who_pins = np.where(fx[pi], -(fixed_pin_of[pi] + 1), cell_of[pi])
    who = np.concatenate([who_pins, -(np.arange(n_ports, dtype=np.int64) + 1)])
    if fixed_ids.size:
        port_x = np.concatenate([port_x, np.asarray(fixed_x)[fixed_ids] + geo.w[fixed_ids] / 2])
        port_y = np.concatenate([port_y, np.asarray(fixed_y)[fixed_ids] + geo.h[fixed_ids] / 2])
    ok = net >= 0
    net, who = net[ok], who[ok]
    order = np.argsort(net, kind="stable")
    net, who = net[order], who[order]
    counts = np.bincount(net, minlength=len(d.net_names))
    # ignore huge nets (clock, reset fan-out) in the wire model, as placers do for clocks
    big = counts > max(64, int(0.05 * max(len(d.inst_names), 1)))
    keep = ~big[net]
    net, who = net[keep], who[keep]
    counts = np.bincount(net, minlength=len(d.net_names))
    ptr = np.concatenate([[0], np.cumsum(counts)])
    mov = ~fx
    if region is not None and np.asarray(region).size:
        region = np.asarray(region)[mov]
    return PlaceProblem(geo.w[mov], geo.h[mov], ptr, who, port_x, port_y, core, row_height, site_width,
                        region if region is not None else np.zeros(0, dtype=np.int64), region_rects or [])


def steiner_net(name: str, xs: np.ndarray, ys: np.ndarray, pins: list[str], layer, internal: str = ":") -> tuple[SpefNet, float]:
    """RC tree of one net (two or more pins) from its rectilinear Steiner tree: each edge a
    resistor, its capacitance split over its ends; Steiner points are nodes `net<internal>k`.
    Returns the net and its length (m)."""
    L, nx, ny, edges = rsmt(xs, ys)
    names = list(pins) + [f"{name}{internal}{k}" for k in range(1, nx.size - len(pins) + 1)]
    caps = {nm: 0.0 for nm in names}
    res = []
    for a, b in edges:
        seg = abs(nx[a] - nx[b]) + abs(ny[a] - ny[b])
        caps[names[a]] += layer.c_per_m * seg / 2
        caps[names[b]] += layer.c_per_m * seg / 2
        res.append((names[a], names[b], max(layer.r_per_m * seg, 1e-3)))
    return SpefNet(name, layer.c_per_m * L, [(p, "B") for p in pins], caps, res), L


def net_groups(n_nets: int, pnet: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(order, bounds): the pins of net n are order[bounds[n]:bounds[n + 1]]."""
    order = np.argsort(pnet, kind="stable")
    return order, np.searchsorted(pnet[order], np.arange(n_nets + 1))


def steiner_nets(net_names, px: np.ndarray, py: np.ndarray, pnet: np.ndarray, pname: list[str], layer,
                 internal: str = ":") -> tuple[list[SpefNet], list, list]:
    """`steiner_net` for every net with two or more pins; also each one's pin bounding box and length."""
    order, bounds = net_groups(len(net_names), pnet)
    nets: list[SpefNet] = []
    boxes, lengths = [], []
    for n, name in enumerate(net_names):
        idx = order[bounds[n]:bounds[n + 1]]
        if idx.size < 2:
            continue
        net, L = steiner_net(name, px[idx], py[idx], [pname[i] for i in idx], layer, internal)
        boxes.append((px[idx].min(), py[idx].min(), px[idx].max(), py[idx].max()))
        lengths.append(L)
        nets.append(net)
    return nets, boxes, lengths
