"""Level-shifter cells on the nets that cross FINE-VH islands, and their pre-placement.

Why real cells: islands hop between VDDH and VDDL independently, so every island-to-island
net can see a low-to-high transition at run time and needs a shifter at the receiving island.
Where the platform's library has one (Sky130 `lpflow_lsbuf_lh_hl_isowell_tap_1`, both
directions), one instance per (net, receiving island) is inserted into the netlist: the net keeps
its driver and the pins outside the island, the shifter takes the original net on its data pin
and drives a new net to the island's sinks. Sign-off then times and powers the shifter from its
Liberty at the island's rail instead of the delay model. Nets driven by top-level ports (the
always-on VDDH domain) feed islands without a shifter: high-to-low needs none, and the clock
enters islands unshifted, as the CTS of each island expects.

Placement: shifters sit at the island edge that faces their drivers' island (columns of cells
on row pairs for double-height cells, site-aligned, clear of tap cells), fixed before global
placement like OpenROAD places boundary cells; the placer treats them as blockages and pins.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from flow.engines.model import FlatDesign
from flow.errors import ConfigError

Rect = tuple[float, float, float, float]


def driver_mask(design: FlatDesign, lib: dict) -> np.ndarray:
    """Per pin: is it an output (or inout) of its cell, by the Liberty direction."""
    out = np.zeros(len(design.pin_name), dtype=bool)
    seen: dict[tuple[str, str], bool] = {}
    for p, (i, pin) in enumerate(zip(design.pin_inst.tolist(), design.pin_name, strict=True)):
        key = (design.inst_cell[i], pin)
        got = seen.get(key)
        if got is None:
            d = lib["cells"].get(key[0], {}).get("pins", {}).get(pin, {}).get("direction")
            got = seen[key] = d in ("output", "inout")
        out[p] = got
    return out


def crossings(design: FlatDesign, island: np.ndarray, is_driver: np.ndarray,
              needs: Callable[[int, int], bool] | None = None) -> list[tuple[int, int, list[int]]]:
    """(net, driver island, receiving islands other than the driver's) for every net driven by a
    cell whose loads sit in other islands; `needs(driver island, receiving island)` keeps only the
    pairs that can see a low-to-high step (default: every pair)."""
    out = []
    net = design.pin_net
    ok = net >= 0
    order = np.argsort(net[ok], kind="stable")
    pins = np.flatnonzero(ok)[order]
    nets = net[pins]
    for group in np.split(pins, np.flatnonzero(np.diff(nets)) + 1):
        drv = group[is_driver[group]]
        if drv.size != 1:
            continue
        d_isl = int(island[design.pin_inst[drv[0]]])
        recv = sorted({int(island[design.pin_inst[p]]) for p in group if not is_driver[p]} - {d_isl})
        if needs is not None:
            recv = [r for r in recv if needs(d_isl, r)]
        if recv:
            out.append((int(net[group[0]]), d_isl, recv))
    return out


@dataclass
class Insertion:
    design: FlatDesign
    names: list[str]  # new instances
    island: list[int]  # receiving island of each
    driver_island: list[int]
    net: list[str]  # the crossing net each one shifts


def insert_level_shifters(design: FlatDesign, island: np.ndarray, is_driver: np.ndarray, cell: str, in_pin: str,
                          out_pin: str, needs: Callable[[int, int], bool] | None = None) -> Insertion:
    """The netlist with one `cell` per (crossing net, receiving island), sinks moved behind it."""
    cross = crossings(design, island, is_driver, needs)
    taken = set(design.inst_names)
    net_taken = set(design.net_names)
    pin_net = design.pin_net.copy()
    net_names = list(design.net_names)
    new_inst, new_island, new_drv, new_netname = [], [], [], []
    extra_net = []  # (in net, out net) per shifter
    sinks_by_net: dict[int, list[int]] = {}
    want = {n for n, _, _ in cross}
    for p in np.flatnonzero(~is_driver & (design.pin_net >= 0)).tolist():
        n = int(design.pin_net[p])
        if n in want:
            sinks_by_net.setdefault(n, []).append(p)
    for n, d_isl, recv in cross:
        base = net_names[n]
        for r in recv:
            name = f"finevh_ls_isl{r}_{len(new_inst)}"
            while name in taken:
                name += "_"
            taken.add(name)
            out_net = f"{base}_ls_isl{r}"
            while out_net in net_taken:
                out_net += "_"
            net_taken.add(out_net)
            net_names.append(out_net)
            m = len(net_names) - 1
            for p in sinks_by_net[n]:
                if island[design.pin_inst[p]] == r:
                    pin_net[p] = m
            new_inst.append(name)
            new_island.append(r)
            new_drv.append(d_isl)
            new_netname.append(base)
            extra_net.append((n, m))
    k = len(new_inst)
    n_inst = len(design.inst_names)
    n_pins = len(design.pin_name)
    starts = np.concatenate([design.inst_pin_start, design.inst_pin_start[-1] + 2 * np.arange(1, k + 1)])
    pin_inst = np.concatenate([design.pin_inst, np.repeat(np.arange(n_inst, n_inst + k), 2)])
    add_nets = np.array([x for pair in extra_net for x in pair], dtype=np.int64)
    out = FlatDesign(list(design.inst_names) + new_inst, list(design.inst_cell) + [cell] * k, starts.astype(np.int64),
                     pin_inst.astype(np.int64), list(design.pin_name) + [in_pin, out_pin] * k,
                     np.concatenate([pin_net, add_nets]) if k else pin_net, net_names, list(design.port_names),
                     list(design.port_dir), design.port_net.copy())
    assert len(out.pin_name) == n_pins + 2 * k
    return Insertion(out, new_inst, new_island, new_drv, new_netname)


def edge_slots(rect: Rect, facing_left: bool, w: float, h: float, row_h: float, site_w: float, row0: float,
               blockages: list[Rect], count: int) -> list[tuple[float, float]]:
    """`count` lower-left positions for w×h cells in `rect`, nearest first to the edge it faces
    (left when `facing_left`); heights of several rows start on rows of the same parity from
    `row0` (so the power rails of a double-height cell line up); none overlaps a blockage or
    another slot. Each row (pair) is packed from that edge, jumping past blockages (tap cells), so a
    narrow island whose tap columns fall mid-row still takes shifters beside them."""
    x0, y0, x1, y1 = rect
    rows_per = max(1, int(round(h / row_h)))
    first = math.ceil((y0 - row0) / row_h - 1e-9)
    if rows_per > 1 and first % rows_per:
        first += rows_per - first % rows_per
    wsites = max(1, int(math.ceil(w / site_w - 1e-9)))
    ncols = int(math.floor((x1 - x0) / site_w + 1e-9))
    slots: list[tuple[int, float, float]] = []  # (sites from the edge, x, y)
    r = first
    while row0 + (r + rows_per) * row_h <= y1 + 1e-12:
        y = row0 + r * row_h
        r += rows_per
        # blocked site spans in this row band, in sites from the facing edge
        spans = []
        for bx0, by0, bx1, by1 in blockages:
            if y < by1 - 1e-12 and by0 < y + h - 1e-12 and bx0 < x1 - 1e-12 and x0 < bx1 - 1e-12:
                a = math.floor((bx0 - x0) / site_w + 1e-9)
                b = math.ceil((bx1 - x0) / site_w - 1e-9)
                spans.append((a, b) if facing_left else (ncols - b, ncols - a))
        spans.sort()
        col = 0
        for a, b in spans + [(ncols, ncols)]:
            while col + wsites <= min(a, ncols):
                left = col if facing_left else ncols - col - wsites
                slots.append((col, x0 + left * site_w, y))
                col += wsites
            col = max(col, b)
    slots.sort(key=lambda s: (s[0], s[2]))
    if len(slots) < count:
        raise ConfigError(f"FINE-VH: room for {len(slots)} of {count} level shifters in island rect "
                          f"({x0 * 1e6:.1f}, {y0 * 1e6:.1f}, {x1 * 1e6:.1f}, {y1 * 1e6:.1f}) µm: lower CORE_UTILIZATION "
                          "or FINEVH_ISLANDS")
    return [(x, y) for _, x, y in slots[:count]]
