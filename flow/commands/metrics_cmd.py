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
        allow_not_computed: Annotated[bool, typer.Option(
            "--allow-not-computed/--no-allow-not-computed",
            help="Exit 0 when the only rules not passed are metrics the run's backend cannot compute "
                 "(e.g. DRC errors on the embedded backend); by default they count as not passed.")] = False,
    ) -> None:
        """Print a run's metrics (ORFS names, units); with --rules, pass / fail / not computed per rule
        (exit 3 if any is not passed)."""
        from rich.console import Console
        from rich.table import Table

        from flow.metrics import (
            check_rules,
            describe,
            display,
            load_rules,
            read_run_metrics,
            rules_summary,
            run_backend,
        )

        metrics = read_run_metrics(run_dir)
        results = check_rules(metrics, load_rules(rules), run_backend(run_dir)) if rules is not None else None
        if as_json:
            doc: dict = {"metrics": {k: {"value": v, "unit": (describe(k).unit if describe(k) else "")}
                                     for k, v in metrics.items()}}
            if results is not None:
                doc["rules"] = [{"field": r.field, "compare": r.compare, "value": r.limit, "actual": r.value,
                                 "unit": describe(r.field).unit if describe(r.field) else "",
                                 "passed": r.passed, "status": r.verdict, "note": r.note} for r in results]
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
                verdict = {"pass": "[green]pass[/]", "not computed": f"[yellow]{r.note}[/]"}.get(
                    r.verdict, "[red]FAIL[/]" + (f" ({r.note})" if r.note else ""))
                table.add_row(r.field, value, f"{r.compare} {r.limit}", m.unit if m else "", verdict)
            Console(width=max(120, Console().width)).print(table)
            typer.echo(rules_summary(results))
        if results is not None:
            blocking = [r for r in results if r.verdict == "fail" or (r.verdict == "not computed" and not allow_not_computed)]
            if blocking:
                raise typer.Exit(RULES_FAILED)
