"""Run metrics as ORFS writes them: one table of every metric (name, unit, meaning), one table
of units, and the conversion at the edge where `metrics.json` and `metrics.csv` are written.

Stages keep emitting SI values under their own keys (`timing__setup__ws` in seconds); the run
directory shows ORFS names with ORFS units (`finish__timing__setup__ws` in ns, power in W,
area in µm², lengths in µm), so ORFS `rules-*.json` files and scripts apply as they are. Keys
not in the table (a plugin's own metrics) pass through unchanged.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flow.util import atomic_write_text

#: unit as written -> its value in SI (what one unit is in s, W, m, m², V, J, ...).
UNITS: dict[str, float] = {
    "": 1.0, "s": 1.0, "ns": 1e-9, "ps": 1e-12,
    "W": 1.0, "mW": 1e-3, "µW": 1e-6,
    "m": 1.0, "µm": 1e-6, "mm": 1e-3, "m²": 1.0, "µm²": 1e-12, "mm²": 1e-6,
    "V": 1.0, "mV": 1e-3, "J": 1.0, "nJ": 1e-9, "pJ": 1e-12, "F": 1.0, "pF": 1e-12, "fF": 1e-15,
    "%": 1e-2, "°C": 1.0, "°C/mm": 1.0, "K": 1.0,
}


def convert(value: float, from_unit: str, to_unit: str) -> float:
    """`value` in `from_unit` expressed in `to_unit` (both from UNITS, same dimension)."""
    return value * UNITS[from_unit] / UNITS[to_unit]


@dataclass(frozen=True)
class Metric:
    """One metric of `metrics.json`. A name ending in `*` covers a family (`…__corner:slow`).

    `internal`/`internal_unit`: the key and unit the stages emit, when they differ.
    `display_unit`: what tables people read show (mW for power, % for utilisation).
    """

    name: str
    unit: str
    meaning: str
    internal: str | None = None
    internal_unit: str | None = None
    display_unit: str | None = None

    @property
    def shown_unit(self) -> str:
        return self.unit if self.display_unit is None else self.display_unit


def _m(name: str, unit: str, meaning: str, internal: str | None = None, internal_unit: str | None = None,
       display_unit: str | None = None) -> Metric:
    return Metric(name, unit, meaning, internal, internal_unit, display_unit)


_EST = " (estimate: no detailed routing in the embedded backend)"

#: Every metric vhflow writes. ORFS names where ORFS has the quantity; the same
#: `<stage>__<object>__<quantity>` pattern elsewhere.
METRIC_TABLE: tuple[Metric, ...] = (
    # synthesis
    _m("synth__design__instance__area__stdcell", "µm²", "Standard-cell area after synthesis (Liberty areas)."),
    _m("synth__design__instance__area__sequential", "µm²", "Area of flip-flops and latches after synthesis."),
    _m("synth__design__instance__count__stdcell", "", "Standard cells after synthesis."),
    _m("synth__clock__period_ns", "ns", "Clock period synthesis targeted (ABC delay target)."),
    _m("synth__tool__yosys", "", "The Yosys that ran synthesis (VHFLOW_YOSYS, a native yosys >= 0.70 on PATH, or the yowasp wheel) and its version."),
    _m("constraints__clocks__count", "", "Clocks the SDC defines (create_clock / create_generated_clock)."),
    _m("constraints__clocks__details", "ns", "'<clock>: <period>' per SDC clock, period in ns (as ORFS; a list)."),
    # floorplan
    _m("floorplan__design__core__area", "µm²", "Core area (rows) of the floorplan."),
    _m("floorplan__design__die__area", "µm²", "Die area of the floorplan."),
    _m("floorplan__design__instance__utilization", "", "Cell area / core area (fraction, as ORFS).",
       "floorplan__design__utilization", "", "%"),
    _m("floorplan__design__rows", "", "Placement rows in the core."),
    _m("floorplan__design__tapcells", "", "Well-tap cells inserted (fixed, checkerboard at the platform's tap distance)."),
    # placement
    _m("globalplace__hpwl", "µm", "Half-perimeter wire length after global placement."),
    _m("legalize__hpwl", "µm", "Half-perimeter wire length after legalisation."),
    _m("detailedplace__hpwl", "µm", "Half-perimeter wire length after legalisation and detailed placement."),
    _m("detailedplace__moves", "", "Cells moved into free sites by detailed placement."),
    _m("detailedplace__swaps", "", "Adjacent-cell swaps by detailed placement."),
    _m("detailedplace__design__violations", "", "Overlaps, off-site or out-of-fence cells after placement (must be 0)."),
    _m("placement__fence__violations", "", "Cells outside their fence region (must be 0)."),
    _m("placement__design__density_target", "", "Target placement density (PLACE_DENSITY after the LB add-on)."),
    # repair (sizing and buffering before/after CTS)
    _m("repair_design__before__timing__drv__*", "", "Max slew / cap / fanout violations before repair_design."),
    _m("repair_design__timing__drv__*", "", "Max slew / cap / fanout violations after repair_design."),
    _m("repair_design__buffers", "", "Buffers repair_design inserted."),
    _m("placeopt__design__instance__area", "µm²", "Cell area after repair_design (ORFS 3_4 place_resized): netlist "
       "cells (Liberty areas) + well taps, as report_design_area."),
    _m("placeopt__design__instance__count__stdcell", "", "Standard cells after repair_design: netlist cells + "
       "well taps."),
    _m("repair_design__resized", "", "Cells repair_design resized."),
    _m("repair_timing__before__setup__ws__estimate", "ns", "Worst setup slack before repair_timing (estimated wires)."),
    _m("repair_timing__before__hold__ws__estimate", "ns", "Worst hold slack before repair_timing (estimated wires)."),
    _m("repair_timing__setup__ws__estimate", "ns", "Worst setup slack after repair_timing (estimated wires)."),
    _m("repair_timing__hold__ws__estimate", "ns", "Worst hold slack after repair_timing (estimated wires)."),
    _m("cts__design__instance__count__setup_buffer", "", "Buffers repair_timing inserted for setup after CTS "
       "(ORFS counts the same in its CTS step).", "repair_timing__buffers"),
    _m("cts__design__instance__count__hold_buffer", "", "Hold buffers repair_timing inserted after CTS.",
       "repair_timing__hold_buffers"),
    _m("repair_timing__resized", "", "Cells repair_timing resized."),
    # clock tree
    _m("cts__clock__sinks", "", "Register clock pins the clock tree drives."),
    _m("cts__clock__buffers", "", "Clock buffers inserted by CTS."),
    _m("cts__clock__depth", "", "Buffer levels of the clock tree."),
    _m("cts__clock__wirelength__estimate", "µm", "Clock-tree wire length (estimate)."),
    _m("cts__clock__skew__global__estimate", "ns", "Global clock skew after CTS (estimated wires)."),
    _m("cts__clock__skew__global__corner:*", "ns", "Global clock skew at one corner."),
    _m("cts__clock__latency__max__corner:*", "ns", "Largest clock latency (source to sink) at one corner."),
    _m("cts__clock__latency__min__corner:*", "ns", "Smallest clock latency at one corner."),
    _m("cts__timing__setup__ws__estimate", "ns", "Worst setup slack after CTS with propagated clocks (estimated wires)."),
    _m("cts__timing__setup__ws", "ns", "Worst setup slack at the end of ORFS's CTS step (tree + repair_timing), "
       "propagated clocks, placement-estimated wires as ORFS (estimate_parasitics -placement); repair corners."),
    _m("cts__timing__setup__tns", "ns", "Total negative setup slack at the end of the CTS step (placement-estimated "
       "wires)."),
    _m("cts__timing__hold__ws", "ns", "Worst hold slack at the end of the CTS step (placement-estimated wires)."),
    _m("cts__timing__hold__tns", "ns", "Total negative hold slack at the end of the CTS step (placement-estimated "
       "wires)."),
    # routing
    _m("globalroute__route__wirelength__estimate", "µm", "Signal wire length from Steiner trees" + _EST + ".",
       "route__wirelength__estimate", "µm"),
    _m("globalroute__route__congestion__max__estimate", "", "Routing demand / track supply in the worst bin" + _EST + ".",
       "route__congestion__max"),
    _m("globalroute__route__congestion__overflow_bins__estimate", "", "Bins whose demand exceeds supply" + _EST + ".",
       "route__congestion__overflow_bins"),
    _m("globalroute__route__wirelength", "µm", "Global-route wire length OpenROAD reports.", "globalroute__wirelength", "µm"),
    _m("detailedroute__route__wirelength", "µm", "Routed signal + clock wire length: OpenROAD's detailed route "
       "(openroad backend); estimate in the embedded backend: the same rectilinear Steiner trees as "
       "globalroute__route__wirelength__estimate (no detailed router, no detours).", "route__wirelength", "µm"),
    _m("globalroute__timing__setup__ws", "ns", "Worst setup slack after global route (worst corner); embedded "
       "backend: the sign-off STA on the route estimate's Steiner RC (estimate, as finish__timing__setup__ws)."),
    _m("globalroute__timing__setup__tns", "ns", "Total negative setup slack after global route (worst corner; "
       "embedded backend: the sign-off STA on the Steiner RC estimate)."),
    _m("globalroute__timing__hold__ws", "ns", "Worst hold slack after global route (worst corner; embedded backend: "
       "the sign-off STA on the Steiner RC estimate)."),
    _m("globalroute__timing__hold__tns", "ns", "Total negative hold slack after global route (worst corner; embedded "
       "backend: the sign-off STA on the Steiner RC estimate)."),
    # sign-off timing (stages emit seconds; ORFS writes ns)
    _m("finish__timing__setup__ws", "ns", "Worst setup slack over all corners (negative: violation).",
       "timing__setup__ws", "s"),
    _m("finish__timing__setup__tns", "ns", "Total negative setup slack (worst corner).", "timing__setup__tns", "s"),
    _m("finish__timing__hold__ws", "ns", "Worst hold slack over all corners.", "timing__hold__ws", "s"),
    _m("finish__timing__hold__tns", "ns", "Total negative hold slack (worst corner).", "timing__hold__tns", "s"),
    _m("finish__timing__setup__ws__corner:*", "ns", "Worst setup slack at one corner.", "timing__setup__ws__corner:*", "s"),
    _m("finish__timing__setup__tns__corner:*", "ns", "Total negative setup slack at one corner.",
       "timing__setup__tns__corner:*", "s"),
    _m("finish__timing__hold__ws__corner:*", "ns", "Worst hold slack at one corner.", "timing__hold__ws__corner:*", "s"),
    _m("finish__timing__hold__tns__corner:*", "ns", "Total negative hold slack at one corner.",
       "timing__hold__tns__corner:*", "s"),
    _m("finish__timing__setup__wns", "ns", "Worst negative setup slack OpenROAD reports (report_wns).",
       "timing__setup__wns", "s"),
    _m("finish__timing__drv__max_slew", "", "Pins violating their max slew at sign-off (OpenSTA report_check_types)."),
    _m("finish__timing__drv__max_cap", "", "Drivers violating their max capacitance at sign-off."),
    _m("finish__timing__drv__max_fanout", "", "Drivers violating their max fanout at sign-off."),
    _m("finish__timing__drv__max_slew_slack", "ns", "Worst max-slew slack (negative: violation)."),
    _m("finish__timing__drv__max_cap_slack", "pF", "Worst max-capacitance slack (negative: violation)."),
    _m("finish__timing__drv__max_fanout_slack", "", "Worst max-fanout slack (negative: violation)."),
    _m("finish__timing__drv__setup_violation_count", "", "Endpoints whose setup slack is negative at some corner "
       "(OpenSTA endpoint_violation_count max)."),
    _m("finish__timing__drv__hold_violation_count", "", "Endpoints whose hold slack is negative at some corner "
       "(OpenSTA endpoint_violation_count min)."),
    _m("finish__timing__drv__max_slew_limit", "", "Slack / limit of the pin with the worst max-slew slack "
       "(OpenSTA max_slew_check_slack_limit; negative: violation)."),
    _m("finish__timing__drv__max_cap_limit", "", "Slack / limit of the driver with the worst max-capacitance slack "
       "(OpenSTA max_capacitance_check_slack_limit)."),
    _m("finish__timing__drv__max_fanout_limit", "", "Slack / limit of the driver with the worst max-fanout slack "
       "(OpenSTA max_fanout_check_slack_limit; 1.0 when nothing is limited, as OpenSTA)."),
    _m("finish__timing__wns_percent_delay", "%", "Slack of the worst setup path as a percentage of its data "
       "arrival time (ORFS 'slack div critical path delay': slack / arrival × 100)."),
    _m("finish__timing__drv__*", "", "Design-rule check at sign-off (ORFS finish__timing__drv__ names)."),
    # sign-off power (W, as ORFS)
    _m("finish__power__total", "W", "Total power at the headline (highest-power) corner.", "power__total", "W", "mW"),
    _m("finish__power__internal__total", "W", "Internal (short-circuit + internal node) power, Liberty internal_power.",
       "power__internal__total", "W", "mW"),
    _m("finish__power__switching__total", "W", "Net switching power ½·C·V²·f·α.", "power__switching__total", "W", "mW"),
    _m("finish__power__leakage__total", "W", "Leakage power (state-dependent where Liberty gives `when`).",
       "power__leakage__total", "W", "mW"),
    _m("finish__power__total__corner:*", "W", "Total power at one corner.", "power__total__corner:*", "W", "mW"),
    _m("finish__power__per_supply__*", "W", "Power drawn from one supply, named by the Liberty corner it was "
       "powered at (FINE-VH: the VDDH/VDDL rail corners; the report names the rail).", "power__per_supply__*", "W",
       "mW"),
    _m("finish__power__per_island__*", "W", "Power of one FINE-VH island.", "power__per_island__*", "W", "mW"),
    _m("finish__power__ir_drop__worst", "V", "Worst static IR drop through island header switches (estimate).",
       "power__ir_drop__worst", "V", "mV"),
    # final cell area (embedded sign-off, or OpenROAD's report_design_area)
    _m("finish__design__instance__area", "µm²", "Final cell area: netlist cells (Liberty) + well taps, as "
       "report_design_area.", "design__instance__area", "µm²"),
    _m("finish__design__instance__utilization", "", "Final cell area / core area (fraction, as ORFS).",
       "design__instance__utilization", "", "%"),
    _m("openroad__scripts__rendered", "", "OpenROAD Tcl scripts rendered by the openroad backend."),
    # thermal
    _m("thermal__max_c", "°C", "Peak die temperature (steady state)."),
    _m("thermal__mean_c", "°C", "Mean die temperature (steady state)."),
    _m("thermal__min_c", "°C", "Coolest die temperature (steady state)."),
    _m("thermal__limit_c", "°C", "Temperature limit the check uses (THERMAL_LIMIT_C)."),
    _m("thermal__gradient_max_c_per_mm", "°C/mm", "Largest lateral temperature gradient on the die."),
    _m("thermal__hotspot_x_um", "µm", "x of the hottest grid cell."),
    _m("thermal__hotspot_y_um", "µm", "y of the hottest grid cell."),
    _m("thermal__leakage_w", "W", "Leakage at the converged die temperature (leakage-temperature loop).",
       display_unit="mW"),
    _m("thermal__leakage_loop_iterations", "", "Iterations of the leakage-temperature loop."),
    _m("thermal__runaway", "", "1 if the leakage-temperature loop diverged (thermal runaway)."),
    _m("thermal__*", "", "Thermal sign-off figure (see the thermal section of the report)."),
    # FINE-VH
    _m("finevh__islands", "", "FINE-VH voltage islands."),
    _m("finevh__islands__vddh", "", "Islands promoted to VDDH by the timing check."),
    _m("finevh__partition__cut_nets", "", "Nets cut by the island partition."),
    _m("finevh__level_shifters", "", "Level shifters on nets crossing islands."),
    _m("finevh__switch_area_um2", "µm²", "Area of the island header switches."),
    _m("finevh__area_overhead_pct", "%", "Switch + level-shifter area over cell area."),
    _m("finevh__utilization_pct", "%", "What the island fences hold (cells, switches, level shifters) over the core area."),
    _m("finevh__utilization_pct__max_island", "%", "The fullest island fence: its cells, switches and level shifters over "
       "its rectangle."),
    _m("finevh__timing__setup__ws__mixed", "ns", "Worst setup slack of the mixed-rail design (multi-voltage STA).",
       "finevh__timing__setup__ws_mixed", "s"),
    _m("finevh__saving__finevh_vs_dvfs_pct", "%",
       "FINE-VH energy saving over realistic chip-wide DVFS on the policy workload (negative: it costs more)."),
    _m("finevh__saving__finevh_vs_ideal_dvfs_pct", "%",
       "FINE-VH energy saving over ideal chip-wide DVFS (continuous voltage, free transitions)."),
    _m("finevh__saving__finevh_above_lower_bound_pct", "%",
       "How far FINE-VH energy is above ideal per-island DVFS (the lower bound)."),
    _m("finevh__saving__finevh_vs_nominal_pct", "%", "FINE-VH energy saving over the fixed nominal supply."),
    _m("finevh__misses__*", "", "Deadline misses of one DVFS policy on the workload."),
    # ConvNet workload
    _m("convnet__inference__cycles", "", "Accelerator cycles per inference of the traced ConvNet."),
    _m("convnet__inference__macs", "", "Multiply-accumulates per inference of the traced ConvNet."),
    _m("convnet__inference__energy_j", "J", "Energy per inference: sign-off power with the trace's activity × inference time.",
       display_unit="nJ"),
    _m("flow__stages__completed", "", "Stages that finished in this run."),
)


def _lookup(table: tuple[Metric, ...], attr: str) -> tuple[dict[str, Metric], list[tuple[str, Metric]]]:
    exact: dict[str, Metric] = {}
    families: list[tuple[str, Metric]] = []
    for m in table:
        key = getattr(m, attr) or m.name
        if key.endswith("*"):
            families.append((key[:-1], m))
        else:
            exact.setdefault(key, m)
    families.sort(key=lambda kv: -len(kv[0]))  # the longest prefix wins
    return exact, families


_BY_NAME = _lookup(METRIC_TABLE, "name")
_BY_INTERNAL = _lookup(METRIC_TABLE, "internal")


def _find(key: str, index: tuple[dict[str, Metric], list[tuple[str, Metric]]]) -> tuple[Metric, str] | None:
    exact, families = index
    if key in exact:
        return exact[key], ""
    for prefix, m in families:
        if key.startswith(prefix) and len(key) > len(prefix):
            return m, key[len(prefix):]
    return None


def describe(name: str) -> Metric | None:
    """The table row of a `metrics.json` key, or None for a key we do not document."""
    hit = _find(name, _BY_NAME)
    return hit[0] if hit else None


def to_orfs(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """Stage metrics (internal keys, SI) -> `metrics.json` (ORFS names and units), sorted."""
    out: dict[str, Any] = {}
    for key, value in metrics.items():
        hit = _find(key, _BY_INTERNAL)
        if hit is None:
            out[key] = value
            continue
        m = hit[0]
        name = orfs_name(key)
        src_unit = m.internal_unit if m.internal_unit is not None else m.unit
        if isinstance(value, int | float) and not isinstance(value, bool) and src_unit != m.unit:
            value = _clean(convert(float(value), src_unit, m.unit))
        out[name] = value
    return dict(sorted(out.items()))


def _clean(v: float) -> float:
    """Drop float noise a unit conversion adds (0.295106 not 0.29510600000000003)."""
    if not math.isfinite(v) or v == 0.0:
        return v
    return float(f"{v:.12g}")


def display(name: str, value: object) -> tuple[str, str]:
    """(plain formatted value, display unit) of a `metrics.json` entry for tables people read:
    thousands separators, no exponent for ordinary magnitudes."""
    m = describe(name)
    unit = m.shown_unit if m else ""
    if isinstance(value, list | tuple):  # constraints__clocks__details: 'clk: 2.8000', one per clock
        return ", ".join(map(str, value)) or "—", unit
    if isinstance(value, bool) or not isinstance(value, int | float):
        return ("—" if value is None else str(value)), unit
    if m is not None and m.display_unit is not None:
        value = convert(float(value), m.unit, m.display_unit)
    return format_number(value), unit


def format_number(v: float | int) -> str:
    """Plain decimal notation with 4 significant digits (`30,170`, `0.2951`, `-1.25`)."""
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return f"{v:,}"
    if not math.isfinite(v):
        return "∞" if v > 0 else ("-∞" if v < 0 else "—")
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 1e4:
        return f"{v:,.0f}"
    if a >= 1e-4:
        digits = max(0, 3 - math.floor(math.log10(a)))
        text = f"{v:,.{digits}f}"
        return text.rstrip("0").rstrip(".") if "." in text else text
    return f"{v:.3g}"


# ---- the run directory's files ----------------------------------------------------------------
def write_run_metrics(run_dir: Path, metrics: Mapping[str, Any]) -> dict[str, Any]:
    """Write `metrics.json` and `metrics.csv` (metric, value, unit, meaning) in ORFS names and
    units from stage metrics; returns what was written."""
    orfs = to_orfs(metrics)
    atomic_write_text(Path(run_dir) / "metrics.json", json.dumps(orfs, indent=2, default=str) + "\n")
    atomic_write_text(Path(run_dir) / "metrics.csv", metrics_csv(orfs))
    return orfs


def metrics_csv(orfs: Mapping[str, Any]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["metric", "value", "unit", "meaning"])
    for key, value in orfs.items():
        m = describe(key)
        w.writerow([key, "" if value is None else value, m.unit if m else "", m.meaning if m else ""])
    return buf.getvalue()


def read_run_metrics(run_dir: Path) -> dict[str, Any]:
    """`metrics.json` of a run directory (ORFS names); a run written before the renaming is
    converted on the way in, so old run directories still compare."""
    from flow.errors import ConfigError

    path = Path(run_dir) / "metrics.json"
    if not path.is_file():
        raise ConfigError(f"{run_dir}: not a run directory (no metrics.json)")
    try:
        doc = json.loads(path.read_text())
    except ValueError as exc:
        raise ConfigError(f"{path}: invalid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: metrics.json is not an object")
    return to_orfs(doc)


def orfs_name(key: str) -> str:
    """The `metrics.json` name of a stage metric key (itself when it has no other name)."""
    hit = _find(key, _BY_INTERNAL)
    if hit is None:
        return key
    m, suffix = hit
    return (m.name[:-1] + suffix) if m.name.endswith("*") else m.name


def lookup(metrics: Mapping[str, Any], internal_key: str) -> Any:
    """A metric by its stage key from either form (stage metrics or `metrics.json`), in the
    stage's unit: lets readers of a metrics file accept both."""
    if internal_key in metrics:
        return metrics[internal_key]
    hit = _find(internal_key, _BY_INTERNAL)
    if hit is None:
        return None
    m = hit[0]
    value = metrics.get(orfs_name(internal_key))
    src_unit = m.internal_unit if m.internal_unit is not None else m.unit
    if isinstance(value, int | float) and not isinstance(value, bool) and src_unit != m.unit:
        value = convert(float(value), m.unit, src_unit)
    return value


# ---- ORFS rules files ---------------------------------------------------------------------------
_OPS = {
    "<": lambda a, b: a < b, ">": lambda a, b: a > b, "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
}


@dataclass(frozen=True)
class RuleResult:
    field: str
    compare: str
    limit: Any
    value: Any
    passed: bool
    note: str = ""
    status: str = ""  # "pass", "fail" or "not computed"

    @property
    def verdict(self) -> str:
        return self.status or ("pass" if self.passed else "fail")


#: ORFS metrics the embedded backend has no engine for, and why: `--rules` reports them as
#: "not computed (embedded backend)" instead of a failure of the design or a silent pass.
EMBEDDED_NOT_COMPUTED: dict[str, str] = {
    "detailedroute__route__drc_errors": "no detailed router or DRC check",
    "detailedroute__antenna__violating__nets": "no antenna check",
    "detailedroute__antenna__violating__pins": "no antenna check",
    "detailedroute__antenna_diodes_count": "no antenna repair",
    "globalroute__antenna_diodes_count": "no antenna repair",
    "globalroute__antenna__violating__nets": "no antenna check",
    "globalroute__timing__clock__slack": "no global router (its FLW clock-slack line)",
    "detailedroute__route__via__count": "no detailed router",
    "finish__timing__drv__floating__nets": "no floating-net check",
    "finish__timing__drv__floating__pins": "no floating-pin check",
}


def not_computed_reason(field: str, backend: str | None) -> str | None:
    """Why a backend cannot produce an ORFS metric (None: it should have)."""
    if backend == "embedded":
        if field in EMBEDDED_NOT_COMPUTED:
            return EMBEDDED_NOT_COMPUTED[field]
        if field.startswith("detailedroute__") and field != "detailedroute__route__wirelength":
            return "no detailed router"
    return None


def _number(v: Any) -> Any:
    """ORFS converts both sides with float() where it can (checkMetadata.try_number)."""
    if isinstance(v, bool):
        return v
    try:
        return float(v)
    except (TypeError, ValueError):
        return v


def load_rules(path: Path) -> list[tuple[str, str, Any, int | None]]:
    """(field, compare, value, line) of an ORFS rules file: `{"rules": [{"field", "value",
    "compare"}]}` (checkMetadata) or `{"<field>": {"value", "compare"}}` (rules-base.json)."""
    from flow.errors import FormatError

    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise FormatError(path, None, f"cannot read rules file: {exc.strerror}") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FormatError(path, exc.lineno, f"invalid JSON: {exc.msg}") from None

    def line_of(field: str) -> int | None:
        m = re.search(r'"' + re.escape(field) + r'"', text)
        return text.count("\n", 0, m.start()) + 1 if m else None

    entries: list[tuple[str, Any]] = []
    if isinstance(doc, dict) and isinstance(doc.get("rules"), list):
        for i, rule in enumerate(doc["rules"]):
            if not isinstance(rule, dict) or "field" not in rule:
                raise FormatError(path, None, f"rule {i + 1}: needs \"field\", \"value\" and \"compare\"")
            entries.append((str(rule["field"]), rule))
    elif isinstance(doc, dict):
        entries = [(k, v) for k, v in doc.items()]
    else:
        raise FormatError(path, 1, "a rules file is a JSON object")
    out = []
    for field, rule in entries:
        if not isinstance(rule, dict) or "value" not in rule or "compare" not in rule:
            raise FormatError(path, line_of(field), f"rule {field}: needs \"value\" and \"compare\"")
        op = str(rule["compare"])
        if op not in _OPS:
            raise FormatError(path, line_of(field), f"rule {field}: unknown compare {op!r} "
                              f"(one of {' '.join(_OPS)})")
        out.append((field, op, rule["value"], line_of(field)))
    return out


def check_rules(orfs_metrics: Mapping[str, Any], rules: list[tuple[str, str, Any, int | None]],
                backend: str | None = None) -> list[RuleResult]:
    """Apply ORFS rules as ORFS does: `metric <compare> value` after float conversion; a
    missing metric or a number compared with a string fails. A metric `backend` cannot compute
    (EMBEDDED_NOT_COMPUTED) is "not computed": not passed, and said so."""
    results = []
    for field, op, limit, _line in rules:
        value = orfs_metrics.get(field)
        if value is None:
            why = not_computed_reason(field, backend)
            if why is not None:
                results.append(RuleResult(field, op, limit, None, False, f"not computed ({backend} backend: {why})",
                                          "not computed"))
            else:
                results.append(RuleResult(field, op, limit, None, False, "not produced by this run" if field not in
                                          orfs_metrics else "no value in this run (nothing to check)", "fail"))
            continue
        lv, mv = _number(limit), _number(orfs_metrics[field])
        if isinstance(lv, float) != isinstance(mv, float):
            results.append(RuleResult(field, op, limit, orfs_metrics[field], False, "number vs text", "fail"))
            continue
        try:
            ok = bool(_OPS[op](mv, lv))
        except TypeError:
            ok = False
        results.append(RuleResult(field, op, limit, orfs_metrics[field], ok, "", "pass" if ok else "fail"))
    return results



def rules_summary(results: list[RuleResult]) -> str:
    """'N of M rules passed, F failed, K not computed (embedded backend)'."""
    n = {v: sum(r.verdict == v for r in results) for v in ("pass", "fail", "not computed")}
    text = f"{n['pass']} of {len(results)} rules passed"
    if n["fail"]:
        text += f", {n['fail']} failed"
    if n["not computed"]:
        backends = sorted({r.note.split("(", 1)[1].split(" backend")[0] for r in results if r.verdict == "not computed"})
        text += f", {n['not computed']} not computed ({', '.join(backends)} backend)"
    return text


def run_backend(run_dir: Path) -> str | None:
    """The backend a run directory's `run.json` names (None when it has none)."""
    try:
        doc = json.loads((Path(run_dir) / "run.json").read_text())
    except (OSError, ValueError):
        return None
    return str(doc.get("backend")) if isinstance(doc, dict) and doc.get("backend") else None


# ---- ORFS figures from engine results ---------------------------------------------------------
# Small pure functions the stages call on their own results (duck-typed `TimingResult`s of
# flow.engines.sta), so each ORFS metric has one definition, tested against OpenSTA 3.1.
def _ns(seconds: float) -> float | None:
    return round(seconds * 1e9, 6) if math.isfinite(seconds) else None


def timing_summary(prefix: str, results: Mapping[str, Any]) -> dict[str, float | None]:
    """`<prefix>__timing__{setup,hold}__{ws,tns}` in ns, worst over the corners' results."""
    res = list(results.values())
    if not res:
        return {}
    return {f"{prefix}__timing__setup__ws": _ns(min(t.setup_wns for t in res)),
            f"{prefix}__timing__setup__tns": round(min(t.setup_tns for t in res) * 1e9, 6),
            f"{prefix}__timing__hold__ws": _ns(min(t.hold_wns for t in res)),
            f"{prefix}__timing__hold__tns": round(min(t.hold_tns for t in res) * 1e9, 6)}


def endpoint_violation_count(results: Mapping[str, Any], kind: str) -> int:
    """Endpoints with a negative `kind` ("setup"/"hold") slack at any corner, as OpenSTA's
    `sta::endpoint_violation_count max|min` (an endpoint counts once over all corners)."""
    import numpy as np

    arrays = [np.asarray(getattr(t, f"{kind}_slack"), float) for t in results.values()]
    if not arrays:
        return 0
    if all(a.shape == arrays[0].shape for a in arrays):
        return int(np.sum(np.minimum.reduce(arrays) < 0))
    return max(int(np.sum(a < 0)) for a in arrays)


def wns_percent_delay(results: Mapping[str, Any]) -> float | None:
    """ORFS `finish__timing__wns_percent_delay`: the worst setup path's slack over its data
    arrival time × 100 (report_metrics.tcl, 'slack div critical path delay'); None without a
    constrained path."""
    paths = [t.setup_paths[0] for t in results.values() if t.setup_paths]
    if not paths:
        return None
    worst = min(paths, key=lambda p: p.slack)
    if not (math.isfinite(worst.slack) and math.isfinite(worst.arrival)) or worst.arrival == 0:
        return None
    return round(worst.slack / worst.arrival * 100.0, 6)


def drv_slack_limits(results: Mapping[str, Any]) -> dict[str, float | None]:
    """`finish__timing__drv__max_{slew,cap,fanout}_limit`: slack / limit at the checked pin
    with the worst slack over the corners (OpenSTA `max_*_check_slack_limit`); 1.0 when nothing
    is limited, as OpenSTA 3.1 returns (its INF slack over INF limit)."""
    import numpy as np

    out: dict[str, float | None] = {}
    for attr, key in (("max_slew", "max_slew"), ("max_capacitance", "max_cap"), ("max_fanout", "max_fanout")):
        best: tuple[float, float] | None = None
        for t in results.values():
            chk = getattr(t.design_rules(), attr)
            sl = np.asarray(chk.slack, float)
            ok = np.isfinite(sl) & np.isfinite(np.asarray(chk.limit, float)) & (np.asarray(chk.limit, float) > 0)
            if not ok.any():
                continue
            k = int(np.flatnonzero(ok)[np.argmin(sl[ok])])
            if best is None or sl[k] < best[0]:
                best = (float(sl[k]), float(chk.limit[k]))
        out[f"finish__timing__drv__{key}_limit"] = 1.0 if best is None else round(best[0] / best[1], 6)
    return out


def clock_constraints(results: Mapping[str, Any]) -> dict[str, Any]:
    """`constraints__clocks__count` and `__details` ('name: period' in ns) of the SDC the
    timing used."""
    for t in results.values():
        tc = getattr(t, "constraints", None)
        if tc is not None:
            return {"constraints__clocks__count": len(tc.clocks),
                    "constraints__clocks__details": [f"{c.name}: {c.period * 1e9:.4f}" for c in tc.clocks]}
    return {}


def signoff_orfs_metrics(results: Mapping[str, Any]) -> dict[str, Any]:
    """The ORFS finish/constraints figures of a sign-off STA beyond ws/tns/DRV counts."""
    out: dict[str, Any] = {"finish__timing__drv__setup_violation_count": endpoint_violation_count(results, "setup"),
                           "finish__timing__drv__hold_violation_count": endpoint_violation_count(results, "hold"),
                           "finish__timing__wns_percent_delay": wns_percent_delay(results)}
    out.update(drv_slack_limits(results))
    out.update(clock_constraints(results))
    return out


def instance_area_metrics(prefix: str, cells: Any, cell_area_m2: Mapping[str, float], tap_area_m2: float = 0.0,
                          taps: int = 0) -> dict[str, float | int]:
    """`<prefix>__design__instance__area` (µm²) and `__count__stdcell` of a netlist's cells
    (Liberty areas, SI as the engines hold them) plus placed well taps, as report_design_area."""
    names = list(cells)
    missing = sorted({c for c in names if c not in cell_area_m2})
    if missing:
        raise ValueError(f"cells without a Liberty area: {', '.join(missing[:5])}")
    area = sum(float(cell_area_m2[c]) for c in names) + float(tap_area_m2)
    return {f"{prefix}__design__instance__area": round(area * 1e12, 4),
            f"{prefix}__design__instance__count__stdcell": len(names) + int(taps)}
