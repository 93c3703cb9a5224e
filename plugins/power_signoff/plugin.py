"""Power sign-off plugin: report sections and metrics from the `power` (and `islands`) views.

* `vhflow_report_sections`: the OpenSTA-style group table, per-supply totals, per-island totals
  when FINE-VH wrote `islands`, the top consumers, and a static IR-drop estimate per island.
* `vhflow_metrics`: `power__per_supply__<rail>` and `power__per_island__<island>` (W), and
  `power__ir_drop__worst` (V).

`islands` JSON read here (and by the signoff stage): {"instances": {inst: island}, "rails":
{island: corner name}, optional "switch_width_um": {island: um}, "switch_r_on_ohm_um",
"rail_voltage": {corner: V}}.

IR drop (estimate, labelled as such): an island drawing I = P / V through its header switches
of total on-resistance R_sw = r_on_ohm_um / W_switch (platform `power_switch` model, width from
the islands JSON `switch_width_um` per island when FINE-VH sized them) drops ΔV = I · R_sw.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from flow.plugin_manager import hookimpl
from flow.report.sections import ReportSection


def _power(state: Any) -> tuple[dict[str, Any], Path] | None:
    if "power" not in set(state):
        return None
    p = Path(state["power"])
    return json.loads(p.read_text()), p


def island_power(state: Any) -> dict[str, float]:
    """Island -> W from the per-instance NPZ and the FINE-VH islands JSON ({} without islands)."""
    got = _power(state)
    if got is None or "islands" not in set(state):
        return {}
    doc, path = got
    isl = json.loads(Path(state["islands"]).read_text())
    of = isl.get("instances", isl.get("island_of", {}))
    import numpy as np  # here, not at plugin load: `vhflow --help` must not pay for numpy

    npz = np.load(path.parent / doc.get("instances_npz", "power_instances.npz"))
    out: dict[str, float] = {}
    for name, w in zip(npz["inst_names"].tolist(), npz["total_w"].tolist(), strict=True):
        key = str(of.get(name, "none"))
        out[key] = out.get(key, 0.0) + float(w)
    return out


def ir_drop(state: Any, voltage: float | None = None) -> dict[str, float]:
    """Static ΔV (V) per island through its header switches (estimate)."""
    if "islands" not in set(state):
        return {}
    isl = json.loads(Path(state["islands"]).read_text())
    widths = isl.get("switch_width_um", {})
    r_on = float(isl.get("switch_r_on_ohm_um", 1500.0))
    rails = isl.get("rails", {})
    volts = isl.get("rail_voltage", {})
    out = {}
    for island, p in island_power(state).items():
        wsw = float(widths.get(island, 0.0))
        if wsw <= 0:
            continue
        v = float(volts.get(str(rails.get(island, "")), voltage or 1.0))
        out[island] = p / v * (r_on / wsw)
    return out


@hookimpl
def vhflow_metrics(state, run_dir):
    got = _power(state)
    if got is None:
        return {}
    doc, _ = got
    m: dict[str, Any] = {f"power__per_supply__{k}": v for k, v in doc.get("per_supply", {}).items()}
    for k, v in island_power(state).items():
        m[f"power__per_island__{k}"] = v
    drops = ir_drop(state)
    if drops:
        m["power__ir_drop__worst"] = max(drops.values())
    return m


def _table(header: list[str], rows: list[list[str]]) -> str:
    h = "".join(f"<th>{html.escape(x)}</th>" for x in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{h}</tr>{body}</table>"


@hookimpl
def vhflow_report_sections(state, run_dir, config):
    got = _power(state)
    if got is None:
        return []
    doc, _ = got
    mw = 1e3
    rows = [[g, *(f"{v[k] * mw:.4f}" for k in ("internal", "switching", "leakage", "total"))]
            for g, v in doc["groups"].items()]
    rows.append(["Total", f"{doc['internal_w'] * mw:.4f}", f"{doc['switching_w'] * mw:.4f}",
                 f"{doc['leakage_w'] * mw:.4f}", f"{doc['total_w'] * mw:.4f}"])
    parts = [f"<p>Corner {html.escape(str(doc.get('corner', '')))} (mW)</p>",
             _table(["group", "internal", "switching", "leakage", "total"], rows)]
    sup = doc.get("per_supply", {})
    if sup:
        parts.append(_table(["supply", "total (mW)"], [[k, f"{v * mw:.4f}"] for k, v in sup.items()]))
    isl = island_power(state)
    if isl:
        drops = ir_drop(state)
        parts.append(_table(["island", "total (mW)", "IR drop estimate (mV)"],
                            [[k, f"{v * mw:.4f}", f"{drops[k] * 1e3:.2f}" if k in drops else "-"]
                             for k, v in sorted(isl.items())]))
    top = doc.get("top_instances", [])[:10]
    if top:
        parts.append(_table(["instance", "group", "total (uW)"],
                            [[t["name"], t["group"], f"{t['total_w'] * 1e6:.3f}"] for t in top]))
    ann = doc.get("activity_annotation", {})
    if ann:
        parts.append("<p>Activity sources (pins): " + html.escape(", ".join(f"{k} {v}" for k, v in ann.items())) + "</p>")
    return [ReportSection("Power sign-off", "".join(parts), order=300, source="power_signoff")]
