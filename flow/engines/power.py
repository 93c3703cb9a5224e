"""Activity-based power, grouped like OpenSTA `report_power` (2019 rules, documented here).

Per instance, with the slews and loads of the timing run (`TimingResult`):

* switching: for every output pin, ½ · C_load · V² · D, where C_load = load pin caps + wire cap
  (what the STA saw) and D the pin's transition density (1/s);
* internal: for every `internal_power` group on a pin, energy = Σ_{rf} E_rf(slew of the related
  pin for rf, C_load) · w, times D of the pin. The weight w is, as OpenSTA: the `when` condition's
  probability; without `when` but with a related pin and a function, OpenSTA's inferred side
  condition (`activity.infered_when`) scaled by D_related/D_pin; else 1 for clock related pins
  and ½ otherwise. Input-pin groups use C_load = 0;
* leakage: state groups `Σ P_i · when_i` with OpenSTA's state weight (½ per input in `when`,
  ¼ for a clock input) — or exact state probabilities with `exact_leakage=True`; otherwise the
  unconditional `leakage_power`, else `cell_leakage_power`.

Groups: Sequential (cells with ff/latch), Combinational, Clock (cells driving a clock
network — OpenSTA 2019 counts them as Combinational, `groups_sta2019()` merges them back),
Macro, Pad. Per-supply totals use each instance's corner (multi-voltage: `instance_corner`).

Activity (`PinActivity`): per timing-graph node (pins, ports), density in transitions/s, duty,
and origin (`clock`, `global`, `user`, `vcd`, `propagated`, `input`). `sta_global_activity`
reproduces `set_power_activity -global -activity A -duty D` (D = A / clock period);
`propagate_activity` derives activity from annotated nets/inputs through cell functions.
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

ORIGINS = ("none", "clock", "global", "user", "vcd", "propagated", "input", "constant")
GROUPS = ("Sequential", "Combinational", "Clock", "Macro", "Pad")


@dataclass
class PinActivity:
    density: np.ndarray  # per node, transitions per second
    duty: np.ndarray
    origin: np.ndarray  # index into ORIGINS
    raw: np.ndarray  # OpenSTA "activity": transitions per clock period (clock pins: 2)

    def annotation_report(self) -> str:
        """Like `report_activity_annotation`: how many pins got their activity from where."""
        counts = np.bincount(self.origin, minlength=len(ORIGINS))
        lines = ["Activity annotation", "-------------------"]
        lines += [f"{ORIGINS[k]:<12} {int(counts[k]):>8}" for k in range(len(ORIGINS)) if counts[k]]
        lines.append(f"{'total':<12} {int(counts.sum()):>8}")
        return "\n".join(lines) + "\n"

    def counts(self) -> dict[str, int]:
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
    activity_counts: dict[str, int] = field(default_factory=dict)

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
                "top_instances": [{"name": self.inst_names[k], "total_w": float(self.total[k]),
                                   "group": self.group[k]} for k in order],
                "warnings": self.warnings}

    def write(self, json_path: Path, npz_path: Path) -> None:
        np.savez_compressed(npz_path, inst_names=np.asarray(self.inst_names), internal_w=self.internal,
                            switching_w=self.switching, leakage_w=self.leakage, total_w=self.total,
                            group=np.asarray(self.group), supply=np.asarray(self.supply))
        Path(json_path).write_text(json.dumps(self.to_json(Path(npz_path).name), indent=2))


# ---- activity -------------------------------------------------------------------------------
def _clock_period(timing: TimingResult, n: int) -> np.ndarray:
    """Period (s) of the clock of each node (its clock network, else the clock of its paths)."""
    per = np.full(n, np.nan)
    periods = np.asarray(timing.clock_periods or [np.nan])
    for arr_ in (timing.node_data_clock, timing.node_clock):
        if arr_ is not None:
            m = arr_ >= 0
            per[m] = periods[arr_[m]]
    return per


def _inst_period(timing: TimingResult, design: FlatDesign) -> np.ndarray:
    """OpenSTA findInstClk: a clock seen on any pin of the instance (NaN when none)."""
    g = timing.graph
    per_node = _clock_period(timing, g.n)
    n_pins = len(design.pin_name)
    inst_per = np.full(len(design.inst_names), np.nan)
    ok = ~np.isnan(per_node[:n_pins])
    inst_per[design.pin_inst[:n_pins][ok]] = per_node[:n_pins][ok]
    return inst_per


def sta_global_activity(design: FlatDesign, timing: TimingResult, activity: float, duty: float = 0.5,
                        pins: Mapping[str, tuple[float, float]] | None = None) -> PinActivity:
    """`set_power_activity -global -activity A -duty D` (and `-pins`) as OpenSTA 2019 applies it:
    clock-network pins 2 per period, duty ½; others A per period of their instance's clock."""
    g = timing.graph
    n = g.n
    raw = np.full(n, float(activity))
    dut = np.full(n, float(duty))
    origin = np.full(n, ORIGINS.index("global"), dtype=np.int64)
    name_to = {nm: k for k, nm in enumerate(g.names)} if pins else {}
    for nm, (a, d) in (pins or {}).items():
        if nm in name_to:
            raw[name_to[nm]], dut[name_to[nm]] = a, d
            origin[name_to[nm]] = ORIGINS.index("user")
    clk = timing.node_clock >= 0
    raw[clk], dut[clk] = 2.0, 0.5
    origin[clk] = ORIGINS.index("clock")
    return _densities(design, timing, raw, dut, origin)


def _densities(design: FlatDesign, timing: TimingResult, raw: np.ndarray, dut: np.ndarray,
               origin: np.ndarray) -> PinActivity:
    g = timing.graph
    per = _clock_period(timing, g.n)
    inst_per = _inst_period(timing, design)
    pins_inst = g.node_inst
    use = np.where(np.isnan(per), np.where(pins_inst >= 0, inst_per[np.maximum(pins_inst, 0)], np.nan), per)
    # no clock anywhere: OpenSTA takes the activity as a density (per second)
    dens = np.where(np.isnan(use), raw, raw / np.where(np.isnan(use), 1.0, use))
    return PinActivity(dens, dut, origin, raw)


@gc_paused
def propagate_activity(design: FlatDesign, timing: TimingResult, libs: Sequence[Any] | Any,
                       input_activity: float = 0.1, input_duty: float = 0.5,
                       annotated: Mapping[str, tuple[float, float]] | None = None,
                       instance_corner: np.ndarray | None = None, exact: bool = True,
                       sweeps: int = 3) -> PinActivity:
    """Activity of every pin from annotations (net name -> (density 1/s, duty)) and a default
    input activity (per clock period), propagated in level order through cell functions
    (`exact`: Najm density and exact probability per gate; else OpenSTA's tree formulas) and
    across flops (Q takes the activity of the next-state function). Clock nets: 2 per period.
    `libs` / `instance_corner` are accepted for symmetry with `sta.analyze` but not needed: the
    timing graph already holds each instance's cell model (functions, next state)."""
    g = timing.graph
    n = g.n
    per = _clock_period(timing, n)
    periods = [p for p in timing.clock_periods if p > 0]
    default_period = min(periods) if periods else 1.0
    per = np.where(np.isnan(per), default_period, per)
    dens = np.full(n, np.nan)
    dut = np.full(n, input_duty)
    origin = np.zeros(n, dtype=np.int64)
    n_pins = len(design.pin_name)
    node_net = g.node_net
    net_index = {nm: k for k, nm in enumerate(design.net_names)}
    net_act: dict[int, tuple[float, float, int]] = {}
    for nm, (d, p) in (annotated or {}).items():
        k = net_index.get(nm)
        if k is not None:
            net_act[k] = (d, p, ORIGINS.index("vcd"))
    clk = timing.node_clock >= 0
    # primary inputs
    for q in range(len(design.port_names)):
        v = n_pins + q
        if design.port_dir[q] == "input" and not clk[v] and int(node_net[v]) not in net_act:
            net_act[int(node_net[v])] = (input_activity / per[v], input_duty, ORIGINS.index("input"))
    cells = g.cells
    net_nodes = np.argsort(node_net, kind="stable")
    nstart = np.searchsorted(node_net[net_nodes], np.arange(len(design.net_names) + 1))
    parsed: dict[str, Any] = {}

    def tree(text: str) -> Any:
        if text not in parsed:
            parsed[text] = act.parse_function(text)
        return parsed[text]

    order = np.argsort(g.level, kind="stable")
    pin_start = design.inst_pin_start
    for _ in range(sweeps):
        for k, (d, p, o) in net_act.items():
            m = net_nodes[nstart[k]:nstart[k + 1]]
            dens[m], dut[m], origin[m] = d, p, o
        dens[clk] = 2.0 / per[clk]
        dut[clk] = 0.5
        origin[clk] = ORIGINS.index("clock")
        for v in order:
            inst = g.node_inst[v]
            if inst < 0 or clk[v]:
                continue
            cm = cells[g.inst_cell_idx[inst]]
            pname = design.pin_name[v]
            f = cm.functions.get(pname)
            ff_out = False
            neg = False
            if cm.is_sequential and cm.next_state and pname in cm.pins and cm.pins[pname].direction == "output":
                # flop output: its function names the internal state (IQ / !IQ / IQN)
                ffn = cm.extra.get("ff_names", [])
                ft = tree(f) if f else None
                if ft is None or all(x in ffn for x in act.ports(ft)):
                    ff_out = True
                    if ft is not None:
                        inner = ft[1] if ft[0] == "not" else ft
                        neg = (ft[0] == "not") != (inner[0] == "port" and len(ffn) > 1 and inner[1] == ffn[1])
                    f = cm.next_state
            if f is None or int(node_net[v]) in net_act and net_act[int(node_net[v])][2] == ORIGINS.index("vcd"):
                continue
            lo, hi = pin_start[inst], pin_start[inst + 1]
            local = {design.pin_name[p]: p for p in range(lo, hi)}
            e = tree(f)
            names = act.ports(e)
            if any(nm not in local for nm in names):
                continue
            dd = {nm: (dens[local[nm]] if not np.isnan(dens[local[nm]]) else input_activity / per[local[nm]]) for nm in names}
            pp = {nm: float(dut[local[nm]]) for nm in names}
            if ff_out:
                # the flop samples once per clock: density bounded by its inputs', duty kept
                prob = act.exact_probability(e, pp)
                dn = min(act.najm_density(e, pp, dd), 1.0 / per[v])
                if neg:
                    prob = 1.0 - prob
            elif exact:
                prob = act.exact_probability(e, pp)
                dn = act.najm_density(e, pp, dd)
            else:
                dn, prob = act.sta_eval(e, lambda nm, dd=dd, pp=pp: (dd[nm], pp[nm]))
            k = int(node_net[v])
            net_act[k] = (dn, prob, ORIGINS.index("propagated"))
            m = net_nodes[nstart[k]:nstart[k + 1]]
            dens[m], dut[m], origin[m] = dn, prob, ORIGINS.index("propagated")
    miss = np.isnan(dens)
    dens[miss] = 0.0
    origin[miss & (origin == 0)] = ORIGINS.index("none")
    raw = dens * per
    return PinActivity(dens, dut, origin, raw)


# ---- power ----------------------------------------------------------------------------------
@gc_paused
def analyze_power(design: FlatDesign, timing: TimingResult, activity: PinActivity, *,
                  supply_names: Sequence[str] | None = None, instance_corner: np.ndarray | None = None,
                  exact_leakage: bool = False) -> PowerResult:
    """Internal, switching and leakage power per instance (see module docstring)."""
    g = timing.graph
    n_inst = len(design.inst_names)
    ic = np.zeros(n_inst, dtype=np.int64) if instance_corner is None else np.asarray(instance_corner)
    names_sup = list(supply_names) if supply_names is not None else None
    bank = TableBank()
    internal = np.zeros(n_inst)
    leakage = np.zeros(n_inst)
    clk = timing.node_clock >= 0
    load = np.maximum(g.load[:, 0], g.load[:, 1])
    slew = timing.node_slew
    parsed: dict[str, Any] = {}
    no_power: set[str] = set()

    def tree(text: str) -> Any:
        if text not in parsed:
            parsed[text] = act.parse_function(text)
        return parsed[text]

    # switching, vectorised over output pins
    n_pins = len(design.pin_name)
    pin_cell = g.inst_cell_idx[design.pin_inst]
    is_out = (g.pin_dir[:n_pins] == 2) | (g.pin_dir[:n_pins] == 3)  # directions the STA resolved
    volt_cell = np.array([c.voltage for c in g.cells] or [0.0])
    volt_pin = volt_cell[pin_cell]
    sw_pin = np.where(is_out, 0.5 * load[:n_pins] * volt_pin ** 2 * activity.density[:n_pins], 0.0)
    switching = np.bincount(design.pin_inst, weights=sw_pin, minlength=n_inst)
    drives_clock = np.bincount(design.pin_inst, weights=(is_out & clk[:n_pins]).astype(float), minlength=n_inst) > 0
    # internal power and leakage per cell type, vectorised over the instances of the type
    q_tab: list[np.ndarray] = []
    q_slew: list[np.ndarray] = []
    q_load: list[np.ndarray] = []
    q_scale: list[np.ndarray] = []
    q_inst: list[np.ndarray] = []
    raw, dut, dens = activity.raw, activity.duty, activity.density
    by_cell = np.argsort(g.inst_cell_idx, kind="stable")
    cstarts = np.searchsorted(g.inst_cell_idx[by_cell], np.arange(len(g.cells) + 1))
    group_arr = np.full(n_inst, "Combinational", dtype=object)
    for cm in g.cells:
        insts = by_cell[cstarts[cm.index]:cstarts[cm.index + 1]]
        if insts.size == 0:
            continue
        if not cm.internal_power and cm.cell_leakage is None and not cm.leakage_states and cm.pins:
            no_power.add(cm.name)
        node_cache: dict[str, np.ndarray] = {}

        def nodes(pin: str, insts=insts, node_cache=node_cache) -> np.ndarray:
            if pin not in node_cache:
                node_cache[pin] = g.nodes_of(insts, pin)
            return node_cache[pin]

        def pin_act(nm: str) -> tuple[np.ndarray, np.ndarray]:
            v = nodes(nm)
            ok = v >= 0
            vv = np.maximum(v, 0)
            return np.where(ok, raw[vv], 0.0), np.where(ok, dut[vv], 0.0)

        for ip in cm.internal_power:
            to, frm = nodes(ip.pin), nodes(ip.related_pin or ip.pin)
            ok = (to >= 0) & (frm >= 0)
            if not ok.any():
                continue
            to_, frm_ = np.maximum(to, 0), np.maximum(frm, 0)
            iw = None
            if ip.related_pin and ip.when is None and ip.pin in cm.functions:
                iw = act.infered_when(tree(cm.functions[ip.pin]), ip.related_pin)
            if iw is not None:
                to_raw = raw[to_]
                w = np.where(to_raw == 0, 0.0, raw[frm_] / np.where(to_raw == 0, 1.0, to_raw)
                             * act.sta_eval(iw, pin_act)[1])
            elif ip.when is not None:
                w = np.broadcast_to(act.sta_eval(tree(ip.when), pin_act)[1], insts.shape)
            else:
                w = np.where(clk[frm_], 1.0, 0.5)
            pm = cm.pins.get(ip.pin)
            is_o = pm is not None and pm.direction in ("output", "inout")
            ld = load[to_] if is_o else np.zeros(insts.size)
            sc = w * dens[to_]
            for rf, tab in ((0, ip.rise), (1, ip.fall)):
                if tab is None:
                    continue
                q_tab.append(np.full(int(ok.sum()), bank.add(tab)))
                q_slew.append(slew[frm_, rf][ok])
                q_load.append(ld[ok])
                q_scale.append(sc[ok])
                q_inst.append(insts[ok])
        # leakage
        conds = [(wh, v) for wh, v in cm.leakage_states if wh]
        if conds:
            tot = np.zeros(insts.size)
            for wh, v in conds:
                e = tree(wh)
                if exact_leakage:
                    names = act.ports(e)
                    probs = {nm: pin_act(nm)[1] for nm in names}
                    # exact enumeration per instance (inputs independent)
                    tot += v * np.array([act.exact_probability(e, {nm: float(probs[nm][k]) for nm in names})
                                         for k in range(insts.size)])
                else:
                    wgt = 1.0
                    for nm in _port_occurrences(e):
                        pmn = cm.pins.get(nm)
                        if pmn is not None and pmn.direction in ("input", "inout"):
                            wgt *= 0.25 if pmn.is_clock else 0.5
                    tot += v * wgt
            leakage[insts] = tot
        elif any(wh is None for wh, _ in cm.leakage_states):
            leakage[insts] = sum(v for wh, v in cm.leakage_states if wh is None)
        elif cm.cell_leakage is not None:
            leakage[insts] = cm.cell_leakage
        if cm.is_macro:
            group_arr[insts] = "Macro"
        elif cm.is_pad:
            group_arr[insts] = "Pad"
        elif cm.is_sequential:
            group_arr[insts] = "Sequential"
        else:
            group_arr[insts] = np.where(drives_clock[insts], "Clock", "Combinational")
    group = group_arr.tolist()
    volts = np.array([c.voltage for c in g.cells] or [0.0])[g.inst_cell_idx] if n_inst else np.zeros(0)
    if names_sup:
        supply = list(map(names_sup.__getitem__, ic.tolist()))
    else:  # one label per distinct supply voltage
        label = {v: f"{v:.2f}V" for v in set(volts.tolist())}
        supply = list(map(label.__getitem__, volts.tolist()))
    if q_tab:
        bank.finalize()
        e = bank.lookup(np.concatenate(q_tab), np.concatenate(q_slew), np.concatenate(q_load))
        internal += np.bincount(np.concatenate(q_inst), weights=e * np.concatenate(q_scale), minlength=n_inst)
    warnings = []
    if no_power:
        warnings.append(f"{len(no_power)} cell type(s) without power data (no internal_power or leakage): "
                        f"{', '.join(sorted(no_power)[:8])}")
    return PowerResult(list(design.inst_names), internal, switching, leakage, group, supply, warnings,
                       activity.counts())


def _port_occurrences(e: Any) -> list[str]:
    if e[0] == "port":
        return [e[1]]
    out: list[str] = []
    for c in e[1:]:
        out += _port_occurrences(c)
    return out
