"""`vhflow report RUN_DIR` (regenerate a report) and `vhflow compare RUN_A RUN_B`."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table


def _metrics(run_dir: Path) -> dict:
    from flow.metrics import read_run_metrics

    return read_run_metrics(run_dir)


def compare_metrics(a: dict, b: dict) -> list[tuple[str, object, object, float | None]]:
    """(key, value in A, value in B, relative change B/A − 1 where numeric)."""
    rows = []
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key), b.get(key)
        rel = None
        if isinstance(va, int | float) and isinstance(vb, int | float) and not isinstance(va, bool) and va != 0:
            rel = vb / va - 1.0
        rows.append((key, va, vb, rel))
    return rows


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report(
        run_dir: Annotated[Path, typer.Argument(help="A run directory (runs/<design>/<tag>).")],
        rules: Annotated[Path | None, typer.Option("--rules", help="ORFS rules file: add the limit check table.")] = None,
    ) -> None:
        """Regenerate report.html of a run from its directory."""
        from flow.metrics import load_rules
        from flow.plugin_manager import get_plugin_manager
        from flow.report.html import build_report

        _metrics(run_dir)
        if rules is not None:
            load_rules(rules)  # a bad rules file is one error before anything is written
        typer.echo(f"report: {build_report(run_dir, get_plugin_manager(), rules=rules)}")

    @app.command("compare")
    def compare(
        run_a: Annotated[Path, typer.Argument(help="First run directory.")],
        run_b: Annotated[Path, typer.Argument(help="Second run directory.")],
        html_out: Annotated[Path | None, typer.Option("--out", "--html", help="Also write an HTML table here.")] = None,
        changed_only: Annotated[bool, typer.Option(help="Only metrics that differ.")] = False,
    ) -> None:
        """Print (and optionally render) the metric differences between two runs."""
        from flow.report.metrics_doc import display

        rows = compare_metrics(_metrics(run_a), _metrics(run_b))
        if changed_only:
            rows = [r for r in rows if r[1] != r[2]]
        table = Table(title=f"{run_a} → {run_b}")
        for col in ("metric", "A", "B", "unit", "change"):
            table.add_column(col, justify="right" if col in ("A", "B", "change") else "left")
        out_rows = []
        for key, va, vb, rel in rows:
            (sa, unit), (sb, _) = display(key, va), display(key, vb)
            change = "" if rel is None else f"{rel:+.2%}"
            table.add_row(key, sa, sb, unit, change)
            out_rows.append((key, sa, sb, unit, change))
        Console().print(table)
        if html_out is not None:
            body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in out_rows)
            from flow.report.html import CSS

            html_out.write_text(
                f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>vhflow compare</title><style>{CSS}</style>"
                f"</head><body><header><h1>{html.escape(str(run_a))} → {html.escape(str(run_b))}</h1></header>"
                "<main><section><table><tr><th>metric</th><th>A</th><th>B</th><th>unit</th><th>change</th></tr>"
                f"{body}</table></section></main></body></html>"
            )
            typer.echo(f"html: {html_out}")
