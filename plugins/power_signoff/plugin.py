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

Per-island rows come from one power analysis only — the headline corner's per-instance NPZ
(for a FINE-VH run the single mixed-supply analysis) — grouped by (island, supply the instance
was powered from), so every instance is counted once and the rows (islands plus the rest, the
cells in no island) sum to the sign-off total; each row names its rail (VDDH/VDDL), corner and
voltage.
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


def _islands_doc(state: Any) -> dict[str, Any] | None:
    return json.loads(Path(state["islands"]).read_text()) if "islands" in set(state) else None


REST = "none"  # the island key of cells in no island (metrics: power__per_island__none)


def island_supply_power(state: Any) -> dict[tuple[str, str], float]:
    """(island, supply corner) -> W: the headline analysis' instances grouped by island and by the
    supply each was powered from ({} without islands). Each instance is counted once."""
    got = _power(state)
    isl = _islands_doc(state)
    if got is None or isl is None:
        return {}
    doc, path = got
    of = isl.get("instances", isl.get("island_of", {}))
    rails = {str(k): str(v) for k, v in isl.get("rails", {}).items()}
    import numpy as np  # here, not at plugin load: `vhflow --help` must not pay for numpy

    with np.load(path.parent / doc.get("instances_npz", "power_instances.npz")) as npz:
        names = npz["inst_names"].tolist()
        total = npz["total_w"].tolist()
        supply = npz["supply"].tolist() if "supply" in npz.files else [None] * len(names)
    out: dict[tuple[str, str], float] = {}
    for name, w, sup in zip(names, total, supply, strict=True):
        key = str(of.get(name, REST))
        corner = str(sup) if sup not in (None, "") else rails.get(key, str(doc.get("corner", "")))
        out[(key, corner)] = out.get((key, corner), 0.0) + float(w)
    return out


def island_power(state: Any) -> dict[str, float]:
    """Island -> W (the cells in no island under "none"), summed over supplies ({} without islands)."""
    out: dict[str, float] = {}
    for (island, _corner), w in island_supply_power(state).items():
        out[island] = out.get(island, 0.0) + w
    return out


def _natural(name: str) -> tuple:
    """isl2 before isl10; the rest last."""
    import re

    return (name == REST, [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)])


def rail_labels(isl: dict[str, Any] | None, corners: list[str]) -> dict[str, str]:
    """Supply corner -> 'VDDH' / 'VDDL' / 'VDDM' (by the islands JSON's vddh/vddl, else by
    voltage among the island rails) or 'default' (a corner only cells in no island use)."""
    if isl is None:
        return {c: "single supply" if len(corners) == 1 else "supply" for c in corners}
    rails = sorted(set(map(str, isl.get("rails", {}).values())))
    volts = {str(k): float(v) for k, v in isl.get("rail_voltage", {}).items()}
    hi = isl.get("vddh") or (max(rails, key=lambda c: volts.get(c, 0.0)) if rails else None)
    lo = isl.get("vddl") or (min(rails, key=lambda c: volts.get(c, 0.0)) if rails else None)
    out = {}
    for c in corners:
        if c == hi:
            out[c] = "VDDH"
        elif c == lo:
            out[c] = "VDDL"
        elif c in rails:
            out[c] = "VDDM"
        else:
            out[c] = "default (cells in no island)"
    return out


def _voltages(config: Any, isl: dict[str, Any] | None) -> dict[str, float]:
    """Corner -> supply voltage: the platform's corners, then the islands JSON's rail voltages."""
    out: dict[str, float] = {}
    try:
        from flow.platform import load_platform

        name = config.get("PLATFORM") if hasattr(config, "get") else None
        if name:
            out.update({c.name: float(c.voltage) for c in load_platform(name).corners.values()})
    except Exception:  # a report must render without its platform tree; the islands JSON has the rails
        pass
    if isl is not None:
        out.update({str(k): float(v) for k, v in isl.get("rail_voltage", {}).items()})
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


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _table(header: list[str], rows: list[list[str]], title: str | None = None) -> str:
    """An HTML table (numbers right-aligned), under its own heading so tables never run together."""
    h = "".join(f"<th>{html.escape(x)}</th>" for x in header)
    body = "".join("<tr>" + "".join(f"<td class='num'>{html.escape(c)}</td>" if _is_number(c) else
                                    f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return (f"<h3>{html.escape(title)}</h3>" if title else "") + f"<table><tr>{h}</tr>{body}</table>"


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
    corner = str(doc.get("corner", ""))
    what = "mixed supplies: each instance at its island's rail corner" if corner == "mixed" else f"corner {corner}"
    parts = [f"<p>Power groups, {html.escape(what)}.</p>",
             _table(["group", "internal (mW)", "switching (mW)", "leakage (mW)", "total (mW)"], rows, "Groups")]
    isl_doc = _islands_doc(state)
    sup = doc.get("per_supply", {})
    volts = _voltages(config, isl_doc)
    labels = rail_labels(isl_doc, list(sup))

    def supply_name(corner: str) -> str:
        v = volts.get(corner)
        return f"{labels.get(corner, 'supply')} · {corner}" + (f" ({v:.2f} V)" if v is not None else "")

    if sup:
        parts.append(_table(["supply (rail · corner, V)", "total (mW)"],
                            [[supply_name(k), f"{v * mw:.4f}"] for k, v in sup.items()], "Per supply"))
    per = island_supply_power(state)
    if per:
        drops = ir_drop(state)
        total = float(doc["total_w"])
        rows = []
        for (island, corner), w in sorted(per.items(), key=lambda kv: (_natural(kv[0][0]), kv[0][1])):
            rows.append(["rest (cells in no island)" if island == REST else island, supply_name(corner),
                         f"{w * mw:.4f}", f"{w / total * 100:.1f}" if total else "-",
                         f"{drops[island] * 1e3:.2f}" if island in drops else "-"])
        summed = sum(per.values())
        rows.append(["Σ islands + rest", "", f"{summed * mw:.4f}", f"{summed / total * 100:.1f}" if total else "-", ""])
        parts.append(_table(["island", "supply (rail · corner, V)", "total (mW)", "share (%)", "IR drop estimate (mV)"],
                            rows, "Per island"))
        parts.append("<p class='muted'>Each instance once, grouped by the supply it was powered from; IR drop: "
                     "estimate through the island's header switches.</p>")
        fv_t, sdc_t = (isl_doc or {}).get("clock_period_s"), (isl_doc or {}).get("sdc_period_s")
        if fv_t and sdc_t and abs(fv_t / sdc_t - 1) > 0.01:
            parts.append(f"<p class='muted'>Signed off at the SDC clock ({sdc_t * 1e9:.3f} ns). The FINE-VH island "
                         f"table's power is its netlist-level model at FINE-VH's own clock ({fv_t * 1e9:.3f} ns, "
                         f"{sdc_t / fv_t:.2f}× the frequency), so its rows do not add up to this total.</p>")
        if total and abs(summed - total) > 1e-6 * total + 1e-15:
            parts.append(f"<p class='bad'>Per-island rows sum to {summed * mw:.4f} mW but the total is "
                         f"{total * mw:.4f} mW.</p>")
    top = doc.get("top_instances", [])[:10]
    if top:
        parts.append(_table(["instance", "group", "total (µW)"],
                            [[t["name"], t["group"], f"{t['total_w'] * 1e6:.3f}"] for t in top],
                            "Top instances (all in power_instances.csv)"))
    ann = doc.get("activity_annotation", {})
    if ann:
        parts.append("<p>Activity sources (pins): " + html.escape(", ".join(f"{k} {v}" for k, v in ann.items())) + "</p>")
    return [ReportSection("Power sign-off", "".join(parts), order=300, source="power_signoff")]
