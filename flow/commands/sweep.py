"""`vhflow sweep SWEEP.toml [--executor local|ray] [--address ADDR] [--jobs N]`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command("sweep")
    def sweep(
        sweep_file: Annotated[Path, typer.Argument(help="Sweep description (TOML).")],
        executor: Annotated[str, typer.Option(help="local (process pool) or ray.")] = "local",
        address: Annotated[str | None, typer.Option(help="Ray cluster address (implies --executor ray).")] = None,
        jobs: Annotated[int, typer.Option(help="Parallel runs (local) / CPUs (local Ray).")] = 2,
        out: Annotated[Path | None, typer.Option(help="Sweep directory; default sweeps/<name>.")] = None,
    ) -> None:
        """Run a design-space sweep; a re-run only runs the points that did not finish."""
        import time

        from flow.sweep import points, read_sweep, run_sweep

        spec = read_sweep(sweep_file)
        out_dir = out or Path("sweeps") / spec.name
        total = len(points(spec))
        typer.echo(f"sweep {spec.name}: {total} points, {jobs} at a time -> {out_dir}")
        count = {"done": 0, "ran": 0}
        t0 = time.monotonic()

        def progress(tag: str, res: dict) -> None:
            count["done"] += 1
            count["ran"] += 0 if res.get("skipped") else 1
            left = total - count["done"]
            elapsed = time.monotonic() - t0
            eta = f", ETA {elapsed / count['ran'] * left:.0f} s" if count["ran"] and left else ""
            mark = "↺" if res.get("skipped") else ("✔" if res["status"] != "failed" else "✘")
            typer.echo(f"[{count['done']}/{total}{eta}] {mark} {tag} {res['status']}"
                       + (f": {res['error']}" if res.get("error") else ""))

        table = run_sweep(spec, out_dir, executor="ray" if address else executor, jobs=jobs, address=address,
                          progress=progress)
        failed = int((table["status"] == "failed").sum())
        typer.echo(f"sweep: {len(table)} points, {failed} failed -> {out_dir / 'sweep.csv'}, {out_dir / 'report.html'}")
        if len(table) and failed == len(table):  # nothing to compare: the sweep itself failed
            typer.echo("sweep: every point failed", err=True)
            raise typer.Exit(1)
