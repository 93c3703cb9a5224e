"""Electrical and timing repair of a placed netlist, as OpenROAD's `repair_design` / `repair_timing`.

* `repair_design`: nets that break a design rule — fanout above `max_fanout`, driver load above
  the pin's `max_capacitance`, a pin slew above its `max_transition` (Liberty pin value, else the
  library's `default_max_transition`), each tightened by the CAP/SLEW margins — get a buffer
  tree: loads are clustered by position (median bisection) into groups one buffer can drive, a
  buffer is put at each group's centroid, and the buffers are clustered again until the driver
  can drive what is left. A driver that only breaks the slew limit is upsized first.
* `repair_timing`: setup first (per violating path, the upsizing within its footprint family
  with the largest estimated gain, applied in batches; when sizing cannot improve, the loads of a
  critical driver that no violating path uses are moved behind a buffer at their centroid, or
  onto a clone of the driver — every move kept only when the worst and total negative slack
  improve), then hold (delay buffers chained in front of violating endpoints, as many as
  the endpoint's setup slack allows).

Timing comes from the embedded STA (`flow.engines.sta.analyze`) on the whole netlist after each
batch, with placement wire estimates (lumped net capacitance from a Steiner-length estimate);
that full re-timing is the "incremental STA" here, cheap at the sizes the tests use.
Dont-use cells are never chosen. Clock nets are left to CTS.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from flow.engines import sta
from flow.engines.model import FlatDesign, TableData, cell_model
from flow.engines.parasitics import Parasitics


# ---- editable netlist with positions ----------------------------------------------------------
class Netlist:
    """A flat netlist that can grow (buffers) and change cells (sizing), with a position per
    instance (lower-left corner, m) and per port; `design()` freezes it into a `FlatDesign`."""

    def __init__(self, design: FlatDesign, x: np.ndarray, y: np.ndarray, w: np.ndarray, h: np.ndarray,
                 fixed: np.ndarray, port_x: np.ndarray, port_y: np.ndarray) -> None:
        self.inst_names = list(design.inst_names)
        self.inst_cell = list(design.inst_cell)
        starts = np.asarray(design.inst_pin_start, dtype=np.int64)
        self.inst_pins: list[list[int]] = [list(range(int(a), int(b))) for a, b in zip(starts[:-1], starts[1:], strict=True)]
        self.pin_inst = [int(i) for i in design.pin_inst]
        self.pin_name = list(design.pin_name)
        self.pin_net = [int(n) for n in design.pin_net]
        self.net_names = list(design.net_names)
        self.port_names = list(design.port_names)
        self.port_dir = list(design.port_dir)
        self.port_net = [int(n) for n in design.port_net]
        self.x, self.y = [float(v) for v in x], [float(v) for v in y]
        self.w, self.h = [float(v) for v in w], [float(v) for v in h]
        self.fixed = [bool(v) for v in fixed]
        self.port_x, self.port_y = np.asarray(port_x, dtype=float), np.asarray(port_y, dtype=float)
        self.added: list[int] = []  # instances added by repair / CTS, in order
        self._names = set(self.inst_names) | set(self.net_names)
        self._serial = 0
        self._frozen: FlatDesign | None = None

    def _fresh(self, stem: str) -> str:
        while True:
            self._serial += 1
            name = f"{stem}_{self._serial}"
            if name not in self._names:
                self._names.add(name)
                return name

    def new_net(self, stem: str) -> int:
        self._frozen = None
        self.net_names.append(self._fresh(stem))
        return len(self.net_names) - 1

    def add_cell(self, cell: str, pins: Mapping[str, int], x: float, y: float, w: float, h: float,
                 stem: str) -> int:
        """A new instance of `cell` (pins -> nets) centred at (x, y); returns its index."""
        self._frozen = None
        k = len(self.inst_names)
        self.inst_names.append(self._fresh(stem))
        self.inst_cell.append(cell)
        ids = []
        for pin, net in pins.items():
            ids.append(len(self.pin_name))
            self.pin_inst.append(k)
            self.pin_name.append(pin)
            self.pin_net.append(int(net))
        self.inst_pins.append(ids)
        self.x.append(x - w / 2)
        self.y.append(y - h / 2)
        self.w.append(w)
        self.h.append(h)
        self.fixed.append(False)
        self.added.append(k)
        return k

    def mark(self) -> tuple[int, int, int]:
        """A point `rollback` returns to (instances, pins, nets so far)."""
        return len(self.inst_names), len(self.pin_name), len(self.net_names)

    def rollback(self, mark: tuple[int, int, int]) -> None:
        """Drop every instance, pin and net added after `mark` (callers restore pins they moved)."""
        n_inst, n_pins, n_nets = mark
        self._frozen = None
        for name in self.inst_names[n_inst:] + self.net_names[n_nets:]:
            self._names.discard(name)
        for lst in (self.inst_names, self.inst_cell, self.inst_pins, self.x, self.y, self.w, self.h, self.fixed):
            del lst[n_inst:]
        for lst in (self.pin_inst, self.pin_name, self.pin_net):
            del lst[n_pins:]
        del self.net_names[n_nets:]
        self.added = [k for k in self.added if k < n_inst]

    def pin_of(self, inst: int, pin: str) -> int:
        for p in self.inst_pins[inst]:
            if self.pin_name[p] == pin:
                return p
        raise KeyError(f"{self.inst_names[inst]} has no pin {pin}")

    def set_net(self, pin: int, net: int) -> None:
        self._frozen = None
        self.pin_net[pin] = int(net)

    def set_cell(self, inst: int, cell: str, w: float) -> None:
        """Resize in place (same pins): the cell keeps its centre."""
        self._frozen = None
        self.x[inst] += (self.w[inst] - w) / 2
        self.w[inst] = w
        self.inst_cell[inst] = cell

    def centre(self, inst: int) -> tuple[float, float]:
        return self.x[inst] + self.w[inst] / 2, self.y[inst] + self.h[inst] / 2

    def design(self) -> FlatDesign:
        if self._frozen is None:
            order = [p for pins in self.inst_pins for p in pins]  # pins grouped by instance (CSR)
            starts = np.concatenate([[0], np.cumsum([len(p) for p in self.inst_pins])]).astype(np.int64)
            pin_net = np.asarray(self.pin_net, dtype=np.int64)[order] if order else np.zeros(0, dtype=np.int64)
            pin_inst = np.asarray(self.pin_inst, dtype=np.int64)[order] if order else np.zeros(0, dtype=np.int64)
            self._frozen = FlatDesign(list(self.inst_names), list(self.inst_cell), starts, pin_inst,
                                      [self.pin_name[p] for p in order], pin_net, list(self.net_names),
                                      list(self.port_names), list(self.port_dir),
                                      np.asarray(self.port_net, dtype=np.int64))
            # edits index pins by creation order; keep that order (instances are append-only)
            self._pin_order = np.asarray(order, dtype=np.int64)
        return self._frozen

    def pin_positions(self) -> tuple[np.ndarray, np.ndarray]:
        """Centre of each pin's instance, in creation order of pins."""
        cx = np.asarray(self.x) + np.asarray(self.w) / 2
        cy = np.asarray(self.y) + np.asarray(self.h) / 2
        pi = np.asarray(self.pin_inst, dtype=np.int64)
        return cx[pi], cy[pi]


# ---- library view ------------------------------------------------------------------------------
@dataclass
class CellInfo:
    name: str
    area: float
    inputs: list[str]
    outputs: list[str]
    pin_cap: dict[str, float]
    max_cap: dict[str, float | None]
    max_slew: dict[str, float | None]
    family: tuple
    is_buffer: bool
    is_sequential: bool


class LibView:
    """What repair needs from one Liberty corner: pin directions, caps and limits, footprint
    families (same function and pins, other drive strengths), buffers, arc look-ups."""

    def __init__(self, lib: Mapping[str, Any], dont_use: Callable[[str], bool]) -> None:
        self.lib = lib
        self.default_max_slew: float | None = lib.get("default_max_transition")
        self.default_max_cap: float | None = lib.get("default_max_capacitance")
        self.default_max_fanout: float | None = lib.get("default_max_fanout")
        self.cells: dict[str, CellInfo] = {}
        self.families: dict[tuple, list[str]] = {}
        self._models: dict[str, Any] = {}
        for name, c in lib["cells"].items():
            pins = c["pins"]
            ins = sorted(p for p, d in pins.items() if d["direction"] == "input")
            outs = sorted(p for p, d in pins.items() if d["direction"] == "output")
            funcs = tuple((p, str(pins[p].get("function") or "")) for p in outs)
            ff = c.get("ff") or {}
            fam = (tuple(ins), funcs, str(ff.get("next_state")), str(ff.get("clocked_on")))
            is_buf = (len(ins) == 1 and len(outs) == 1 and funcs[0][1].strip().strip("()").strip() == ins[0]
                      and not c["is_sequential"])  # sky130 writes a buffer's function as "(A)"
            info = CellInfo(name, float(c.get("area") or 0.0), ins, outs,
                            {p: float(pins[p]["capacitance"]) for p in pins},
                            {p: pins[p].get("max_capacitance") for p in pins},
                            {p: pins[p].get("max_transition") for p in pins}, fam, is_buf, bool(c["is_sequential"]))
            self.cells[name] = info
            if not dont_use(name) and outs and (funcs[0][1] or c["is_sequential"]):
                self.families.setdefault(fam, []).append(name)
        for fam in self.families.values():
            fam.sort(key=lambda n: (self.cells[n].area, n))
        self.buffers = sorted((n for n, ci in self.cells.items() if ci.is_buffer and not dont_use(n)),
                              key=lambda n: (self.cells[n].area, n))

    def model(self, cell: str) -> Any:
        if cell not in self._models:
            self._models[cell] = cell_model(self.lib, cell)
        return self._models[cell]

    def family(self, cell: str) -> list[str]:
        info = self.cells.get(cell)
        return self.families.get(info.family, []) if info else []

    def pin_max_slew(self, cell: str, pin: str) -> float | None:
        info = self.cells.get(cell)
        v = info.max_slew.get(pin) if info else None
        return v if v is not None else self.default_max_slew

    def pin_max_cap(self, cell: str, pin: str) -> float | None:
        info = self.cells.get(cell)
        v = info.max_cap.get(pin) if info else None
        return v if v is not None else self.default_max_cap

    def arc_delay_slew(self, cell: str, out_pin: str, in_slew: float, load: float,
                       in_pin: str | None = None) -> tuple[float, float]:
        """Worst (rise/fall) delay and output slew of `cell`'s arcs into `out_pin`."""
        m = self.model(cell)
        d = s = 0.0
        if m is None:
            return d, s
        for a in m.arcs:
            if a.pin != out_pin or (in_pin is not None and a.related_pin != in_pin):
                continue
            if a.timing_type not in ("combinational", "combinational_rise", "combinational_fall",
                                     "rising_edge", "falling_edge"):
                continue
            for k in ("cell_rise", "cell_fall"):
                if k in a.tables:
                    d = max(d, _lookup(a.tables[k], in_slew, load))
            for k in ("rise_transition", "fall_transition"):
                if k in a.tables:
                    s = max(s, _lookup(a.tables[k], in_slew, load))
        return d, s

    def max_load(self, cell: str, out_pin: str, in_slew: float, slew_limit: float | None,
                 cap_limit: float | None) -> float:
        """Largest load (F) `cell` drives within the slew limit and its max capacitance."""
        hi = cap_limit if cap_limit is not None else 1e-12
        if slew_limit is None or self.arc_delay_slew(cell, out_pin, in_slew, hi)[1] <= slew_limit:
            return hi
        lo = 0.0
        if self.arc_delay_slew(cell, out_pin, in_slew, lo)[1] > slew_limit:
            return 0.0
        for _ in range(30):
            mid = (lo + hi) / 2
            if self.arc_delay_slew(cell, out_pin, in_slew, mid)[1] <= slew_limit:
                lo = mid
            else:
                hi = mid
        return lo


def _tighter(a: float | None, b: float | None) -> float | None:
    """The smaller of two optional limits."""
    return b if a is None else a if b is None else min(a, b)


def _lookup(t: TableData, slew: float, load: float) -> float:
    return sta._table_at(t, slew, load)


# ---- wire estimate and timing --------------------------------------------------------------------
def steiner_length(xs: np.ndarray, ys: np.ndarray) -> float:
    """Estimated rectilinear Steiner length of a net: its half-perimeter for 2–3 pins, growing as
    0.75·sqrt(n·area) for many pins (the classic random-pin RSMT asymptote), never below HPWL."""
    if xs.size < 2:
        return 0.0
    dx, dy = float(xs.max() - xs.min()), float(ys.max() - ys.min())
    return max(dx + dy, 0.75 * math.sqrt(xs.size * dx * dy))


def net_wire_caps(nl: Netlist, c_per_m: float) -> np.ndarray:
    """Lumped wire capacitance (F) of every net from the pin positions."""
    px, py = nl.pin_positions()
    pnet = np.asarray(nl.pin_net, dtype=np.int64)
    allx = np.concatenate([px, nl.port_x])
    ally = np.concatenate([py, nl.port_y])
    alln = np.concatenate([pnet, np.asarray(nl.port_net, dtype=np.int64)])
    ok = alln >= 0
    allx, ally, alln = allx[ok], ally[ok], alln[ok]
    n_nets = len(nl.net_names)
    cnt = np.bincount(alln, minlength=n_nets).astype(float)
    xmin = np.full(n_nets, np.inf)
    xmax = np.full(n_nets, -np.inf)
    ymin = np.full(n_nets, np.inf)
    ymax = np.full(n_nets, -np.inf)
    np.minimum.at(xmin, alln, allx)
    np.maximum.at(xmax, alln, allx)
    np.minimum.at(ymin, alln, ally)
    np.maximum.at(ymax, alln, ally)
    dx = np.where(cnt > 1, xmax - xmin, 0.0)
    dy = np.where(cnt > 1, ymax - ymin, 0.0)
    length = np.maximum(dx + dy, 0.75 * np.sqrt(cnt * dx * dy))
    return c_per_m * length


def steiner_parasitics(nl: Netlist, layer: Any, cache: dict | None = None) -> Parasitics:
    """The route stage's wire model on the current placement: an RC tree per net from its
    rectilinear Steiner tree (so repair sees the Elmore wire delays sign-off will see).
    `cache` keeps each net's tree by its pins and their positions: sizing moves no pin, so
    only the nets a buffer changed are rebuilt."""
    from flow.engines.physical import net_groups, steiner_net

    px, py = nl.pin_positions()
    pname = [f"{nl.inst_names[i]}/{p}" for i, p in zip(nl.pin_inst, nl.pin_name, strict=True)] + list(nl.port_names)
    pnet = np.concatenate([np.asarray(nl.pin_net, dtype=np.int64), np.asarray(nl.port_net, dtype=np.int64)])
    ax, ay = np.concatenate([px, nl.port_x]), np.concatenate([py, nl.port_y])
    order, bounds = net_groups(len(nl.net_names), pnet)
    caps = np.zeros(len(nl.net_names))
    trees = {}
    cache = {} if cache is None else cache
    for k, name in enumerate(nl.net_names):
        idx = order[bounds[k]:bounds[k + 1]]
        if idx.size < 2:
            continue
        pins = [pname[i] for i in idx]
        key = (tuple(pins), ax[idx].tobytes(), ay[idx].tobytes())
        got = cache.get(name)
        if got is None or got[0] != key:
            net, _ = steiner_net(name, ax[idx], ay[idx], pins, layer, "#")
            got = cache[name] = (key, sum(net.caps.values()), (net.caps, net.res))
        caps[k] = got[1]
        trees[k] = got[2]
    return Parasitics(caps, trees)


@dataclass
class Timer:
    """The embedded STA over the repair corners, with placement wire estimates: Steiner RC trees
    (`wire="steiner"`, as the route stage) or lumped capacitance (`"lumped"`, for large designs)."""

    libs: Mapping[str, Any]  # corner -> engine library
    constraints: sta.TimingConstraints
    layer: Any  # platform Layer of signal wires (r_per_m, c_per_m)
    propagated: bool | None = None
    wire: str = "steiner"
    runs: int = 0
    _trees: dict = field(default_factory=dict, repr=False)

    @property
    def c_per_m(self) -> float:
        return float(self.layer.c_per_m)

    def run(self, nl: Netlist, max_paths: int = 10) -> dict[str, sta.TimingResult]:
        d = nl.design()
        if self.wire == "steiner":
            par = steiner_parasitics(nl, self.layer, self._trees)
        else:
            par = Parasitics.lumped(d, net_wire_caps(nl, self.c_per_m))
        self.runs += 1
        return {c: sta.analyze(d, lib, self.constraints, parasitics=par, propagated_clock=self.propagated,
                               max_paths=max_paths) for c, lib in self.libs.items()}


# ---- connectivity --------------------------------------------------------------------------------
@dataclass
class NetPins:
    """Per net: driver (pin index, or -(port+1) for an input port, None when undriven), loads
    (pin indices) and output-port loads."""

    driver: list[int | None]
    loads: list[list[int]]
    port_loads: list[list[int]]


def _pin_kinds(nl: Netlist, views: Sequence[LibView] | None = None) -> tuple[np.ndarray, list[tuple[int, str, str]]]:
    """Per pin (creation order), the index of its kind (library view, cell, pin name) in the
    returned list of kinds, so per-pin facts are looked up once per kind (a few hundred) with
    the pins mapped at array speed; `views` gives each instance's library (default: one)."""
    cell_id: dict[str, int] = {}
    name_id: dict[str, int] = {}
    view_id: dict[int, int] = {}
    inst_cell = np.fromiter((cell_id.setdefault(c, len(cell_id)) for c in nl.inst_cell), dtype=np.int64,
                            count=len(nl.inst_cell))
    inst_view = (np.zeros(len(nl.inst_cell), dtype=np.int64) if views is None else
                 np.fromiter((view_id.setdefault(id(v), len(view_id)) for v in views), dtype=np.int64,
                             count=len(nl.inst_cell)))
    pin_inst = np.asarray(nl.pin_inst, dtype=np.int64)
    pin_name = np.fromiter((name_id.setdefault(n, len(name_id)) for n in nl.pin_name), dtype=np.int64,
                           count=len(nl.pin_name))
    n_cells, n_names = max(len(cell_id), 1), max(len(name_id), 1)
    code = (inst_view[pin_inst] * n_cells + inst_cell[pin_inst]) * n_names + pin_name
    uniq, inverse = np.unique(code, return_inverse=True)
    cells, names = list(cell_id), list(name_id)
    kinds = [(int(c // (n_cells * n_names)), cells[int(c // n_names % n_cells)], names[int(c % n_names)])
             for c in uniq.tolist()]
    return inverse.reshape(-1), kinds


def _pin_is_output(nl: Netlist, lv: LibView) -> np.ndarray:
    """Per pin (creation order): whether it is an output of its cell in `lv` (a pin of a cell `lv`
    does not know is a load)."""
    inverse, kinds = _pin_kinds(nl)
    outs = [(info := lv.cells.get(cell)) is not None and name in info.outputs for _, cell, name in kinds]
    return np.asarray(outs, dtype=bool)[inverse] if kinds else np.zeros(0, dtype=bool)


def _group_by_net(items: np.ndarray, nets: np.ndarray, n_nets: int) -> list[list[int]]:
    """Per net, the `items` on it, in `items` order (a stable sort by net)."""
    order = np.argsort(nets, kind="stable")
    bounds = np.searchsorted(nets[order], np.arange(n_nets + 1))
    sorted_items = items[order].tolist()
    return [sorted_items[a:b] for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True)]


def net_pins(nl: Netlist, lv: LibView) -> NetPins:
    n = len(nl.net_names)
    pin_net = np.asarray(nl.pin_net, dtype=np.int64)
    is_out = _pin_is_output(nl, lv)
    pins = np.arange(len(pin_net), dtype=np.int64)
    drv = np.full(n, -1, dtype=np.int64)
    dmask = is_out & (pin_net >= 0)
    drv[pin_net[dmask]] = pins[dmask]  # a net with two drivers keeps the last, as a loop would
    has = drv >= 0
    driver: list[int | None] = [int(v) if h else None for v, h in zip(drv.tolist(), has.tolist(), strict=True)]
    lmask = ~is_out & (pin_net >= 0)
    loads = _group_by_net(pins[lmask], pin_net[lmask], n)
    port_loads: list[list[int]] = [[] for _ in range(n)]
    for k, (net, d) in enumerate(zip(nl.port_net, nl.port_dir, strict=True)):
        if net < 0:
            continue
        if d == "input":
            driver[net] = -(k + 1)
        else:
            port_loads[net].append(k)
    return NetPins(driver, loads, port_loads)


def _node_index(res: sta.TimingResult, nl: Netlist) -> Callable[[int], int]:
    """Timing-node index of a pin (creation order) in a result of `nl.design()`."""
    inv = np.empty(len(nl._pin_order), dtype=np.int64)
    inv[nl._pin_order] = np.arange(len(nl._pin_order))
    return lambda p: int(inv[p])


# ---- repair_design ---------------------------------------------------------------------------------
@dataclass
class DesignRules:
    max_fanout: int | None = None
    slew_margin: float = 0.2  # fraction the slew limit is tightened by
    cap_margin: float = 0.2


@dataclass
class DrvCount:
    max_slew: int = 0
    max_cap: int = 0
    max_fanout: int = 0

    def total(self) -> int:
        return self.max_slew + self.max_cap + self.max_fanout


def check_design_rules(nl: Netlist, lv: LibView, res: sta.TimingResult, rules: DesignRules,
                       margins: bool = False, limits: Sequence[LibView] | None = None) -> tuple[DrvCount, set[int]]:
    """Violations as OpenSTA's `report_check_types -max_slew -max_capacitance -max_fanout`
    counts them (pins over their slew limit, drivers over their capacitance / fanout limit),
    and the nets that hold them. With `margins`, the limits are tightened by the rules' margins.
    `limits` (per instance): the library whose limits apply to its pins — in a mixed-rail
    analysis each instance's own rail (a 1.28 V Liberty allows 5 ns, the 1.76 V one 1.5 ns)."""
    nl.design()  # freezes the pin order the result's nodes follow
    inv = np.empty(len(nl._pin_order), dtype=np.int64)
    inv[nl._pin_order] = np.arange(len(nl._pin_order))
    n_pins, n_nets = len(nl.pin_name), len(nl.net_names)
    ks = 1.0 - (rules.slew_margin if margins else 0.0)
    kc = 1.0 - (rules.cap_margin if margins else 0.0)
    pin_net = np.asarray(nl.pin_net, dtype=np.int64)
    is_out = _pin_is_output(nl, lv)
    on_net = pin_net >= 0
    slew_lim, cap_lim = _pin_limits(nl, lv, limits)
    # max slew: every pin on a net, at its own (instance's) limit
    slew = res.node_slew[inv].max(axis=1)
    over = on_net & (slew > slew_lim * ks + 1e-15)  # NaN (no limit) compares false
    cnt = DrvCount(max_slew=int(over.sum()))
    bad_mask = np.zeros(n_nets, dtype=bool)
    bad_mask[pin_net[over]] = True
    # drivers: the net's output pin (the last one, as net_pins), else an input port
    pins = np.arange(n_pins, dtype=np.int64)
    drv = np.full(n_nets, -1, dtype=np.int64)
    dmask = is_out & on_net
    drv[pin_net[dmask]] = pins[dmask]
    port_net = np.asarray(nl.port_net, dtype=np.int64)
    port_in = np.asarray([d == "input" for d in nl.port_dir], dtype=bool)
    port_drv = np.full(n_nets, -1, dtype=np.int64)
    pin_ports = port_in & (port_net >= 0)
    port_drv[port_net[pin_ports]] = np.flatnonzero(pin_ports)
    fan = np.bincount(pin_net[~is_out & on_net], minlength=n_nets)[:n_nets]
    out_ports = ~port_in & (port_net >= 0)
    fan = fan + np.bincount(port_net[out_ports], minlength=n_nets)[:n_nets]
    by_pin = (drv >= 0) & (port_drv < 0)
    by_port = port_drv >= 0
    if rules.max_fanout is not None:
        clock = res.node_clock if res.node_clock is not None else np.full(len(res.node_names), -1)
        port_clock = clock[n_pins + port_drv[by_port]] >= 0
        fo_port = np.flatnonzero(by_port)[(fan[by_port] > rules.max_fanout) & ~port_clock]
        fo_pin = np.flatnonzero(by_pin & (fan > rules.max_fanout))
        cnt.max_fanout = len(fo_port) + len(fo_pin)
        bad_mask[fo_port] = True
        bad_mask[fo_pin] = True
    dn = np.flatnonzero(by_pin)
    dp = drv[dn]
    load = res.node_load[inv[dp]].max(axis=1) if len(dp) else np.zeros(0)
    cap_over = load > cap_lim[dp] * kc + 1e-18
    cnt.max_cap = int(cap_over.sum())
    bad_mask[dn[cap_over]] = True
    return cnt, set(np.flatnonzero(bad_mask).tolist())


def _pin_limits(nl: Netlist, lv: LibView, limits: Sequence[LibView] | None) -> tuple[np.ndarray, np.ndarray]:
    """Per pin (creation order): its max slew and max capacitance (NaN: no limit) from its
    instance's library (`limits`) or `lv`."""
    inverse, kinds = _pin_kinds(nl, limits)
    if not kinds:
        return np.zeros(0), np.zeros(0)
    first = {}
    if limits is not None:  # view index (order of first instance) -> view
        seen: dict[int, LibView] = {}
        for v in limits:
            seen.setdefault(id(v), v)
        first = dict(enumerate(seen.values()))
    vals = np.full((len(kinds), 2), math.nan)
    for k, (vi, cell, name) in enumerate(kinds):
        view = first[vi] if limits is not None else lv
        s_, c_ = view.pin_max_slew(cell, name), view.pin_max_cap(cell, name)
        if s_ is not None:
            vals[k, 0] = s_
        if c_ is not None:
            vals[k, 1] = c_
    return vals[inverse, 0], vals[inverse, 1]


@dataclass
class _Item:
    """A load of a net being buffered: an existing pin, or the input pin of a new buffer."""

    pin: int
    x: float
    y: float
    cap: float


def _cluster(items: list[_Item], fits: Callable[[list[_Item]], bool]) -> list[list[_Item]]:
    """Median bisection along the wider side until every group `fits`."""
    if len(items) <= 1 or fits(items):
        return [items]
    xs = np.array([it.x for it in items])
    ys = np.array([it.y for it in items])
    key = xs if np.ptp(xs) >= np.ptp(ys) else ys
    order = np.argsort(key, kind="stable")
    half = len(items) // 2
    return (_cluster([items[i] for i in order[:half]], fits)
            + _cluster([items[i] for i in order[half:]], fits))


@dataclass
class RepairStats:
    buffers: int = 0
    resized: int = 0
    hold_buffers: int = 0
    setup_buffers: int = 0
    clones: int = 0
    iterations: int = 0
    log: list[str] = field(default_factory=list)


#: setup moves `repair_setup` knows, in the order it tries them (OpenROAD `repair_timing -sequence` names)
SETUP_MOVES = ("sizeup", "buffer", "clone")


class Repairer:
    """Holds the netlist, library view and timer of one repair run."""

    def __init__(self, nl: Netlist, lv: LibView, timer: Timer, sizes: Callable[[str], tuple[float, float]],
                 rules: DesignRules, buffer_cell: str | None = None,
                 limits: Callable[[Netlist], Sequence[LibView]] | None = None) -> None:
        """`limits(nl)`: per instance, the library whose design-rule limits apply to it (mixed
        rails: its rail's); default `lv` for every instance."""
        self.nl, self.lv, self.timer, self.sizes, self.rules = nl, lv, timer, sizes, rules
        self.limits = limits
        if not lv.buffers:
            raise ValueError("the library has no usable buffer cell (all dont_use?)")
        self.buffer = buffer_cell or self._efficient_buffer()
        self.buf_in = self.lv.cells[self.buffer].inputs[0]
        self.buf_out = self.lv.cells[self.buffer].outputs[0]
        self.stats = RepairStats()

    def _slew_target(self, cell: str, pin: str) -> float | None:
        lim = self.lv.pin_max_slew(cell, pin)
        return None if lim is None else lim * (1.0 - self.rules.slew_margin)

    def _cap_target(self, cell: str, pin: str) -> float | None:
        lim = self.lv.pin_max_cap(cell, pin)
        return None if lim is None else lim * (1.0 - self.rules.cap_margin)

    def _efficient_buffer(self) -> str:
        """The buffer that drives the most load within its limits per unit area."""
        best, score = self.lv.buffers[0], -1.0
        for b in self.lv.buffers:
            ci = self.lv.cells[b]
            out = ci.outputs[0]
            slew = self._slew_target(b, out)
            load = self.lv.max_load(b, out, (slew or 1e-10) / 2, slew, self._cap_target(b, out))
            s = load / max(ci.area, 1e-18)
            if s > score * 1.05:
                best, score = b, s
        return best

    def _buffer_capacity(self, cell: str, slew_limit: float | None = None) -> float:
        out = self.lv.cells[cell].outputs[0]
        slew = _tighter(self._slew_target(cell, out), slew_limit)
        return self.lv.max_load(cell, out, (slew or 1e-10), slew, self._cap_target(cell, out))

    def _group_load(self, items: list[_Item]) -> float:
        xs = np.array([it.x for it in items])
        ys = np.array([it.y for it in items])
        cx, cy = float(xs.mean()), float(ys.mean())
        return sum(it.cap for it in items) + self.timer.c_per_m * steiner_length(np.append(xs, cx), np.append(ys, cy))

    def _pin_cap(self, p: int) -> float:
        info = self.lv.cells.get(self.nl.inst_cell[self.nl.pin_inst[p]])
        return info.pin_cap.get(self.nl.pin_name[p], 0.0) if info else 0.0

    def buffer_net(self, net: int, driver: int | None, loads: list[int], in_slew: float,
                   slew_limit: float | None = None) -> int:
        """Buffer tree for `net` (`slew_limit`: a sink's limit tighter than the driver's own, s):
        returns the number of buffers inserted."""
        nl, lv = self.nl, self.lv
        items = []
        for p in loads:
            cx, cy = nl.centre(nl.pin_inst[p])
            items.append(_Item(p, cx, cy, self._pin_cap(p)))
        cap_buf = self._buffer_capacity(self.buffer, slew_limit)
        fan = self.rules.max_fanout or 10 ** 9
        if driver is not None and driver >= 0:
            dcell, dpin = nl.inst_cell[nl.pin_inst[driver]], nl.pin_name[driver]
            drive_cap = lv.max_load(dcell, dpin, in_slew, _tighter(self._slew_target(dcell, dpin), slew_limit),
                                    self._cap_target(dcell, dpin))
        else:
            drive_cap = cap_buf  # an input port: assume it drives like one buffer (buffer_ports)
        w, h = self.sizes(self.buffer)
        added = 0
        for _level in range(12):
            if len(items) <= fan and self._group_load(items) <= drive_cap:
                break
            groups = _cluster(items, lambda g: len(g) <= fan and self._group_load(g) <= cap_buf)
            if len(groups) >= len(items):  # every load alone is too much: nothing a tree can fix
                break
            new_items = []
            for g in groups:
                out = nl.new_net("repair_net")
                cx = float(np.mean([it.x for it in g]))
                cy = float(np.mean([it.y for it in g]))
                for it in g:
                    nl.set_net(it.pin, out)
                k = nl.add_cell(self.buffer, {self.buf_in: net, self.buf_out: out}, cx, cy, w, h, "repair_buf")
                added += 1
                new_items.append(_Item(nl.pin_of(k, self.buf_in), cx, cy, lv.cells[self.buffer].pin_cap[self.buf_in]))
            items = new_items
        if not added and slew_limit is not None and driver is not None and driver >= 0:
            # the loads fit, the wire from the driver to them does not (a sink on a stricter rail
            # far away, e.g. a level shifter at its island's edge): a repeater halfway
            dx, dy = nl.centre(nl.pin_inst[driver])
            if self._group_load([*items, _Item(-1, dx, dy, 0.0)]) > drive_cap:
                cx = float(np.mean([it.x for it in items]))
                cy = float(np.mean([it.y for it in items]))
                out = nl.new_net("repair_net")
                for it in items:
                    nl.set_net(it.pin, out)
                nl.add_cell(self.buffer, {self.buf_in: net, self.buf_out: out}, (dx + cx) / 2, (dy + cy) / 2, w, h,
                            "repair_buf")
                added = 1
        self.stats.buffers += added
        return added

    def upsize_driver(self, driver: int, load: float, in_slew: float, slew_limit: float | None = None) -> bool:
        """Smallest family member of the driver that drives `load` within its limits (and
        `slew_limit`, a sink's tighter one)."""
        nl, lv = self.nl, self.lv
        inst = nl.pin_inst[driver]
        cell, pin = nl.inst_cell[inst], nl.pin_name[driver]
        for cand in lv.family(cell):
            if lv.cells[cand].area <= lv.cells[cell].area:
                continue
            cap = lv.max_load(cand, pin, in_slew, _tighter(self._slew_target(cand, pin), slew_limit),
                              self._cap_target(cand, pin))
            if cap >= load:
                nl.set_cell(inst, cand, self.sizes(cand)[0])
                self.stats.resized += 1
                return True
        return False

    def repair_design(self, max_passes: int = 4) -> tuple[DrvCount, DrvCount]:
        """Fix max slew / cap / fanout; returns (violations before, after) at the timer's corners
        (limits without margins, as a sign-off check counts them)."""
        before = after = None
        for _ in range(max_passes):
            res = self.timer.run(self.nl)
            lims = self.limits(self.nl) if self.limits is not None else None
            worst = DrvCount()
            bad_all: set[int] = set()
            for r in res.values():
                cnt, bad = check_design_rules(self.nl, self.lv, r, self.rules, margins=True, limits=lims)
                bad_all |= bad
                if cnt.total() >= worst.total():
                    worst = cnt
            plain = max((check_design_rules(self.nl, self.lv, r, self.rules, limits=lims)[0] for r in res.values()),
                        key=lambda c: c.total())
            if before is None:
                before = plain
            after = plain
            if not bad_all:
                break
            r = next(iter(res.values()))
            slew_r = max(res.values(), key=lambda t: float(t.node_slew.max()))
            node_of = _node_index(r, self.nl)
            np_ = net_pins(self.nl, self.lv)
            clock = r.node_clock
            changed = 0
            n_pins = len(self.nl.pin_name)  # as timed: buffers added below append pins, not nodes
            for net in sorted(bad_all):
                drv = np_.driver[net]
                if drv is None:
                    continue
                dnode = node_of(drv) if drv >= 0 else n_pins + (-drv - 1)
                if clock is not None and clock[dnode] >= 0:
                    continue  # clock nets: CTS builds their tree
                loads = np_.loads[net]
                if not loads:
                    continue
                # a sink on a stricter library than the driver's (another rail): its limit binds
                sink_lim = None
                if lims is not None:
                    for q in loads:
                        lim_q = lims[self.nl.pin_inst[q]].pin_max_slew(self.nl.inst_cell[self.nl.pin_inst[q]],
                                                                       self.nl.pin_name[q])
                        sink_lim = _tighter(sink_lim, None if lim_q is None else lim_q * (1.0 - self.rules.slew_margin))
                in_slew = 0.0
                if drv >= 0:
                    ins = [q for q in self.nl.inst_pins[self.nl.pin_inst[drv]]
                           if self.nl.pin_name[q] in self.lv.cells[self.nl.inst_cell[self.nl.pin_inst[drv]]].inputs]
                    in_slew = max((float(slew_r.node_slew[node_of(q)].max()) for q in ins), default=0.0)
                    fan = len(loads) + len(np_.port_loads[net])
                    load = float(max(t.node_load[dnode].max() for t in res.values()))
                    if (self.rules.max_fanout is None or fan <= self.rules.max_fanout) and \
                            self.upsize_driver(drv, load, in_slew, sink_lim):
                        changed += 1
                        continue
                changed += self.buffer_net(net, drv, loads, in_slew, sink_lim)
            self.stats.iterations += 1
            if not changed:
                break
        assert before is not None and after is not None
        return before, after

    # ---- repair_timing -------------------------------------------------------------------------
    def _worst(self, res: Mapping[str, sta.TimingResult], kind: str) -> tuple[float, float]:
        ws = min(getattr(t, f"{kind}_wns") for t in res.values())
        tns = min(getattr(t, f"{kind}_tns") for t in res.values())
        return ws, tns

    def _setup_moves(self, res: Mapping[str, sta.TimingResult], n_paths: int, margin: float,
                     tabu: set[tuple[int, str]] = frozenset()) -> dict[int, str]:
        """One move per violating path: instance -> new cell (upsizing) with the largest
        estimated gain along the path."""
        nl, lv = self.nl, self.lv
        worst_c = min(res, key=lambda c: res[c].setup_wns)
        r = res[worst_c]
        inst_of = {nm: k for k, nm in enumerate(nl.inst_names)}
        moves: dict[int, str] = {}
        for path in r.setup_paths[:n_paths]:
            if path.slack >= margin:
                break
            best: tuple[float, int, str] | None = None
            stages = path.stages
            for s_i, st in enumerate(stages):
                if st.cell is None or "/" not in st.node:
                    continue
                iname, pin = st.node.rsplit("/", 1)
                k = inst_of.get(iname)
                info = lv.cells.get(st.cell)
                if k is None or k in moves or info is None or pin not in info.outputs:
                    continue
                prev = stages[s_i - 1] if s_i > 0 else None
                in_slew = prev.slew if prev is not None else 0.0
                in_pin = prev.node.rsplit("/", 1)[1] if prev is not None and "/" in prev.node else None
                load = st.load or 0.0
                d0 = lv.arc_delay_slew(st.cell, pin, in_slew, load, in_pin)[0]
                # the stage before the input pin drives it: its extra delay for the extra cap
                drv_prev = stages[s_i - 2] if s_i >= 2 else None
                for cand in lv.family(st.cell):
                    if lv.cells[cand].area <= lv.cells[st.cell].area or (k, cand) in tabu:
                        continue
                    d1 = lv.arc_delay_slew(cand, pin, in_slew, load, in_pin)[0]
                    penalty = 0.0
                    if in_pin is not None and drv_prev is not None and drv_prev.cell and "/" in drv_prev.node:
                        dc = lv.cells[cand].pin_cap.get(in_pin, 0.0) - lv.cells[st.cell].pin_cap.get(in_pin, 0.0)
                        pprev = stages[s_i - 3].slew if s_i >= 3 else 0.0
                        pl = drv_prev.load or 0.0
                        dp = drv_prev.node.rsplit("/", 1)[1]
                        penalty = (lv.arc_delay_slew(drv_prev.cell, dp, pprev, pl + dc)[0]
                                   - lv.arc_delay_slew(drv_prev.cell, dp, pprev, pl)[0])
                    gain = d0 - d1 - penalty
                    if gain > 1e-13 and (best is None or gain > best[0]):
                        best = (gain, k, cand)
            if best is not None:
                moves[best[1]] = best[2]
        return moves

    def repair_setup(self, margin: float = 0.0, tns_end_percent: float = 100.0, max_rounds: int = 30,
                     moves: tuple[str, ...] = SETUP_MOVES, repeat: bool = False) -> tuple[float, float]:
        """Repair setup on violating paths until WNS >= margin or no move improves: per round a
        batch of upsizings (`"sizeup"`), and when sizing cannot improve, the off-path loads of a
        critical driver split off behind a buffer (`"buffer"`) or onto its clone (`"clone"`, see
        `rebuffer`), and with `repeat` a repeater on a long critical wire (`repeat_wires`) when
        neither improves; returns (WNS before, WNS after) in s over the timer's corners."""
        nl = self.nl
        unknown = [m for m in moves if m not in SETUP_MOVES]
        if unknown:
            raise ValueError(f"unknown setup move {unknown[0]!r} (known: {', '.join(SETUP_MOVES)})")
        res = self.timer.run(nl, max_paths=200)
        ws0, tns = self._worst(res, "setup")
        ws = ws0
        tabu: set[tuple[int, str]] = set()  # moves that made timing worse: not tried again
        buf_tabu: set[int] = set()  # drivers whose split made timing worse
        rep_tabu: set[int] = set()  # sink pins whose repeater made timing worse
        for _ in range(max_rounds):
            if ws >= margin:
                break
            n_viol = max(int(np.sum(t.setup_slack < margin)) for t in res.values())
            n_paths = max(1, int(math.ceil(n_viol * tns_end_percent / 100.0)))
            sized = self._setup_moves(res, n_paths, margin, tabu) if "sizeup" in moves else {}
            got = self._apply_sizing(sized, res, ws, tns, tabu) if sized else None
            if got is None and ("buffer" in moves or "clone" in moves):
                got = self.rebuffer(res, ws, tns, n_paths, margin, buf_tabu,
                                    kinds=tuple(m for m in moves if m in ("buffer", "clone")))
            if repeat and (got is None or got[1] <= ws + 1e-13):  # WNS stuck: its path may hang on a wire
                base = got if got is not None else (res, ws, tns)
                got = self.repeat_wires(base[0], base[1], base[2], n_paths, margin, rep_tabu) or got
            if got is None:
                if not sized:
                    break
                continue
            res, ws, tns = got
            self.stats.iterations += 1
        return ws0, ws

    def _apply_sizing(self, moves: dict[int, str], res: Mapping[str, sta.TimingResult], ws: float, tns: float,
                      tabu: set[tuple[int, str]]) -> tuple[dict[str, sta.TimingResult], float, float] | None:
        """Apply a batch of upsizings, else the worst path's alone; the new timing when WNS and
        TNS did not get worse (one of them better), None (undone, the move made tabu) otherwise."""
        nl = self.nl
        old = {k: nl.inst_cell[k] for k in moves}
        for k, c in moves.items():
            nl.set_cell(k, c, self.sizes(c)[0])
        new = self.timer.run(nl, max_paths=200)
        nws, ntns = self._worst(new, "setup")
        if nws < ws - 1e-13 or (nws <= ws + 1e-13 and ntns <= tns + 1e-13):
            for k, c in old.items():  # the batch made it worse: undo, try the worst path's move alone
                nl.set_cell(k, c, self.sizes(c)[0])
            k0 = next(iter(moves))
            if len(moves) > 1:
                nl.set_cell(k0, moves[k0], self.sizes(moves[k0])[0])
                new = self.timer.run(nl, max_paths=200)
                nws, ntns = self._worst(new, "setup")
            if len(moves) == 1 or nws < ws - 1e-13 or (nws <= ws + 1e-13 and ntns <= tns + 1e-13):
                nl.set_cell(k0, old[k0], self.sizes(old[k0])[0])
                tabu.add((k0, moves[k0]))
                return None
            moves = {k0: moves[k0]}
        self.stats.resized += len(moves)
        return new, nws, ntns

    # ---- setup rebuffering ----------------------------------------------------------------------
    def _rebuffer_moves(self, res: Mapping[str, sta.TimingResult], n_paths: int, margin: float,
                        tabu: set[int]) -> list[tuple[float, int, list[int], str]]:
        """Candidate splits, best estimated gain first: (gain s, driver pin, the driver's loads
        that no violating path uses, buffer cell). Moving those loads behind one buffer leaves
        the driver only the critical sinks, the buffer's input pin and a shorter wire; the gain
        is the driver arc's delay at its load now minus at that load."""
        nl, lv = self.nl, self.lv
        r = res[min(res, key=lambda c: res[c].setup_wns)]
        paths = [p for p in r.setup_paths[:n_paths] if p.slack < margin]
        critical = {st.node for p in r.setup_paths if p.slack < margin for st in p.stages}
        pin_of = {f"{nl.inst_names[i]}/{pn}": q for q, (i, pn) in enumerate(zip(nl.pin_inst, nl.pin_name, strict=True))}
        np_ = net_pins(nl, lv)
        clock = r.node_clock
        node_of = _node_index(r, nl)
        out: dict[int, tuple[float, int, list[int], str]] = {}
        for path in paths:
            for s_i, st in enumerate(path.stages):
                drv = pin_of.get(st.node)
                info = lv.cells.get(st.cell) if st.cell else None
                if drv is None or drv in out or drv in tabu or info is None or nl.pin_name[drv] not in info.outputs:
                    continue
                if clock is not None and clock[node_of(drv)] >= 0:
                    continue
                net = nl.pin_net[drv]
                loads = np_.loads[net]
                keep = [q for q in loads if f"{nl.inst_names[nl.pin_inst[q]]}/{nl.pin_name[q]}" in critical]
                kept = set(keep)
                moved = [q for q in loads if q not in kept]
                if len(moved) < 2 or not keep:
                    continue
                moved_cap = sum(self._pin_cap(q) for q in moved)
                mx = np.array([nl.centre(nl.pin_inst[q])[0] for q in moved])
                my = np.array([nl.centre(nl.pin_inst[q])[1] for q in moved])
                bx, by = float(mx.mean()), float(my.mean())
                buf = self._split_buffer(moved_cap + self.timer.c_per_m * steiner_length(
                    np.append(mx, bx), np.append(my, by)))
                ci = lv.cells[buf]
                dx, dy = nl.centre(nl.pin_inst[drv])
                kx = np.array([dx, bx] + [nl.centre(nl.pin_inst[q])[0] for q in keep])
                ky = np.array([dy, by] + [nl.centre(nl.pin_inst[q])[1] for q in keep])
                new_load = (sum(self._pin_cap(q) for q in keep) + ci.pin_cap[ci.inputs[0]]
                            + self.timer.c_per_m * steiner_length(kx, ky))
                load = st.load or 0.0
                prev = path.stages[s_i - 1] if s_i > 0 else None
                in_slew = prev.slew if prev is not None else 0.0
                in_pin = prev.node.rsplit("/", 1)[1] if prev is not None and "/" in prev.node else None
                pin = nl.pin_name[drv]
                gain = (lv.arc_delay_slew(st.cell, pin, in_slew, load, in_pin)[0]
                        - lv.arc_delay_slew(st.cell, pin, in_slew, new_load, in_pin)[0])
                if gain > 1e-12:
                    out[drv] = (gain, drv, moved, buf)
        return sorted(out.values(), key=lambda m: -m[0])

    def repeat_wires(self, res: Mapping[str, sta.TimingResult], ws: float, tns: float, n_paths: int,
                     margin: float, tabu: set[int], max_trials: int = 6,
                     ) -> tuple[dict[str, sta.TimingResult], float, float] | None:
        """A repeater halfway along the longest driver-to-sink wires of the violating paths' drivers
        (that sink, on the path or off it, moves behind it): why — a weak cell (e.g. on a 1.28 V
        rail) driving a long wire is slow whatever its size, and sizing leaves the wire alone
        while the off-path split needs two loads to move.
        Tried longest first; kept only when WNS and TNS improve (as `rebuffer`) without a new
        slew / capacitance violation; a rejected sink is not tried again."""
        nl, lv = self.nl, self.lv
        r = res[min(res, key=lambda c: res[c].setup_wns)]
        pin_of = {f"{nl.inst_names[i]}/{pn}": q for q, (i, pn) in enumerate(zip(nl.pin_inst, nl.pin_name, strict=True))}
        clock = r.node_clock
        node_of = _node_index(r, nl)
        best: dict[int, tuple[float, int, int, float]] = {}
        np_ = net_pins(nl, lv)
        for path in r.setup_paths[:n_paths]:
            if path.slack >= margin:
                break
            for s_i, st in enumerate(path.stages[:-1]):
                drv = pin_of.get(st.node)
                info = lv.cells.get(st.cell) if st.cell else None
                if drv is None or info is None or nl.pin_name[drv] not in info.outputs:
                    continue
                if clock is not None and clock[node_of(drv)] >= 0:
                    continue
                # the on-path sink, or an off-path one whose wire loads the path's driver
                for sink in np_.loads[nl.pin_net[drv]]:
                    if sink in tabu:
                        continue
                    (dx, dy), (sx, sy) = nl.centre(nl.pin_inst[drv]), nl.centre(nl.pin_inst[sink])
                    dist = abs(dx - sx) + abs(dy - sy)
                    if sink not in best or dist > best[sink][0]:
                        best[sink] = (dist, drv, sink, path.stages[s_i - 1].slew if s_i > 0 else 0.0)
        drv0 = self._drv_total(res)
        for dist, drv, sink, in_slew in sorted(best.values(), reverse=True)[:max_trials]:
            half = self.timer.c_per_m * dist / 2
            if 2 * half < 4 * self._pin_cap(sink):  # a short wire for this sink: nothing to gain
                continue
            if nl.pin_net[sink] != nl.pin_net[drv]:  # an earlier trial moved it (rolled back since)
                continue
            at = nl.mark()
            net = nl.pin_net[drv]
            (dx, dy), (sx, sy) = nl.centre(nl.pin_inst[drv]), nl.centre(nl.pin_inst[sink])
            dcell, dpin = nl.inst_cell[nl.pin_inst[drv]], nl.pin_name[drv]
            rest = nl.pin_net[drv]  # the driver keeps its other loads: their pins on top of half the wire
            other = sum(self._pin_cap(q) for q in range(len(nl.pin_name)) if nl.pin_net[q] == rest and q not in (drv, sink))

            def cost(b: str, half: float = half, dcell: str = dcell, dpin: str = dpin, in_slew: float = in_slew,
                     other: float = other, sink: int = sink) -> float:
                """Estimated driver + repeater delay with `b` halfway (the buffer that is fastest)."""
                cb = lv.cells[b]
                d_up, s_up = lv.arc_delay_slew(dcell, dpin, in_slew, other + half + cb.pin_cap[cb.inputs[0]])
                return d_up + lv.arc_delay_slew(b, cb.outputs[0], s_up, half + self._pin_cap(sink))[0]

            buf = min(lv.buffers, key=cost)
            ci = lv.cells[buf]
            out = nl.new_net("repeat_net")
            nl.set_net(sink, out)
            w, h = self.sizes(buf)
            nl.add_cell(buf, {ci.inputs[0]: net, ci.outputs[0]: out}, (dx + sx) / 2, (dy + sy) / 2, w, h, "repeater")
            new = self.timer.run(nl, max_paths=200)
            nws, ntns = self._worst(new, "setup")
            better = nws >= ws - 1e-13 and ntns >= tns - 1e-13 and (nws > ws + 1e-13 or ntns > tns + 1e-13)
            if better and self._drv_total(new) <= drv0:
                self.stats.setup_buffers += 1
                return new, nws, ntns
            nl.rollback(at)
            nl.set_net(sink, net)
            tabu.add(sink)
        return None

    def _split_buffer(self, load: float) -> str:
        """Smallest buffer that drives `load` within its (margin-tightened) limits, else the
        strongest one."""
        for b in self.lv.buffers:
            if self._buffer_capacity(b) >= load:
                return b
        return max(self.lv.buffers, key=self._buffer_capacity)

    def rebuffer(self, res: Mapping[str, sta.TimingResult], ws: float, tns: float, n_paths: int, margin: float,
                 tabu: set[int], max_trials: int = 6, kinds: tuple[str, ...] = ("buffer",),
                 ) -> tuple[dict[str, sta.TimingResult], float, float] | None:
        """Split a critical driver's off-path loads off its net (ORFS `repair_timing` rebuffering
        and gate cloning): behind a buffer at their centroid (`"buffer"`), or onto a copy of the
        driver (`"clone"`: same cell and inputs, halfway between the driver and them; a single
        stage, so the moved loads get no extra delay). The candidates with the largest
        estimated gain are tried one at a time, each kind in `kinds` order, and the first that
        improves WNS without worsening TNS (or TNS without worsening WNS) is kept; a rejected
        split is undone and its driver not tried again. Returns the new timing, or None."""
        nl = self.nl
        candidates = self._rebuffer_moves(res, n_paths, margin, tabu)[:max_trials]
        drv0 = self._drv_total(res) if candidates else 0
        for _gain, drv, moved, buf in candidates:
            for kind in kinds:
                if kind == "clone" and not self._clonable(drv):
                    continue
                at = nl.mark()
                net = nl.pin_net[drv]
                bx = float(np.mean([nl.centre(nl.pin_inst[q])[0] for q in moved]))
                by = float(np.mean([nl.centre(nl.pin_inst[q])[1] for q in moved]))
                out = nl.new_net("rebuffer_net" if kind == "buffer" else "clone_net")
                for q in moved:
                    nl.set_net(q, out)
                if kind == "buffer":
                    ci = self.lv.cells[buf]
                    w, h = self.sizes(buf)
                    nl.add_cell(buf, {ci.inputs[0]: net, ci.outputs[0]: out}, bx, by, w, h, "rebuffer")
                else:
                    inst = nl.pin_inst[drv]
                    cell = self._clone_cell(nl.inst_cell[inst], nl.pin_name[drv], moved, bx, by)
                    pins = {nl.pin_name[q]: nl.pin_net[q] for q in nl.inst_pins[inst]
                            if nl.pin_name[q] in self.lv.cells[cell].inputs and nl.pin_net[q] >= 0}
                    pins[nl.pin_name[drv]] = out
                    dx, dy = nl.centre(inst)
                    w, h = self.sizes(cell)
                    nl.add_cell(cell, pins, (dx + bx) / 2, (dy + by) / 2, w, h, "clone")
                new = self.timer.run(nl, max_paths=200)
                nws, ntns = self._worst(new, "setup")
                better = nws >= ws - 1e-13 and ntns >= tns - 1e-13 and (nws > ws + 1e-13 or ntns > tns + 1e-13)
                if better and self._drv_total(new) <= drv0:  # never at the price of a slew / cap violation
                    if kind == "buffer":
                        self.stats.setup_buffers += 1
                    else:
                        self.stats.clones += 1
                    return new, nws, ntns
                nl.rollback(at)
                for q in moved:
                    nl.set_net(q, net)
            tabu.add(drv)
        return None

    def _drv_total(self, res: Mapping[str, sta.TimingResult]) -> int:
        """Max slew / cap / fanout violations (margin-tightened limits), worst corner."""
        return max(check_design_rules(self.nl, self.lv, r, self.rules, margins=True)[0].total() for r in res.values())

    def _clone_cell(self, cell: str, out_pin: str, moved: list[int], x: float, y: float) -> str:
        """The smallest member of the driver's family that drives the moved loads (their pins and
        a Steiner estimate of their wire from (x, y)) within its limits, else the driver's cell."""
        nl = self.nl
        xs = np.array([nl.centre(nl.pin_inst[q])[0] for q in moved] + [x])
        ys = np.array([nl.centre(nl.pin_inst[q])[1] for q in moved] + [y])
        load = sum(self._pin_cap(q) for q in moved) + self.timer.c_per_m * steiner_length(xs, ys)
        for cand in self.lv.family(cell):
            slew = self._slew_target(cand, out_pin)
            if self.lv.max_load(cand, out_pin, (slew or 1e-10) / 2, slew, self._cap_target(cand, out_pin)) >= load:
                return cand
        return cell

    def _clonable(self, drv: int) -> bool:
        """A driver that can be copied: its other outputs (a flop's QN, ...) drive nothing, so
        the copy needs only this one (a flop's copy loads the same clock net)."""
        nl = self.nl
        inst = nl.pin_inst[drv]
        info = self.lv.cells.get(nl.inst_cell[inst])
        if info is None:
            return False
        others = {nl.pin_net[q] for q in nl.inst_pins[inst]
                  if q != drv and nl.pin_name[q] in info.outputs and nl.pin_net[q] >= 0}
        if not others:
            return True
        loaded = sum(1 for n in nl.pin_net if n in others) - len(others)  # pins beyond the outputs themselves
        ports = sum(1 for n in nl.port_net if n in others)
        return loaded == 0 and ports == 0

    def repair_hold(self, hold_libs: Mapping[str, LibView], margin: float = 0.0, setup_margin: float = 0.0,
                    max_rounds: int = 8, hold_cell: str | None = None) -> tuple[float, float]:
        """Delay buffers chained in front of endpoints whose hold slack is below `margin`, as
        many as the endpoint's setup slack allows (its delay at the slowest corner stays above
        `setup_margin`); returns (hold WNS before, after) in s."""
        nl, lv = self.nl, self.lv
        cell = hold_cell or self._hold_cell(hold_libs)
        ci = lv.cells[cell]
        cin, cout = ci.inputs[0], ci.outputs[0]
        w, h = self.sizes(cell)
        # a chained delay cell drives the next one: its delay at each corner at that load
        delay = {c: max(v.arc_delay_slew(cell, cout, 5e-11, v.cells[cell].pin_cap[cin] * 2)[0], 1e-12)
                 for c, v in hold_libs.items()}
        d_slow = max(delay.values())
        res = self.timer.run(nl)
        hws0, _ = self._worst(res, "hold")
        hws = hws0
        inst_of = {nm: k for k, nm in enumerate(nl.inst_names)}
        for _ in range(max_rounds):
            if hws >= margin:
                break
            names = next(iter(res.values())).endpoint_names
            corners = list(res)
            holds = np.array([res[c].hold_slack for c in corners])
            hold = holds.min(axis=0)
            setup = np.min([t.setup_slack for t in res.values()], axis=0)
            inserted = 0
            for e, nm in enumerate(names):
                if hold[e] >= margin or "/" not in nm:
                    continue
                k = inst_of.get(nm.rsplit("/", 1)[0])
                if k is None:
                    continue
                room = setup[e] - setup_margin
                d_hold = delay.get(corners[int(np.argmin(holds[:, e]))], d_slow)  # where it violates
                n = min(int(math.ceil((margin - hold[e]) / d_hold)), int(room / d_slow) if math.isfinite(room) else 8, 8)
                if n <= 0:
                    continue
                p = nl.pin_of(k, nm.rsplit("/", 1)[1])
                cx, cy = nl.centre(k)
                src = nl.pin_net[p]
                for _j in range(n):
                    out = nl.new_net("hold_net")
                    nl.add_cell(cell, {cin: src, cout: out}, cx, cy, w, h, "hold_buf")
                    src = out
                nl.set_net(p, src)
                inserted += n
            if not inserted:  # the endpoints have no setup room: delay the short path's own branch
                inserted = self._hold_on_paths(res, cell, (cin, cout), (w, h), delay, margin, setup_margin)
                if not inserted:
                    break
            else:
                self.stats.hold_buffers += inserted
            res = self.timer.run(nl)
            hws, _ = self._worst(res, "hold")
            self.stats.iterations += 1
        return hws0, hws

    def _hold_on_paths(self, res: Mapping[str, sta.TimingResult], cell: str, pins: tuple[str, str],
                       size: tuple[float, float], delay: Mapping[str, float], margin: float,
                       setup_margin: float, max_paths: int = 10) -> int:
        """For the worst hold paths: delay cells in front of a load pin along the path, nearest
        the startpoint first (a branch only short paths use, e.g. after a reset input), kept
        when the STA says the total negative hold slack got better and setup stays at or above
        its margin (or where it was); returns the number of cells kept."""
        nl = self.nl
        cin, cout = pins
        c = min(res, key=lambda k: res[k].hold_wns)
        ws_setup, _ = self._worst(res, "setup")
        floor = min(setup_margin, ws_setup)
        inst_of = {nm: k for k, nm in enumerate(nl.inst_names)}
        kept = 0
        base_hold = self._worst(res, "hold")[1]  # total negative hold slack: one fix rarely moves the worst
        for path in res[c].hold_paths[:max_paths]:
            if path.slack >= margin:
                break
            n = min(int(math.ceil((margin - path.slack) / max(delay.get(c, 1e-11), 1e-12))), 8)
            for st in path.stages[1:]:
                if st.cell is None or "/" not in st.node:
                    continue
                iname, pin = st.node.rsplit("/", 1)
                k = inst_of.get(iname)
                info = self.lv.cells.get(st.cell)
                if k is None or info is None or pin not in info.inputs:
                    continue
                p = nl.pin_of(k, pin)
                old_net, at = nl.pin_net[p], nl.mark()
                cx, cy = nl.centre(k)
                src = old_net
                for _j in range(n):
                    out = nl.new_net("hold_net")
                    nl.add_cell(cell, {cin: src, cout: out}, cx, cy, size[0], size[1], "hold_buf")
                    src = out
                nl.set_net(p, src)
                new = self.timer.run(nl)
                _, hw = self._worst(new, "hold")
                sw, _ = self._worst(new, "setup")
                if hw > base_hold + 1e-13 and sw >= floor - 1e-13:
                    kept += n
                    base_hold = hw
                    break
                nl.rollback(at)
                nl.set_net(p, old_net)
        self.stats.hold_buffers += kept
        return kept

    def _hold_cell(self, hold_libs: Mapping[str, LibView]) -> str:
        """The buffer (delay cells included) with the most delay per unit area at the fast corner."""
        best, score = self.lv.buffers[0], -1.0
        for b in self.lv.buffers:
            ci = self.lv.cells[b]
            d = min(v.arc_delay_slew(b, ci.outputs[0], 5e-11, 2 * ci.pin_cap[ci.inputs[0]])[0]
                    for v in hold_libs.values() if b in v.cells)
            s = d / max(ci.area, 1e-18)
            if s > score:
                best, score = b, s
        return best
