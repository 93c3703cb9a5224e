"""The sign-off report: one self-contained `report.html` per run (inline CSS and figures).

Everything comes from the run directory (run.json, config.resolved.json, metrics.json, the
State of the last finished stage), so `vhflow report RUN_DIR` regenerates it at any time, and
plugins add sections through `vhflow_report_sections(state, run_dir, config)`.
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from flow import __version__
from flow.metrics import to_orfs
from flow.report import figures
from flow.report.metrics_doc import describe, display
from flow.report.sections import ReportSection
from flow.state import State
from flow.util import atomic_write_text

CSS = """
:root { --ok:#2e7d32; --bad:#c62828; --warn:#f9a825; --ink:#1d2330; --muted:#5b6475; --line:#e3e6ec; }
* { box-sizing: border-box; }
body { font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color: var(--ink);
       margin: 0; background: #f6f7f9; }
header { background: #1d2330; color: white; padding: 18px 32px; }
header h1 { margin: 0 0 4px 0; font-size: 22px; }
header .sub { color: #b8c0d0; font-size: 13px; }
main { padding: 20px 32px 48px; max-width: 1180px; }
section { background: white; border: 1px solid var(--line); border-radius: 8px; padding: 16px 20px; margin: 16px 0; }
h2 { font-size: 17px; margin: 0 0 12px 0; }
table { border-collapse: collapse; font-size: 13px; width: 100%; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #f0f2f5; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.bad td { background: #fdecea; }
h3 { font-size: 14px; margin: 14px 0 6px 0; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; }
.card { border-radius: 8px; padding: 10px 14px; min-width: 170px; border: 1px solid var(--line); background: #fafbfc; }
.card .k { font-size: 12px; color: var(--muted); } .card .v { font-size: 18px; font-weight: 600; }
.pass { border-left: 5px solid var(--ok); } .fail { border-left: 5px solid var(--bad); }
.na { border-left: 5px solid #9aa3b2; }
.badge { display:inline-block; padding: 2px 8px; border-radius: 10px; color: white; font-size: 12px; }
.badge.completed { background: var(--ok); } .badge.failed { background: var(--bad); }
.badge.stopped, .badge.running, .badge.completed_with_violations, .badge.interrupted { background: var(--warn); color: #222; }
img.fig { max-width: 100%; height: auto; display: block; margin: 8px 0; }
.figs { display: flex; flex-wrap: wrap; gap: 12px; } .figs > div { flex: 1 1 480px; }
.muted { color: var(--muted); font-size: 12px; }
.cap { font-size: 13px; margin: 2px 0 10px 0; }
details summary { cursor: pointer; color: var(--muted); }
"""


def _load(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def final_state(run_dir: Path, run_info: dict[str, Any]) -> State:
    """The State after the last stage that finished (empty if none did)."""
    for stage in reversed(run_info.get("stages", [])):
        marker = run_dir / stage["dir"] / "state_out.json"
        if stage.get("status") == "done" and marker.exists():
            return State.load(marker, base=run_dir)
    return State()


def _checks(metrics: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(name, pass|fail|na, detail) sign-off checks shown as cards."""

    def slack(key: str, label: str) -> tuple[str, str, str]:
        v = metrics.get(key)
        if v is None or (isinstance(v, float) and not math.isfinite(v)):
            return label, "na", "not analysed"
        return label, "pass" if v >= 0 else "fail", f"{v:+.3f} ns"

    out = [slack("finish__timing__setup__ws", "Setup timing"), slack("finish__timing__hold__ws", "Hold timing")]
    viol = metrics.get("detailedplace__design__violations")
    out.append(("Legal placement", "na" if viol is None else ("pass" if viol == 0 else "fail"),
                "not placed" if viol is None else f"{viol} violations"))
    t = metrics.get("thermal__max_c")
    limit = metrics.get("thermal__limit_c")
    if t is not None:
        state = "pass" if limit is None or t <= limit else "fail"
        out.append(("Temperature", state, f"max {t:.1f} °C" + (f" ≤ {limit:.0f} °C" if limit else "")))
    return out


def _metrics_table(metrics: dict[str, Any]) -> str:
    rows = []
    for key in sorted(metrics):
        value, unit = display(key, metrics[key])
        info = describe(key)
        meaning = html.escape(info.meaning) if info else ""
        rows.append(f"<tr><td><code>{html.escape(key)}</code></td><td class='num'>{html.escape(value)}</td>"
                    f"<td>{html.escape(unit)}</td><td>{meaning}</td></tr>")
    return "<table><tr><th>metric</th><th>value</th><th>unit</th><th>meaning</th></tr>" + "".join(rows) + "</table>"


def _config_table(config: dict[str, Any]) -> str:
    rows = []
    for name, var in sorted(config.get("variables", {}).items()):
        if var.get("source") == "default" and var.get("value") in (None, [], {}):
            continue
        value = json.dumps(var.get("value"))
        if len(value) > 120:
            value = value[:117] + "…"
        rows.append(f"<tr><td><code>{html.escape(name)}</code></td><td>{html.escape(value)}"
                    f"{(' ' + html.escape(var['unit'])) if var.get('unit') else ''}</td>"
                    f"<td class='muted'>{html.escape(str(var.get('source', '')))}</td>"
                    f"<td class='muted'>{html.escape(var.get('doc') or '')}</td></tr>")
    return ("<table><tr><th>variable</th><th>value</th><th>from</th><th>meaning</th></tr>" + "".join(rows)
            + "</table><p class='muted'>Variables left at an empty default are not listed; "
            "config.resolved.json has all of them.</p>")


def _seconds(v: float | None) -> str:
    return "" if v is None else f"{v:.2f} s"


def _stages_table(stages: list[dict[str, Any]]) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(s['dir'])}</td><td>{html.escape(s.get('name') or s['id'])}</td>"
        f"<td>{html.escape(s['status'])}</td><td class='num'>"
        f"{_seconds(s.get('seconds'))}</td>"
        f"<td>{html.escape(s.get('error') or '')}</td></tr>"
        for s in stages
    )
    return "<table><tr><th>dir</th><th>stage</th><th>status</th><th>time</th><th>error</th></tr>" + rows + "</table>"


def _core_figures(state: State) -> list[str]:
    figs: list[str] = []
    views = set(state)
    npz = None
    if "placement" in views:
        npz = dict(np.load(state["placement"], allow_pickle=False))
        if np.any(npz.get("w", np.zeros(0)) > 0):
            islands = None
            if "islands" in views:
                doc = _load(state["islands"]) or {}
                islands = doc.get("instances") or doc.get("island_of")
            figs.append(figures.placement(npz, islands))
    if "power" in views:
        doc = _load(state["power"]) or {}
        if doc.get("groups"):
            figs.append(figures.power_breakdown(doc["groups"]))
        inst = Path(state["power"]).parent / doc.get("instances_npz", "power_instances.npz")
        if npz is not None and inst.exists():
            with np.load(inst) as pw:  # read each array once: NpzFile re-reads on every access
                names, total = pw["inst_names"], pw["total_w"]
            order = {str(n): i for i, n in enumerate(names.tolist())}
            at = np.array([order.get(str(n), -1) for n in npz["inst_names"].tolist()], dtype=np.int64)
            vals = np.where(at >= 0, np.asarray(total, dtype=float)[np.maximum(at, 0)], 0.0)
            # W per bin / bin area in µm² -> W/cm² (1 µm² = 1e-8 cm²)
            figs.append(figures.density_map(npz, vals / 1e-8, "Power density", "W/cm²"))
    if "timing" in views:
        endpoints = Path(state["timing"]).parent / "timing_endpoints.npz"
        if endpoints.exists():
            ep = np.load(endpoints)
            setup = {k.removeprefix("setup:"): ep[k] * 1e9 for k in ep.files if k.startswith("setup:")}
            if setup:
                figs.append(figures.slack_histogram(setup, "setup"))
    return figs


def _pd_sections(run_dir: Path, run_info: dict[str, Any], config: dict[str, Any], state: State,
                 metrics: dict[str, Any], rules: Path | None) -> list[ReportSection]:
    """Layout, maps, clock tree, worst paths, DRV and ORFS limits (flow.report.pd)."""
    from flow.report import pd

    out: list[ReportSection] = []
    views = set(state)
    dirs = pd.stage_dirs(run_dir, run_info)
    platform = None
    if config.get("platform"):
        try:
            from flow.platform import load_platform

            platform = load_platform(config["platform"])
        except Exception:  # a report of a run whose PDK moved still shows the rest
            platform = None
    islands = None
    if "islands" in views:
        doc = _load(state["islands"]) or {}
        islands = doc.get("instances") or doc.get("island_of")
    figs: list[str] = []
    notes: list[str] = []
    if "def" in views and platform is not None and platform.tech_lef is not None:
        same_stage = "placement" in views and Path(state["placement"]).parent == Path(state["def"]).parent
        figs.append(pd.layout_figure(Path(state["def"]), platform, islands,
                                     Path(state["placement"]) if same_stage else None))
        notes.append(f"Layout from <code>{html.escape(pd.relative_link(Path(state['def']), run_dir))}</code>.")
    cong = dirs.get("route", run_dir / "-") / "congestion.npy"
    if cong.is_file() and "placement" in views:
        with np.load(state["placement"]) as fp:
            die = tuple(float(v) for v in fp["die"])
        figs.append(pd.congestion_figure(np.load(cong), die))
        notes.append("Congestion: Steiner-tree demand over track supply per bin (estimate, no global router).")
    if islands and "placement" in views and "power" in views:
        try:
            from plugins.power_signoff.plugin import ir_drop
        except ImportError:
            ir_drop = None
        drops = ir_drop(state) if ir_drop else {}
        if drops:
            with np.load(state["placement"]) as fp:
                figs.append(pd.ir_drop_figure(dict(fp), islands, drops))
            notes.append("IR drop: island current through its header-switch on-resistance (estimate).")
    cts_views = (_load(dirs["cts"] / "state_out.json") or {}).get("views", {}) if "cts" in dirs else {}
    if cts_views.get("verilog") and cts_views.get("placement") and platform is not None:
        tree, pos = pd.clock_tree_of_netlist(run_dir / cts_views["verilog"], run_dir / cts_views["placement"],
                                             platform.liberty())
        if tree is not None:
            figs.append(pd.clock_tree_figure(tree, pos))
            notes.append("Clock tree from the CTS netlist and placement: straight driver-to-load lines, not routed wires.")
    if figs:
        body = "<div class='figs'>" + "".join(f"<div>{f}</div>" for f in figs if f) + "</div>"
        out.append(ReportSection("Layout", body + "".join(f"<p class='muted'>{n}</p>" for n in notes),
                                 order=5, source="vhflow"))
    timing_parts = []
    if "timing" in views:
        tdir = Path(state["timing"]).parent
        rpt = next((p for p in (tdir / "timing.rpt", tdir / "reports" / "timing.rpt", tdir / "reports" / "checks.rpt")
                    if p.is_file()), None)
        table = pd.worst_paths_table(Path(state["timing"]), pd.relative_link(rpt, run_dir) if rpt else None)
        if table:
            timing_parts.append("<h3>Worst paths</h3>" + table)
    drv = pd.drv_table(metrics)
    if drv:
        timing_parts.append("<h3>Design-rule violations</h3>" + drv)
    if timing_parts:
        out.append(ReportSection("Timing", "".join(timing_parts), order=6, source="vhflow"))
    if rules is not None:
        out.append(ReportSection("ORFS limits", pd.rules_table(metrics, Path(rules), run_info.get("backend")),
                                 order=7, source="vhflow"))
    return out


def write_power_instances_csv(run_dir: Path, state: State) -> Path | None:
    """`power_instances.csv`: every instance's power at the headline corner (W), highest first."""
    import csv

    if "power" not in set(state):
        return None
    doc = _load(state["power"]) or {}
    npz = Path(state["power"]).parent / doc.get("instances_npz", "power_instances.npz")
    if not npz.is_file():
        return None
    with np.load(npz) as z:
        cols = {k: z[k] for k in z.files}
    order = np.argsort(-cols["total_w"], kind="stable")
    n = order.size
    # whole columns as Python lists in row order, one writerows: per-element numpy indexing
    # cost ~1 s at 100k instances
    rows = zip(cols["inst_names"][order].tolist(),
               cols["group"][order].tolist() if "group" in cols else [""] * n,
               cols["supply"][order].tolist() if "supply" in cols else [""] * n,
               *([f"{v:.6g}" for v in np.asarray(cols[k], dtype=float)[order].tolist()]
                 for k in ("internal_w", "switching_w", "leakage_w", "total_w")), strict=True)
    out = run_dir / "power_instances.csv"
    tmp = out.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["instance", "group", "supply", "internal_W", "switching_W", "leakage_W", "total_W"])
        w.writerows(rows)
    tmp.replace(out)
    return out


#: short labels of the summary cards (the metric table has the full meanings)
CARD_LABELS = {"synth__design__instance__count__stdcell": "Cells after synthesis",
               "synth__design__instance__area__stdcell": "Cell area after synthesis",
               "detailedplace__hpwl": "HPWL after detailed placement", "thermal__max_c": "Peak die temperature",
               "finevh__islands": "FINE-VH islands"}


def _card_label(key: str, metrics: dict[str, Any]) -> str:
    if key == "finish__power__total":  # name the corner the headline figure is at
        total = metrics.get(key)
        corner = next((k.split(":", 1)[1] for k, v in metrics.items()
                       if k.startswith("finish__power__total__corner:") and v == total), None)
        if corner == "mixed":
            return "Total power (mixed supplies)"
        return f"Total power ({corner} corner)" if corner else "Total power"
    m = describe(key)
    return CARD_LABELS.get(key) or (m.meaning.split("(")[0].rstrip(". ") if m else key)


def build_report(run_dir: Path | str, pm: Any = None, rules: Path | str | None = None) -> Path:
    """Write `<run_dir>/report.html` (and `power_instances.csv`) from the run directory; with
    `rules` (an ORFS rules file) the report checks the metrics against it."""
    run_dir = Path(run_dir)
    run_info = _load(run_dir / "run.json") or {"stages": [], "status": "unknown"}
    config = _load(run_dir / "config.resolved.json") or {}
    metrics = to_orfs(_load(run_dir / "metrics.json") or {})
    state = final_state(run_dir, run_info)
    values = {k: v.get("value") for k, v in config.get("variables", {}).items()}

    sections: list[ReportSection] = []
    cards = "".join(
        f"<div class='card {status}'><div class='k'>{html.escape(name)}</div><div class='v'>"
        f"{ {'pass': '✔ pass', 'fail': '✘ fail', 'na': '—'}[status]}</div><div class='muted'>{html.escape(detail)}</div></div>"
        for name, status, detail in _checks(metrics)
    )
    key = [k for k in ("synth__design__instance__count__stdcell", "synth__design__instance__area__stdcell",
                       "detailedplace__hpwl", "finish__power__total", "thermal__max_c", "finevh__islands") if k in metrics]
    kcards = "".join(
        "<div class='card na'><div class='k'>{}</div><div class='v'>{} {}</div></div>".format(
            html.escape(_card_label(k, metrics)), *map(html.escape, display(k, metrics[k])))
        for k in key
    )
    sections.append(ReportSection("Summary", f"<div class='cards'>{cards}</div><div class='cards' "
                                  f"style='margin-top:10px'>{kcards}</div>", order=0, source="vhflow"))
    write_power_instances_csv(run_dir, state)
    sections.extend(_pd_sections(run_dir, run_info, config, state, metrics, Path(rules) if rules else None))
    figs = _core_figures(state)
    if figs:
        body = "<div class='figs'>" + "".join(f"<div>{f}</div>" for f in figs) + "</div>"
        body += "<p class='muted'>Wire, clock-tree and congestion figures come from estimates (no detailed routing).</p>"
        sections.append(ReportSection("Figures", body, order=10, source="vhflow"))
    stages = run_info.get("stages", [])
    timeline = figures.stage_timeline(stages) if any(s.get("seconds") is not None for s in stages) else ""
    sections.append(ReportSection("Stages", timeline + _stages_table(stages), order=20, source="vhflow"))
    sections.append(ReportSection("Metrics", _metrics_table(metrics), order=30, source="vhflow"))
    if pm is not None:
        for group in pm.hook.vhflow_report_sections(state=state, run_dir=run_dir, config=values):
            sections.extend(group or [])
    sections.append(ReportSection("Configuration", _config_table(config), order=1000, source="vhflow"))
    sections.sort(key=lambda s: s.order)

    status = run_info.get("status", "unknown")
    if status == "reporting":  # the runner writes the final status only after this report
        status = run_info.get("outcome") or status
    title = f"{run_info.get('design', '?')} · {run_info.get('tag', run_dir.name)}"
    body = "".join(
        f"<section id='s{i}'><h2>{html.escape(s.title)}</h2>{s.html}"
        + (f"<p class='muted'>from {html.escape(s.source)}</p>" if s.source not in ("", "vhflow") else "")
        + "</section>"
        for i, s in enumerate(sections)
    )
    generated = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>vhflow report — {html.escape(title)}</title><style>{CSS}</style></head>
<body><header><h1>{html.escape(title)} <span class="badge {html.escape(status)}">{html.escape(status)}</span></h1>
<div class="sub">platform {html.escape(str(run_info.get('platform', config.get('platform', '?'))))} ·
backend {html.escape(str(run_info.get('backend', '?')))} · started {html.escape(str(run_info.get('started', '?')))} ·
vhflow {__version__} · report generated {generated}</div></header>
<main>{body}</main></body></html>
"""
    out = run_dir / "report.html"
    atomic_write_text(out, page)
    return out
