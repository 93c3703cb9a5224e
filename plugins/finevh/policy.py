"""Energy of a workload under five supply policies — the comparison FINE-VH is about.

Model (every assumption is a parameter and is printed in the report):
* Island i has a worst-path delay `crit_i · T_nom` at VDDH (crit ≤ 1 when timing is met), a
  dynamic energy per cycle `e_i` at VDDH and activity 1, and a leakage `l_i` at VDDH.
  Delay scales with the alpha-power law fitted on the Liberty corners; dynamic energy with V²;
  leakage with (V / VDDH)³ (DIBL-dominated, a common first-order fit).
* A trace is a list of intervals: duration Δ, required cycles C, per-island activity a_i.
* (a) `nominal`: everything at VDDH and f_nom; (b) `dvfs`: chip-wide, discrete levels, each
  change costs a regulator transition (time without progress + energy); (c) `ideal_dvfs`:
  chip-wide, continuous voltage, free transitions; (d) `finevh`: islands whose paths meet f_nom at
  VDDL stay on VDDL, the others hop: the chip time-shares a fast mode (critical islands on VDDH,
  f_nom, derated by the switch IR drop) and a slow mode (all on VDDL, f_L), each hop costing the
  switch on-time and the energy to recharge the island rail and switch gates; level shifters add
  energy per crossing toggle and leakage; the off switch bank leaks; (e) `ideal_islands`: every
  island at the lowest continuous voltage that meets the required rate — the lower bound.
Voltages stay within [VDDL, VDDH], the characterised range, in every policy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from flow.errors import FormatError
from plugins.finevh.supply import AlphaPower

POLICIES = ("nominal", "dvfs", "ideal_dvfs", "finevh", "ideal_islands")


@dataclass
class IslandModel:
    name: str
    crit: float  # worst-path delay at VDDH / clock period
    e_cycle: float  # J per cycle at VDDH, activity 1
    leak: float  # W at VDDH
    level_shifters: int = 0
    hop_energy: float = 0.0  # J per rail change (rail recharge + switch gates)
    switch_leak: float = 0.0  # W of the off bank
    ir_derate: float = 1.0  # delay factor at VDDH through the switch


@dataclass
class SystemModel:
    f_nom: float
    vddh: float
    vddl: float
    law: AlphaPower
    islands: list[IslandModel]
    dvfs_levels: int = 4
    regulator_time: float = 10e-6  # s per transition (off-chip buck, typical 5–50 µs)
    regulator_energy: float = 1e-6  # J per transition
    hop_time: float = 10e-9  # s (header switch on-time)
    ls_energy: float = 2e-15  # J per level-shifter toggle
    ls_leak: float = 30e-9  # W per level shifter
    ls_activity: float = 0.1  # toggles per cycle on crossing nets

    def scale(self, v: float) -> float:
        return self.law.delay_scale(v, self.vddh)

    def fmax(self, v: float, crit: float) -> float:
        return self.f_nom / (max(crit, 1e-9) * self.scale(v))

    def min_voltage(self, f: float, crit: float) -> float:
        """Lowest V in [VDDL, VDDH] whose delay meets f (VDDH if even that cannot)."""
        ratio = self.f_nom / (f * max(crit, 1e-9))
        if self.scale(self.vddl) <= ratio:
            return self.vddl
        v = self.law.voltage_for(ratio, self.vddh, self.vddh)
        return min(self.vddh, v + 1e-5)  # the root finder's tolerance must not miss the rate


@dataclass
class Interval:
    duration: float
    cycles: float
    activity: dict[str, float] = field(default_factory=dict)
    default_activity: float = 1.0

    def a(self, island: str) -> float:
        return self.activity.get(island, self.default_activity)


@dataclass
class PolicyResult:
    policy: str
    energy_j: float
    misses: int
    cycles: float
    timeline: list[dict] = field(default_factory=list)


def _dyn(m: SystemModel, isl: IslandModel, v: float, a: float, cycles: float) -> float:
    return a * isl.e_cycle * (v / m.vddh) ** 2 * cycles


def _leak(m: SystemModel, isl: IslandModel, v: float, t: float) -> float:
    return isl.leak * (v / m.vddh) ** 3 * t


def evaluate(m: SystemModel, trace: list[Interval], policy: str) -> PolicyResult:
    crit_chip = max(i.crit for i in m.islands)
    energy, misses, done = 0.0, 0, 0.0
    timeline = []
    prev_level = None
    levels = np.linspace(m.vddl, m.vddh, max(2, m.dvfs_levels))
    f_l = min(m.fmax(m.vddl, i.crit) for i in m.islands)
    n_ls = sum(i.level_shifters for i in m.islands)
    for iv in trace:
        need = iv.cycles / iv.duration
        e = 0.0
        if policy == "nominal":
            cap = m.f_nom * iv.duration
            run = min(iv.cycles, cap)
            e = sum(_dyn(m, i, m.vddh, iv.a(i.name), run) + _leak(m, i, m.vddh, iv.duration) for i in m.islands)
            rails = {i.name: m.vddh for i in m.islands}
        elif policy in ("dvfs", "ideal_dvfs"):
            if policy == "ideal_dvfs":
                v = m.min_voltage(need, crit_chip)
                t_avail = iv.duration
            else:
                t_avail = iv.duration
                v = m.vddh
                for lv in levels:
                    t = iv.duration - (m.regulator_time if prev_level is not None and lv != prev_level else 0.0)
                    if m.fmax(lv, crit_chip) * t >= iv.cycles * (1 - 1e-12):
                        v, t_avail = lv, t
                        break
                if prev_level is not None and v != prev_level:
                    e += m.regulator_energy
                prev_level = v
            cap = min(m.fmax(v, crit_chip), m.f_nom) * t_avail
            run = min(iv.cycles, cap)
            e += sum(_dyn(m, i, v, iv.a(i.name), run) + _leak(m, i, v, iv.duration) for i in m.islands)
            rails = {i.name: v for i in m.islands}
        elif policy == "finevh":
            crit_set = [i for i in m.islands if m.fmax(m.vddl, i.crit) < m.f_nom * (1 - 1e-12)]
            derate = max((i.ir_derate for i in crit_set), default=1.0)
            f_h = m.f_nom / derate if not crit_set else min(m.f_nom, min(m.fmax(m.vddh, i.crit * i.ir_derate) for i in crit_set))
            f_h = min(f_h, m.f_nom)
            hops = 0
            if need <= f_l:
                x = 0.0
            else:
                hops = 2 * len(crit_set)
                t_eff = iv.duration - (m.hop_time * 2 if crit_set else 0.0)
                x = min(1.0, max(0.0, (iv.cycles / t_eff - f_l) / max(f_h - f_l, 1e-30)))
                if x >= 1.0 - 1e-12:
                    hops = 0  # stays in the fast mode: no hopping this interval
                    t_eff = iv.duration
            t_h = x * (iv.duration - (m.hop_time * 2 if hops else 0.0))
            cap = f_h * t_h + f_l * (iv.duration - t_h - (m.hop_time * 2 if hops else 0.0))
            run = min(iv.cycles, cap)
            n_h = min(run, f_h * t_h)
            n_l = run - n_h
            for i in m.islands:
                vh = m.vddh if i in crit_set else m.vddl
                t_at_h = t_h if i in crit_set else 0.0
                e += _dyn(m, i, vh, iv.a(i.name), n_h) + _dyn(m, i, m.vddl, iv.a(i.name), n_l)
                e += _leak(m, i, m.vddh, t_at_h) + _leak(m, i, m.vddl, iv.duration - t_at_h)
                e += i.switch_leak * iv.duration
            e += sum(i.hop_energy for i in crit_set) * (hops / max(len(crit_set), 1) if crit_set else 0)
            e += n_ls * (m.ls_energy * m.ls_activity * run + m.ls_leak * iv.duration)
            rails = {i.name: (m.vddh if (i in crit_set and x > 0) else m.vddl) for i in m.islands}
        elif policy == "ideal_islands":
            run = iv.cycles
            cap = 0.0
            rails = {}
            for i in m.islands:
                v = m.min_voltage(need, i.crit)
                if m.fmax(v, i.crit) * iv.duration < iv.cycles * (1 - 1e-9):
                    run = min(run, m.fmax(v, i.crit) * iv.duration)
                rails[i.name] = v
            cap = run
            e = sum(_dyn(m, i, rails[i.name], iv.a(i.name), run) + _leak(m, i, rails[i.name], iv.duration)
                    for i in m.islands)
        else:
            raise ValueError(f"unknown policy {policy!r}")
        miss = cap < iv.cycles * (1 - 1e-9)
        misses += int(miss)
        energy += e
        done += run
        timeline.append({"energy_j": e, "miss": bool(miss), "rails": rails})
    return PolicyResult(policy, energy, misses, done, timeline)


def compare(m: SystemModel, trace: list[Interval]) -> dict[str, PolicyResult]:
    return {p: evaluate(m, trace, p) for p in POLICIES}


def savings(results: dict[str, PolicyResult]) -> dict[str, float]:
    e = {k: v.energy_j for k, v in results.items()}
    return {
        "finevh_vs_dvfs_pct": 100 * (1 - e["finevh"] / e["dvfs"]),
        "finevh_vs_ideal_dvfs_pct": 100 * (1 - e["finevh"] / e["ideal_dvfs"]),
        "finevh_above_lower_bound_pct": 100 * (e["finevh"] / e["ideal_islands"] - 1),
        "finevh_vs_nominal_pct": 100 * (1 - e["finevh"] / e["nominal"]),
    }


# ---- traces ---------------------------------------------------------------------------------------
def read_trace(path: Path, f_nom: float) -> list[Interval]:
    """A policy trace {"intervals": [{"duration_s", "cycles" | "load", "activity": {island: a} | a}]}
    (`load` = cycles / (f_nom · duration)), or a ConvNet layer trace {"layers": [...]}, each layer
    an interval of its cycles at `frame_slack` × the time it needs at f_nom."""
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise FormatError(path, None, f"trace: {exc}") from None
    out = []
    if "intervals" in doc:
        for k, iv in enumerate(doc["intervals"]):
            try:
                d = float(iv["duration_s"])
                cycles = float(iv["cycles"]) if "cycles" in iv else float(iv["load"]) * f_nom * d
            except (KeyError, TypeError, ValueError):
                raise FormatError(path, None, f"interval {k}: needs duration_s and cycles or load") from None
            if d <= 0 or cycles < 0:
                raise FormatError(path, None, f"interval {k}: duration must be positive, cycles non-negative")
            act = iv.get("activity", 1.0)
            out.append(Interval(d, cycles, act if isinstance(act, dict) else {}, 1.0 if isinstance(act, dict) else float(act)))
    elif "layers" in doc:
        # a ConvNet layer trace (`vhflow convnet trace`): one interval per layer, its cycles in
        # frame_slack × the time they take at f_nom; activity per island from the gate-level
        # toggles when the trace has them, else the layer's net toggles per cycle relative to the
        # inference average, else its operand toggle rates
        slack = float(doc.get("frame_slack", 1.5))
        layers = doc["layers"]
        if all("net_toggles" in ly for ly in layers) and sum(float(ly["cycles"]) for ly in layers) > 0:
            mean = sum(float(ly["net_toggles"]) for ly in layers) / sum(float(ly["cycles"]) for ly in layers)
            tog = [float(ly["net_toggles"]) / max(float(ly["cycles"]), 1.0) for ly in layers]
        else:
            tog = [(float(ly.get("toggle_w", 0.5)) + float(ly.get("toggle_a", 0.5))) / 2 for ly in layers]
            mean = sum(tog) / len(tog) if tog else 1.0
        for ly, t in zip(layers, tog, strict=True):
            cycles = float(ly["cycles"])
            isl = {str(k): float(v) for k, v in (ly.get("island_activity") or {}).items()}
            out.append(Interval(cycles / f_nom * slack, cycles, isl, t / mean if mean else 1.0))
    else:
        raise FormatError(path, None, "trace needs 'intervals' or 'layers'")
    if not out:
        raise FormatError(path, None, "trace is empty")
    return out


def synthetic_trace(f_nom: float, n: int = 40, interval_s: float = 1e-3, seed: int = 0) -> list[Interval]:
    """Bursty demand between 20 % and 100 % of f_nom, activity varying per interval."""
    rng = np.random.default_rng(seed)
    loads = np.clip(0.6 + 0.35 * np.sin(np.arange(n) / 3.0) + rng.normal(0, 0.1, n), 0.2, 1.0)
    return [Interval(interval_s, float(ld * f_nom * interval_s), {}, float(0.5 + 0.5 * ld)) for ld in loads]
