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
    # routing
    _m("globalroute__route__wirelength__estimate", "µm", "Signal wire length from Steiner trees" + _EST + ".",
       "route__wirelength__estimate", "µm"),
    _m("globalroute__route__congestion__max__estimate", "", "Routing demand / track supply in the worst bin" + _EST + ".",
       "route__congestion__max"),
    _m("globalroute__route__congestion__overflow_bins__estimate", "", "Bins whose demand exceeds supply" + _EST + ".",
       "route__congestion__overflow_bins"),
    _m("globalroute__route__wirelength", "µm", "Global-route wire length OpenROAD reports.", "globalroute__wirelength", "µm"),
    _m("detailedroute__route__wirelength", "µm", "Detailed-route wire length OpenROAD reports.", "route__wirelength", "µm"),
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
    _m("finish__timing__drv__*", "", "Design-rule check at sign-off (ORFS finish__timing__drv__ names)."),
    # sign-off power (W, as ORFS)
    _m("finish__power__total", "W", "Total power at the headline (highest-power) corner.", "power__total", "W", "mW"),
    _m("finish__power__internal__total", "W", "Internal (short-circuit + internal node) power, Liberty internal_power.",
       "power__internal__total", "W", "mW"),
    _m("finish__power__switching__total", "W", "Net switching power ½·C·V²·f·α.", "power__switching__total", "W", "mW"),
    _m("finish__power__leakage__total", "W", "Leakage power (state-dependent where Liberty gives `when`).",
       "power__leakage__total", "W", "mW"),
    _m("finish__power__total__corner:*", "W", "Total power at one corner.", "power__total__corner:*", "W", "mW"),
    _m("finish__power__per_supply__*", "W", "Power drawn from one supply rail.", "power__per_supply__*", "W", "mW"),
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


def check_rules(orfs_metrics: Mapping[str, Any], rules: list[tuple[str, str, Any, int | None]]) -> list[RuleResult]:
    """Apply ORFS rules as ORFS does: `metric <compare> value` after float conversion; a
    missing metric or a number compared with a string fails."""
    results = []
    for field, op, limit, _line in rules:
        if field not in orfs_metrics:
            results.append(RuleResult(field, op, limit, None, False, "not produced by this run"))
            continue
        lv, mv = _number(limit), _number(orfs_metrics[field])
        if isinstance(lv, float) != isinstance(mv, float):
            results.append(RuleResult(field, op, limit, orfs_metrics[field], False, "number vs text"))
            continue
        try:
            ok = bool(_OPS[op](mv, lv))
        except TypeError:
            ok = False
        results.append(RuleResult(field, op, limit, orfs_metrics[field], ok))
    return results
