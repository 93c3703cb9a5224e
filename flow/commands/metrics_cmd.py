"""`vhflow metrics RUN [--rules rules-base.json]`: a run's metrics with units, checked against
an ORFS rules file as ORFS's CI does (exit 3 when a rule fails)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

#: exit code when a rule fails: distinct from bad input (2) and a failed tool (1).
RULES_FAILED = 3


def register(app: typer.Typer) -> None:
    @app.command("metrics")
    def metrics_cmd(
        run_dir: Annotated[Path, typer.Argument(help="A run directory (runs/<design>/<tag>).")],
        rules: Annotated[Path | None, typer.Option("--rules", help="ORFS rules file (rules-base.json).")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output; units in each entry.")] = False,
    ) -> None:
        """Print a run's metrics (ORFS names, units); with --rules, pass/fail per rule (exit 3 if any fails)."""
        from rich.console import Console
        from rich.table import Table

        from flow.metrics import check_rules, describe, display, load_rules, read_run_metrics

        metrics = read_run_metrics(run_dir)
        results = check_rules(metrics, load_rules(rules)) if rules is not None else None
        if as_json:
            doc: dict = {"metrics": {k: {"value": v, "unit": (describe(k).unit if describe(k) else "")}
                                     for k, v in metrics.items()}}
            if results is not None:
                doc["rules"] = [{"field": r.field, "compare": r.compare, "value": r.limit, "actual": r.value,
                                 "unit": describe(r.field).unit if describe(r.field) else "",
                                 "passed": r.passed, "note": r.note} for r in results]
            typer.echo(json.dumps(doc, indent=2, default=str))
        elif results is None:
            table = Table(title=f"metrics of {run_dir}")
            for col in ("metric", "value", "unit"):
                table.add_column(col, justify="right" if col == "value" else "left")
            for k, v in metrics.items():
                table.add_row(k, *display(k, v))
            Console().print(table)
        else:
            table = Table(title=f"{run_dir} against {rules}")
            for col in ("metric", "value", "rule", "unit", "result"):
                table.add_column(col, justify="right" if col in ("value", "rule") else "left")
            for r in results:
                m = describe(r.field)
                value = "—" if r.value is None else str(r.value)
                verdict = "[green]pass[/]" if r.passed else "[red]FAIL[/]" + (f" ({r.note})" if r.note else "")
                table.add_row(r.field, value, f"{r.compare} {r.limit}", m.unit if m else "", verdict)
            Console().print(table)
            failed = sum(not r.passed for r in results)
            typer.echo(f"{len(results) - failed} of {len(results)} rules passed" + (f", {failed} failed" if failed else ""))
        if results is not None and not all(r.passed for r in results):
            raise typer.Exit(RULES_FAILED)
