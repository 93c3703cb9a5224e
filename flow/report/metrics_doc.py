"""What each metric means and its unit: one glossary for the report, the CLI and the docs.

Metric keys follow ORFS (`<stage>__<object>__<quantity>`); where ORFS has no key (estimates,
FINE-VH, thermal) we follow the same pattern. Values in metrics.json are in the unit listed.
"""

from __future__ import annotations

import re

#: key (or regex) -> (unit, scale for display, display unit, meaning)
METRICS: dict[str, tuple[str, float, str, str]] = {
    "synth__design__instance__area__stdcell": ("µm²", 1.0, "µm²", "Standard-cell area after synthesis (Liberty areas)."),
    "synth__design__instance__count__stdcell": ("", 1.0, "", "Standard cells after synthesis."),
    "synth__design__instance__area__sequential": ("µm²", 1.0, "µm²", "Area of flip-flops and latches after synthesis."),
    "synth__clock__period_ns": ("ns", 1.0, "ns", "Clock period synthesis targeted (ABC delay target)."),
    "floorplan__design__core__area": ("µm²", 1.0, "µm²", "Core area (rows) of the floorplan."),
    "floorplan__design__die__area": ("µm²", 1.0, "µm²", "Die area of the floorplan."),
    "floorplan__design__utilization": ("", 100.0, "%", "Cell area / core area."),
    "floorplan__design__rows": ("", 1.0, "", "Placement rows in the core."),
    "floorplan__design__tapcells": ("", 1.0, "", "Well-tap cells inserted (fixed, checkerboard at the platform's tap distance)."),
    "globalplace__hpwl": ("µm", 1.0, "µm", "Half-perimeter wire length after global placement."),
    "detailedplace__hpwl": ("µm", 1.0, "µm", "Half-perimeter wire length after legalisation and detailed placement."),
    "detailedplace__design__violations": ("", 1.0, "", "Overlaps, off-site or out-of-fence cells after placement (must be 0)."),
    "placement__fence__violations": ("", 1.0, "", "Cells outside their fence region (must be 0)."),
    "cts__clock__skew__estimate": ("ns", 1.0, "ns", "Clock skew of the estimated clock tree (estimate)."),
    "cts__clock__buffers__estimate": ("", 1.0, "", "Clock buffers the tree would need (estimate)."),
    "cts__clock__wirelength__estimate": ("µm", 1.0, "µm", "Clock-tree wire length (estimate)."),
    "route__wirelength__estimate": ("µm", 1.0, "µm", "Signal wire length from Steiner trees (estimate)."),
    "route__congestion__max": ("", 1.0, "", "Routing demand / track supply in the worst bin (estimate)."),
    "route__congestion__overflow_bins": ("", 1.0, "", "Bins whose demand exceeds supply (estimate)."),
    "timing__setup__ws": ("s", 1e9, "ns", "Worst setup slack over all corners (negative: violation)."),
    "timing__setup__tns": ("s", 1e9, "ns", "Total negative setup slack (worst corner)."),
    "timing__hold__ws": ("s", 1e9, "ns", "Worst hold slack over all corners."),
    "timing__hold__tns": ("s", 1e9, "ns", "Total negative hold slack (worst corner)."),
    r"timing__(setup|hold)__(ws|tns)__corner:.*": ("s", 1e9, "ns", "Slack at one corner."),
    "power__internal__total": ("W", 1e3, "mW", "Internal (short-circuit + internal node) power, Liberty internal_power."),
    "power__switching__total": ("W", 1e3, "mW", "Net switching power ½·C·V²·f·α."),
    "power__leakage__total": ("W", 1e3, "mW", "Leakage power (state-dependent where Liberty gives `when`)."),
    "power__total": ("W", 1e3, "mW", "Total power at the headline (highest-power) corner."),
    r"power__total__corner:.*": ("W", 1e3, "mW", "Total power at one corner."),
    r"power__per_supply__.*": ("W", 1e3, "mW", "Power drawn from one supply rail."),
    r"power__per_island__.*": ("W", 1e3, "mW", "Power of one FINE-VH island."),
    "power__ir_drop__worst": ("V", 1e3, "mV", "Worst static IR drop through island header switches (estimate)."),
    "thermal__max_c": ("°C", 1.0, "°C", "Peak die temperature (steady state)."),
    "thermal__mean_c": ("°C", 1.0, "°C", "Mean die temperature (steady state)."),
    "thermal__gradient_max_c_per_mm": ("°C/mm", 1.0, "°C/mm", "Largest lateral temperature gradient on the die."),
    "thermal__hotspot_x_um": ("µm", 1.0, "µm", "x of the hottest grid cell."),
    "thermal__hotspot_y_um": ("µm", 1.0, "µm", "y of the hottest grid cell."),
    "finevh__islands": ("", 1.0, "", "FINE-VH voltage islands."),
    "finevh__level_shifters": ("", 1.0, "", "Level shifters on nets crossing islands."),
    "finevh__switch_area_um2": ("µm²", 1.0, "µm²", "Area of the island header switches."),
    "finevh__area_overhead_pct": ("%", 1.0, "%", "Switch + level-shifter area over cell area."),
    "finevh__saving__finevh_vs_dvfs_pct": ("%", 1.0, "%", "FINE-VH energy saving over realistic chip-wide DVFS on the policy workload (negative: it costs more)."),
    "finevh__saving__finevh_vs_ideal_dvfs_pct": ("%", 1.0, "%", "FINE-VH energy saving over ideal chip-wide DVFS (continuous voltage, free transitions)."),
    "finevh__saving__finevh_above_lower_bound_pct": ("%", 1.0, "%", "How far FINE-VH energy is above ideal per-island DVFS (the lower bound)."),
    "finevh__saving__finevh_vs_nominal_pct": ("%", 1.0, "%", "FINE-VH energy saving over the fixed nominal supply."),
    "convnet__inference__cycles": ("", 1.0, "", "Accelerator cycles per inference of the traced ConvNet."),
    "convnet__inference__macs": ("", 1.0, "", "Multiply-accumulates per inference of the traced ConvNet."),
    "convnet__inference__energy_j": ("J", 1000000000.0, "nJ", "Energy per inference: sign-off power with the trace's activity × inference time."),
    "openroad__scripts__rendered": ("", 1.0, "", "OpenROAD Tcl scripts rendered by the openroad backend."),
    "design__instance__area": ("µm²", 1.0, "µm²", "Cell area OpenROAD reports (report_design_area)."),
    "design__instance__utilization": ("", 100.0, "%", "Utilisation OpenROAD reports (report_design_area)."),
    "route__wirelength": ("µm", 1.0, "µm", "Routed wire length OpenROAD reports."),
    "globalroute__wirelength": ("µm", 1.0, "µm", "Global-route wire length OpenROAD reports."),
    "timing__setup__wns": ("s", 1000000000.0, "ns", "Worst negative setup slack OpenROAD reports (report_wns)."),
    "flow__stages__completed": ("", 1.0, "", "Stages that finished in this run."),
}


def describe(key: str) -> tuple[str, float, str, str] | None:
    """(unit, display scale, display unit, meaning) of a metric key, or None if unknown."""
    if key in METRICS:
        return METRICS[key]
    for pattern, info in METRICS.items():
        if any(ch in pattern for ch in "*(|") and re.fullmatch(pattern, key):
            return info
    return None


def display(key: str, value: object) -> tuple[str, str]:
    """(formatted value, display unit) for tables people read."""
    info = describe(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return ("—" if value is None else str(value)), (info[2] if info else "")
    if info is None:
        return f"{value:.6g}", ""
    _, scale, unit, _ = info
    v = value * scale
    return (f"{v:,.0f}" if isinstance(value, int) and scale == 1.0 else f"{v:.4g}"), unit
