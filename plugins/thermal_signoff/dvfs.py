"""Thermal-aware DVFS for ConvNet workloads on the compact thermal model.

A workload (a ConvNet's layer trace from `convnet_opt.trace`, or a task list) runs back to back
for a horizon; each control interval a policy picks one V/f operating point. Dynamic power of a
point scales with the activity of the layer running (its operand toggle rate relative to the
reference), leakage with temperature (exp(β ΔT)). Policies:

* `static`: the fastest single point whose steady-state temperature (leakage included) stays
  ≤ T_MAX — the conservative design-time choice (the "lowest safe frequency" baseline).
* `reactive`: start fast; drop one level when T crosses T_MAX − margin, rise again below
  T_MAX − margin − hysteresis (what on-chip governors do).
* `proactive`: predict the next interval's temperature with the model for every point and take
  the fastest one predicted to stay ≤ T_MAX.
* `optimal`: the offline long-run optimum: the per-layer time-sharing of operating points that
  minimises the time of one inference subject to its average power staying at or below the
  thermally sustainable power P* (steady state at T_MAX) — a linear programme (scipy `linprog`)
  over the time each layer spends at each point. No policy can sustain more inferences/s without
  exceeding T_MAX in steady state (quasi-static: an inference is short against the package's
  thermal time constant). It is simulated with a model-based guard so
  transient ripple never exceeds T_MAX either. Over a horizon shorter than the package's thermal
  time constant, starting below T_MAX, `proactive` can beat it by spending the thermal headroom;
  the report states the horizon against the time constant.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from flow.engines.thermal import KELVIN, ThermalConfig, build_model
from flow.errors import ConfigError, FormatError


@dataclass(frozen=True)
class OperatingPoint:
    name: str
    voltage: float
    frequency: float  # Hz
    dynamic_w: float  # at activity 1.0
    leakage_w: float  # at t_ref_c


@dataclass(frozen=True)
class Phase:
    name: str
    cycles: float
    activity: float  # dynamic power scale (1.0 = reference)


@dataclass
class PolicyResult:
    policy: str
    inferences_per_s: float
    energy_per_inference_j: float
    peak_c: float
    time_above_threshold_s: float
    levels: list[int] = field(default_factory=list)
    temperature_c: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, float | str]:
        return {"policy": self.policy, "inferences_per_s": self.inferences_per_s,
                "energy_per_inference_mj": self.energy_per_inference_j * 1e3, "peak_c": self.peak_c,
                "time_above_threshold_s": self.time_above_threshold_s}


def read_points(path: Path) -> tuple[list[OperatingPoint], float]:
    """{"t_ref_c": 25, "points": [{"name", "voltage", "frequency_hz", "dynamic_w", "leakage_w"}]}."""
    try:
        doc = json.loads(Path(path).read_text())
        pts = [OperatingPoint(str(p.get("name", f"op{i}")), float(p["voltage"]), float(p["frequency_hz"]),
                              float(p["dynamic_w"]), float(p.get("leakage_w", 0.0)))
               for i, p in enumerate(doc["points"])]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise FormatError(path, None, f"operating points: {type(exc).__name__}: {exc}") from None
    if not pts or any(not np.isfinite([p.voltage, p.frequency, p.dynamic_w, p.leakage_w]).all() or p.frequency <= 0
                      or p.dynamic_w < 0 or p.leakage_w < 0 for p in pts):
        raise FormatError(path, None, "operating points need finite values, positive frequency and non-negative power")
    return sorted(pts, key=lambda p: p.frequency), float(doc.get("t_ref_c", 25.0))


def read_workload(path: Path) -> list[Phase]:
    """A ConvNet layer trace ({"layers": [{"name", "cycles", "toggle_w", "toggle_a"}]}) or a task
    list ({"tasks": [{"name", "cycles", "activity"}]}). Layer activity = mean operand toggle rate
    relative to the trace's mean, so the reference power is the average layer's."""
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise FormatError(path, None, f"workload: {exc}") from None
    if not isinstance(doc, dict) or not ({"tasks", "layers"} & doc.keys()):
        raise FormatError(path, None, "workload needs 'layers' (ConvNet trace) or 'tasks'")
    try:  # unchecked JSON from users: a wrong shape is a FormatError naming the file, never a crash
        if "tasks" in doc:
            phases = [Phase(str(t.get("name", i)), float(t["cycles"]), float(t.get("activity", 1.0)))
                      for i, t in enumerate(doc["tasks"])]
        else:
            tog = np.array([(float(ly.get("toggle_w", 0.5)) + float(ly.get("toggle_a", 0.5))) / 2
                            for ly in doc["layers"]])
            ref = float(tog.mean()) if tog.size else 1.0
            phases = [Phase(str(ly.get("name", i)), float(ly["cycles"]), float(t / (ref or 1.0)))
                      for i, (ly, t) in enumerate(zip(doc["layers"], tog, strict=True))]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise FormatError(path, None, f"workload: bad phase entry ({type(exc).__name__}: {exc})") from None
    if not phases or any(not (np.isfinite(p.cycles) and np.isfinite(p.activity)) or p.cycles <= 0 or p.activity < 0
                         for p in phases):
        raise FormatError(path, None, "workload phases need positive cycles and non-negative activity, all finite")
    return phases


class ThermalDvfs:
    """Uniform-power die on the compact model, stepped at the control interval (factorised once)."""

    def __init__(self, points: list[OperatingPoint], phases: list[Phase], t_max_c: float, *,
                 die_w: float = 5e-3, die_h: float = 5e-3, dt: float = 1e-3, t_ref_c: float = 25.0,
                 beta: float = 0.02, cfg: ThermalConfig | None = None, margin_c: float = 2.0,
                 hysteresis_c: float = 2.0) -> None:
        if not points:
            raise ConfigError("no operating points")
        self.points = sorted(points, key=lambda p: p.frequency)
        self.phases = phases
        self.t_max = t_max_c
        self.dt = dt
        self.t_ref = t_ref_c
        self.beta = beta
        self.margin = margin_c
        self.hyst = hysteresis_c
        self.cfg = cfg or ThermalConfig(grid_rows=4, grid_cols=4)
        self.model = build_model(die_w, die_h, self.cfg)
        self._cd = self.model.C / dt  # backward Euler: (C/dt + G)·T' = C/dt·T + P, one exact solver
        self._solve = self.model.solver(1.0 / dt, 1.0)
        self.cycles_per_inference = sum(p.cycles for p in phases)
        self.cells = self.cfg.grid_rows * self.cfg.grid_cols

    # ---- physics -------------------------------------------------------------------------------
    def power(self, level: int, activity: float, t_die_c: float) -> float:
        p = self.points[level]
        leak = p.leakage_w * math.exp(min(self.beta * (t_die_c - self.t_ref), 50.0))
        return p.dynamic_w * activity + leak

    def step(self, T: np.ndarray, watts: float) -> np.ndarray:
        rhs = self._cd * T + self.model._rhs(np.full((self.cfg.grid_rows, self.cfg.grid_cols), watts / self.cells))
        return self._solve(rhs)

    def die_max_c(self, T: np.ndarray) -> float:
        return float(self.model.die_map(T).max() - KELVIN)

    def steady_c(self, level: int, activity: float = 1.0) -> float:
        """Steady die peak with the leakage loop (inf if it runs away)."""
        t = self.cfg.ambient - KELVIN
        for _ in range(100):
            watts = self.power(level, activity, t)
            T = self.model.steady(np.full((self.cfg.grid_rows, self.cfg.grid_cols), watts / self.cells))
            t_new = self.die_max_c(T)
            if abs(t_new - t) < 1e-4:
                return t_new
            if t_new > 500:
                return math.inf
            t = t_new
        return t

    def _steady_state(self, level: int) -> np.ndarray:
        t = self.steady_c(level)
        watts = self.power(level, 1.0, t)
        return self.model.steady(np.full((self.cfg.grid_rows, self.cfg.grid_cols), watts / self.cells))

    def sustainable_power(self) -> float:
        """P* whose steady peak is exactly T_MAX (linear in power for a fixed map)."""
        T1 = self.model.steady(np.full((self.cfg.grid_rows, self.cfg.grid_cols), 1.0 / self.cells))
        rise_per_w = self.die_max_c(T1) - (self.cfg.ambient - KELVIN)
        return (self.t_max - (self.cfg.ambient - KELVIN)) / rise_per_w

    # ---- simulation ----------------------------------------------------------------------------
    def simulate(self, policy: str, duration_s: float) -> PolicyResult:
        steps = int(round(duration_s / self.dt))
        # start hot: the steady state of the static point, as after sustained operation (the
        # heat sink's time constant is tens of seconds, longer than any horizon we simulate)
        T = self._steady_state(self._static_level())
        phase, done_in_phase, inferences = 0, 0.0, 0.0
        energy = 0.0
        threshold = self.t_max - self.margin
        top = len(self.points) - 1
        level = top
        static = self._static_level()
        plan = self._optimal_plan() if policy == "optimal" else None
        credit = np.zeros(len(self.points))
        levels, temps = [], []
        above = 0.0
        peak = -math.inf
        for _ in range(steps):
            t_now = self.die_max_c(T)
            act = self.phases[phase].activity
            if policy == "static":
                level = static
            elif policy == "reactive":
                if t_now > threshold and level > 0:
                    level -= 1
                elif t_now < threshold - self.hyst and level < top:
                    level += 1
            elif policy == "proactive":
                level = self._fastest_safe(T, act, t_now)
            elif policy == "optimal":
                # deficit round-robin over the LP shares of the current phase
                credit = credit + plan[phase]
                level = int(np.argmax(credit))
                credit[level] -= 1.0
                level = min(level, self._fastest_safe(T, act, t_now))
            else:
                raise ConfigError(f"unknown DVFS policy {policy!r}")
            watts = self.power(level, act, t_now)
            T = self.step(T, watts)
            energy += watts * self.dt
            t_after = self.die_max_c(T)
            peak = max(peak, t_after)
            if t_after > threshold:
                above += self.dt
            # progress the workload
            cycles = self.points[level].frequency * self.dt
            while cycles > 0:
                left = self.phases[phase].cycles - done_in_phase
                use = min(left, cycles)
                done_in_phase += use
                cycles -= use
                if done_in_phase >= self.phases[phase].cycles - 1e-9:
                    phase += 1
                    done_in_phase = 0.0
                    if phase == len(self.phases):
                        phase = 0
                        inferences += 1
            levels.append(level)
            temps.append(t_after)
        inferences += (sum(p.cycles for p in self.phases[:phase]) + done_in_phase) / self.cycles_per_inference
        duration = steps * self.dt
        return PolicyResult(policy, inferences / duration, energy / max(inferences, 1e-12), peak, above,
                            levels, temps)

    def _fastest_safe(self, T: np.ndarray, activity: float, t_now: float) -> int:
        for level in range(len(self.points) - 1, -1, -1):
            if self.die_max_c(self.step(T, self.power(level, activity, t_now))) <= self.t_max:
                return level
        return 0

    def _static_level(self) -> int:
        peak_act = max(p.activity for p in self.phases)
        for level in range(len(self.points) - 1, -1, -1):
            if self.steady_c(level, peak_act) <= self.t_max:
                return level
        return 0

    def _optimal_plan(self) -> np.ndarray:
        """Share of each phase's time at each level (phases × levels), from the LP above."""
        from scipy.optimize import linprog

        n_ph, n_lv = len(self.phases), len(self.points)
        f = np.array([p.frequency for p in self.points])
        pw = np.array([[self.power(lv, ph.activity, self.t_max) for lv in range(n_lv)] for ph in self.phases])
        p_star = self.sustainable_power()
        c = np.ones(n_ph * n_lv)
        a_eq = np.zeros((n_ph, n_ph * n_lv))
        for i in range(n_ph):
            a_eq[i, i * n_lv:(i + 1) * n_lv] = f
        b_eq = np.array([ph.cycles for ph in self.phases])
        a_ub = (pw - p_star).reshape(1, -1)
        res = linprog(c, A_ub=a_ub, b_ub=[0.0], A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
        if not res.success:  # even the slowest point is too hot: run it (the guard keeps T safe)
            shares = np.zeros((n_ph, n_lv))
            shares[:, 0] = 1.0
            return shares
        t = res.x.reshape(n_ph, n_lv)
        return t / np.maximum(t.sum(axis=1, keepdims=True), 1e-300)

def time_constant_s(sim: ThermalDvfs) -> float:
    """Dominant thermal time constant of the package (s): the slowest mode of C⁻¹G."""
    import scipy.sparse as sp
    import scipy.sparse.linalg as spla

    cinv = sp.diags(1.0 / sim.model.C)
    lam = spla.eigs(cinv @ sim.model.G, k=1, sigma=0, which="LM", return_eigenvectors=False)
    return float(1.0 / abs(lam[0].real))


def run_policies(sim: ThermalDvfs, duration_s: float,
                 policies: tuple[str, ...] = ("static", "reactive", "proactive", "optimal")) -> list[PolicyResult]:
    return [sim.simulate(p, duration_s) for p in policies]
