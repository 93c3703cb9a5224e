"""Energy of a workload under five supply policies — the comparison FINE-VH is about.

Every operating point a policy can use is a signed-off `Mode` (`operating.py`: re-timed by the
multi-voltage STA at its clock, re-powered with each rail's Liberty); only the two bounds are
interpolated between Liberty corners (`voltage.py`) and say so:

* `nominal`: the chip on VDDH at f_nom (sign-off);
* `dvfs`: chip-wide, discrete levels = the same-process corners, each at the fastest clock the
  STA verifies there; a level change costs a regulator transition (time without progress +
  energy); sign-off at every level;
* `ideal_dvfs`: chip-wide, any voltage in the characterised range, free transitions; delay,
  energy and leakage interpolated between the corners (model between corners);
* `finevh`: the chip time-shares two signed-off modes — `slow` (every island on VDDL, at the
  fastest verified clock there, f_L) and `fast` (islands on the rail their paths need, level
  shifters and header-switch IR drop included, at f_nom); each mode change costs the switch
  on-time and the energy to recharge the hopping islands' rails; a point missing timing never
  becomes a mode;
* `ideal_islands`: every island at the lowest continuous voltage its worst path through allows,
  no shifters, switches or transitions — a lower bound (model).

A trace is a list of intervals (duration Δ, required cycles C, activity factor a relative to the
sign-off activity); a policy that cannot complete C in Δ records a deadline miss, and savings are
only reported between policies without misses.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from flow.errors import FormatError
from plugins.finevh.voltage import Curve

POLICIES = ("nominal", "dvfs", "ideal_dvfs", "finevh", "ideal_islands")


@dataclass
class Mode:
    """A signed-off chip operating point: fastest verified clock, energy per cycle at activity 1,
    leakage (with switch and shifter leakage where the point has them)."""

    name: str
    f: float  # Hz
    e_cycle: float  # J / cycle
    leak: float  # W
    voltage: float = 0.0  # chip-wide supply (DVFS levels), 0 for mixed-rail points
    wns_s: float = 0.0  # the STA's WNS at 1/f (≥ 0: verified)


@dataclass
class SystemModel:
    f_nom: float
    nominal: Mode
    levels: list[Mode]  # realistic DVFS levels, lowest voltage first
    fast: Mode  # FINE-VH fast mode (mixed rails at f_nom)
    slow: Mode  # FINE-VH slow mode (all on VDDL)
    chip_delay: Curve  # chip minimum period vs V (ideal DVFS)
    chip_energy: Curve
    chip_leak: Curve
    island_delay: Curve  # [corners, islands] worst path through each island vs V (lower bound)
    island_energy: Curve
    island_leak: Curve
    hop_energy: float = 0.0  # J per fast<->slow transition (all hopping islands)
    hop_time: float = 10e-9  # s without progress per transition (header switch on-time)
    regulator_time: float = 10e-6  # s per DVFS level change (off-chip buck, typical 5–50 µs)
    regulator_energy: float = 0.0  # J per DVFS level change on top of recharging the decap
    decap_f: float = 1e-9  # F on the chip supply a DVFS change recharges: ½·C·|V1² − V2²|

    def to_json(self) -> dict:
        def curve(c: Curve) -> dict:
            return {"volts": c.volts.tolist(), "values": c.values.tolist(), "kind": c.kind}

        d = {k: v for k, v in self.__dict__.items() if not isinstance(v, (Curve, Mode, list))}
        d.update({k: asdict(getattr(self, k)) for k in ("nominal", "fast", "slow")})
        d["levels"] = [asdict(m) for m in self.levels]
        for k in ("chip_delay", "chip_energy", "chip_leak", "island_delay", "island_energy", "island_leak"):
            d[k] = curve(getattr(self, k))
        return d

    @classmethod
    def from_json(cls, d: dict) -> SystemModel:
        kw = dict(d)
        for k in ("nominal", "fast", "slow"):
            kw[k] = Mode(**d[k])
        kw["levels"] = [Mode(**m) for m in d["levels"]]
        for k in ("chip_delay", "chip_energy", "chip_leak", "island_delay", "island_energy", "island_leak"):
            kw[k] = Curve(np.asarray(d[k]["volts"]), np.asarray(d[k]["values"]), d[k]["kind"])
        return cls(**kw)

    @property
    def v_range(self) -> tuple[float, float]:
        return float(self.chip_delay.volts[0]), float(self.chip_delay.volts[-1])


@dataclass
class Interval:
    duration: float
    cycles: float
    activity: float = 1.0
    mode: str = ""  # operating mode (a precision: "8", "4", "2"); "" the base model's


@dataclass
class PolicyResult:
    policy: str
    energy_j: float
    misses: int
    cycles: float
    timeline: list[dict] = field(default_factory=list)


def _ideal_voltage(delay: Curve, need_f: float) -> float | None:
    return delay.voltage_for_delay(1.0 / need_f) if need_f > 0 else float(delay.volts[0])


def evaluate(base: SystemModel, trace: list[Interval], policy: str,
             modes: Mapping[str, SystemModel] | None = None) -> PolicyResult:
    """Energy and deadline misses of `policy` on `trace`; an interval tagged with a mode in
    `modes` (e.g. a precision timed by case analysis) uses that mode's signed-off model."""
    m = base
    energy, misses, done = 0.0, 0, 0.0
    timeline: list[dict] = []
    level = None  # current DVFS level
    mode = "slow"  # current FINE-VH mode
    vlo, _ = m.v_range
    for iv in trace:
        m = modes.get(iv.mode, base) if modes else base
        need = iv.cycles / iv.duration
        a = iv.activity
        step: dict = {}
        if policy == "nominal":
            cap = m.nominal.f * iv.duration
            run = min(iv.cycles, cap)
            e = a * m.nominal.e_cycle * run + m.nominal.leak * iv.duration
            step["v"] = m.nominal.voltage
        elif policy == "dvfs":
            choice, t_avail = m.levels[-1], iv.duration
            for j, lv in enumerate(m.levels):
                t = iv.duration - (m.regulator_time if level is not None and j != level else 0.0)
                if lv.f * t >= iv.cycles * (1 - 1e-12):
                    choice, t_avail = lv, t
                    break
            j = m.levels.index(choice)
            e = 0.0
            if level is not None and j != level:
                e = m.regulator_energy + 0.5 * m.decap_f * abs(choice.voltage ** 2 - m.levels[level].voltage ** 2)
            if level is not None and j != level and choice is m.levels[-1]:
                t_avail = iv.duration - m.regulator_time
            level = j
            cap = choice.f * t_avail
            run = min(iv.cycles, cap)
            e += a * choice.e_cycle * run + choice.leak * iv.duration
            step["v"] = choice.voltage
        elif policy == "ideal_dvfs":
            v = _ideal_voltage(m.chip_delay, need)
            if v is None:  # even the top corner cannot: run flat out there
                v = float(m.chip_delay.volts[-1])
            f = min(1.0 / float(m.chip_delay(v)), m.f_nom)
            cap = f * iv.duration
            run = min(iv.cycles, cap)
            e = a * float(m.chip_energy(v)) * run + float(m.chip_leak(v)) * iv.duration
            step["v"] = v
        elif policy == "finevh":
            e = 0.0
            if need <= m.slow.f * (1 + 1e-12):
                t_fast, hops = 0.0, int(mode == "fast")
            else:
                hops_in = int(mode == "slow")  # hop up at the start, back down when done
                t_hops = (hops_in + 1) * m.hop_time
                t_eff = iv.duration - t_hops
                t_fast = (iv.cycles - m.slow.f * t_eff) / (m.fast.f - m.slow.f)
                hops = hops_in + 1
                if t_fast >= t_eff:  # the whole interval fast: hop up only if we were slow
                    hops = hops_in
                    t_fast = iv.duration - hops * m.hop_time
            t_slow = max(0.0, iv.duration - t_fast - hops * m.hop_time)
            n_fast = min(iv.cycles, m.fast.f * t_fast)
            n_slow = min(iv.cycles - n_fast, m.slow.f * t_slow)
            run = n_fast + n_slow
            cap = m.fast.f * t_fast + m.slow.f * t_slow
            e = (a * (m.fast.e_cycle * n_fast + m.slow.e_cycle * n_slow) + m.fast.leak * t_fast
                 + m.slow.leak * (iv.duration - t_fast) + hops * m.hop_energy)
            mode = "fast" if t_slow <= 0 and t_fast > 0 else "slow"
            step.update(fast_share=t_fast / iv.duration, hops=hops)
        elif policy == "ideal_islands":
            # each island at the lowest grid supply (1001 points across the range, rounded up)
            # whose worst path through it meets the rate; energy/leakage of each at its own supply
            grid, dly = m.island_delay.grid()
            _, en = m.island_energy.grid()
            _, lk = m.island_leak.grid()
            target = 1.0 / max(need, 1e-30)
            ok = dly <= target * (1 + 1e-12)
            first = np.where(ok.any(axis=0), np.argmax(ok, axis=0), grid.size - 1)
            cols = np.arange(dly.shape[1])
            cap = min(m.f_nom, float(np.min(1.0 / dly[first, cols]))) * iv.duration if cols.size else 0.0
            run = min(iv.cycles, cap)
            e = float(a * en[first, cols].sum() * run + lk[first, cols].sum() * iv.duration)
            step["v_islands"] = grid[first].tolist()
        else:
            raise ValueError(f"unknown policy {policy!r}")
        miss = cap < iv.cycles * (1 - 1e-9)
        misses += int(miss)
        energy += e
        done += run
        step.update(energy_j=e, miss=bool(miss))
        timeline.append(step)
    return PolicyResult(policy, energy, misses, done, timeline)


def compare(m: SystemModel, trace: list[Interval],
            modes: Mapping[str, SystemModel] | None = None) -> dict[str, PolicyResult]:
    return {p: evaluate(m, trace, p, modes) for p in POLICIES}


def savings(results: dict[str, PolicyResult]) -> dict[str, float | None]:
    """FINE-VH's saving (%) over each policy; None where either side misses deadlines (a policy
    with misses is not compared on energy)."""
    fv = results["finevh"]

    def pct(other: str, above: bool = False) -> float | None:
        o = results[other]
        if fv.misses or o.misses or o.energy_j <= 0:
            return None
        return 100 * (fv.energy_j / o.energy_j - 1) if above else 100 * (1 - fv.energy_j / o.energy_j)

    return {"finevh_vs_dvfs_pct": pct("dvfs"), "finevh_vs_ideal_dvfs_pct": pct("ideal_dvfs"),
            "finevh_above_lower_bound_pct": pct("ideal_islands", above=True),
            "finevh_vs_nominal_pct": pct("nominal")}


# ---- workloads ------------------------------------------------------------------------------------
def read_trace(path: Path, f_nom: float) -> list[Interval]:
    """A policy trace {"intervals": [{"duration_s", "cycles" | "load", "activity"}]} (`load` =
    cycles / (f_nom · duration)), or a ConvNet layer trace {"layers": [...]} (`convnet_frames`)."""
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise FormatError(path, None, f"trace: {exc}") from None
    if not isinstance(doc, dict):
        raise FormatError(path, 1, "trace must be a JSON object")
    out = []
    if "intervals" in doc:
        for k, iv in enumerate(doc["intervals"]):
            try:
                d = float(iv["duration_s"])
                cycles = float(iv["cycles"]) if "cycles" in iv else float(iv["load"]) * f_nom * d
                act = float(iv.get("activity", 1.0))
            except (KeyError, TypeError, ValueError, AttributeError):
                raise FormatError(path, None, f"interval {k}: needs duration_s and cycles or load") from None
            if not (d > 0 and cycles >= 0 and act >= 0) or not all(map(math.isfinite, (d, cycles, act))):
                raise FormatError(path, None, f"interval {k}: duration must be positive, cycles and activity non-negative")
            out.append(Interval(d, cycles, act))
    elif "layers" in doc:
        out = convnet_frames(doc, f_nom, path=path)
    else:
        raise FormatError(path, None, "trace needs 'intervals' or 'layers'")
    if not out:
        raise FormatError(path, None, "trace is empty")
    return out


def convnet_frames(doc: dict, f_nom: float, *, load: float | None = None, idle: float | None = None,
                   frames: int | None = None, path: Path | None = None) -> list[Interval]:
    """A ConvNet inference as a real-time workload: the frame deadline D = Σ 8-bit-equivalent
    cycles / (f_nom · load) is scheduled statically for 8-bit layers (each layer's slot ∝ its
    MACs), so a layer at lower precision (fewer cycles: sub-word parallel MACs) or with zero
    skipping under-uses its slot; each frame is followed by an idle phase (`idle` × the frame
    period, clock-gated: leakage only). Activity per layer: its net toggles per cycle relative to
    the inference average, when the trace has them. Each layer's interval is tagged with its
    precision ("8", "4", "2"): `compare(..., modes=)` then uses the model signed off for that
    precision (the STA times only its paths: `set_case_analysis` on the precision register,
    flow/engines/case_analysis.py); without `modes` every layer uses the all-paths model."""
    layers = doc.get("layers") or []
    load = float(doc.get("frame_load", 0.9) if load is None else load)
    idle = float(doc.get("idle_fraction", 0.3) if idle is None else idle)
    frames = int(doc.get("frames", 3) if frames is None else frames)
    if not (0 < load <= 1 and 0 <= idle < 1 and frames >= 1):
        raise FormatError(path or Path("<trace>"), None, "frame_load in (0, 1], idle_fraction in [0, 1), frames ≥ 1")
    try:
        cyc = np.array([float(ly["cycles"]) for ly in layers])
        macs = np.array([float(ly.get("macs", ly["cycles"])) for ly in layers])
        bits = np.array([float(ly.get("bits", 8)) for ly in layers])
    except (KeyError, TypeError, ValueError):
        raise FormatError(path or Path("<trace>"), None, "each layer needs numeric 'cycles' (and 'macs', 'bits')") from None
    if cyc.size == 0 or cyc.sum() <= 0:
        return []
    # 8-bit-equivalent cycles: the precision's sub-word parallelism undone (2 per 4-bit, 4 per 2-bit)
    eq8 = cyc * np.where(bits <= 2, 4.0, np.where(bits <= 4, 2.0, 1.0))
    deadline = eq8.sum() / (f_nom * load)
    slots = deadline * macs / macs.sum()
    if all("net_toggles" in ly for ly in layers):
        tog = np.array([float(ly["net_toggles"]) for ly in layers]) / np.maximum(cyc, 1.0)
        act = tog / (np.sum(np.array([float(ly["net_toggles"]) for ly in layers])) / cyc.sum())
    else:
        act = np.ones(cyc.size)
    out = []
    for _ in range(frames):
        out += [Interval(float(s), float(c), float(a), str(int(b))) for s, c, a, b in zip(slots, cyc, act, bits, strict=True)]
        if idle > 0:
            out.append(Interval(deadline * idle / (1 - idle), 0.0, 0.0))
    return out


def synthetic_trace(f_nom: float, n: int = 40, interval_s: float = 1e-3, seed: int = 0) -> list[Interval]:
    """Bursty demand between 20 % and 95 % of f_nom (5 % headroom for supply transitions),
    activity varying per interval."""
    rng = np.random.default_rng(seed)
    loads = np.clip(0.6 + 0.35 * np.sin(np.arange(n) / 3.0) + rng.normal(0, 0.1, n), 0.2, 0.95)
    return [Interval(interval_s, float(ld * f_nom * interval_s), float(0.5 + 0.5 * ld)) for ld in loads]


def burst_trace(f_nom: float, high: float = 0.9, low: float = 0.0, duty: float = 0.5, n: int = 20,
                interval_s: float = 1e-4) -> list[Interval]:
    """Alternating full-throughput bursts and low-demand phases (a sensor hub, an accelerator fed
    in bursts): the regime where running the slack-rich logic low at full speed matters."""
    out = []
    for k in range(n):
        ld = high if k % 2 == 0 else low
        d = interval_s * (duty if k % 2 == 0 else 1 - duty) * 2
        out.append(Interval(d, ld * f_nom * d, 1.0 if ld > 0 else 0.0))
    return out
