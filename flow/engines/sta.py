"""Static timing analysis on the array netlist (OpenSTA-compatible numbers).

Model (what OpenSTA does by default, minus what is listed under *Approximations*):

* Timing graph: one node per instance pin and per top port; edges are net edges (driver pin ->
  each load pin) and Liberty timing arcs (`related_pin` -> `pin`), expanded per transition by
  `timing_sense` (positive/negative/non-unate) and `timing_type` (`combinational*`,
  `rising_edge`/`falling_edge` launch arcs; `three_state_enable/disable` from the one EN edge
  their sense names to both output levels, as OpenSTA). Nodes are levelised once (Kahn); slews
  and delays are computed level by level, vectorised with numpy over every edge of a level.
* NLDM: `cell_rise/cell_fall` and `rise_transition/fall_transition` tables, bilinear look-up with
  linear extrapolation outside the index range (as OpenSTA). Slew at a node is the max (late) or
  min (early) over its incoming edges, independent of which edge gives the worst arrival.
* Load of a driver: the Liberty rise/fall capacitance of every pin on its net (from the library
  of that pin's instance's corner; drivers count too, as OpenSTA: a tristate output's own
  capacitance) + `set_load` on ports + the net's wire capacitance.
* Wires (`Parasitics`): zero wire load, lumped wire capacitance, an RC tree from SPEF `*RES`, or
  the Liberty wire-load estimate (`set_wire_load_model`). RC nets and wire-load estimates use
  OpenSTA's default delay calculator (`dmp_ceff_elmore`, flow.engines.dmp): a pi model of the net
  at the driver, the DMP effective capacitance for the gate delay and driver slew, and per load
  the wire delay and slew of the driver waveform through its Elmore delay.
* Clocks: `create_clock` waveforms on ports/pins; ideal (network delay = `set_clock_latency`,
  slew = `set_clock_transition`, else propagated through the clock buffers from the clock
  source's slew, as OpenSTA 3) or propagated (delays too) through the clock tree cells and wires.
  Arrivals are propagated per *launch group* (clock, source edge), so rising/falling launches and
  several clocks are kept apart as OpenSTA's tags do.
* Checks: setup/hold from `setup_rising`/`hold_rising` (and `_falling`) constraint tables looked
  up at (data slew, clock slew); output ports with `set_output_delay`. Capture edge = first edge
  of the capture clock after the launch edge (setup), that edge minus one period (hold). Clock
  uncertainty is subtracted (setup) / added (hold). `set_false_path` (-from/-to clocks, -from
  startpoints, -to endpoints), `set_clock_groups` (pairs skipped), `set_max_delay -to`.
* Latches (a data pin with a setup check against the enable, a D->Q arc and an enable->Q launch
  arc), as OpenSTA 3.1's `Latches`: data arriving before the opening edge is checked against it,
  data arriving while the latch is transparent borrows (slack 0) up to the pulse width minus the
  setup time, or the `set_max_time_borrow` limit instead (then violates), and continues from D
  through D->Q in the enable's launch group (late arrivals only; D->Q sets no slew at Q, as
  OpenSTA's delay calculation); the hold check is at the closing edge; a path through a
  borrowing latch starts at its D, as OpenSTA reports it (tests/signoff/test_latch_borrowing.py).
* Slack per endpoint is the worst over transitions and launch groups; WNS = worst slack (may be
  positive, like OpenSTA `worst_slack`), TNS = sum of negative endpoint slacks.

Multi-voltage API (FINE-VH)::

    analyze(design, libs=[lib_vddl, lib_vddh], constraints=tc,
            instance_corner=np.array([...]),      # per instance: index into libs
            level_shifter_delay=35e-12,            # s, added on net edges whose driver and load
                                                   # instances have different supply voltage
            derate=np.array([...]))                # per instance factor on cell-arc delays
                                                   # (e.g. 1.03 for a power-switch IR drop)

Each instance's arcs, pin capacitances and constraint tables come from `libs[instance_corner[i]]`;
supply voltage per library is `lib.nom_voltage` (or the `voltages` argument). `analyze_corners`
runs the same netlist at every corner of a platform (dict corner -> Library).

Loading: `load_design(verilog_paths, top) -> FlatDesign`, `load_liberty(path)` (engine reader,
SI units), `load_constraints(sdc_path, design) -> TimingConstraints` (SDC evaluated by Tcl).
Results: `TimingResult.setup_wns/setup_tns/hold_wns/hold_tns` (s), per-endpoint slacks,
`setup_paths/hold_paths` (`TimingPath` with per-stage incr/arrival/slew/load), `report_checks()`
text, `to_json()`; `timing_json({corner: result})` is the `timing` view.

Approximations (documented, checked against OpenSTA 3.1 in tests/signoff): a port with
`set_driving_cell` on an RC net is driven by the cell's arc into the lumped load (OpenSTA runs
DMP there too), exponentials and float precision as OpenSTA's only to ~1e-6, no CRPR, no
clock gating checks, no SI; `-through` exceptions are refused by the SDC reader (file:line),
not ignored. With zero wire load, capacitance-only SPEF and ideal or propagated clocks the
numbers equal OpenSTA's to the femtosecond (tests/signoff/test_sta_hand.py,
test_sta_opensta.py); ORFS-style SDCs with virtual clocks and latencies and resistive SPEF are
within 5 ps / 1 % TNS (test_sta_opensta3.py);
wire-load models as OpenSTA 3.1 applies them (test_wireload.py); DRV checks as
`report_check_types` (test_drv_opensta.py, flow.engines.drv).

Reference: OpenSTA (Parallax) `report_checks`, `report_wns`, `report_tns` semantics.
"""

from __future__ import annotations

import functools
import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from flow.engines import rc_kernels as rck
from flow.engines import sta_kernels as kern
from flow.engines.cycle_accounting import multicycle_adjustments, separations
from flow.engines.model import _VAR_CODE, CellModel, FlatDesign, NodeIndex, TableBank, cell_model
from flow.engines.parasitics import Parasitics
from flow.errors import ConfigError
from flow.util import gc_paused

if TYPE_CHECKING:
    from flow.background import Pending

RISE, FALL = 0, 1
_TR = "^v"


# ---- constraints (SI, engine-side view of an SDC) -------------------------------------------
@dataclass
class ClockDef:
    """A clock: period and waveform in seconds, sources are port or `inst/pin` names."""

    name: str
    period: float
    waveform: tuple[float, float]
    sources: list[str]
    uncertainty_setup: float = 0.0
    uncertainty_hold: float = 0.0
    transition: float | None = None  # set_clock_transition (s); None: slews propagate (OpenSTA)
    latency: float = 0.0  # ideal network latency
    source_latency: float = 0.0
    propagated: bool = False


@dataclass
class IODelay:
    port: str
    clock: str
    clock_fall: bool = False
    max: float = 0.0
    min: float = 0.0


@dataclass
class TimingConstraints:
    """What the engine needs from SDC, in seconds / farads."""

    clocks: list[ClockDef] = field(default_factory=list)
    input_delays: list[IODelay] = field(default_factory=list)
    output_delays: list[IODelay] = field(default_factory=list)
    input_transition: dict[str, float] = field(default_factory=dict)
    # port -> (library cell, output pin or None, from pin or None, input slew s) of set_driving_cell
    driving_cells: dict[str, tuple[str, str | None, str | None, float]] = field(default_factory=dict)
    port_load: dict[str, float] = field(default_factory=dict)
    false_paths: list[dict[str, Any]] = field(default_factory=list)  # {"from": [...], "to": [...]}
    max_delays: list[dict[str, Any]] = field(default_factory=list)  # {"to": [...], "value": s}
    async_groups: list[tuple[str, str]] = field(default_factory=list)  # clock pairs not timed
    wire_load_model: str | None = None  # set_wire_load_model -name (estimates without SPEF)
    # set_max_transition (s) / set_max_capacitance (F) / set_max_fanout: object -> limit,
    # "" for the design ([current_design]), else a port name
    max_transition: dict[str, float] = field(default_factory=dict)
    max_capacitance: dict[str, float] = field(default_factory=dict)
    max_fanout: dict[str, float] = field(default_factory=dict)
    case_analysis: dict[str, str] = field(default_factory=dict)  # set_case_analysis: pin/port -> 0|1|rising|falling
    # set_multicycle_path between clocks: {"mult", "minmax" all|max|min, "end", "from_clocks", "to_clocks"}
    multicycle_paths: list[dict[str, Any]] = field(default_factory=list)
    # set_max_time_borrow (s): "pin" / "inst" / "clock" -> name -> limit; a latch takes its D pin's,
    # else its enable pin's, its instance's, its enable clock's (OpenSTA's Sdc::latchBorrowLimit)
    max_time_borrow: dict[str, dict[str, float]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


# ---- results ---------------------------------------------------------------------------------
@dataclass
class PathStage:
    node: str
    transition: str  # "^" rise, "v" fall
    incr: float
    arrival: float
    slew: float
    load: float | None
    cell: str | None


@dataclass
class TimingPath:
    kind: str  # "max" (setup) or "min" (hold)
    startpoint: str
    endpoint: str
    launch_clock: str | None
    capture_clock: str | None
    stages: list[PathStage]
    arrival: float
    required: float
    slack: float
    launch_edge: float
    capture_edge: float
    clock_arrival: float
    check: float  # setup/hold time or output delay
    uncertainty: float
    latch: str | None = None  # "positive"/"negative": a latch endpoint (setup: `check` is minus the time borrowed)
    # (clock edge at the source, transition at the register's clock/enable pin), 0 rise 1 fall:
    # OpenSTA names the clock `clk'` when they differ and prints the pin's edge
    launch_sense: tuple[int, int] | None = None
    capture_sense: tuple[int, int] | None = None
    start_latch: str | None = None  # "positive"/"negative": the path starts at a latch (enable or D)
    time_given: float | None = None  # path through a borrowing latch from its D: time given to the startpoint
    borrow: dict[str, Any] | None = None  # latch setup: OpenSTA's "Time Borrowing Information"

    def to_json(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k != "stages"}
        d["stages"] = [s.__dict__ for s in self.stages]
        return d


@dataclass
class TimingResult:
    """Slacks per endpoint (s) for setup and hold, summary numbers and the worst paths."""

    endpoint_names: list[str]
    setup_slack: np.ndarray  # per endpoint, +inf if unconstrained
    hold_slack: np.ndarray
    setup_paths: list[TimingPath]
    hold_paths: list[TimingPath]
    warnings: list[str]
    node_slew: np.ndarray  # [nodes, 2] late slew (s)
    node_load: np.ndarray  # [nodes, 2] load at drivers (F)
    node_names: list[str]
    graph: Any = None  # the timing graph (power reuses pins, loads and levels)
    node_clock: np.ndarray | None = None  # clock index of clock-network nodes, -1 elsewhere
    node_data_clock: np.ndarray | None = None  # a clock whose paths reach the node, -1 if none
    clock_periods: list[float] = field(default_factory=list)
    edge_delay: np.ndarray | None = None  # late delay per timing-graph edge (s); -inf where no arc
    node_arrival: np.ndarray | None = None  # [nodes, 2] latest arrival over launch groups (s)
    ideal_clock_node: np.ndarray | None = None  # node is in an ideal clock network
    constraints: TimingConstraints | None = None
    library: Any = None  # the first library (driving cells of ports)
    _drv: Any = field(default=None, repr=False)

    def design_rules(self) -> Any:
        """Max slew / capacitance / fanout checks as `report_check_types` (flow.engines.drv)."""
        if self._drv is None:
            from flow.engines.drv import check_design_rules

            self._drv = check_design_rules(self)
        return self._drv

    @staticmethod
    def _ws(s: np.ndarray) -> float:
        f = s[np.isfinite(s)]
        return float(f.min()) if f.size else math.inf

    @staticmethod
    def _tns(s: np.ndarray) -> float:
        f = s[np.isfinite(s)]
        return float(np.minimum(f, 0.0).sum()) if f.size else 0.0

    @property
    def setup_wns(self) -> float:
        return self._ws(self.setup_slack)

    @property
    def setup_tns(self) -> float:
        return self._tns(self.setup_slack)

    @property
    def hold_wns(self) -> float:
        return self._ws(self.hold_slack)

    @property
    def hold_tns(self) -> float:
        return self._tns(self.hold_slack)

    def summary(self) -> dict[str, float | None]:
        def fin(x: float) -> float | None:
            return x if math.isfinite(x) else None

        return {"setup_ws": fin(self.setup_wns), "setup_tns": self.setup_tns,
                "hold_ws": fin(self.hold_wns), "hold_tns": self.hold_tns,
                "endpoints": int(np.isfinite(self.setup_slack).sum())}

    def to_json(self, max_paths: int = 10) -> dict[str, Any]:
        return {**self.summary(), "warnings": self.warnings,
                "setup_paths": [p.to_json() for p in self.setup_paths[:max_paths]],
                "hold_paths": [p.to_json() for p in self.hold_paths[:max_paths]]}

    def report_checks(self, kind: str = "max", group_count: int = 1, digits: int = 3) -> str:
        """OpenSTA-like `report_checks -path_delay min|max` text (times in ns, caps in fF)."""
        paths = self.setup_paths if kind == "max" else self.hold_paths
        return "\n".join(format_path(p, digits) for p in paths[:group_count]) or "No paths found.\n"


def format_path(p: TimingPath, digits: int = 3) -> str:
    """One path in OpenSTA `report_checks -fields {slew cap}` layout."""
    ns = 1e9
    w = digits + 5

    def f(x: float) -> str:
        return f"{x * ns:{w}.{digits}f}"

    lines = [f"Startpoint: {p.startpoint}", f"Endpoint: {p.endpoint}",
             f"Path Group: {p.capture_clock or 'unconstrained'}",
             f"Path Type: {p.kind}", "",
             f"{'Cap':>{w}} {'Slew':>{w}} {'Delay':>{w}} {'Time':>{w}}   Description",
             "-" * (4 * w + 30)]
    blank = " " * w
    if p.launch_clock:
        lines.append(f"{blank} {blank} {f(0.0)} {f(p.launch_edge)}   clock {p.launch_clock} (rise edge)")
    if p.time_given is not None and p.stages:  # through a borrowing latch, from its D
        lines.append(f"{blank} {blank} {f(p.time_given)} {f(p.stages[0].arrival)}   time given to startpoint")
    for s in p.stages:
        cap = f"{s.load * 1e15:{w}.{digits}f}" if s.load is not None else blank
        cell = f" ({s.cell})" if s.cell else (" (in)" if "/" not in s.node else " (out)")
        lines.append(f"{cap} {s.slew * ns:{w}.{digits}f} {f(s.incr)} {f(s.arrival)} {s.transition} {s.node}{cell}")
    lines.append(f"{blank} {blank} {blank} {f(p.arrival)}   data arrival time")
    lines.append("")
    if p.capture_clock:
        lines.append(f"{blank} {blank} {f(p.capture_edge)} {f(p.capture_edge)}   clock {p.capture_clock} (rise edge)")
        lines.append(f"{blank} {blank} {f(p.clock_arrival - p.capture_edge)} {f(p.clock_arrival)}   clock network delay")
    sign = -1.0 if p.kind == "max" else 1.0
    if p.uncertainty:
        lines.append(f"{blank} {blank} {f(sign * p.uncertainty)} {f(p.clock_arrival + sign * p.uncertainty)}   clock uncertainty")
    what = "library setup time" if p.kind == "max" else "library hold time"
    if p.latch and p.kind == "max":
        what = "time borrowed from endpoint"
    lines.append(f"{blank} {blank} {f(sign * p.check)} {f(p.required)}   {what}")
    lines.append(f"{blank} {blank} {blank} {f(p.required)}   data required time")
    lines.append("-" * (4 * w + 30))
    lines.append(f"{blank} {blank} {blank} {f(p.slack)}   slack ({'MET' if p.slack >= 0 else 'VIOLATED'})")
    lines.append("")
    return "\n".join(lines)


# ---- graph construction ---------------------------------------------------------------------
@dataclass
class _Graph:
    n: int
    names: list[str]
    node_inst: np.ndarray
    node_net: np.ndarray
    # expanded edges
    src: np.ndarray
    srctr: np.ndarray
    dst: np.ndarray
    dsttr: np.ndarray
    is_cell: np.ndarray
    dtab: np.ndarray
    stab: np.ndarray
    inst: np.ndarray
    wire: np.ndarray
    launch: np.ndarray  # cell edge is a clock->output launch arc
    checks: list[tuple[int, int, str, int, int, int, int]]  # (d, ck, kind, ck_tr, tab_r, tab_f, inst)
    load: np.ndarray  # [n, 2]
    level: np.ndarray
    cells: list[CellModel]
    inst_cell_idx: np.ndarray
    warnings: list[str]
    pin_keys: tuple = ()  # (name_ids, n_names, sorted keys, order) for (instance, pin) look-ups
    pin_table: np.ndarray | None = None  # node of (instance * n_names + pin name id), -1: none
    pin_dir: np.ndarray | None = None  # per node: 0 unknown, 1 input, 2 output, 3 inout
    limits: np.ndarray | None = None  # per node: max_transition, max_capacitance, max_fanout, fanout_load
    # RC nets for the DMP delay calculator: (rc index per node, pi models [rc, tr, (c2, rpi, c1)],
    # CSR of their wire edges, dspf flag per rc (input port without driving cell), Elmore and
    # extra (level shifter) delay per edge)
    rc: tuple | None = None

    def nodes_of(self, insts: np.ndarray, pin: str) -> np.ndarray:
        """Node of `pin` on each instance in `insts` (-1 where it has no such pin)."""
        name_ids, n_names, skeys, korder = self.pin_keys
        j = name_ids.get(pin)
        if j is None or skeys.size == 0:
            return np.full(insts.size, -1, dtype=np.int64)
        q = insts * n_names + j
        if self.pin_table is not None:
            return self.pin_table[q].astype(np.int64)
        pos = np.clip(np.searchsorted(skeys, q), 0, skeys.size - 1)
        return np.where(skeys[pos] == q, korder[pos], -1)


_MAX_PIN_TABLE = 1 << 26  # (instances x distinct pin names) up to which pins are found by a direct table


def _build_graph(design: FlatDesign, libs: Sequence[Any], inst_corner: np.ndarray, bank: TableBank,
                 tc: TimingConstraints, par: Parasitics | None, ls_delay: float,
                 voltages: np.ndarray) -> _Graph:
    warnings: list[str] = []
    n_pins = len(design.pin_name)
    n = n_pins + len(design.port_names)
    names = design.node_names()
    node_inst = np.concatenate([design.pin_inst, np.full(len(design.port_names), -1)])
    node_net = np.concatenate([design.pin_net, design.port_net])
    # cell models per (corner, cell)
    models: dict[tuple[int, str], CellModel] = {}
    cells: list[CellModel] = []
    inst_cell_idx = np.empty(len(design.inst_names), dtype=np.int64)
    missing: set[str] = set()

    def model_of(key: tuple[int, str]) -> CellModel:
        m = cell_model(libs[key[0]], key[1])
        if m is None:
            missing.add(key[1])
            m = CellModel(key[1], {}, [], is_sequential=False)
        models[key] = m
        m.index = len(cells)
        cells.append(m)
        return m

    if len(libs) == 1 or not inst_corner.any():  # one corner: a C-speed map over the cell names
        idx = {c: model_of((0, c)).index for c in dict.fromkeys(design.inst_cell)}  # first-use order
        inst_cell_idx[:] = np.fromiter(map(idx.__getitem__, design.inst_cell), dtype=np.int64,
                                       count=len(design.inst_cell))
    else:
        for i, cname in enumerate(design.inst_cell):
            key = (int(inst_corner[i]), cname)
            m = models.get(key)
            inst_cell_idx[i] = (m if m is not None else model_of(key)).index
    if missing:
        warnings.append(f"{len(missing)} cell type(s) not in the library, untimed: {', '.join(sorted(missing)[:10])}")
    pin_dir = np.zeros(n, dtype=np.int8)  # 0 unknown, 1 input, 2 output, 3 inout
    cap = np.zeros((n, 2))
    dcode = {"input": 1, "output": 2, "inout": 3}
    # pin name ids (C-speed map over a dict of the distinct names), then direction and caps
    # once per distinct (cell model, pin name), broadcast to the pins
    name_ids = {nm: k for k, nm in enumerate(dict.fromkeys(design.pin_name))}
    pid = np.fromiter(map(name_ids.__getitem__, design.pin_name), dtype=np.int64, count=n_pins)
    n_names = max(len(name_ids), 1)
    pin_cell = inst_cell_idx[design.pin_inst]
    id_name = list(name_ids)
    ukeys, inv = _unique_small(pin_cell * n_names + pid, len(cells) * n_names)
    info = np.zeros((ukeys.size, 7))
    info[:, 3:6] = np.nan  # design-rule limits: none
    info[:, 6] = 1.0  # a pin without a Liberty pin counts as one fanout (OpenSTA fanoutLoad)

    def num(v: float | None) -> float:
        return np.nan if v is None else v

    for u, key in enumerate(ukeys.tolist()):
        pm = cells[key // n_names].pins.get(id_name[key % n_names])
        if pm is not None:
            info[u] = (dcode.get(pm.direction, 0), pm.cap_rise, pm.cap_fall, num(pm.max_transition),
                       num(pm.max_capacitance), num(pm.max_fanout), pm.fanout_load or 0.0)
    pin_dir[:n_pins] = info[inv.reshape(-1), 0].astype(np.int8)
    cap[:n_pins] = info[inv.reshape(-1), 1:3]
    # per node: max_transition, max_capacitance, max_fanout (NaN: none) and fanout_load
    limits = np.full((n, 4), np.nan)
    limits[:n_pins] = info[inv.reshape(-1), 3:]
    limits[n_pins:, 3] = 0.0
    for q, d in enumerate(design.port_dir):
        # a top input port drives its net; an output port is a load
        pin_dir[n_pins + q] = {"input": 2, "output": 1, "inout": 3}.get(d, 0)
        cap[n_pins + q] = tc.port_load.get(design.port_names[q], 0.0)
    # net -> drivers / loads (vectorised; nets with an RC tree get per-load Elmore delays)
    n_nets = len(design.net_names)
    is_drv = (pin_dir == 2) | (pin_dir == 3)
    is_ld = (pin_dir == 1) | (pin_dir == 3)
    drv_nodes = np.flatnonzero(is_drv)
    n_drv = np.bincount(node_net[drv_nodes], minlength=n_nets)
    if (n_drv > 1).any():
        warnings.append(f"{int((n_drv > 1).sum())} net(s) with several drivers")
    ld_nodes = np.flatnonzero(is_ld)
    # a net's pin capacitance is that of every pin on it, drivers included (OpenSTA's netCaps
    # visits all connected pins: a tristate output's own `capacitance` loads its driver)
    net_cap = np.zeros((n_nets, 2))
    for tr in (0, 1):
        net_cap[:, tr] = np.bincount(node_net, weights=cap[:, tr], minlength=n_nets)
    if par is not None:
        net_cap += np.asarray(par.wire_cap, dtype=float)[:, None]
    fanout = np.bincount(node_net[ld_nodes], minlength=n_nets)  # input pins and output ports (as OpenSTA)
    wl = par.wire_load if par is not None else None
    if wl is not None:  # no SPEF: the Liberty wire-load estimate
        wl_len = wl.length(fanout)
        wl_cap, wl_res = wl_len * wl.cap_per_length, wl_len * wl.res_per_length
        net_cap += wl_cap[:, None]
    undriven = int(((n_drv == 0) & (fanout > 0)).sum())
    if undriven:
        warnings.append(f"{undriven} net(s) with loads but no driver")
    load = np.zeros((n, 2))
    load[drv_nodes] = net_cap[node_net[drv_nodes]]
    # edges: every driver of a net to every load of it (CSR over nets)
    drv_sorted = drv_nodes[np.argsort(node_net[drv_nodes], kind="stable")]
    dstart = np.searchsorted(node_net[drv_sorted], np.arange(n_nets + 1))
    cnt = (dstart[1:] - dstart[:-1])[node_net[ld_nodes]]
    e_dst_a = np.repeat(ld_nodes, cnt)
    first = dstart[node_net[ld_nodes]]
    offs = np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    e_src_a = drv_sorted[np.repeat(first, cnt) + offs]
    keep = e_src_a != e_dst_a
    e_src_a, e_dst_a = e_src_a[keep], e_dst_a[keep]
    e_wire_a = np.zeros(e_src_a.size)
    if wl is not None and not wl.tree.startswith("best"):
        ne = node_net[e_src_a]
        if wl.tree.startswith("worst"):  # all load capacitance behind the whole wire resistance
            e_wire_a += wl_res[ne] * net_cap[ne].max(axis=1)
        else:  # balanced: each load behind R/fanout with C/fanout of wire
            fo = np.maximum(fanout[ne], 1)
            e_wire_a += wl_res[ne] / fo * (wl_cap[ne] / fo + cap[e_dst_a].max(axis=1))
    # RC trees: per driver and transition the pi model and each load's Elmore delay (OpenSTA's
    # reduceToPiElmore, pin capacitances of that transition) for the DMP delay calculator
    rc_of_node = np.full(n, -1, dtype=np.int64)
    rc_pi_l: list[list[tuple[float, float, float]]] = []
    rc_port: list[bool] = []
    e_elm = np.zeros((e_src_a.size, 2))
    if par is not None and par.trees:
        # all drivers at once in a compiled kernel over the trees as flat arrays; RC ids in
        # the order the drivers first appear among the edges
        slot_net, node_start, node_gid, node_cap, res_start, res_a, res_b, res_r = _rc_arrays(par, design, names)
        slot_of_net = np.full(n_nets, -1, dtype=np.int64)
        slot_of_net[slot_net] = np.arange(slot_net.size)
        sel = np.flatnonzero(slot_of_net[node_net[e_src_a]] >= 0)
        _, first = np.unique(e_src_a[sel], return_index=True)
        drivers = e_src_a[sel][np.sort(first)]
        drv_slot = slot_of_net[node_net[drivers]]
        sizes = node_start[drv_slot + 1] - node_start[drv_slot]
        dly_start = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        pis = np.zeros((drivers.size, 2, 3))
        has_tree = np.zeros(drivers.size, dtype=bool)
        dly = np.zeros((int(dly_start[-1]), 2))
        rck.pi_elmore_all(drivers, drv_slot, node_start, node_gid, node_cap, res_start, res_a, res_b, res_r,
                          np.ascontiguousarray(cap), is_ld | is_drv, np.asarray(node_net, dtype=np.int64), slot_net,
                          dly_start, pis, has_tree, dly)
        # local id of each timing node in its own net's tree (-1: not in it)
        node_slot = np.repeat(np.arange(slot_net.size), np.diff(node_start))
        own = (node_gid >= 0) & (node_net[np.maximum(node_gid, 0)] == slot_net[node_slot])
        local_of = np.full(n, -1, dtype=np.int64)
        local_of[node_gid[own]] = (np.arange(node_gid.size) - node_start[node_slot])[own]
        kd = np.full(n, -1, dtype=np.int64)
        kd[drivers] = np.arange(drivers.size)
        rc_drivers = drivers[has_tree]
        rc_of_node[rc_drivers] = np.arange(rc_drivers.size)
        rc_pi_l = pis[has_tree].tolist()
        rc_port = [bool(d >= n_pins and d - n_pins < len(design.port_names)
                        and design.port_names[d - n_pins] not in tc.driving_cells) for d in rc_drivers.tolist()]
        es = sel[has_tree[kd[e_src_a[sel]]]]
        loc = local_of[e_dst_a[es]]
        hit = loc >= 0
        e_elm[es[hit]] = dly[dly_start[kd[e_src_a[es[hit]]]] + loc[hit]]
        e_wire_a[es] = e_elm[es].max(axis=1)
    if wl is not None and e_src_a.size:
        # wire-load estimate as OpenSTA's estimatePiElmore: a pi model per driver and transition
        # (balanced tree: each load behind R/fanout with C/fanout of wire, O'Brien-Savarino
        # moments; worst case: everything behind R; best case: lumped) for the DMP calculator
        drivers = np.unique(e_src_a)
        dn = node_net[drivers]
        fo = np.maximum(fanout, 1).astype(float)
        r_fo, c_fo = wl_res / fo, wl_cap / fo
        y = np.zeros((3, n_nets, 2))
        lnet = node_net[e_dst_a]
        for tr in (0, 1):
            c = cap[e_dst_a, tr] + c_fo[lnet]
            y[0, :, tr] = np.bincount(lnet, weights=c, minlength=n_nets)
            y[1, :, tr] = -np.bincount(lnet, weights=r_fo[lnet] * c * c, minlength=n_nets)
            y[2, :, tr] = np.bincount(lnet, weights=r_fo[lnet] ** 2 * c ** 3, minlength=n_nets)
        pis = np.zeros((drivers.size, 2, 3))
        for tr in (0, 1):
            y1 = y[0, dn, tr] + cap[drivers, tr]
            y2, y3 = y[1, dn, tr], y[2, dn, tr]
            if wl.tree.startswith("best"):
                pis[:, tr] = np.stack([y1, 0 * y1, 0 * y1], axis=1)
            elif wl.tree.startswith("worst"):
                c1 = net_cap[dn, tr] - cap[drivers, tr]
                pis[:, tr] = np.stack([cap[drivers, tr], wl_res[dn], c1], axis=1)
            else:
                resist = (wl_res[dn] > 0) & (fanout[dn] > 0) & (y3 != 0)
                c1 = np.where(resist, y2 * y2 / np.where(resist, y3, 1.0), 0.0)
                c2 = np.where(resist, np.maximum(y1 - c1, 0.0), y1)
                rpi = np.where(resist, -y3 * y3 / np.where(resist, y2 ** 3, 1.0), 0.0)
                pis[:, tr] = np.stack([c2, rpi, c1], axis=1)
        rc_of_node[drivers] = np.arange(drivers.size)
        rc_pi_l = pis.tolist()
        rc_port = [bool(d >= n_pins and design.port_names[d - n_pins] not in tc.driving_cells)
                   for d in drivers.tolist()]
        ne = node_net[e_src_a]
        for tr in (0, 1):
            if wl.tree.startswith("worst"):
                e_elm[:, tr] = wl_res[ne] * (net_cap[ne, tr] - cap[e_src_a, tr])
            elif not wl.tree.startswith("best"):
                e_elm[:, tr] = r_fo[ne] * (c_fo[ne] + cap[e_dst_a, tr])
    e_extra = np.zeros(e_src_a.size)
    if ls_delay:
        di, li = node_inst[e_src_a], node_inst[e_dst_a]
        ok = (di >= 0) & (li >= 0)
        vd = np.where(ok, voltages[inst_corner[np.maximum(di, 0)]], 0.0)
        vl = np.where(ok, voltages[inst_corner[np.maximum(li, 0)]], 0.0)
        e_extra = np.where(ok & (vd != vl), ls_delay, 0.0)
        e_wire_a = e_wire_a + e_extra
    e_src, e_dst, e_wire = e_src_a, e_dst_a, e_wire_a
    src = [np.repeat(np.asarray(e_src, dtype=np.int64), 2)]
    dst = [np.repeat(np.asarray(e_dst, dtype=np.int64), 2)]
    srctr = [np.tile(np.array([RISE, FALL]), len(e_src))]
    dsttr = [srctr[0].copy()]
    is_cell = [np.zeros(2 * len(e_src), dtype=bool)]
    dtab = [np.full(2 * len(e_src), -1, dtype=np.int64)]
    stab = [np.full(2 * len(e_src), -1, dtype=np.int64)]
    einst = [np.full(2 * len(e_src), -1, dtype=np.int64)]
    wire = [np.repeat(np.asarray(e_wire, dtype=float), 2)]
    launch = [np.zeros(2 * len(e_src), dtype=bool)]
    # cell arcs: expanded per cell type, vectorised over its instances
    checks: list[tuple[int, int, str, int, int, int, int]] = []
    cs, cst, cd, cdt, cdt_tab, cst_tab, ci, cl = [], [], [], [], [], [], [], []
    # (instance, pin name) -> node through sorted integer keys, vectorised per cell type
    keys = design.pin_inst * n_names + pid
    korder = np.argsort(keys, kind="stable")
    skeys = keys[korder]
    pin_table = None
    if len(design.inst_names) * n_names <= _MAX_PIN_TABLE:  # direct look-up, the first pin of a name wins
        pin_table = np.full(len(design.inst_names) * n_names, -1, dtype=np.int32 if n < 2**31 else np.int64)
        pin_table[keys[::-1]] = np.arange(n_pins)[::-1]

    def nodes_of(insts: np.ndarray, pin: str) -> np.ndarray:
        """Node of `pin` on each instance, -1 where the instance has no such pin."""
        j = name_ids.get(pin)
        if j is None or skeys.size == 0:
            return np.full(insts.size, -1, dtype=np.int64)
        q = insts * n_names + j
        if pin_table is not None:
            return pin_table[q].astype(np.int64)
        pos = np.clip(np.searchsorted(skeys, q), 0, skeys.size - 1)
        return np.where(skeys[pos] == q, korder[pos], -1)

    by_cell = np.argsort(inst_cell_idx, kind="stable")
    cstarts = np.searchsorted(inst_cell_idx[by_cell], np.arange(len(cells) + 1))
    for m in cells:
        if not m.arcs:
            continue
        insts = by_cell[cstarts[m.index]:cstarts[m.index + 1]]
        if insts.size == 0:
            continue
        arcs_t, checks_t = _arc_template(m, bank)
        for rp, pn, kind, ck_tr, tr_, tf_ in checks_t:
            a_, b_ = nodes_of(insts, rp), nodes_of(insts, pn)
            ok = (a_ >= 0) & (b_ >= 0)
            checks += [(int(bb), int(aa), kind, ck_tr, tr_, tf_, int(ii))
                       for aa, bb, ii in zip(a_[ok], b_[ok], insts[ok], strict=True)]
        for rp, pn, itr, otr, dtid, stid, is_launch in arcs_t:
            a_, b_ = nodes_of(insts, rp), nodes_of(insts, pn)
            ok = (a_ >= 0) & (b_ >= 0)
            k_ = int(ok.sum())
            cs.append(a_[ok])
            cd.append(b_[ok])
            ci.append(insts[ok])
            cst.append(np.full(k_, itr))
            cdt.append(np.full(k_, otr))
            cdt_tab.append(np.full(k_, dtid))
            cst_tab.append(np.full(k_, stid))
            cl.append(np.full(k_, is_launch))
    catl = np.concatenate
    cs_a = catl(cs).astype(np.int64) if cs else np.zeros(0, dtype=np.int64)
    cs, cst, cd, cdt = cs_a, (catl(cst) if cst else np.zeros(0, np.int64)), \
        (catl(cd) if cd else np.zeros(0, np.int64)), (catl(cdt) if cdt else np.zeros(0, np.int64))
    cdt_tab = catl(cdt_tab) if cdt_tab else np.zeros(0, np.int64)
    cst_tab = catl(cst_tab) if cst_tab else np.zeros(0, np.int64)
    ci = catl(ci) if ci else np.zeros(0, np.int64)
    cl = catl(cl) if cl else np.zeros(0, bool)
    # keep checks in instance order (stable reports)
    checks.sort(key=lambda c: c[6])
    k = len(cs)
    src.append(np.asarray(cs, dtype=np.int64))
    srctr.append(np.asarray(cst, dtype=np.int64))
    dst.append(np.asarray(cd, dtype=np.int64))
    dsttr.append(np.asarray(cdt, dtype=np.int64))
    is_cell.append(np.ones(k, dtype=bool))
    dtab.append(np.asarray(cdt_tab, dtype=np.int64))
    stab.append(np.asarray(cst_tab, dtype=np.int64))
    einst.append(np.asarray(ci, dtype=np.int64))
    wire.append(np.zeros(k))
    launch.append(np.asarray(cl, dtype=bool))
    cat = np.concatenate
    g_src, g_dst = cat(src), cat(dst)
    level = _levelise(n, g_src, g_dst, warnings)
    rc = None
    if rc_pi_l:
        n_exp = g_src.size
        elmore = np.zeros(n_exp)
        elmore[:2 * e_src_a.size] = e_elm.reshape(-1)  # wire edge j, transition tr -> edge 2j + tr
        extra = np.zeros(n_exp)
        extra[:2 * e_src_a.size] = np.repeat(e_extra, 2)
        wire_ids = np.flatnonzero(rc_of_node[g_src[:2 * e_src_a.size]] >= 0)
        owner = rc_of_node[g_src[wire_ids]]
        o = np.argsort(owner, kind="stable")
        rc = (rc_of_node, np.asarray(rc_pi_l, dtype=float).reshape(-1, 2, 3),
              np.searchsorted(owner[o], np.arange(len(rc_pi_l) + 1)).astype(np.int64),
              wire_ids[o].astype(np.int64), np.asarray(rc_port, dtype=bool), elmore, extra)
    return _Graph(n, names, node_inst, node_net, g_src, cat(srctr), g_dst, cat(dsttr), cat(is_cell),
                  cat(dtab), cat(stab), cat(einst), cat(wire), cat(launch), checks, load, level, cells,
                  inst_cell_idx, warnings, (name_ids, n_names, skeys, korder), pin_table, pin_dir, limits, rc)


def _rc_arrays(par: Parasitics, design: FlatDesign, names: Sequence[str]) -> tuple[np.ndarray, ...]:
    """`par.rc_arrays` over the design's node names, kept on `par` for the design: they depend
    on the netlist and the trees only, so the other corners of a sign-off reuse them (the name
    index and the flat trees cost ~1 s per corner at 100k instances). Read-only downstream."""
    memo = par.__dict__.setdefault("_rc_arrays_memo", {})
    size = (len(design.pin_name), len(design.port_names), len(par.trees))  # guards an edited netlist
    got = memo.get(id(design))
    if got is None or got[0] is not design or got[1] != size:
        got = memo[id(design)] = (design, size, par.rc_arrays(dict(zip(names, range(len(names)), strict=True))))
    return got[2]


def _unique_small(keys: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """`np.unique(keys, return_inverse=True)` for keys in [0, size): by a table instead of a
    sort when the range is small (cell types x pin names: a few thousand)."""
    if size > 4 * keys.size + 1024:
        return np.unique(keys, return_inverse=True)
    present = np.zeros(size, dtype=bool)
    present[keys] = True
    rank = np.cumsum(present) - 1
    return np.flatnonzero(present), rank[keys]


def _in_threads(calls: list[Callable[[], Any]], work: int) -> None:
    """Run independent compiled kernels (nogil) on two threads when there is enough work for
    the second core to pay off (arrival passes of several launch groups), else in turn. Each
    call writes only its own arrays, so the results do not depend on the split."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if len(calls) < 2 or work < 50_000 or cpus < 2:
        for call in calls:
            call()
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=2) as pool:
        for f in [pool.submit(call) for call in calls]:
            f.result()


def _thresholds(libs: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Per library and transition (output threshold, slew lower, slew upper, input threshold)
    as fractions, and the slew derate (Liberty `*_pct_*`, `slew_derate_from_library`)."""
    thr = np.zeros((len(libs), 2, 4))
    der = np.ones(len(libs))
    for k, lb in enumerate(libs):
        t = (lb.get("thresholds") if isinstance(lb, dict) else getattr(lb, "thresholds", None)) or {}
        for tr, rf in enumerate(("rise", "fall")):
            thr[k, tr] = (t.get(f"output_threshold_{rf}", 0.5), t.get(f"slew_lower_threshold_{rf}", 0.2),
                          t.get(f"slew_upper_threshold_{rf}", 0.8), t.get(f"input_threshold_{rf}", 0.5))
        der[k] = t.get("slew_derate", 1.0)
    return thr, der


def _arc_template(m: CellModel, bank: TableBank) -> tuple[list, list]:
    """Per cell type: expanded (from, to, in tr, out tr, delay table, slew table, launch) arcs
    and (related, pin, kind, clock tr, rise table, fall table) checks, computed once."""
    arcs: list[tuple] = []
    checks: list[tuple] = []
    for arc in m.arcs:
        tt = arc.timing_type
        if tt.startswith(("setup_", "hold_", "recovery_", "removal_")):
            # recovery/removal (asynchronous set/reset release) are checked like setup/hold
            kind = "setup" if tt.startswith(("setup", "recovery")) else "hold"
            ck_tr = RISE if tt.endswith("rising") else FALL
            checks.append((arc.related_pin, arc.pin, kind, ck_tr, bank.add(arc.tables.get("rise_constraint")),
                           bank.add(arc.tables.get("fall_constraint"))))
            continue
        is_launch = tt in ("rising_edge", "falling_edge")
        if is_launch:
            itr = RISE if tt == "rising_edge" else FALL
            pairs = [(itr, RISE), (itr, FALL)]
        elif tt in ("three_state_enable", "three_state_disable"):
            # OpenSTA's tristate arcs: the sense picks the one input edge that enables (or
            # disables) the output, which then goes to either level (0Z/Z1: rise, 1Z/Z0: fall)
            sense = arc.timing_sense
            ins = [RISE] if sense == "positive_unate" else [FALL] if sense == "negative_unate" else [RISE, FALL]
            pairs = [(i, o) for o in (RISE, FALL) for i in ins]
        elif tt in ("combinational", "combinational_rise", "combinational_fall", ""):
            sense = arc.timing_sense
            if sense == "positive_unate":
                pairs = [(RISE, RISE), (FALL, FALL)]
            elif sense == "negative_unate":
                pairs = [(FALL, RISE), (RISE, FALL)]
            else:
                pairs = [(RISE, RISE), (FALL, RISE), (RISE, FALL), (FALL, FALL)]
            if tt == "combinational_rise":
                pairs = [p for p in pairs if p[1] == RISE]
            elif tt == "combinational_fall":
                pairs = [p for p in pairs if p[1] == FALL]
        else:
            continue
        for itr, otr in pairs:
            dt = arc.tables.get("cell_rise" if otr == RISE else "cell_fall")
            st = arc.tables.get("rise_transition" if otr == RISE else "fall_transition")
            if dt is None:
                continue
            arcs.append((arc.related_pin, arc.pin, itr, otr, bank.add(dt), bank.add(st), is_launch))
    return arcs, checks


def _levelise(n: int, src: np.ndarray, dst: np.ndarray, warnings: list[str]) -> np.ndarray:
    """Longest-path level of every node (Kahn, compiled); nodes on combinational loops get -1."""
    level = kern.levelise(n, np.ascontiguousarray(src, dtype=np.int64), np.ascontiguousarray(dst, dtype=np.int64))
    loops = int((level < 0).sum())
    if loops:
        warnings.append(f"{loops} node(s) on combinational loops are not timed")
    return level


def _table_at(t: Any, slew: float, load: float) -> float:
    """Bilinear look-up of one NLDM table (linear extrapolation), by its axis variables."""
    q = (slew, load, slew)
    x = q[_VAR_CODE.get(t.var1, 0)]
    y = q[_VAR_CODE.get(t.var2, 1)] if t.var2 else 0.0
    a1, a2, v = np.asarray(t.idx1, float), np.asarray(t.idx2, float), np.asarray(t.vals, float)
    if v.size == 1:
        return float(v.reshape(-1)[0])
    i = int(np.clip(np.searchsorted(a1, x, side="right") - 1, 0, max(a1.size - 2, 0)))
    if a2.size < 2:
        tx = (x - a1[i]) / (a1[i + 1] - a1[i])
        return float(v[i, 0] + tx * (v[i + 1, 0] - v[i, 0]))
    j = int(np.clip(np.searchsorted(a2, y, side="right") - 1, 0, a2.size - 2))
    tx = (x - a1[i]) / (a1[i + 1] - a1[i])
    ty = (y - a2[j]) / (a2[j + 1] - a2[j])
    return float((1 - tx) * (1 - ty) * v[i, j] + (1 - tx) * ty * v[i, j + 1] + tx * (1 - ty) * v[i + 1, j]
                 + tx * ty * v[i + 1, j + 1])


def driving_cell_response(lib: Any, spec: tuple[str, str | None, str | None, float],
                          load: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Output slew and delay (rise, fall) of a `set_driving_cell` driver into `load` (F, per
    transition), from its Liberty arc (`-from_pin`, else the first arc into `-pin`, else into
    its first output) at the given input slew — what OpenSTA adds to the port's input arrival
    (the load-dependent part of the delay)."""
    cell, pin, from_pin, in_slew = spec
    cm = cell_model(lib, cell)
    if cm is None:
        raise ConfigError(f"set_driving_cell: library cell {cell} not found")
    outs = [p for p, pm in cm.pins.items() if pm.direction == "output"]
    pin = pin or (outs[0] if outs else None)
    arcs = [a for a in cm.arcs if a.pin == pin and a.timing_type in ("combinational", "rising_edge", "falling_edge")
            and (from_pin is None or a.related_pin == from_pin)]
    if not arcs:
        raise ConfigError(f"set_driving_cell: {cell} has no timing arc to pin {pin}")
    arc = arcs[0]
    slew = np.zeros(2)
    delay = np.zeros(2)
    for tr, (dk, sk) in enumerate((("cell_rise", "rise_transition"), ("cell_fall", "fall_transition"))):
        if dk in arc.tables and sk in arc.tables:
            # as OpenSTA/PrimeTime: the delay into the actual load minus the unloaded delay
            # (the input delay already holds the driver's intrinsic part)
            delay[tr] = (_table_at(arc.tables[dk], in_slew, float(load[tr]))
                         - _table_at(arc.tables[dk], in_slew, 0.0))
            slew[tr] = max(_table_at(arc.tables[sk], in_slew, float(load[tr])), 0.0)
    return slew, delay


# ---- analysis --------------------------------------------------------------------------------
@gc_paused
def analyze(design: FlatDesign, libs: Any, constraints: TimingConstraints, *,
            parasitics: Parasitics | None = None, instance_corner: np.ndarray | None = None,
            level_shifter_delay: float = 0.0, derate: np.ndarray | None = None,
            voltages: Sequence[float] | None = None, propagated_clock: bool | None = None,
            max_paths: int = 10) -> TimingResult:
    """Setup and hold analysis of one netlist; see the module docstring for the model.

    `libs` is a Library or a list of them (then `instance_corner[i]` indexes it).
    `propagated_clock` overrides the per-clock `propagated` flag when given.
    """
    lib_list = list(libs) if isinstance(libs, (list, tuple)) else [libs]
    n_inst = len(design.inst_names)
    ic = np.zeros(n_inst, dtype=np.int64) if instance_corner is None else np.asarray(instance_corner, dtype=np.int64)
    if ic.shape != (n_inst,) or (n_inst and (ic.min() < 0 or ic.max() >= len(lib_list))):
        raise ValueError(f"instance_corner must have {n_inst} entries in [0, {len(lib_list)})")
    volts = np.asarray(voltages if voltages is not None else [float(getattr(lb, "nom_voltage", 0.0) or 0.0) for lb in lib_list])
    bank = TableBank()
    g = _build_graph(design, lib_list, ic, bank, constraints, parasitics, level_shifter_delay, volts)
    from flow.engines import case_analysis
    consts = bool(constraints.case_analysis) or case_analysis.has_ties(g)
    if consts:  # constants (set_case_analysis, tie cells) disable arcs (flow.engines.case_analysis)
        g = case_analysis.apply(g, design, constraints.case_analysis)
    warnings = list(constraints.warnings) + g.warnings
    bank.finalize()
    name_to_node = NodeIndex(g.names)
    clocks = constraints.clocks
    # clock network: BFS from clock sources through non-launch edges (compiled walk; the
    # warnings in the order the walk meets them)
    clk_of_node = np.full(g.n, -1, dtype=np.int64)
    pairs = [(ci_, clk, s) for ci_, clk in enumerate(clocks) for s in clk.sources]
    found = [name_to_node.get(s) for _, _, s in pairs]
    pair_node = np.array([-1 if v is None else v for v in found], dtype=np.int64)
    room = g.src.size + len(pairs) + 1
    conf_pair, conf_node, conf_clk = (np.empty(room, dtype=np.int64) for _ in range(3))
    n_conf = kern.clock_network(g.n, np.ascontiguousarray(g.src, dtype=np.int64),
                                np.ascontiguousarray(g.dst, dtype=np.int64), ~g.launch,
                                np.array([p[0] for p in pairs], dtype=np.int64), pair_node, clk_of_node,
                                conf_pair, conf_node, conf_clk)
    conf_at = np.searchsorted(conf_pair[:n_conf], np.arange(len(pairs) + 1))
    for k, (_ci, clk, s) in enumerate(pairs):
        if pair_node[k] < 0:
            warnings.append(f"clock {clk.name}: source {s!r} not found")
            continue
        for q in range(conf_at[k], conf_at[k + 1]):
            warnings.append(f"node {g.names[int(conf_node[q])]} reached by several clocks; keeping "
                            f"{clocks[int(conf_clk[q])].name}")
    # a virtual clock (no source) cannot be propagated: its latency stays (OpenSTA warning 450)
    prop = np.array([bool(c.sources) and (propagated_clock if propagated_clock is not None else c.propagated)
                     for c in clocks] or [False])
    in_clk = clk_of_node >= 0
    ideal_node = in_clk & ~prop[np.maximum(clk_of_node, 0)]
    # an ideal clock has zero network delay but, as in OpenSTA, slews propagate through its
    # buffers and wires unless `set_clock_transition` fixes them
    ideal_slew = np.array([c.transition or 0.0 for c in clocks] or [0.0])
    # every check as (data pin, clock pin, clock tr, rise table, fall table), and which are setup
    ca = np.array([(c[0], c[1], c[3], c[4], c[5]) for c in g.checks], dtype=np.int64).reshape(-1, 5)
    is_setup = np.array([c[2] == "setup" for c in g.checks], dtype=bool)
    latches = _find_latches(g, ca[:, 0], is_setup)
    latch_dq = np.zeros(g.src.size, dtype=bool)
    for lt in latches:
        latch_dq[lt.dq] = True
    # ---- pass 1: slews and edge delays, level by level
    n, _E = g.n, g.src.size
    slew_max = np.zeros((n, 2))
    slew_min = np.zeros((n, 2))
    for port, tr in constraints.input_transition.items():
        if port in name_to_node:
            slew_max[name_to_node[port]] = tr
            slew_min[name_to_node[port]] = tr
    drive_delay = np.zeros((n, 2))
    for port, spec in constraints.driving_cells.items():
        if port in name_to_node:
            v = name_to_node[port]
            d_slew, d_delay = driving_cell_response(lib_list[0], spec, g.load[v])
            slew_max[v] = slew_min[v] = d_slew
            drive_delay[v] = d_delay
    dmax = g.wire.copy()
    dmin = g.wire.copy()
    edge_level = g.level[g.dst]
    # edges by level, then by target (node, transition): the compiled passes walk them in order
    # (one stable sort of a combined key: the same order as lexsort of the two, in half the time)
    eorder = np.argsort(edge_level * (2 * n) + (g.dst * 2 + g.dsttr), kind="stable")
    first_timed = int(np.searchsorted(edge_level[eorder], 1))
    order = np.ascontiguousarray(eorder[first_timed:])
    der = np.ones(max(n_inst, 1)) if derate is None else np.asarray(derate, dtype=float)
    ideal_slew_node = np.where(ideal_node, ideal_slew[np.maximum(clk_of_node, 0)], 0.0)
    ideal_src = np.ascontiguousarray(g.launch & ideal_node[g.src])
    # latch D->Q arcs get a delay but set no slew at Q (nor wire delays after it), as OpenSTA's
    # GraphDelayCalc: they are timed in a pass of their own on copies of the slews
    dq_sel = latch_dq[order] if latches else None
    dq_order = np.ascontiguousarray(order[dq_sel]) if dq_sel is not None else None
    slew_order = np.ascontiguousarray(order[~dq_sel]) if dq_sel is not None else order
    if g.rc is None:
        kern.slew_pass(slew_order, g.src, g.srctr, g.dst, g.dsttr, g.is_cell, g.dtab, g.stab, g.inst, der, g.load,
                       slew_max, slew_min, dmax, dmin, ideal_src, ideal_slew_node, bank.ax1, bank.ax2, bank.vals,
                       bank.n1, bank.n2, bank.c1, bank.c2)
        if dq_order is not None and dq_order.size:
            kern.slew_pass(dq_order, g.src, g.srctr, g.dst, g.dsttr, g.is_cell, g.dtab, g.stab, g.inst, der, g.load,
                           slew_max.copy(), slew_min.copy(), dmax, dmin, ideal_src, ideal_slew_node, bank.ax1,
                           bank.ax2, bank.vals, bank.n1, bank.n2, bank.c1, bank.c2)
    else:  # RC nets: OpenSTA's DMP effective capacitance and per-load wire delays and slews
        rc_of_node, rc_pi, rc_wstart, rc_wedges, rc_dspf, elmore, extra = g.rc
        dmax[rc_wedges] = np.nan
        dmin[rc_wedges] = np.nan
        wsl_max = np.full(g.src.size, np.nan)
        wsl_min = np.full(g.src.size, np.nan)
        thr, thr_der = _thresholds(lib_list)
        # the pass runs on the edges renumbered in the order it visits them (the untimed
        # level-0 edges after them): each per-edge array is then read front to back, not at
        # random (~20 % of the pass at 970k edges); the results are mapped back, unchanged
        perm = np.concatenate([order, eorder[:first_timed]])  # new edge -> old edge
        new_of = np.empty(perm.size, dtype=np.int64)
        new_of[perm] = np.arange(perm.size, dtype=np.int64)

        def pe(x: np.ndarray) -> np.ndarray:
            return np.ascontiguousarray(x[perm])

        dmax_p, dmin_p, wsl_max, wsl_min = pe(dmax), pe(dmin), pe(wsl_max), pe(wsl_min)
        edges = (pe(g.src), pe(g.srctr), pe(g.dst), pe(g.dsttr), pe(g.is_cell), pe(g.dtab), pe(g.stab), pe(g.inst))
        ideal_p, elmore_p, extra_p = pe(ideal_src), pe(elmore), pe(extra)
        wedges_p = np.ascontiguousarray(new_of[rc_wedges])
        visit = np.arange(order.size, dtype=np.int64)
        main_visit = np.ascontiguousarray(visit[~dq_sel]) if dq_sel is not None else visit
        rck.slew_pass_rc(main_visit, *edges, der, g.load, slew_max, slew_min, dmax_p, dmin_p, ideal_p,
                         ideal_slew_node, bank.ax1, bank.ax2, bank.vals, bank.n1, bank.n2, bank.c1, bank.c2,
                         rc_of_node, rc_pi, rc_wstart, wedges_p, rc_dspf, elmore_p, extra_p, wsl_max, wsl_min,
                         ic, thr, thr_der)
        if dq_sel is not None and dq_order is not None and dq_order.size:  # latch D->Q: delays only
            dq_visit = np.ascontiguousarray(visit[dq_sel])
            dmx_, dmn_ = dmax_p.copy(), dmin_p.copy()
            rck.slew_pass_rc(dq_visit, *edges, der, g.load, slew_max.copy(), slew_min.copy(), dmx_, dmn_, ideal_p,
                             ideal_slew_node, bank.ax1, bank.ax2, bank.vals, bank.n1, bank.n2, bank.c1, bank.c2,
                             rc_of_node, rc_pi, rc_wstart, wedges_p, rc_dspf, elmore_p, extra_p, wsl_max.copy(),
                             wsl_min.copy(), ic, thr, thr_der)
            dmax_p[dq_visit], dmin_p[dq_visit] = dmx_[dq_visit], dmn_[dq_visit]
        dmax[perm], dmin[perm] = dmax_p, dmin_p
        unset = np.isnan(dmax)  # wire edges never reached (untimed drivers): the Elmore delay
        dmax[unset] = (elmore + extra)[unset]
        dmin[np.isnan(dmin)] = (elmore + extra)[np.isnan(dmin)]
    # ideal clock network: zero delay inside it (latency added at the source)
    zero = ideal_node[g.dst] & ideal_node[g.src]
    dmax[zero] = 0.0
    dmin[zero] = 0.0
    if consts:  # arcs made unate by constants: delays kept, arrivals dropped
        case_analysis.no_arrival(g, dmax, dmin)
    # ---- pass 2: arrivals per launch group (clock, source edge) and for unclocked inputs
    groups: list[tuple[int, int]] = [(c, e) for c in range(len(clocks)) for e in (RISE, FALL)]

    def io_clock_latency(clk: ClockDef, ci_: int) -> float:
        """Clock arrival an input/output delay is relative to, past the edge: the source latency,
        plus the network latency when the clock is ideal (always for a virtual clock), as
        OpenSTA's `inputDelayClkArrival`."""
        return clk.source_latency + (0.0 if prop[ci_] else clk.latency)
    inst_index: dict[str, int] = {}

    def startpoints(names: Sequence[str]) -> tuple[list[int], np.ndarray]:
        """`-from` objects as (nodes whose launch is dropped: ports and data pins, launch-edge
        mask: clock-pin -> output arcs of named registers or clock pins)."""
        if not names:  # no exception: nothing dropped (and no 100k-entry instance index)
            return [], np.zeros(g.src.size, dtype=bool)
        if not inst_index:
            inst_index.update((nm, k) for k, nm in enumerate(design.inst_names))
        nodes, ck_pins, insts = [], [], []
        for nm in names:
            if nm in name_to_node:
                v = name_to_node[nm]
                (ck_pins if in_clk[v] else nodes).append(v)
            elif nm in inst_index:
                insts.append(inst_index[nm])
            else:
                warnings.append(f"set_false_path -from {nm}: not found")
        mask = g.launch & (np.isin(g.src, ck_pins) | np.isin(g.inst, insts))
        return nodes, mask

    latch_at = {lt.d: lt for lt in latches}
    latch_at.update((lt.g, lt) for lt in latches)  # D and enable pins (report descriptions)

    def arrivals(from_names: Sequence[str], seeds: Mapping[int, Mapping[tuple[int, int], float]]
                 ) -> list[tuple[np.ndarray, ...]]:
        """Latest/earliest arrivals and predecessors per launch group, with the paths that start
        at `from_names` removed. Latch D->Q arcs carry no arrival (OpenSTA's latchOutArrival):
        data passing a transparent latch is `seeds` (group -> (Q node, tr) -> late arrival; as
        OpenSTA, D->Q passes no early arrival: Q's early one is the enable's)."""
        drop_nodes, drop_edges = startpoints(from_names)
        drop_edges = drop_edges | latch_dq if latches else drop_edges
        dmx, dmn = dmax, dmin
        if drop_edges.any():
            dmx, dmn = dmax.copy(), dmin.copy()
            dmx[drop_edges] = -np.inf
            dmn[drop_edges] = np.inf
        out = []
        for ci_, edge in groups:
            clk = clocks[ci_]
            amax = np.full((n, 2), -np.inf)
            amin = np.full((n, 2), np.inf)
            base = clk.waveform[edge]
            lat = clk.source_latency + (0.0 if prop[ci_] else clk.latency)
            for s in clk.sources:
                if s in name_to_node:
                    v = name_to_node[s]
                    amax[v, edge] = base + lat
                    amin[v, edge] = base + lat
            io_node, io_clk, io_edge, io_max, io_min = input_delay_table()
            sel = np.array([nm == clk.name for nm in io_clk], dtype=bool) & (io_edge == edge)
            if sel.any():  # max/min over a port's input delays, added as (edge + latency) + delay + drive
                vs = io_node[sel]
                c0 = base + io_clock_latency(clk, ci_)
                np.maximum.at(amax, vs, (c0 + io_max[sel])[:, None] + drive_delay[vs])
                np.minimum.at(amin, vs, (c0 + io_min[sel])[:, None] + drive_delay[vs])
            amax[drop_nodes] = -np.inf
            amin[drop_nodes] = np.inf
            for (v, tr), s_mx in seeds.get(len(out), {}).items():
                amax[v, tr] = max(amax[v, tr], s_mx)
            pmax = np.full((n, 2), -1, dtype=np.int64)
            pmin = np.full((n, 2), -1, dtype=np.int64)
            out.append((amax, amin, pmax, pmin))
        _in_threads([functools.partial(kern.arrival_pass, order, g.src, g.srctr, g.dst, g.dsttr, dmx, dmn, *a)
                     for a in out], order.size)
        return out

    io_table: list[tuple[Any, ...]] = []

    def input_delay_table() -> tuple[Any, ...]:
        """Input delays as (nodes, clock names, edges, max, min), once: the ports found and not
        in a clock network, in SDC order."""
        if not io_table:
            rows = []
            for io in constraints.input_delays:
                if io.port in name_to_node:
                    v = name_to_node[io.port]
                    if not in_clk[v]:
                        rows.append((v, io.clock, FALL if io.clock_fall else RISE, io.max, io.min))
            cols = list(zip(*rows, strict=True)) if rows else [(), (), (), (), ()]
            io_table.append((np.array(cols[0], dtype=np.int64), list(cols[1]), np.array(cols[2], dtype=np.int64),
                             np.array(cols[3], dtype=float), np.array(cols[4], dtype=float)))
        return io_table[0]

    # false paths: `-from` alone drops those launches everywhere; `-from A -to B` gets its own
    # arrivals (launches of A dropped) that only the endpoints B use; arrival set k of launch
    # group gi is arr[k * len(groups) + gi]
    fp_from_all = [nm for fp in constraints.false_paths if fp.get("from") and not fp.get("to")
                   and not fp.get("to_clocks") for nm in fp["from"]]
    p2p: dict[str, list[str]] = {}  # endpoint (pin, port or instance) -> the -from objects of its exceptions
    for fp in constraints.false_paths:
        if fp.get("from") and fp.get("to"):
            for t_ in fp["to"]:
                p2p.setdefault(t_, []).extend(fp["from"])
        elif (fp.get("from_clocks") and fp.get("to")) or (fp.get("from") and fp.get("to_clocks")):
            warnings.append("set_false_path between a clock and pins is not supported; ignored")
    set_of_key: dict[tuple[str, ...], int] = {}
    ep_set: dict[str, int] = {}
    for t_, froms in p2p.items():
        key = tuple(sorted(set(froms)))
        ep_set[t_] = set_of_key.setdefault(key, len(set_of_key) + 1)
    def all_arrivals(seeds: Mapping[int, Mapping[tuple[int, int], float]]) -> list[tuple[np.ndarray, ...]]:
        """Arrival sets of every false-path set (in order of their set numbers)."""
        out = arrivals(fp_from_all, seeds)
        for key in set_of_key:
            out += arrivals(fp_from_all + list(key), seeds)
        return out

    latch_seeds: dict[int, dict[tuple[int, int], float]] = {}
    arr = all_arrivals(latch_seeds)
    n_groups = len(groups)

    def set_of(node: int) -> int:
        """Arrival set an endpoint node uses (0: the common one)."""
        if not ep_set:
            return 0
        k = ep_set.get(g.names[node])
        if k is None and g.node_inst[node] >= 0:
            k = ep_set.get(design.inst_names[int(g.node_inst[node])])
        return k or 0

    # ---- checks
    endpoints: list[str] = []
    setup_sl: list[float] = []
    hold_sl: list[float] = []
    setup_paths: list[TimingPath] = []
    hold_paths: list[TimingPath] = []
    fp_to = {nm for fp in constraints.false_paths if fp.get("to") and not fp.get("from")
             and not fp.get("from_clocks") for nm in fp["to"]}
    fp_clk = {(a, b) for fp in constraints.false_paths for a in fp.get("from_clocks", []) for b in fp.get("to_clocks", [])}
    async_pairs = set(constraints.async_groups) | {(b, a) for a, b in constraints.async_groups}
    maxd = {nm: md["value"] for md in constraints.max_delays for nm in md.get("to", [])}

    def capture_edges(lclk: ClockDef, ledge: int, cclk: ClockDef, cedge: int) -> tuple[float, float]:
        """(setup capture edge, hold capture edge) of the capture clock for a launch edge: the
        closest edges over the clocks' common period, as OpenSTA's cycle accounting."""
        tl = lclk.waveform[ledge]
        s_sep, h_sep = separations(lclk.period, tl, cclk.period, cclk.waveform[cedge])
        s_mcp, h_mcp = multicycle_adjustments(constraints.multicycle_paths, lclk.name, lclk.period, cclk.name, cclk.period)
        return tl + s_sep + s_mcp, tl - h_sep + h_mcp

    # register checks
    # constraint values of every check, both data transitions, in one vectorised look-up
    if g.checks:
        chk_val = np.zeros((len(g.checks), 2))
        for dtr, col in ((RISE, 3), (FALL, 4)):
            tabs = ca[:, col]
            ok = tabs >= 0
            dsl = np.where(is_setup, slew_max[ca[:, 0], dtr], slew_min[ca[:, 0], dtr])
            csl = np.where(is_setup, slew_min[ca[:, 1], ca[:, 2]], slew_max[ca[:, 1], ca[:, 2]])
            csl = np.where(ideal_node[ca[:, 1]], ideal_slew_node[ca[:, 1]], csl)  # ideal clock: its slew
            chk_val[ok, dtr] = bank.lookup(tabs[ok], dsl[ok], np.zeros(int(ok.sum())), csl[ok])
    cand_setup: list[tuple[float, dict]] = []
    cand_hold: list[tuple[float, dict]] = []

    def consider(kind: str, slack: float, info: dict, bucket: list) -> None:
        bucket.append((slack, info))

    # latches: time borrowing at D, data through D->Q from the enable's group, iterated until
    # the arrivals through latches in series settle
    latch_checks: list[tuple[int, float, dict]] = []
    latch_src: dict = {}
    for _round in range(len(latches) + 2):
        if not latches:
            break
        new_seeds, latch_checks, latch_src = _latch_borrow(g, latches, arr, groups, clocks, clk_of_node, chk_val, dmax,
                                                async_pairs | fp_clk, {lt.d for lt in latches if g.names[lt.d] in fp_to},
                                                _borrow_limits(g, latches, clocks, clk_of_node, design,
                                                               constraints.max_time_borrow))
        if new_seeds == latch_seeds:
            break
        latch_seeds = new_seeds
        arr = all_arrivals(latch_seeds)
    else:
        warnings.append("latch time borrowing did not settle (a loop through latches?)")

    # register checks, vectorised over all checks per (launch group, capture group, data edge)
    if g.checks:
        d_of, ck_of, cktr_of, tab_r, tab_f = (ca[:, k] for k in range(5))
        first_idx = np.unique(d_of, return_index=True)[1]
        ud = d_of[np.sort(first_idx)]
        ep_index = np.zeros(n, dtype=np.int64)
        ep_index[ud] = np.arange(ud.size)
        chk_ep = ep_index[d_of]
        ws_arr = np.full(ud.size, np.inf)
        wh_arr = np.full(ud.size, np.inf)
        fp_mask = np.array([g.names[x] in fp_to for x in d_of.tolist()]) if fp_to else np.zeros(d_of.size, bool)
        maxd_chk = np.array([maxd.get(g.names[x], np.nan) for x in d_of.tolist()]) if maxd else \
            np.full(d_of.size, np.nan)
        cc_chk = clk_of_node[ck_of]
        chk_set = np.array([set_of(x) for x in d_of.tolist()]) if ep_set else np.zeros(d_of.size, dtype=np.int64)
        other_sets = [(k, np.flatnonzero(chk_set == k)) for k in range(1, len(set_of_key) + 1)]
        cands: dict[str, list[tuple]] = {"setup": [], "hold": []}
        reg_setup = is_setup.copy()  # latch setup checks are the latches' (time borrowing)
        for lt in latches:
            reg_setup[lt.checks] = False
        for li, sl_, info_ in latch_checks:
            ws_arr[ep_index[latches[li].d]] = min(ws_arr[ep_index[latches[li].d]], sl_)
            consider("setup", sl_, info_, cand_setup)
        for gi, (lc, ledge) in enumerate(groups):
            lclk = clocks[lc]
            d_amax, d_amin = arr[gi][0][d_of], arr[gi][1][d_of]  # data arrival at each check's pin
            for k, sel in other_sets:
                d_amax[sel] = arr[k * n_groups + gi][0][d_of[sel]]
                d_amin[sel] = arr[k * n_groups + gi][1][d_of[sel]]
            for cg, (c2, cedge) in enumerate(groups):
                cclk = clocks[c2]
                if (lclk.name, cclk.name) in async_pairs or (lclk.name, cclk.name) in fp_clk:
                    continue
                base_m = (cc_chk == c2) & ~fp_mask
                if not base_m.any():
                    continue
                cmax, cmin = arr[cg][0], arr[cg][1]
                se, he = capture_edges(lclk, ledge, cclk, cedge)
                for dtr in (RISE, FALL):
                    m = base_m & ((tab_r if dtr == RISE else tab_f) >= 0)
                    a_mx, c_mn = d_amax[:, dtr], cmin[ck_of, cktr_of]
                    idx = np.flatnonzero(m & reg_setup & np.isfinite(a_mx) & np.isfinite(c_mn))
                    if idx.size:
                        val = chk_val[idx, dtr]
                        carr = c_mn[idx] + (se - cclk.waveform[cedge])
                        req = carr - val - cclk.uncertainty_setup
                        md = maxd_chk[idx]
                        req = np.where(np.isnan(md), req, md + lclk.waveform[ledge] - val - cclk.uncertainty_setup)
                        sl = req - a_mx[idx]
                        np.minimum.at(ws_arr, chk_ep[idx], sl)
                        cands["setup"].append((sl, idx, req, carr, val, gi, cg, dtr, se, cclk.uncertainty_setup))
                    a_mn, c_mx = d_amin[:, dtr], cmax[ck_of, cktr_of]
                    idx = np.flatnonzero(m & ~is_setup & np.isfinite(a_mn) & np.isfinite(c_mx))
                    if idx.size:
                        val = chk_val[idx, dtr]
                        carr = c_mx[idx] + (he - cclk.waveform[cedge])
                        req = carr + val + cclk.uncertainty_hold
                        sl = a_mn[idx] - req
                        np.minimum.at(wh_arr, chk_ep[idx], sl)
                        cands["hold"].append((sl, idx, req, carr, val, gi, cg, dtr, he, cclk.uncertainty_hold))
        for kind, bucket in (("setup", cand_setup), ("hold", cand_hold)):
            parts = cands[kind]
            if not parts:
                continue
            allsl = np.concatenate([p_[0] for p_ in parts])
            part_id = np.concatenate([np.full(p_[0].size, j) for j, p_ in enumerate(parts)])
            pos = np.concatenate([np.arange(p_[0].size) for p_ in parts])
            seen_d: set[int] = set()
            per_group: dict[int, int] = {}  # capture clock -> paths kept (report_checks is per group)
            for o in np.argsort(allsl, kind="stable"):
                sl, idx, req, carr, val, gi, cg, dtr, edge, unc = parts[part_id[o]]
                q = pos[o]
                node = int(d_of[idx[q]])
                cclk_i = groups[cg][0]
                if node in seen_d or per_group.get(cclk_i, 0) >= max_paths:
                    continue
                seen_d.add(node)
                per_group[cclk_i] = per_group.get(cclk_i, 0) + 1
                lc, ledge = groups[gi]
                lt_ = latch_at.get(node) if node in latch_at and latch_at[node].d == node else None
                bucket.append((float(sl[q]), dict(g=gi, a=int(chk_set[idx[q]]) * n_groups + gi, node=node, tr=dtr,
                                                  req=float(req[q]), carr=float(carr[q]),
                                                  edge=edge, chk=float(val[q]), unc=unc, lc=clocks[lc].name,
                                                  cc=clocks[groups[cg][0]].name, ledge=clocks[lc].waveform[ledge],
                                                  csense=(groups[cg][1], int(cktr_of[idx[q]])),
                                                  latch=None if lt_ is None else
                                                  "positive" if lt_.open_tr == RISE else "negative")))
                if len(per_group) == len(clocks) and min(per_group.values()) >= max_paths:
                    break
        endpoints += [g.names[x] for x in ud.tolist()]
        setup_sl += ws_arr.tolist()
        hold_sl += wh_arr.tolist()
    clk_index = {c.name: k for k, c in enumerate(clocks)}
    ep_pos: dict[str, int] | None = None
    for io in constraints.output_delays:
        if io.port not in name_to_node or io.clock not in clk_index:
            warnings.append(f"set_output_delay on {io.port!r} (clock {io.clock!r}) ignored: not found")
            continue
        v = name_to_node[io.port]
        cclk = clocks[clk_index[io.clock]]
        cedge = FALL if io.clock_fall else RISE
        ws, wh = math.inf, math.inf
        out_lat = io_clock_latency(cclk, clk_index[io.clock])
        for gi, (lc, ledge) in enumerate(groups):
            lclk = clocks[lc]
            if (lclk.name, cclk.name) in async_pairs or (lclk.name, cclk.name) in fp_clk or io.port in fp_to:
                continue
            a_set = set_of(v) * n_groups + gi
            amax, amin, _, _ = arr[a_set]
            se, he = capture_edges(lclk, ledge, cclk, cedge)
            for dtr in (RISE, FALL):
                if np.isfinite(amax[v, dtr]):
                    req = (maxd[io.port] + lclk.waveform[ledge]) if io.port in maxd else \
                        se + out_lat - io.max - cclk.uncertainty_setup
                    sl = req - amax[v, dtr]
                    ws = min(ws, sl)
                    consider("setup", sl, dict(g=gi, a=a_set, node=v, tr=dtr, req=req, carr=se + out_lat, edge=se, chk=io.max,
                                               unc=cclk.uncertainty_setup, lc=lclk.name, cc=cclk.name,
                                               ledge=lclk.waveform[ledge], csense=(cedge, cedge)), cand_setup)
                if np.isfinite(amin[v, dtr]):
                    req = he + out_lat - io.min + cclk.uncertainty_hold
                    sl = amin[v, dtr] - req
                    wh = min(wh, sl)
                    consider("hold", sl, dict(g=gi, a=a_set, node=v, tr=dtr, req=req, carr=he + out_lat, edge=he, chk=-io.min,
                                              unc=cclk.uncertainty_hold, lc=lclk.name, cc=cclk.name,
                                              ledge=lclk.waveform[ledge], csense=(cedge, cedge)), cand_hold)
        if ep_pos is None:
            ep_pos = {nm: k for k, nm in enumerate(endpoints)}
        if io.port in ep_pos:
            k = ep_pos[io.port]
            setup_sl[k] = min(setup_sl[k], ws)
            hold_sl[k] = min(hold_sl[k], wh)
        else:
            ep_pos[io.port] = len(endpoints)
            endpoints.append(io.port)
            setup_sl.append(ws)
            hold_sl.append(wh)
    # worst paths: one per endpoint, worst first; clock pins of ideal clocks show the ideal slew
    path_slew = {"max": slew_max, "min": slew_min}
    if ideal_node.any() and (cand_setup or cand_hold):
        for k_ in path_slew:
            path_slew[k_] = path_slew[k_].copy()
            path_slew[k_][ideal_node] = ideal_slew_node[ideal_node][:, None]
    for bucket, out, kind in ((cand_setup, setup_paths, "max"), (cand_hold, hold_paths, "min")):
        # latch checks at zero slack: the larger borrow first (OpenSTA's PathEnd::cmpSlack)
        bucket.sort(key=lambda t: (t[0], -t[1]["borrow"]["borrow"] if t[0] == 0.0 and "borrow" in t[1] else 0.0))
        seen: set[int] = set()
        kept: dict[str, int] = {}
        for sl, info in bucket:  # worst first: the max_paths worst overall and of each path group
            if info["node"] in seen or kept.get(info["cc"], 0) >= max_paths:
                continue
            seen.add(info["node"])
            kept[info["cc"]] = kept.get(info["cc"], 0) + 1
            out.append(_trace(g, arr, info, kind, sl, path_slew[kind], design, groups, latch_at, latch_src))
            if len(kept) == len(clocks) and min(kept.values()) >= max_paths:
                break
    data_clk = np.full(n, -1, dtype=np.int64)
    for gi, (ci_, _edge) in enumerate(groups):
        reach = np.isfinite(arr[gi][0]).any(axis=1) & (data_clk < 0)
        data_clk[reach] = ci_
    return TimingResult(endpoints, np.asarray(setup_sl, dtype=float), np.asarray(hold_sl, dtype=float),
                        setup_paths, hold_paths, warnings, slew_max, g.load, g.names, g, clk_of_node, data_clk,
                        [c.period for c in clocks], edge_delay=dmax, ideal_clock_node=ideal_node,
                        constraints=constraints, library=lib_list[0],
                        node_arrival=functools.reduce(np.maximum, [arr[gi][0] for gi in range(n_groups)])
                        if n_groups else None)



@dataclass
class _Latch:
    """A level-sensitive latch as OpenSTA finds one: data pin `d` with a setup check against
    the enable `g` (closing edge `close_tr` at g, opening edge `open_tr`) and a combinational
    D->Q arc (`dq`: its expanded edges) of the same instance."""

    d: int
    g: int
    open_tr: int
    close_tr: int
    checks: list[int]  # indices of its setup checks in _Graph.checks
    dq: list[int]


def _find_latches(g: _Graph, d_of: np.ndarray, setup: np.ndarray) -> list[_Latch]:
    """The latches of the graph (cheap when there are none: only data pins with a setup check
    and a combinational arc out of them are looked at); `d_of`/`setup`: data pin and kind of
    every check."""
    if not g.checks:
        return []
    mark = np.zeros(g.n, dtype=bool)
    mark[d_of[setup]] = True
    comb = np.flatnonzero(g.is_cell & ~g.launch & mark[g.src])
    if comb.size == 0:
        return []
    by_d: dict[int, list[int]] = {}  # data pin -> its setup checks
    for k in np.flatnonzero(setup & np.isin(d_of, g.src[comb])).tolist():
        by_d.setdefault(int(d_of[k]), []).append(k)
    found: dict[tuple[int, int], _Latch] = {}
    for e in comb.tolist():
        d, inst = int(g.src[e]), int(g.inst[e])
        # the enable: the clock pin of the same instance's setup check on d (closing edge; the
        # latch opens on the other one), whether or not constants left its enable->Q arc
        for k in by_d.get(d, []):
            c = g.checks[k]
            if c[6] != inst:
                continue
            lt = found.setdefault((d, c[1]), _Latch(d, c[1], 1 - c[3], c[3], [], []))
            if k not in lt.checks:
                lt.checks.append(k)
            if e not in lt.dq:
                lt.dq.append(e)
    # an enable held at its opening level by a constant leaves the latch open: D->Q is a plain arc
    values = getattr(g, "case_values", None)
    return [lt for lt in found.values() if values is None or int(values[lt.g]) != (1 if lt.open_tr == RISE else 0)]


def _borrow_limits(g: _Graph, latches: list[_Latch], clocks: list[ClockDef], clk_of_node: np.ndarray,
                   design: FlatDesign, limits: Mapping[str, Mapping[str, float]]) -> list[float | None]:
    """`set_max_time_borrow` of each latch (None: none), looked up as OpenSTA's
    `Sdc::latchBorrowLimit`: the D pin, the enable pin, the instance, the enable clock."""
    if not limits:
        return [None] * len(latches)
    pins, insts, clks = (limits.get(k, {}) for k in ("pin", "inst", "clock"))
    out: list[float | None] = []
    for lt in latches:
        c = int(clk_of_node[lt.g])
        for lim in (pins.get(g.names[lt.d]), pins.get(g.names[lt.g]),
                    insts.get(design.inst_names[int(g.node_inst[lt.d])]), clks.get(clocks[c].name) if c >= 0 else None):
            if lim is not None:
                break
        out.append(lim)
    return out


def _latch_borrow(g: _Graph, latches: list[_Latch], arr: list, groups: list[tuple[int, int]], clocks: list[ClockDef],
                  clk_of_node: np.ndarray, chk_val: np.ndarray, dmax: np.ndarray,
                  skip_pairs: set[tuple[str, str]], skip_d: set[int], user_limit: Sequence[float | None] = ()
                  ) -> tuple[dict[int, dict[tuple[int, int], float]], list[tuple[int, float, dict]], dict]:
    """OpenSTA 3.1's latch setup (`Latches::latchRequired`) for every latch and data launch group:
    the enable arrival is the opening edge (cycle accounting: the enable before the closing edge
    nearest after the launch) plus its clock latency minus the setup uncertainty; data before it
    has that as required time, data after it borrows up to the pulse width minus the latency
    difference of the edges minus the setup time (slack 0), beyond that the slack is negative.
    Borrowing data leaves Q at its required time (shifted into the enable's cycle) plus the D->Q
    delay, in the enable's launch group (`latchOutArrival`); late data only, as OpenSTA's search
    propagates D->Q for max paths alone (early data at Q is the enable's launch). A
    `set_max_time_borrow` limit (`user_limit`, per latch) replaces the pulse-width bound.
    Returns (seeds for the arrival passes, [(latch index, slack, path info)] of the setup checks,
    seed sources: (group, Q node, tr) -> (D node, D tr, D time, time given to startpoint))."""
    seeds: dict[int, dict[tuple[int, int], float]] = {}
    src: dict[tuple[int, int, int], tuple[int, int, float, float]] = {}
    out: list[tuple[int, float, dict]] = []
    for li, lt in enumerate(latches):
        c = int(clk_of_node[lt.g])
        en = [gi for gi, (ci_, _e) in enumerate(groups) if ci_ == c and np.isfinite(arr[gi][1][lt.g, lt.open_tr])]
        dis = [gi for gi, (ci_, _e) in enumerate(groups) if ci_ == c and np.isfinite(arr[gi][1][lt.g, lt.close_tr])]
        if c < 0 or not en or not dis or lt.d in skip_d:
            continue  # enable not clocked: no check, nothing passes (as OpenSTA without an enable path)
        eclk = clocks[c]
        lim = user_limit[li] if user_limit else None
        t_open, t_close = eclk.waveform[groups[en[0]][1]], eclk.waveform[groups[dis[0]][1]]
        width = (t_close - t_open) % eclk.period
        # early clock latency at G of the opening and closing edges (for the late data)
        lat = (arr[en[0]][1][lt.g, lt.open_tr] - t_open, arr[dis[0]][1][lt.g, lt.close_tr] - t_close)
        for gi, (lc, ledge) in enumerate(groups):
            lclk = clocks[lc]
            if (lclk.name, eclk.name) in skip_pairs:
                continue
            sep = separations(lclk.period, lclk.waveform[ledge], eclk.period, t_close)[0]
            if not math.isfinite(sep):
                continue
            t_en = lclk.waveform[ledge] + sep - width  # opening edge in the data's frame
            shift = t_open - t_en  # into the enable clock's cycle 0
            for dtr in (RISE, FALL):
                ks = [k for k in lt.checks if g.checks[k][4 if dtr == RISE else 5] >= 0]
                margin = max((float(chk_val[k, dtr]) for k in ks), default=0.0)
                a = float(arr[gi][0][lt.d, dtr])  # late data only: D->Q passes no early arrival
                if not math.isfinite(a):
                    continue
                open_lat, close_lat = lat
                enable = t_en + open_lat - eclk.uncertainty_setup
                max_borrow = width - (open_lat - close_lat) - margin if lim is None else lim
                borrow = a - enable
                req = enable if borrow <= 0 else (a if borrow <= max_borrow else enable + max_borrow)
                given = max(req - enable, 0.0) - eclk.uncertainty_setup if borrow > 0 else 0.0
                info = dict(borrow=max(req - enable, 0.0), max_borrow=max_borrow, user=lim is not None,
                            width=width, latency_diff=open_lat - close_lat, margin=margin,
                            open_uncertainty=-eclk.uncertainty_setup, time_given=given, propagated=eclk.propagated,
                            clock_width=width - (open_lat - close_lat))
                out.append((li, req - a, dict(g=gi, a=gi, node=lt.d, tr=dtr, req=req, carr=t_en + open_lat,
                                              edge=t_en, chk=t_en + open_lat - eclk.uncertainty_setup - req,
                                              unc=eclk.uncertainty_setup, lc=lclk.name, cc=eclk.name,
                                              ledge=lclk.waveform[ledge], csense=(groups[en[0]][1], lt.open_tr),
                                              latch="positive" if lt.open_tr == RISE else "negative", borrow=info)))
                if borrow <= 0:
                    continue
                grp = seeds.setdefault(en[0], {})
                for e in lt.dq:
                    if int(g.srctr[e]) == dtr:
                        key = (int(g.dst[e]), int(g.dsttr[e]))
                        q = req + shift + float(dmax[e])
                        if q > grp.get(key, -math.inf):
                            grp[key] = q
                            src[(en[0], *key)] = (lt.d, dtr, req + shift, given)
    return seeds, out, src


def _trace(g: _Graph, arr: list, info: dict, kind: str, slack: float, slew: np.ndarray,
           design: FlatDesign, groups: Sequence[tuple[int, int]] = (), latch_at: Mapping[int, _Latch] | None = None,
           latch_src: Mapping[tuple[int, int, int], tuple[int, int, float, float]] | None = None) -> TimingPath:
    """The path to `info`'s endpoint back to its startpoint: a register clock pin, an input, or
    (max paths through a borrowing latch, as OpenSTA's PathExpanded) the latch's D pin, reached
    at the enable's clock arrival plus the time given to the startpoint (`latch_src`)."""
    amax, amin, pmax, pmin = arr[info["a"]]
    a = amax if kind == "max" else amin
    pred = pmax if kind == "max" else pmin
    node, tr = info["node"], info["tr"]
    chain: list[tuple[int, int]] = []
    guard = 0
    launched = False
    while True:
        chain.append((node, tr))
        e = pred[node, tr]
        if e < 0 or guard > g.n:
            break
        node, tr = int(g.src[e]), int(g.srctr[e])
        guard += 1
        if g.launch[e]:  # the path starts at the register clock pin, like report_checks
            chain.append((node, tr))
            launched = True
            break
    chain.reverse()
    gi = info["a"] % len(groups) if groups else 0
    d_start = latch_src.get((gi, *chain[0])) if kind == "max" and not launched and latch_src else None
    times = [float(a[nd, t]) for nd, t in chain]
    if d_start is not None:
        chain.insert(0, (d_start[0], d_start[1]))
        times.insert(0, d_start[2])
    stages: list[PathStage] = []
    for k, ((nd, t), arrival) in enumerate(zip(chain, times, strict=True)):
        inst = g.node_inst[nd]
        cellname = design.inst_cell[inst] if inst >= 0 else None
        is_drv = g.load[nd].any()
        stages.append(PathStage(g.names[nd], _TR[t], arrival - times[k - 1] if k else 0.0,
                                arrival, float(slew[nd, t]), float(g.load[nd, t]) if is_drv else None, cellname))
    edge = groups[gi][1] if groups else RISE
    lt = (latch_at or {}).get(chain[0][0])
    start_latch = None if lt is None else "positive" if lt.open_tr == RISE else "negative"
    pin_tr = lt.open_tr if d_start is not None else chain[0][1] if launched else edge
    return TimingPath(kind, stages[0].node, g.names[info["node"]], info["lc"], info["cc"], stages,
                      float(a[info["node"], info["tr"]]), float(info["req"]), float(slack), float(info["ledge"]),
                      float(info["edge"]), float(info["carr"]), float(info["chk"]), float(info["unc"]),
                      info.get("latch"), (edge, pin_tr), info.get("csense"), start_latch,
                      d_start[3] if d_start is not None else None, info.get("borrow"))


def analyze_corners(design: FlatDesign, libs: Mapping[str, Any], constraints: TimingConstraints,
                    **kwargs: Any) -> dict[str, TimingResult]:
    """The same netlist at every corner (dict corner name -> Library)."""
    return {name: analyze(design, lib, constraints, **kwargs) for name, lib in libs.items()}


def timing_json(results: Mapping[str, TimingResult], max_paths: int = 5) -> str:
    """The `timing` view: per corner summary + worst paths; worst-over-corners at top level."""
    per = {c: r.to_json(max_paths) for c, r in results.items()}
    ws = [r.setup_wns for r in results.values() if math.isfinite(r.setup_wns)]
    hs = [r.hold_wns for r in results.values() if math.isfinite(r.hold_wns)]
    doc = {"units": {"time": "s"}, "corners": per,
           "setup_ws": min(ws) if ws else None, "setup_tns": min((r.setup_tns for r in results.values()), default=0.0),
           "hold_ws": min(hs) if hs else None, "hold_tns": min((r.hold_tns for r in results.values()), default=0.0)}
    return json.dumps(doc, indent=2)


# ---- loading -------------------------------------------------------------------------------
def load_design(verilog: Sequence[Any], top: str | None = None) -> FlatDesign:
    """Gate-level netlist -> FlatDesign with the engine's structural reader (flat netlists as
    Yosys writes them; `FlatDesign.from_netlist` adapts a shared `flow.netlist.Netlist`)."""
    from pathlib import Path

    from flow.formats.verilog import read_verilog

    return read_verilog([Path(p) for p in verilog], top)


def load_design_async(verilog: Sequence[Any], top: str | None = None) -> Pending[FlatDesign]:
    """Start reading a netlist; large ones are read in a child process (flow.background) while
    the caller reads Liberty and prepares the kernels (`prepare_kernels`). `.result()` returns
    the FlatDesign or raises the reader's error."""
    from flow.background import Pending, worth_forking

    paths = list(verilog)
    return Pending(load_design, paths, top, fork=worth_forking(paths))


def prepare_kernels() -> None:
    """Load the compiled STA kernels now (they load on first use otherwise)."""
    kern.warm_up()


def load_liberty(path: Any) -> Any:
    """Liberty library for the engines (timing/power subset, SI) from the engine's reader;
    `model.cell_model` also accepts a shared `flow.formats.liberty` Library object."""
    from flow.formats.liberty import read_liberty

    return read_liberty(path)


def load_constraints(sdc: Any, design: FlatDesign, lib: Any = None) -> TimingConstraints:
    """SDC -> TimingConstraints (evaluated with Tcl). SDC numbers are in the library's time and
    capacitance units, as OpenSTA reads them (default ns and fF when no library is given)."""
    from pathlib import Path

    from flow.engines.model import _get
    from flow.formats.sdc import read_sdc

    tu = float(_get(lib, "time_unit", default=1e-9) or 1e-9) if lib is not None else 1e-9
    cu = float(_get(lib, "cap_unit", default=1e-15) or 1e-15) if lib is not None else 1e-15
    return read_sdc(Path(sdc), design, tu, cu)
