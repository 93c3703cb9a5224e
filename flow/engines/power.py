"""Activity-based power, grouped and computed as OpenSTA 3.1 `report_power` does.

Per instance, with the slews and loads of the timing run (`TimingResult`):

* switching: for every output pin, ½ · C_load · V² · D, where C_load = load pin caps + wire cap
  (what the STA saw) and D the pin's transition density (1/s);
* internal, input pins: for each `internal_power` group of the pin, the mean of its rise and
  fall energy at the pin's own slew (no load) × the group's duty × D(pin). The duty is 1 without
  `when`; with a `when` that names an output whose function uses the pin, P(∂f/∂pin) (the
  probability that the pin is sensitised); else P(when);
* internal, output pins: each group with a related pin gets a weight D(from) · duty / Σ over the
  pin's groups of the same (D(from) · duty), with duty = P(∂f/∂from) when the function uses the
  related pin, else P(when), else ½; energy = mean over the output's rise and fall of the table
  at (slew of the related pin for the matching edge by the arc's unateness, C_load); power =
  Σ weight · energy · D(out). The weights sum to 1, so an output transition costs one averaged
  energy — not rise + fall, which OpenSTA 2019 (and our first engine) summed: that was the 2×.
  An output the netlist leaves open counts too (OpenSTA has a pin per port): at no load, with
  its function's activity (a flop's open QN toggles with IQN), or the VCD/SAIF annotation of
  `inst/port` when the dump has one — its duty also weighs the `when`s;
* leakage: Σ P(when_i) · P_i over `leakage_power` groups with a `when`, plus
  `cell_leakage_power` × (1 − Σ P(when_i) of the non-zero groups); else the unconditional group,
  else `cell_leakage_power`.

Probabilities are exact for independent inputs (a truth table per function, which is what
OpenSTA's BDD evaluation computes). Groups: Macro, Pad, Clock (every output pin of the instance
in a clock network), Sequential, Combinational — in that precedence. Per-supply totals use each
instance's corner (multi-voltage: `instance_corner`).

Activity (`PinActivity`, `sta_activity`) follows OpenSTA 3.1 `set_power_activity`: clock-network
pins toggle twice per period of their clock (duty from the waveform); with `-global` every other
pin and register state takes the global density/duty; otherwise roots of the timing graph get
their annotation (VCD/SAIF/user pin) or the input default (0.1 per minimum clock period,
duty ½), loads copy their driver, cell outputs evaluate their function, register states follow
their next-state function (density capped at 2·d·(1-d)·D(clk) when the input toggles faster than
half the clock), integrated clock gates' outputs (Liberty `clock_gate_out_pin`) get
GCK = CK & EN of their `clock_gate_clock_pin` and `clock_gate_enable_pin` (densities
D(CK)·P(EN) + D(EN)·P(CK), duty P(CK)·P(EN); OpenSTA ignores the test pin and the latch), and
annotated pins keep their annotation; propagation repeats until no pin changes by more than
1 % (at most 50 passes). Clock pins the propagation reaches (a gated clock and what it drives)
take the propagated activity, the others their clock's. Pins never reached stay at 0.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from flow.engines import activity as act
from flow.engines.model import FlatDesign, TableBank
from flow.engines.sta import TimingResult
from flow.util import gc_paused

ORIGINS = ("none", "clock", "global", "user", "vcd", "saif", "propagated", "input", "constant")
GROUPS = ("Sequential", "Combinational", "Clock", "Macro", "Pad")


@dataclass
class PinActivity:
    density: np.ndarray  # per node, transitions per second
    duty: np.ndarray
    origin: np.ndarray  # index into ORIGINS: where the pin's activity came from
    raw: np.ndarray  # transitions per minimum clock period (OpenSTA's "activity")
    annotated: np.ndarray | None = None  # per node: ORIGINS index of a vcd/saif/user annotation, 0 if none
    seq_duty: dict[str, np.ndarray] = field(default_factory=dict)  # register state (IQ...) -> duty per instance
    seq_density: dict[str, np.ndarray] = field(default_factory=dict)  # register state -> density (1/s)
    # ports of leaf instances the netlist leaves unconnected (OpenSTA has a pin per port, and
    # read_vcd/read_saif annotate them): (instance, port) -> (density, duty, origin), and how
    # many such ports there are (annotated or not)
    open_ports: dict[tuple[int, str], tuple[float, float, str]] = field(default_factory=dict)
    n_open_ports: int = 0

    def annotation_counts(self) -> dict[str, int]:
        """`report_activity_annotation`: annotated pins by source, and the rest (every node is
        a leaf-instance pin or a top port, as OpenSTA counts)."""
        ann = self.annotated if self.annotated is not None else np.zeros(self.origin.size, dtype=np.int64)
        c = np.bincount(ann, minlength=len(ORIGINS))
        for _d, _p, o in self.open_ports.values():
            c[ORIGINS.index(o)] += 1
        out = {nm: int(c[ORIGINS.index(key)]) for nm, key in (("vcd", "vcd"), ("saif", "saif"), ("input", "user"))
               if c[ORIGINS.index(key)]}
        out["unannotated"] = int(ann.size + self.n_open_ports - sum(out.values()))
        return out

    def annotation_report(self) -> str:
        """Text of OpenSTA 3.1 `report_activity_annotation`."""
        return "".join(f"{k:<11} {v:>5}\n" for k, v in self.annotation_counts().items())

    def counts(self) -> dict[str, int]:
        """Pins per activity origin (clock, global, vcd, propagated, input, ...)."""
        c = np.bincount(self.origin, minlength=len(ORIGINS))
        return {ORIGINS[k]: int(c[k]) for k in range(len(ORIGINS)) if c[k]}


@dataclass
class PowerResult:
    inst_names: list[str]
    internal: np.ndarray  # W per instance
    switching: np.ndarray
    leakage: np.ndarray
    group: list[str]
    supply: list[str]
    warnings: list[str] = field(default_factory=list)
    activity_counts: dict[str, int] = field(default_factory=dict)  # pins per activity origin
    annotation: dict[str, int] = field(default_factory=dict)  # report_activity_annotation counts

    @property
    def total(self) -> np.ndarray:
        return self.internal + self.switching + self.leakage

    def groups(self) -> dict[str, dict[str, float]]:
        out = {g: {"internal": 0.0, "switching": 0.0, "leakage": 0.0, "total": 0.0} for g in GROUPS}
        garr = np.asarray(self.group)
        for gname in GROUPS:
            m = garr == gname
            i, s, lk = float(self.internal[m].sum()), float(self.switching[m].sum()), float(self.leakage[m].sum())
            out[gname] = {"internal": i, "switching": s, "leakage": lk, "total": i + s + lk}
        return out

    def groups_sta2019(self) -> dict[str, dict[str, float]]:
        """Groups as OpenSTA 2019 prints them (no Clock row: clock cells are Combinational)."""
        g = self.groups()
        clk = g.pop("Clock")
        g["Combinational"] = {k: g["Combinational"][k] + clk[k] for k in clk}
        return g

    def totals(self) -> dict[str, float]:
        i, s, lk = float(self.internal.sum()), float(self.switching.sum()), float(self.leakage.sum())
        return {"internal": i, "switching": s, "leakage": lk, "total": i + s + lk}

    def per_supply(self) -> dict[str, float]:
        out: dict[str, float] = {}
        tot = self.total
        for name in sorted(set(self.supply)):
            out[name] = float(tot[np.asarray(self.supply) == name].sum())
        return out

    def report_power(self, digits: int = 6) -> str:
        """OpenSTA-style group table (W) with percentages."""
        g = self.groups()
        t = self.totals()
        w = digits + 7
        lines = [f"{'Group':<20} {'Internal':>{w}} {'Switching':>{w}} {'Leakage':>{w}} {'Total':>{w}}",
                 f"{'':<20} {'Power':>{w}} {'Power':>{w}} {'Power':>{w}} {'Power':>{w}}",
                 "-" * (20 + 4 * (w + 1) + 7)]
        tot = t["total"] or 1.0
        for name in GROUPS:
            r = g[name]
            lines.append(f"{name:<20} {r['internal']:{w}.{digits}e} {r['switching']:{w}.{digits}e} "
                         f"{r['leakage']:{w}.{digits}e} {r['total']:{w}.{digits}e} {100 * r['total'] / tot:5.1f}%")
        lines.append("-" * (20 + 4 * (w + 1) + 7))
        lines.append(f"{'Total':<20} {t['internal']:{w}.{digits}e} {t['switching']:{w}.{digits}e} "
                     f"{t['leakage']:{w}.{digits}e} {t['total']:{w}.{digits}e} 100.0%")
        lines.append(f"{'':<20} {100 * t['internal'] / tot:{w - 1}.1f}% {100 * t['switching'] / tot:{w - 1}.1f}% "
                     f"{100 * t['leakage'] / tot:{w - 1}.1f}%")
        return "\n".join(lines) + "\n"

    def to_json(self, npz_name: str = "power_instances.npz", top: int = 20) -> dict[str, Any]:
        order = np.argsort(-self.total)[:top]
        return {"units": {"power": "W"}, "groups": self.groups(), "total_w": self.totals()["total"],
                "internal_w": self.totals()["internal"], "switching_w": self.totals()["switching"],
                "leakage_w": self.totals()["leakage"], "per_supply": self.per_supply(),
                "instances_npz": npz_name, "activity_annotation": self.activity_counts,
                "report_activity_annotation": self.annotation,
                "top_instances": [{"name": self.inst_names[k], "total_w": float(self.total[k]),
                                   "group": self.group[k]} for k in order],
                "warnings": self.warnings}

    def write(self, json_path: Path, npz_path: Path) -> None:
        np.savez_compressed(npz_path, inst_names=np.asarray(self.inst_names), internal_w=self.internal,
                            switching_w=self.switching, leakage_w=self.leakage, total_w=self.total,
                            group=np.asarray(self.group), supply=np.asarray(self.supply))
        Path(json_path).write_text(json.dumps(self.to_json(Path(npz_path).name), indent=2))


# ---- activity -------------------------------------------------------------------------------
def _clock_activity(timing: TimingResult, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(is clock-network node, density 2/period, duty of the waveform) per node."""
    nc = timing.node_clock if timing.node_clock is not None else np.full(n, -1)
    clk = nc >= 0
    periods = np.asarray(timing.clock_periods or [1.0], dtype=float)
    duties = np.full(periods.size, 0.5)
    clocks = list(getattr(getattr(timing, "constraints", None), "clocks", None) or [])
    if len(clocks) == periods.size:  # OpenSTA clockDuty: (fall - rise) / period of the waveform
        for k, c in enumerate(clocks):
            wf = getattr(c, "waveform", None)
            if wf and c.period > 0:
                duties[k] = (wf[1] - wf[0]) / c.period
    k = np.maximum(nc, 0)
    dens = np.where(clk, 2.0 / np.where(periods[k] > 0, periods[k], np.inf), 0.0)
    return clk, dens, np.where(clk, duties[k], 0.0)


def min_clock_period(timing: TimingResult) -> float | None:
    """Smallest period of the SDC clocks (OpenSTA `clock_min_period`), None without clocks."""
    per = [p for p in timing.clock_periods or [] if p > 0]
    return min(per) if per else None


def _in_edges(g: Any) -> tuple[np.ndarray, np.ndarray]:
    """Unique (src, dst) of the timing edges activity flows along: wires and cell arcs except
    clock-to-output launches (OpenSTA's ActivitySrchPred)."""
    keep = ~np.asarray(g.launch, dtype=bool)
    key = np.unique(np.asarray(g.src[keep], dtype=np.int64) * g.n + np.asarray(g.dst[keep], dtype=np.int64))
    return key // g.n, key % g.n


def _clock_pin(cm: Any) -> str | None:
    for a in cm.arcs:
        if a.timing_type in ("rising_edge", "falling_edge"):
            return a.related_pin
    return next((p for p, pm in cm.pins.items() if pm.is_clock), None)


def _clock_gate_pins(cm: Any) -> tuple[str, str, str] | None:
    """(enable, clock, gated clock) pin names of an integrated clock gate, from the Liberty pin
    roles `clock_gate_enable_pin` / `clock_gate_clock_pin` / `clock_gate_out_pin` (OpenSTA
    `clockGatePins`); None when the cell lacks one of them."""
    role = {getattr(pm, "clock_gate", None): name for name, pm in cm.pins.items()}
    pins = role.get("enable"), role.get("clock"), role.get("out")
    return pins if all(pins) else None  # type: ignore[return-value]


@dataclass
class _FuncGroup:
    """Driver pins of one (cell, output pin) at one level, with their function's input nodes."""

    nodes: np.ndarray
    inputs: np.ndarray  # (m, k) nodes, -1 where the instance lacks the pin
    table: np.ndarray | None  # truth table; None: the output is a register state
    state: str | None = None  # register state name (IQ, IQN, ...) for register outputs
    insts: np.ndarray | None = None


def _seq_models(cells: Sequence[Any]) -> dict[int, tuple[Any, list[str], str | None]]:
    """Per sequential cell index: (next-state tree, state names, clock pin)."""
    out = {}
    for cm in cells:
        if cm.is_sequential and cm.next_state:
            out[cm.index] = (act.parse_function(cm.next_state), list(cm.extra.get("ff_names", [])), _clock_pin(cm))
    return out


@gc_paused
def sta_activity(design: FlatDesign, timing: TimingResult, *,
                 global_activity: tuple[float, float] | None = None,
                 input_activity: tuple[float, float] | None = None,
                 annotated: Mapping[int, tuple[float, float, str]] | None = None,
                 max_passes: int = 50, tolerance: float = 0.01) -> PinActivity:
    """Pin activities as OpenSTA 3.1 finds them (see the module docstring). Densities in 1/s;
    `annotated`: node -> (density, duty, origin 'vcd'|'saif'|'user'); `input_activity`
    default (0.1 / min clock period, ½)."""
    g = timing.graph
    n = g.n
    cells = g.cells
    clk, clk_dens, clk_duty = _clock_activity(timing, n)
    mp = min_clock_period(timing)
    ann_origin = np.zeros(n, dtype=np.int64)
    for v, (_, _, o) in (annotated or {}).items():
        ann_origin[v] = ORIGINS.index(o)
    dens = np.zeros(n)
    dut = np.zeros(n)
    origin = np.full(n, ORIGINS.index("none"), dtype=np.int64)
    n_inst = len(design.inst_names)
    seq = _seq_models(cells)
    seq_duty: dict[str, np.ndarray] = {}
    seq_dens: dict[str, np.ndarray] = {}
    for _, names, _ in seq.values():
        for nm in names:
            seq_duty.setdefault(nm, np.zeros(n_inst))
            seq_dens.setdefault(nm, np.zeros(n_inst))

    def finish(propagated: bool = True) -> PinActivity:
        """Clock activity on the clock pins, except those the propagation set."""
        fixed = clk & (origin == ORIGINS.index("none")) if propagated else clk
        dens[fixed], dut[fixed], origin[fixed] = clk_dens[fixed], clk_duty[fixed], ORIGINS.index("clock")
        return PinActivity(dens, dut, origin, dens * (mp or 1.0), ann_origin, seq_duty, seq_dens)

    if global_activity is not None:
        dens[:], dut[:], origin[:] = global_activity[0], global_activity[1], ORIGINS.index("global")
        for nm in seq_duty:
            seq_dens[nm][:], seq_duty[nm][:] = global_activity
        return finish(propagated=False)
    if input_activity is None:
        input_activity = (0.1 / (mp if mp else 1e-9), 0.5)
    src, dst = _in_edges(g)
    indeg = np.bincount(np.asarray(g.dst, dtype=np.int64), minlength=n)  # launch arcs count here (Levelize)
    roots = (indeg == 0) & ~clk
    user = np.zeros(n, dtype=bool)
    u_dens = np.zeros(n)
    u_duty = np.zeros(n)
    for v, (d, p, _) in (annotated or {}).items():
        user[v], u_dens[v], u_duty[v] = True, d, p
    # seeds
    dens[roots] = np.where(user[roots], u_dens[roots], input_activity[0])
    dut[roots] = np.where(user[roots], u_duty[roots], input_activity[1])
    origin[roots] = np.where(user[roots], ann_origin[roots], ORIGINS.index("input"))
    # driver of each load (first wire edge), function groups per level
    n_pins = len(design.pin_name)
    is_wire = ~np.asarray(g.is_cell, dtype=bool)
    drv_of = np.full(n, -1, dtype=np.int64)
    wd, ws = g.dst[is_wire][::-1], g.src[is_wire][::-1]
    drv_of[wd] = ws  # reversed so the first edge wins
    by_cell = np.argsort(g.inst_cell_idx, kind="stable")
    cstarts = np.searchsorted(g.inst_cell_idx[by_cell], np.arange(len(cells) + 1))
    groups: list[_FuncGroup] = []
    for cm in cells:
        insts = by_cell[cstarts[cm.index]:cstarts[cm.index + 1]]
        if insts.size == 0:
            continue
        ffn = seq[cm.index][1] if cm.index in seq else []
        for pname, ftext in cm.functions.items():
            pm = cm.pins.get(pname)
            if pm is None or pm.direction not in ("output", "inout"):
                continue
            v = g.nodes_of(insts, pname)
            ok = v >= 0
            if not ok.any():
                continue
            e = act.parse_function(ftext)
            if e[0] == "port" and e[1] in ffn:
                groups.append(_FuncGroup(v[ok], np.zeros((int(ok.sum()), 0), dtype=np.int64), None, e[1], insts[ok]))
                continue
            names = [nm for nm in act.ports(e) if nm not in ffn]
            ins = np.stack([g.nodes_of(insts[ok], nm) for nm in names], axis=1) if names else \
                np.zeros((int(ok.sum()), 0), dtype=np.int64)
            groups.append(_FuncGroup(v[ok], ins, act.truth_table(e, names), None, insts[ok]))
    # OpenSTA's breadth-first propagation, level by level, in a compiled kernel
    # (flow.engines.activity_kernel): a pin is evaluated when a fanin changed (by more than
    # `tolerance`, or its origin did); registers whose input pins changed get their state from
    # the next-state function and re-seed their outputs in the next pass. Flat tables here.
    from flow.engines import activity_kernel

    order_e = np.argsort(src, kind="stable")
    e_dst = np.ascontiguousarray(dst[order_e], dtype=np.int64)
    estart = np.searchsorted(src[order_e], np.arange(n + 1)).astype(np.int64)
    level = np.asarray(g.level, dtype=np.int64)
    n_lev = int(level.max(initial=0)) + 1
    slew = timing.node_slew
    avg_slew = slew.mean(axis=1) if slew is not None and slew.ndim == 2 else np.zeros(n)
    max_dens = np.where(avg_slew > 0, 1.0 / np.where(avg_slew > 0, avg_slew, 1.0), np.inf)
    state_id = {nm: k for k, nm in enumerate(seq_duty)}
    kind = np.zeros(n, dtype=np.int8)
    fgrp = np.zeros(n, dtype=np.int64)
    fin_off = np.zeros(n, dtype=np.int64)
    rs_state = np.zeros(n, dtype=np.int64)
    rs_inst = np.zeros(n, dtype=np.int64)
    tabs: list[np.ndarray] = []  # truth tables, then Boolean differences, flattened
    difs: list[np.ndarray] = []
    tab_len = dif_len = 0

    def add_table(table: np.ndarray, k: int) -> tuple[int, int]:
        nonlocal tab_len, dif_len
        tf = table.astype(float)
        dif = np.array([act.boolean_difference(table, i) for i in range(k)], dtype=float).reshape(-1)
        tabs.append(tf)
        difs.append(dif)
        tab_len, dif_len = tab_len + tf.size, dif_len + dif.size
        return tab_len - tf.size, dif_len - dif.size

    g_k: list[int] = []
    g_tab: list[int] = []
    g_dif: list[int] = []
    fins: list[np.ndarray] = []
    fin_len = 0
    ro_inst: list[np.ndarray] = []
    ro_node: list[np.ndarray] = []
    max_k = 0
    for fg in groups:
        if fg.table is None:
            kind[fg.nodes] = 2
            rs_state[fg.nodes] = state_id.get(fg.state, 0)
            rs_inst[fg.nodes] = fg.insts
            ro_inst.append(np.asarray(fg.insts, dtype=np.int64))
            ro_node.append(fg.nodes)
            continue
        k = fg.inputs.shape[1]
        max_k = max(max_k, k)
        t_off, d_off = add_table(fg.table, k)
        g_k.append(k)
        g_tab.append(t_off)
        g_dif.append(d_off)
        kind[fg.nodes] = 1
        fgrp[fg.nodes] = len(g_k) - 1
        fin_off[fg.nodes] = fin_len + k * np.arange(fg.nodes.size)
        fins.append(fg.inputs.reshape(-1))
        fin_len += fg.inputs.size
    # registers: next-state function, its input pins and the clock pin per instance
    sc_of_inst = np.full(n_inst, -1, dtype=np.int64)
    rin_off = np.zeros(n_inst, dtype=np.int64)
    rck = np.full(n_inst, -1, dtype=np.int64)
    sd_k: list[int] = []
    sd_tab: list[int] = []
    sd_dif: list[int] = []
    sd_nm: list[int] = []
    sd_nm_off = [0]
    rins: list[np.ndarray] = []
    rin_len = 0
    for ci, (e, names, ckpin) in seq.items():
        insts = by_cell[cstarts[ci]:cstarts[ci + 1]]
        if insts.size == 0 or not names:
            continue
        fports = act.ports(e)
        max_k = max(max_k, len(fports))
        t_off, d_off = add_table(act.truth_table(e, fports), len(fports))
        sc_of_inst[insts] = len(sd_k)
        sd_k.append(len(fports))
        sd_tab.append(t_off)
        sd_dif.append(d_off)
        sd_nm.extend(state_id[nm] for nm in names)
        sd_nm_off.append(len(sd_nm))
        ins = np.stack([g.nodes_of(insts, nm) for nm in fports], axis=1) if fports else \
            np.zeros((insts.size, 0), dtype=np.int64)
        rin_off[insts] = rin_len + len(fports) * np.arange(insts.size)
        rins.append(ins.reshape(-1))
        rin_len += ins.size
        if ckpin:
            rck[insts] = g.nodes_of(insts, ckpin)
    # integrated clock gates: GCK from CK and EN, re-evaluated when an input pin of the gate changes
    cg_en = np.full(n, -1, dtype=np.int64)
    cg_ck = np.full(n, -1, dtype=np.int64)
    cg_out = np.full(n_inst, -1, dtype=np.int64)
    for cm in cells:
        roles = _clock_gate_pins(cm)
        insts = by_cell[cstarts[cm.index]:cstarts[cm.index + 1]]
        if roles is None or insts.size == 0:
            continue
        en, ck, out = (g.nodes_of(insts, nm) for nm in roles)
        ok = (en >= 0) & (ck >= 0) & (out >= 0)
        kind[out[ok]] = 3
        cg_en[out[ok]], cg_ck[out[ok]], cg_out[insts[ok]] = en[ok], ck[ok], out[ok]
    ro_i = np.concatenate(ro_inst) if ro_inst else np.zeros(0, dtype=np.int64)
    ro_n = np.concatenate(ro_node) if ro_node else np.zeros(0, dtype=np.int64)
    ro_order = np.argsort(ro_i, kind="stable")
    ro_start = np.searchsorted(ro_i[ro_order], np.arange(n_inst + 1)).astype(np.int64)
    is_seq_inst = np.zeros(n_inst, dtype=bool)
    for ci in seq:
        is_seq_inst[by_cell[cstarts[ci]:cstarts[ci + 1]]] = True
    pdir = g.pin_dir if g.pin_dir is not None else np.zeros(n, dtype=np.int8)
    load_pin = ((pdir == 1) | (pdir == 3)) & (np.arange(n) < n_pins)
    n_states = max(len(state_id), 1)
    seq_dens2 = np.zeros((n_states, n_inst))
    seq_duty2 = np.zeros((n_states, n_inst))
    seq_known = np.zeros((n_states, n_inst), dtype=bool)

    def i64(parts: list[Any]) -> np.ndarray:
        return np.ascontiguousarray(np.concatenate(parts) if parts else np.zeros(0), dtype=np.int64)

    def f64(parts: list[np.ndarray]) -> np.ndarray:
        return np.ascontiguousarray(np.concatenate(parts) if parts else np.zeros(0), dtype=float)

    queued = np.zeros(n, dtype=bool)
    queued[e_dst[_fanout(estart, e_dst, np.flatnonzero(roots))]] = True
    # The kernel runs on nodes renumbered in level order (pins of one level adjacent, loop pins
    # last; see activity_kernel): each pass walks the design level by level, and with the
    # netlist's numbering every pin it touched was a cache miss in each of the two dozen
    # per-node arrays. Values do not depend on the numbering: a pin reads only pins of lower
    # levels, and the order of the pins of one level is not observable.
    node_inst = np.asarray(g.node_inst, dtype=np.int64)
    perm = np.argsort(np.where(level >= 0, level, n_lev), kind="stable")  # new -> old
    new_of = np.empty(n, dtype=np.int64)
    new_of[perm] = np.arange(n, dtype=np.int64)

    def ren(x: np.ndarray) -> np.ndarray:
        """Node-valued array (-1: none) in the new numbering."""
        x = np.asarray(x, dtype=np.int64)
        return np.ascontiguousarray(np.where(x >= 0, new_of[np.maximum(x, 0)], x))

    def by_new(x: np.ndarray) -> np.ndarray:
        """Node-indexed array in the new order."""
        return np.ascontiguousarray(x[perm])

    pos_e = _fanout(estart, e_dst, perm)  # edges of the new nodes, in new node order
    estart_new = np.zeros(n + 1, dtype=np.int64)
    np.cumsum((estart[1:] - estart[:-1])[perm], out=estart_new[1:])
    # function inputs laid out in the new node order too (fin_off: where each node's k inputs start)
    fin_all = i64(fins)
    k_new = np.where(by_new(kind) == 1, np.asarray(g_k, dtype=np.int64)[by_new(fgrp)] if g_k else 0, 0)
    fin_off_new = np.cumsum(k_new) - k_new
    fin_pos = np.repeat(fin_off[perm], k_new) + (np.arange(int(k_new.sum())) - np.repeat(fin_off_new, k_new))
    dens_p, dut_p, origin_p = by_new(dens), by_new(dut), by_new(origin)
    activity_kernel.propagate(
        by_new(level), ren(by_new(drv_of)), by_new(np.asarray(clk)), by_new(clk_dens), by_new(clk_duty),
        by_new(user), by_new(u_dens), by_new(u_duty), by_new(ann_origin), by_new(kind), by_new(fgrp),
        np.ascontiguousarray(fin_off_new), ren(fin_all[fin_pos]), i64([g_k]), i64([g_tab]), i64([g_dif]), f64(tabs), f64(difs),
        by_new(rs_state), by_new(rs_inst), estart_new, ren(e_dst[pos_e]), by_new(max_dens), by_new(load_pin),
        by_new(node_inst), is_seq_inst,
        sc_of_inst, i64([sd_k]), i64([sd_tab]), i64([sd_dif]), i64([sd_nm_off]), i64([sd_nm]), rin_off, ren(i64(rins)),
        ren(rck), ro_start, ren(ro_n[ro_order]), ren(by_new(cg_en)), ren(by_new(cg_ck)), ren(cg_out),
        seq_dens2, seq_duty2, seq_known,
        dens_p, dut_p, origin_p, by_new(queued), n_lev, ORIGINS.index("propagated"), ORIGINS.index("none"),
        max_passes, float(tolerance), np.empty(1 << max_k))
    dens[perm], dut[perm], origin[perm] = dens_p, dut_p, origin_p
    for nm, k in state_id.items():
        seq_dens[nm][:] = seq_dens2[k]
        seq_duty[nm][:] = seq_duty2[k]
    return finish()


def _fanout(estart: np.ndarray, e_dst: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Positions in `e_dst` of the activity edges leaving nodes `v` (a CSR gather)."""
    lo, cnt = estart[v], estart[v + 1] - estart[v]
    if v.size == 0 or not cnt.any():
        return np.zeros(0, dtype=np.int64)
    offs = np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    return np.repeat(lo, cnt) + offs


def _pct(new: np.ndarray, old: np.ndarray) -> np.ndarray:
    """OpenSTA percentChange per pin."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(old == 0, np.where(new == 0, 0.0, 1.0), np.abs(new - old) / np.where(old == 0, 1.0, np.abs(old)))


def annotate_by_name(design: FlatDesign, activity: Mapping[str, tuple[float, float]], origin: str = "vcd",
                     nets: bool = True) -> dict[int, tuple[float, float, str]]:
    """Node -> (density, duty, origin) for names that are instance pins (`inst/pin`) or top ports,
    as OpenSTA `read_vcd`/`read_saif` annotate. When no name is an instance pin and `nets`, net
    names annotate every pin of their net instead (a netlist-level dump carries no pin names;
    OpenSTA would annotate only the ports of such a file)."""
    names = design.node_names()
    n_pins = len(design.pin_name)
    out: dict[int, tuple[float, float, str]] = {}
    any_pin = False
    for nm, (d, p) in activity.items():
        v = names.index_of(nm)
        if v is not None:
            out[v] = (float(d), float(p), origin)
            any_pin = any_pin or v < n_pins
    if nets and not any_pin:
        net_index = {nm: k for k, nm in enumerate(design.net_names)}
        node_net = np.concatenate([design.pin_net, design.port_net])
        order = np.argsort(node_net, kind="stable")
        starts = np.searchsorted(node_net[order], np.arange(len(design.net_names) + 1))
        for nm, (d, p) in activity.items():
            k = net_index.get(nm)
            if k is None:
                continue
            for v in order[starts[k]:starts[k + 1]].tolist():
                out.setdefault(int(v), (float(d), float(p), origin))
    return out


def sta_global_activity(design: FlatDesign, timing: TimingResult, activity: float, duty: float = 0.5,
                        pins: Mapping[str, tuple[float, float]] | None = None) -> PinActivity:
    """`set_power_activity -global -activity A -duty D` (A per minimum clock period), with
    `pins` given as `set_power_activity -pins` (activity per period, duty). OpenSTA 3.1 gives
    the global value precedence over pin annotations on every non-clock pin."""
    mp = min_clock_period(timing) or 1e-9
    a = sta_activity(design, timing, global_activity=(activity / mp, duty))
    if pins:
        ann = annotate_by_name(design, {k: (v[0] / mp, v[1]) for k, v in pins.items()}, "user", nets=False)
        for v in ann:
            a.annotated[v] = ORIGINS.index("user")
    return a


def propagate_activity(design: FlatDesign, timing: TimingResult, libs: Sequence[Any] | Any = None,
                       input_activity: float = 0.1, input_duty: float = 0.5,
                       annotated: Mapping[str, tuple[float, float]] | None = None,
                       instance_corner: np.ndarray | None = None, origin: str = "vcd",
                       **_: Any) -> PinActivity:
    """OpenSTA 3.1 activity propagation from annotations (pin/port/net name -> (density 1/s,
    duty), see `annotate_by_name`) and the default input activity (per minimum clock period).
    `libs` / `instance_corner` are accepted for symmetry with `sta.analyze`: the timing graph
    already holds each instance's cell model."""
    mp = min_clock_period(timing) or 1e-9
    ann = annotate_by_name(design, annotated or {}, origin)
    a = sta_activity(design, timing, input_activity=(input_activity / mp, input_duty), annotated=ann)
    a.open_ports, a.n_open_ports = _open_ports(design, timing.graph, annotated or {}, origin)
    return a


def _open_ports(design: FlatDesign, g: Any, activity: Mapping[str, tuple[float, float]], origin: str
                ) -> tuple[dict[tuple[int, str], tuple[float, float, str]], int]:
    """Annotations (`inst/port` names) of leaf-instance ports the netlist leaves unconnected,
    and the number of such ports: OpenSTA's instances have a pin per Liberty port, so a VCD
    of the cells' own scopes annotates, say, a flop's open QN (its internal power uses it)."""
    n_inst = len(design.inst_names)
    if n_inst == 0:
        return {}, 0
    n_ports = np.array([sum(pm.direction in ("input", "output", "inout") for pm in cm.pins.values())
                        for cm in g.cells], dtype=np.int64)
    connected = np.bincount(design.pin_inst, minlength=n_inst)
    n_open = int(np.maximum(n_ports[g.inst_cell_idx] - connected, 0).sum())
    if n_open == 0 or not activity:
        return {}, n_open
    inst_index = {nm: k for k, nm in enumerate(design.inst_names)}
    names = design.node_names()
    out: dict[tuple[int, str], tuple[float, float, str]] = {}
    for nm, (d, p) in activity.items():
        inst, _, port = nm.rpartition("/")
        k = inst_index.get(inst)
        if k is None or names.index_of(nm) is not None:
            continue
        pm = g.cells[int(g.inst_cell_idx[k])].pins.get(port)
        if pm is not None and pm.direction in ("input", "output", "inout"):
            out[(k, port)] = (float(d), float(p), origin)
    return out, n_open


# ---- power ----------------------------------------------------------------------------------
class _Probe:
    """Duties and densities of one cell type's instances, and exact probabilities of Liberty
    expressions over them (cached per expression)."""

    def __init__(self, g: Any, cm: Any, insts: np.ndarray, activity: PinActivity) -> None:
        self.g, self.cm, self.insts, self.a = g, cm, insts, activity
        self._missing: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._nodes: dict[str, np.ndarray] = {}
        self._trees: dict[str, Any] = {}
        self._duty: dict[str, np.ndarray] = {}
        self._weights: dict[tuple[str, ...], np.ndarray] = {}  # state probabilities per input set

    def nodes(self, pin: str) -> np.ndarray:
        if pin not in self._nodes:
            self._nodes[pin] = self.g.nodes_of(self.insts, pin)
        return self._nodes[pin]

    def tree(self, text: str) -> Any:
        if text not in self._trees:
            self._trees[text] = act.parse_function(text)
        return self._trees[text]

    def missing(self, pin: str) -> tuple[np.ndarray, np.ndarray]:
        """(density, duty) of `pin` where the netlist has no such pin: a register state (IQ, IQN)
        has its state's; an output left unconnected the value of its function, as OpenSTA, whose
        instances have a pin per port, propagates it (a flop's unused QN still toggles and
        costs internal power); anything else 0."""
        got = self._missing.get(pin)
        if got is not None:
            return got
        zero = np.zeros(self.insts.size)
        got = zero, zero
        self._missing[pin] = got  # also guards a function that names its own pin
        pm = self.cm.pins.get(pin)
        func = self.cm.functions.get(pin)
        if pin in self.a.seq_duty:
            dens = self.a.seq_density.get(pin)
            got = (dens[self.insts] if dens is not None else zero), self.a.seq_duty[pin][self.insts]
        elif pm is not None and pm.direction in ("output", "inout") and func:
            e = self.tree(func)
            names = act.ports(e)
            dd = np.stack([self.density(nm) for nm in names], axis=1) if names else np.zeros((self.insts.size, 0))
            pp = np.stack([self.duty(nm) for nm in names], axis=1) if names else np.zeros((self.insts.size, 0))
            p, d = act.table_duty_density(act.truth_table(e, names), pp, dd)
            got = d, p
        if self.a.open_ports and pm is not None:  # an open port a VCD/SAIF annotated
            hit = [(j, self.a.open_ports.get((int(i), pin))) for j, i in enumerate(self.insts.tolist())]
            hit = [(j, v) for j, v in hit if v is not None]
            if hit:
                d, p = got[0].copy(), got[1].copy()
                for j, (dj, pj, _o) in hit:
                    d[j], p[j] = dj, pj
                got = d, p
        self._missing[pin] = got
        return got

    def density(self, pin: str) -> np.ndarray:
        v = self.nodes(pin)
        vv = np.maximum(v, 0)
        return self.a.density[vv] if (v >= 0).all() else np.where(v >= 0, self.a.density[vv], self.missing(pin)[0])

    def duty(self, pin: str) -> np.ndarray:
        got = self._duty.get(pin)
        if got is not None:
            return got
        if pin in self.a.seq_duty:
            got = self.missing(pin)[1]
        else:
            v = self.nodes(pin)
            vv = np.maximum(v, 0)
            got = self.a.duty[vv] if (v >= 0).all() else np.where(v >= 0, self.a.duty[vv], self.missing(pin)[1])
        self._duty[pin] = got
        return got

    def weights(self, names: list[str]) -> np.ndarray:
        """P(each input state) of `names` per instance (leakage states and `when`s of one cell
        share input sets: computed once)."""
        key = tuple(names)
        got = self._weights.get(key)
        if got is None:
            pp = np.stack([self.duty(nm) for nm in names], axis=1) if names else np.zeros((self.insts.size, 0))
            got = self._weights[key] = act.state_weights(pp)
        return got

    def prob(self, text: str) -> np.ndarray:
        """P(expression = 1) per instance."""
        e = self.tree(text)
        names = act.ports(e)
        return self.weights(names) @ act.truth_table(e, names).astype(float)

    def diff_prob(self, text: str, port: str) -> np.ndarray:
        """P(∂f/∂port) per instance: the probability that `port` is sensitised to the output."""
        e = self.tree(text)
        names = act.ports(e)
        diff = act.boolean_difference(act.truth_table(e, names), names.index(port))
        return self.weights(names) @ diff.astype(float)


def _power_slews(timing: TimingResult) -> np.ndarray:
    """Slews internal power is looked up at: the timing slews, except on ideal clock networks,
    where OpenSTA's power (`Power::getSlew`) takes the clock's `set_clock_transition` (0 when
    unset) even though the delay calculation propagates slews through the clock buffers."""
    slew = np.asarray(timing.node_slew, dtype=float)
    ideal = getattr(timing, "ideal_clock_node", None)
    clocks = list(getattr(getattr(timing, "constraints", None), "clocks", None) or [])
    if ideal is None or not np.any(ideal) or timing.node_clock is None:
        return slew
    trans = np.array([float(getattr(c, "transition", 0.0) or 0.0) for c in clocks] or [0.0])
    k = np.clip(timing.node_clock, 0, trans.size - 1)
    slew = slew.copy()
    slew[ideal] = trans[k[ideal]][:, None]
    return slew


def _out_port_in(e: Any, cm: Any) -> str | None:
    """First output port an expression names (OpenSTA findExprOutPort)."""
    for nm in act.ports(e):
        pm = cm.pins.get(nm)
        if pm is not None and pm.direction in ("output", "inout"):
            return nm
    return None


def _positive_unate(cm: Any, frm: str, to: str) -> bool:
    """OpenSTA isPositiveUnate: the sense of the first from->to arc (positive or non-unate);
    an arc without timing_sense counts as not positive; no arc at all as positive."""
    for a in cm.arcs:
        if a.related_pin == frm and a.pin == to:
            return a.timing_sense in ("positive_unate", "non_unate")
    return True


@gc_paused
def analyze_power(design: FlatDesign, timing: TimingResult, activity: PinActivity, *,
                  supply_names: Sequence[str] | None = None, instance_corner: np.ndarray | None = None,
                  exact_leakage: bool = True) -> PowerResult:
    """Internal, switching and leakage power per instance (see the module docstring).
    `exact_leakage` is kept for callers; leakage is always weighted by exact probabilities."""
    g = timing.graph
    n_inst = len(design.inst_names)
    ic = np.zeros(n_inst, dtype=np.int64) if instance_corner is None else np.asarray(instance_corner)
    names_sup = list(supply_names) if supply_names is not None else None
    bank = TableBank()
    leakage = np.zeros(n_inst)
    clk = _clock_activity(timing, g.n)[0]  # groups; the activity already holds the clock pins' activity
    load = np.maximum(g.load[:, 0], g.load[:, 1])
    slew = _power_slews(timing)
    dens_node = activity.density
    no_power: set[str] = set()
    # switching, vectorised over output pins
    n_pins = len(design.pin_name)
    pin_cell = g.inst_cell_idx[design.pin_inst]
    is_out = (g.pin_dir[:n_pins] == 2) | (g.pin_dir[:n_pins] == 3)  # directions the STA resolved
    volt_cell = np.array([c.voltage for c in g.cells] or [0.0])
    volt_pin = volt_cell[pin_cell]
    sw_pin = np.where(is_out, 0.5 * load[:n_pins] * volt_pin ** 2 * dens_node[:n_pins], 0.0)
    switching = np.bincount(design.pin_inst, weights=sw_pin, minlength=n_inst)
    n_out = np.bincount(design.pin_inst, weights=is_out.astype(float), minlength=n_inst)
    n_clk_out = np.bincount(design.pin_inst, weights=(is_out & clk[:n_pins]).astype(float), minlength=n_inst)
    in_clock_network = n_out == n_clk_out  # every output pin is a clock pin (OpenSTA inClockNetwork)
    q_tab: list[np.ndarray] = []
    q_slew: list[np.ndarray] = []
    q_load: list[np.ndarray] = []
    q_scale: list[np.ndarray] = []
    q_inst: list[np.ndarray] = []

    def query(tab: Any, sl: np.ndarray, ld: np.ndarray, scale: np.ndarray, insts: np.ndarray) -> None:
        if tab is None or insts.size == 0:
            return
        q_tab.append(np.full(insts.size, bank.add(tab)))
        q_slew.append(sl)
        q_load.append(ld)
        q_scale.append(scale)
        q_inst.append(insts)

    by_cell = np.argsort(g.inst_cell_idx, kind="stable")
    cstarts = np.searchsorted(g.inst_cell_idx[by_cell], np.arange(len(g.cells) + 1))
    group_arr = np.full(n_inst, "Combinational", dtype=object)
    for cm in g.cells:
        insts = by_cell[cstarts[cm.index]:cstarts[cm.index + 1]]
        if insts.size == 0:
            continue
        if not cm.internal_power and cm.cell_leakage is None and not cm.leakage_states and cm.pins:
            no_power.add(cm.name)
        pr = _Probe(g, cm, insts, activity)
        by_pin: dict[str, list[Any]] = {}
        for ip in cm.internal_power:
            by_pin.setdefault(ip.pin, []).append(ip)
        for pin, ips in by_pin.items():
            pm = cm.pins.get(pin)
            if pm is None:
                continue
            to = pr.nodes(pin)
            ok = to >= 0
            tv = np.maximum(to, 0)
            d_to = np.where(ok, dens_node[tv], 0.0)
            if pm.direction in ("input", "inout") and ok.any():
                for ip in ips:
                    duty = np.ones(insts.size)
                    if ip.when:
                        e = pr.tree(ip.when)
                        out = _out_port_in(e, cm)
                        f = cm.functions.get(out) if out else None
                        if f and pin in act.ports(pr.tree(f)):
                            duty = pr.diff_prob(f, pin)
                        else:
                            duty = pr.prob(ip.when)
                    sc = 0.5 * duty * d_to
                    for rf, tab in ((0, ip.rise), (1, ip.fall)):
                        query(tab, slew[tv, rf][ok], np.zeros(int(ok.sum())), sc[ok], insts[ok])
            if pm.direction in ("output", "inout"):
                d_to = pr.density(pin)  # an unconnected output: its function's activity, no load
                live = ok | (d_to != 0)
                if not live.any():
                    continue
                ld = np.where(ok, load[tv], 0.0)
                func = cm.functions.get(pin)
                fports = act.ports(pr.tree(func)) if func else []
                arcs = []
                for ip in ips:
                    if not ip.related_pin:
                        continue
                    fr = pr.nodes(ip.related_pin)
                    if func and ip.related_pin in fports:
                        duty = pr.diff_prob(func, ip.related_pin)
                    elif ip.when:
                        duty = pr.prob(ip.when)
                    else:
                        duty = np.full(insts.size, 0.5)
                    duty = np.where(fr >= 0, duty, 0.0)
                    arcs.append((ip, fr, pr.density(ip.related_pin) * duty))
                if not arcs:
                    continue
                total = np.sum([w for _, _, w in arcs], axis=0)
                for ip, fr, w in arcs:
                    weight = np.where(total != 0, w / np.where(total != 0, total, 1.0), 0.0)
                    pos = _positive_unate(cm, ip.related_pin, pin)
                    sel = live & (fr >= 0)
                    fv = np.maximum(fr, 0)
                    sc = 0.5 * weight * d_to
                    for rf, tab in ((0, ip.rise), (1, ip.fall)):
                        frf = rf if pos else 1 - rf
                        query(tab, slew[fv, frf][sel], ld[sel], sc[sel], insts[sel])
        # leakage (one summary: these libraries give no related_pg_pin)
        conds = [(wh, v) for wh, v in cm.leakage_states if wh]
        if conds:
            tot = np.zeros(insts.size)
            duty_sum = np.zeros(insts.size)
            for wh, v in conds:
                p = pr.prob(wh)
                tot += v * p
                if v > 0:
                    duty_sum += p
            if cm.cell_leakage is not None:
                tot += cm.cell_leakage * (1.0 - duty_sum)
            leakage[insts] = tot
        elif any(wh is None for wh, _ in cm.leakage_states):
            leakage[insts] = [v for wh, v in cm.leakage_states if wh is None][-1]
        elif cm.cell_leakage is not None:
            leakage[insts] = cm.cell_leakage
        if cm.is_macro:
            group_arr[insts] = "Macro"
        elif cm.is_pad:
            group_arr[insts] = "Pad"
        else:
            group_arr[insts] = np.where(in_clock_network[insts], "Clock",
                                        "Sequential" if cm.is_sequential else "Combinational")
    group = group_arr.tolist()
    volts = np.array([c.voltage for c in g.cells] or [0.0])[g.inst_cell_idx] if n_inst else np.zeros(0)
    if names_sup:
        supply = list(map(names_sup.__getitem__, ic.tolist()))
    else:  # one label per distinct supply voltage
        label = {v: f"{v:.2f}V" for v in set(volts.tolist())}
        supply = list(map(label.__getitem__, volts.tolist()))
    internal = np.zeros(n_inst)
    if q_tab:
        bank.finalize()
        e = bank.lookup(np.concatenate(q_tab), np.concatenate(q_slew), np.concatenate(q_load))
        internal += np.bincount(np.concatenate(q_inst), weights=e * np.concatenate(q_scale), minlength=n_inst)
    warnings = []
    if no_power:
        warnings.append(f"{len(no_power)} cell type(s) without power data (no internal_power or leakage): "
                        f"{', '.join(sorted(no_power)[:8])}")
    return PowerResult(list(design.inst_names), internal, switching, leakage, group, supply, warnings,
                       activity.counts(), activity.annotation_counts())
