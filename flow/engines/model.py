"""Engine-side views of the netlist and of Liberty cells, shared by STA and power.

`FlatDesign` is the flat array form the engines index (pins grouped per instance, ports after
pins); `cell_model(lib, name)` extracts what timing needs from a parsed Liberty cell; `TableBank`
stacks every NLDM table used by a run into padded arrays so one numpy call looks up thousands of
arcs at once (bilinear, linear extrapolation outside the index range, as OpenSTA).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


class NodeNames(Sequence[str]):
    """The names of a design's timing nodes — pins as `inst/pin`, then ports — without building
    345k strings per analysis: an item is formatted when asked for, and `index_of` resolves a
    name through instance and port dictionaries made on first use."""

    def __init__(self, design: FlatDesign) -> None:
        self._d = design
        self._n_pins = len(design.pin_name)
        self._n = self._n_pins + len(design.port_names)
        self._inst: dict[str, int] | None = None
        self._ports: dict[str, int] | None = None

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, k):  # type: ignore[override]
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(self._n))]
        k = int(k)
        if k < 0:
            k += self._n
        if not 0 <= k < self._n:
            raise IndexError(k)
        d = self._d
        if k < self._n_pins:
            return f"{d.inst_names[int(d.pin_inst[k])]}/{d.pin_name[k]}"
        return d.port_names[k - self._n_pins]

    def __iter__(self) -> Iterator[str]:
        d = self._d
        yield from (f"{d.inst_names[i]}/{p}" for i, p in zip(d.pin_inst.tolist(), d.pin_name, strict=False))
        yield from d.port_names

    def index_of(self, name: str) -> int | None:
        """Node of `name` (a port wins over a pin of the same name), None when there is none."""
        d = self._d
        if self._ports is None:
            self._ports = {p: self._n_pins + q for q, p in enumerate(d.port_names)}
        got = self._ports.get(name)
        if got is not None or "/" not in name:
            return got
        if self._inst is None:
            self._inst = {nm: i for i, nm in enumerate(d.inst_names)}
        inst, pin = name.rsplit("/", 1)
        i = self._inst.get(inst)
        if i is None:
            return None
        for p in range(int(d.inst_pin_start[i]), int(d.inst_pin_start[i + 1])):
            if d.pin_name[p] == pin:
                return p
        return None


class NodeIndex:
    """`name in index` / `index[name]` over NodeNames (the dict the analysis used to build)."""

    def __init__(self, names: NodeNames | Sequence[str]) -> None:
        if isinstance(names, NodeNames):
            self._names = names
            self._dict = None
        else:
            self._names = None
            self._dict = {nm: k for k, nm in enumerate(names)}

    def get(self, name: str) -> int | None:
        return self._names.index_of(name) if self._names is not None else self._dict.get(name)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __getitem__(self, name: str) -> int:
        k = self.get(name)
        if k is None:
            raise KeyError(name)
        return k


@dataclass
class FlatDesign:
    """Flat netlist arrays: pin p belongs to instance `pin_inst[p]`, is named `pin_name[p]`
    and sits on net `pin_net[p]`; pins of instance i are `inst_pin_start[i]:inst_pin_start[i+1]`."""

    inst_names: list[str]
    inst_cell: list[str]
    inst_pin_start: np.ndarray
    pin_inst: np.ndarray
    pin_name: list[str]
    pin_net: np.ndarray
    net_names: list[str]
    port_names: list[str]
    port_dir: list[str]
    port_net: np.ndarray

    def node_names(self) -> NodeNames:
        """Timing-node names (`inst/pin`, then ports), formatted on demand."""
        return NodeNames(self)

    @classmethod
    def from_netlist(cls, nl: Any) -> FlatDesign:
        """Adapter from an array netlist object exposing the documented fields (instance names,
        cell names, per-instance pin CSR with pin names and net indices, net names, ports)."""
        inst_names = list(_get(nl, "inst_names", "instance_names"))
        cells = _get(nl, "inst_cell", "cell_names_of_instances", default=None)
        if cells is None:
            types = list(_get(nl, "cell_types", "cell_names"))
            cells = [types[k] for k in np.asarray(_get(nl, "inst_cell_type", "cell_index"))]
        start = np.asarray(_get(nl, "inst_pin_start", "pin_start", "inst_pin_ptr"), dtype=np.int64)
        pin_inst = np.repeat(np.arange(len(inst_names)), np.diff(start))
        ports = list(_get(nl, "port_names"))
        return cls(inst_names, list(cells), start, pin_inst, list(_get(nl, "pin_names", "pin_name")),
                   np.asarray(_get(nl, "pin_net"), dtype=np.int64), list(_get(nl, "net_names")), ports,
                   list(_get(nl, "port_dirs", "port_direction", "port_dir")),
                   np.asarray(_get(nl, "port_net", "port_nets"), dtype=np.int64))


@dataclass
class PinModel:
    """A Liberty pin; the design-rule limits are resolved as OpenSTA's checks do: the pin's own
    `max_transition`/`max_capacitance`/`max_fanout`, else (output pins only) the library's
    `default_max_*`; `fanout_load` falls back to `default_fanout_load` (None: counts 0)."""

    direction: str
    cap_rise: float
    cap_fall: float
    is_clock: bool = False
    max_transition: float | None = None  # s
    max_capacitance: float | None = None  # F
    max_fanout: float | None = None
    fanout_load: float | None = None
    clock_gate: str | None = None  # integrated clock gate role: "clock" | "enable" | "test" | "out"


@dataclass
class TableData:
    """One NLDM table in SI; `var1/var2` are Liberty variable names ('' for a missing axis)."""

    idx1: np.ndarray
    idx2: np.ndarray
    vals: np.ndarray  # shape (len(idx1), len(idx2)) — 1-D tables have idx2 = [0.0]
    var1: str
    var2: str


@dataclass
class ArcModel:
    related_pin: str
    pin: str
    timing_sense: str
    timing_type: str
    tables: dict[str, TableData]


@dataclass
class InternalPowerModel:
    """One `internal_power` group: energy per transition (J) tables on `pin`."""

    pin: str
    related_pin: str | None
    when: str | None
    rise: TableData | None
    fall: TableData | None


@dataclass
class CellModel:
    name: str
    pins: dict[str, PinModel]
    arcs: list[ArcModel]
    is_sequential: bool = False
    index: int = -1
    extra: dict[str, Any] = field(default_factory=dict)
    functions: dict[str, str] = field(default_factory=dict)  # output pin -> Liberty function
    next_state: str | None = None  # flop data function (ff next_state), for activity across D->Q
    internal_power: list[InternalPowerModel] = field(default_factory=list)
    leakage_states: list[tuple[str | None, float]] = field(default_factory=list)  # (when, W)
    cell_leakage: float | None = None  # W
    voltage: float = 0.0  # V, supply of the cell's library
    is_macro: bool = False
    is_pad: bool = False
    area: float = 0.0  # m^2


# variable name -> which query argument it reads: 0 = input/constrained slew, 1 = load, 2 = related slew
_VAR_CODE = {
    "input_net_transition": 0, "input_transition_time": 0, "constrained_pin_transition": 0,
    "total_output_net_capacitance": 1, "output_net_capacitance": 1, "output_net_length": 1,
    "related_pin_transition": 2, "related_out_total_output_net_capacitance": 1,
}


class TableBank:
    """All tables of a run stacked into padded arrays for vectorised look-up."""

    def __init__(self) -> None:
        self._tables: list[TableData] = []
        self._ids: dict[int, int] = {}

    def add(self, t: TableData | None) -> int:
        if t is None:
            return -1
        k = id(t)
        if k not in self._ids:
            self._ids[k] = len(self._tables)
            self._tables.append(t)
        return self._ids[k]

    def finalize(self) -> None:
        ts = self._tables or [TableData(np.zeros(1), np.zeros(1), np.zeros((1, 1)), "", "")]
        k1 = max(max(len(t.idx1) for t in ts), 2)
        k2 = max(max(len(t.idx2) for t in ts), 2)
        n = len(ts)
        self.ax1 = np.full((n, k1), np.inf)
        self.ax2 = np.full((n, k2), np.inf)
        self.vals = np.zeros((n, k1, k2))
        self.n1 = np.zeros(n, dtype=np.int64)
        self.n2 = np.zeros(n, dtype=np.int64)
        self.c1 = np.zeros(n, dtype=np.int64)
        self.c2 = np.zeros(n, dtype=np.int64)
        for i, t in enumerate(ts):
            a1, a2, v = np.asarray(t.idx1, float), np.asarray(t.idx2, float), np.asarray(t.vals, float)
            v = v.reshape(len(a1), len(a2))
            if len(a1) == 1:  # constant along axis 1: duplicate so the bilinear formula holds
                a1, v = np.array([a1[0], a1[0] + 1.0]), np.vstack([v, v])
            if len(a2) == 1:
                a2, v = np.array([a2[0], a2[0] + 1.0]), np.hstack([v, v])
            self.ax1[i, :len(a1)] = a1
            self.ax2[i, :len(a2)] = a2
            self.vals[i, :len(a1), :len(a2)] = v
            self.n1[i], self.n2[i] = len(a1), len(a2)
            self.c1[i] = _VAR_CODE.get(t.var1, 0)
            self.c2[i] = _VAR_CODE.get(t.var2, 1)

    def lookup(self, tids: np.ndarray, slew: np.ndarray, load: np.ndarray,
               related: np.ndarray | None = None) -> np.ndarray:
        """Values of tables `tids` at (slew, load[, related slew]); linear extrapolation."""
        tids = np.ascontiguousarray(tids, dtype=np.int64)
        if tids.size == 0:
            return np.zeros(0)

        def col(a: Any) -> np.ndarray:  # writable C float64: the type the kernel was compiled for
            a = np.asarray(a, dtype=float)
            if a.shape == tids.shape and a.flags.writeable:
                return np.ascontiguousarray(a)
            return np.array(np.broadcast_to(a, tids.shape), dtype=float, order="C")

        from flow.engines import sta_kernels as kern  # numba: loaded by the first look-up, not by readers

        return kern.lookup_many(tids, col(slew), col(load), col(0.0 if related is None else related), self.ax1,
                                self.ax2, self.vals, self.n1, self.n2, self.c1, self.c2)


def _get(obj: Any, *names: str, default: Any = None) -> Any:
    """First attribute (or mapping key) of `names` present on obj."""
    for n in names:
        if isinstance(obj, dict) and n in obj:
            return obj[n]
        if hasattr(obj, n):
            return getattr(obj, n)
    return default


def table_data(t: Any) -> TableData | None:
    """Adapter from a `flow.formats.liberty` Table (SI values and indices) to TableData."""
    if t is None:
        return None
    vals = np.asarray(_get(t, "values"), dtype=float)
    idx = _get(t, "indices", "index", default=None)
    if idx is not None:
        idx1 = np.asarray(idx[0], float) if len(idx) > 0 else np.zeros(1)
        idx2 = np.asarray(idx[1], float) if len(idx) > 1 else np.zeros(1)
    else:
        i1 = _get(t, "index_1", "index1", default=None)
        i2 = _get(t, "index_2", "index2", default=None)
        idx1 = np.asarray(i1, float) if i1 is not None and len(i1) else np.zeros(1)
        idx2 = np.asarray(i2, float) if i2 is not None and len(i2) else np.zeros(1)
    var = _get(t, "variables", default=None)
    if var is not None:
        var1 = var[0] if len(var) > 0 else ""
        var2 = var[1] if len(var) > 1 else ""
    else:
        var1 = _get(t, "variable_1", "variable1", default="") or ""
        var2 = _get(t, "variable_2", "variable2", default="") or ""
    vals = vals.reshape(len(idx1), len(idx2)) if vals.size == len(idx1) * len(idx2) else np.atleast_2d(vals)
    if vals.shape != (len(idx1), len(idx2)):
        if vals.size == 1:
            idx1, idx2, vals = np.zeros(1), np.zeros(1), vals.reshape(1, 1)
        else:
            raise ValueError(f"table shape {vals.shape} does not match its indices")
    return TableData(idx1, idx2, vals, str(var1), str(var2))


def cell_model(lib: Any, name: str) -> CellModel | None:
    """Timing and power view of Liberty cell `name` (None when the library lacks it)."""
    cells = _get(lib, "cells", default={})
    cell = cells.get(name) if hasattr(cells, "get") else None
    if cell is None:
        return None
    pins: dict[str, PinModel] = {}
    functions: dict[str, str] = {}
    lib_default = {k: _get(lib, f"default_{k}", default=None)
                   for k in ("max_transition", "max_capacitance", "max_fanout", "fanout_load")}

    def limit(pin: Any, key: str, direction: str) -> float | None:
        v = _get(pin, key, default=None)
        if v is None and (key == "fanout_load" or direction in ("output", "inout")):
            v = lib_default[key]
        return None if v is None else float(v)

    for pname, pin in _get(cell, "pins", default={}).items():
        c = float(_get(pin, "capacitance", default=0.0) or 0.0)
        cr = _get(pin, "rise_capacitance", default=None)
        cf = _get(pin, "fall_capacitance", default=None)
        dirn = str(_get(pin, "direction", default=""))
        pins[pname] = PinModel(dirn, float(cr) if cr is not None else c, float(cf) if cf is not None else c,
                               bool(_get(pin, "is_clock", "clock", default=False)),
                               limit(pin, "max_transition", dirn), limit(pin, "max_capacitance", dirn),
                               limit(pin, "max_fanout", dirn), limit(pin, "fanout_load", dirn),
                               _get(pin, "clock_gate", default=None) or None)
        f = _get(pin, "function", default=None)
        if f:
            functions[pname] = str(f)
    arcs: list[ArcModel] = []
    for a in _get(cell, "timing_arcs", "arcs", default=[]) or []:
        tabs = {}
        table_map = _get(a, "tables", default=None)
        for k in ("cell_rise", "cell_fall", "rise_transition", "fall_transition", "rise_constraint", "fall_constraint"):
            t = table_map.get(k) if isinstance(table_map, dict) else _get(a, k, default=None)
            td = table_data(t)
            if td is not None:
                tabs[k] = td
        arcs.append(ArcModel(str(_get(a, "related_pin", default="")), str(_get(a, "pin", default="")),
                             str(_get(a, "timing_sense", default="") or ""),
                             str(_get(a, "timing_type", default="") or "combinational"), tabs))
    ip_list: list[InternalPowerModel] = []
    for ip in _get(cell, "internal_power", default=[]) or []:
        tm = _get(ip, "tables", default=None)

        def tab(k: str, tm: Any = tm, ip: Any = ip) -> TableData | None:
            return table_data(tm.get(k) if isinstance(tm, dict) else _get(ip, k, default=None))

        rel = _get(ip, "related_pin", default=None) or None
        ip_list.append(InternalPowerModel(str(_get(ip, "pin", default="")), rel,
                                          _get(ip, "when", default=None) or None,
                                          tab("rise_power"), tab("fall_power")))
    states = [(w or None, float(v)) for w, v in (_get(cell, "leakage_states", default=[]) or [])]
    leak = _get(cell, "leakage_power", "cell_leakage_power", default=None)
    ff = _get(cell, "ff", "flop", "sequential", default=None)
    next_state = None
    if ff is not None:
        next_state = _get(ff, "next_state", default=None)
        if next_state is None and isinstance(ff, (list, tuple)) and ff:
            next_state = _get(ff[0], "next_state", default=None)
    ff_names = list(_get(ff, "names", default=[]) or []) if ff is not None and not isinstance(ff, (list, tuple)) else []
    volt = _get(lib, "nom_voltage", "voltage", default=0.0) or 0.0
    return CellModel(name, pins, arcs, bool(_get(cell, "is_sequential", default=False)),
                     functions=functions, next_state=next_state, internal_power=ip_list,
                     leakage_states=states, cell_leakage=float(leak) if leak is not None else None,
                     voltage=float(volt), is_macro=bool(_get(cell, "is_macro", default=False)),
                     is_pad=bool(_get(cell, "is_pad", default=False)), area=float(_get(cell, "area", default=0.0) or 0.0),
                     extra={"ff_names": ff_names})
