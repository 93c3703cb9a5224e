"""The sweep report: one styled page, every point a row in display units (ns, mW, µm², %)
linking to that point's own report, the Pareto front plotted in the same units."""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any

from flow.metrics import convert, describe, format_number
from flow.report import figures
from flow.report.html import CSS
from flow.util import atomic_write_text

_FIXED = ("tag", "status", "error", "skipped", "pareto", "run_dir")


def _unit(key: str) -> str:
    m = describe(key)
    return m.shown_unit if m else ""


def _shown(key: str, value: Any) -> float | None:
    """A metrics.json value in its display unit (None when not a number)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        return None
    m = describe(key)
    if m is not None and m.display_unit is not None:
        return convert(float(value), m.unit, m.display_unit)
    return float(value)


def _label(key: str) -> str:
    u = _unit(key)
    return f"{key} ({u})" if u else key


def write_sweep_report(name: str, base: Path, parameters: list[str], metrics: list[str], pareto: list[str],
                       rows: list[dict[str, Any]], out_dir: Path) -> Path:
    """`<out_dir>/report.html` (and `pareto.png` with two objectives) from the sweep's rows."""
    out_dir = Path(out_dir)
    body = ""
    if len(pareto) >= 2:
        xk, yk = (p.removeprefix("max:") for p in pareto[:2])
        done = [r for r in rows if r.get("status") in ("completed", "stopped")
                and _shown(xk, r.get(xk)) is not None and _shown(yk, r.get(yk)) is not None]
        if done:
            fig, ax = figures.plt.subplots(figsize=(6.5, 4.5))
            ax.scatter([_shown(xk, r[xk]) for r in done], [_shown(yk, r[yk]) for r in done], color="#90a4ae",
                       label="points")
            front = sorted((r for r in done if r.get("pareto")), key=lambda r: _shown(xk, r[xk]))
            ax.plot([_shown(xk, r[xk]) for r in front], [_shown(yk, r[yk]) for r in front], "o-", color="#c62828",
                    label="Pareto front")
            ax.set_xlabel(_label(xk))
            ax.set_ylabel(_label(yk))
            ax.set_title(f"Sweep {name}: Pareto front")
            ax.legend()
            fig.savefig(out_dir / "pareto.png", dpi=110, bbox_inches="tight")
            body += figures.to_img(fig, "pareto front")
    head = "".join(f"<th>{html.escape(h)}</th>" for h in ["point", *parameters, "status",
                                                            *(_label(m) for m in metrics), "Pareto"])
    lines = []
    for r in rows:
        run_dir = r.get("run_dir")
        report = Path(run_dir) / "report.html" if run_dir else None
        tag = html.escape(str(r["tag"]))
        link = (f"<a href='{html.escape(os.path.relpath(report, out_dir))}'>{tag}</a>"
                if report is not None and report.is_file() else tag)
        cells = [f"<td>{link}</td>"]
        cells += [f"<td class='num'>{html.escape(str(r.get(p, '')))}</td>" for p in parameters]
        status = str(r.get("status", ""))
        err = f" <span class='muted'>{html.escape(str(r['error']))}</span>" if r.get("error") else ""
        cells.append(f"<td><span class='badge {html.escape(status)}'>{html.escape(status)}</span>{err}</td>")
        for m in metrics:
            v = _shown(m, r.get(m))
            cells.append(f"<td class='num'>{'—' if v is None else format_number(v)}</td>")
        cells.append(f"<td>{'★' if r.get('pareto') else ''}</td>")
        lines.append(f"<tr class='{'bad' if status == 'failed' else ''}'>{''.join(cells)}</tr>")
    failed = sum(1 for r in rows if r.get("status") == "failed")
    page = (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>sweep {html.escape(name)}</title>"
            f"<style>{CSS}</style></head><body><header><h1>Sweep {html.escape(name)}</h1>"
            f"<div class='sub'>base {html.escape(str(base))} · {len(rows)} points · {failed} failed</div></header>"
            f"<main><section><h2>Points</h2><table><tr>{head}</tr>{''.join(lines)}</table>"
            "<p class='muted'>Each point links to its own report. Values in display units (ns, mW, µm², %); "
            "sweep.csv holds metrics.json's units (ns, W, µm²).</p></section>"
            + (f"<section><h2>Pareto front</h2>{body}</section>" if body else "") + "</main></body></html>\n")
    out = out_dir / "report.html"
    atomic_write_text(out, page)
    return out
