"""`vhflow sta` and `vhflow power`: the embedded sign-off engines with OpenSTA-like options, so
a user can swap a `sta` script (read_liberty / read_verilog / link / read_sdc / read_spef /
report_checks / report_power) for one command line."""

from __future__ import annotations

import contextlib
import json
import math
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from flow.util import collector_paused

if TYPE_CHECKING:
    from flow.engines.model import FlatDesign


WIRE_LOAD_HELP = ("Without --spef, estimate nets from a Liberty wire-load model as OpenSTA 3.1 does: 'default' "
                  "(the SDC's set_wire_load_model, else none), 'library' (its default_wire_load), a model "
                  "name, or 'none'.")


def _libs(lib: list[Path], corner: str | None) -> dict:
    """Liberty files merged into one corner (later files override cells of earlier ones)."""
    from flow.engines.sta import load_liberty

    libs = [load_liberty(p) for p in lib]
    if len(libs) == 1:
        return {corner or "default": libs[0]}
    if isinstance(libs[0], dict):
        merged = {**libs[0], "cells": {k: v for lb in libs for k, v in lb["cells"].items()}}
        return {corner or "default": merged}
    from flow.formats.liberty import merge_libraries  # type: ignore[import-not-found]

    return {corner or "default": merge_libraries(libs)}


def _read_inputs(lib: list[Path], netlist: list[Path], top: str | None, corner: str | None) -> tuple[dict, FlatDesign]:
    """Liberty corner and netlist, read concurrently: a large netlist in a child process while
    this one imports the engines (numba, the sign-off stage), reads the Liberty files and loads
    the compiled STA kernels. The child is forked before those imports, so it starts at once."""
    from flow.background import Pending, worth_forking
    from flow.formats.verilog import read_verilog  # numpy only: cheap to have before the fork

    paths = [Path(p) for p in netlist]
    pending = Pending(read_verilog, paths, top, fork=worth_forking(paths))
    try:
        from flow.engines import sta
        from flow.stages import signoff  # noqa: F401 - imported here, while the child reads

        libs = _libs(lib, corner)
        sta.prepare_kernels()
        design = pending.result()
    finally:
        pending.cancel()
    _check_cells(libs, design, netlist)
    return libs, design


def _check_cells(libs: dict, design: FlatDesign, netlist: list[Path]) -> None:
    """A cell type no Liberty defines is bad input (exit 2, naming the netlist line of its first
    instance), not a design that is silently left untimed."""
    from flow.errors import FormatError

    known: set[str] = set()
    for lb in libs.values():
        cells = lb.get("cells", {}) if isinstance(lb, dict) else getattr(lb, "cells", {})
        known.update(cells)
    missing = sorted({c for c in design.inst_cell if c not in known})
    if not missing:
        return
    path, line = netlist[0], None
    for p in netlist:  # where the first missing cell is instantiated: a word at the start of a statement
        text = Path(p).read_text(errors="replace")
        at = re.search(rf"(?m)^\s*\\?{re.escape(missing[0])}\s", text)
        if at is not None:
            path, line = p, text.count("\n", 0, at.start()) + 1
            break
    more = f" (and {len(missing) - 1} more: {', '.join(missing[1:6])})" if len(missing) > 1 else ""
    raise FormatError(path, line, f"cell {missing[0]!r} is in no Liberty library given{more}")


def _collector_paused() -> contextlib.AbstractContextManager[None]:
    """The cyclic collector paused for a whole command, and the heap frozen at its end when this
    is the `vhflow` process (about to exit). Why: the readers and engines pause the collector
    already, but the first allocations after each pause then walked every object made during it
    (the unpickled netlist, the graph), the imports and the growing heap made it walk everything
    ~50 times, and the interpreter's final collections walk the whole heap again: ~0.5 s CPU in
    all at 100k instances (benchmarks/bench_sta.py). Only the console process freezes (an
    in-process caller, e.g. a test, gets its collector back as it was)."""
    return collector_paused(freeze=Path(sys.argv[0]).name == "vhflow")


def register(app: typer.Typer) -> None:
    """Add the `sta` and `power` sub-commands."""

    @app.command("sta")
    def sta_cmd(
        lib: list[Path] = typer.Option(..., "--lib", help="Liberty file(s), merged into one corner."),
        netlist: list[Path] = typer.Option(..., "--netlist", help="Gate-level Verilog."),
        top: str = typer.Option(None, "--top", help="Top module."),
        sdc: Path = typer.Option(None, "--sdc", help="Constraints."),
        spef: Path = typer.Option(None, "--spef", help="Parasitics (SPEF)."),
        corner: str = typer.Option(None, "--corner", help="Name of the corner in the report."),
        propagated_clock: bool = typer.Option(False, "--propagated-clock", help="Propagate clocks."),
        paths: int = typer.Option(1, "--paths", help="Paths per check type in the report."),
        wire_load: str = typer.Option("default", "--wire-load", help=WIRE_LOAD_HELP),
        as_json: bool = typer.Option(False, "--json", help="JSON instead of report text."),
        report_checks_n: int = typer.Option(0, "--report-checks",
                                            help="Print N worst setup and hold paths in OpenSTA's report_checks "
                                                 "-fields {slew cap fanout} layout."),
        check_types: bool = typer.Option(False, "--check-types", help="Also max slew / capacitance / fanout "
                                         "violators, like report_check_types -violators."),
        with_power: bool = typer.Option(False, "--power", help="Also report_power in the same process "
                                        "(the timing graph is reused)."),
        global_activity: float = typer.Option(None, "--global-activity",
                                              help="With --power: like set_power_activity -global -activity A."),
        duty: float = typer.Option(0.5, "--duty", help="With --power and --global-activity: the duty."),
    ) -> None:
        """Setup/hold analysis like `report_checks`, `report_wns`, `report_tns` (+ power)."""

        with _collector_paused():
            from flow.stages.signoff import run_signoff

            libs, design = _read_inputs(lib, netlist, top, corner)
            res = run_signoff(netlist, top, libs, sdc, spef=spef,
                              propagated=True if propagated_clock else None, do_power=with_power, design=design,
                              wire_load=wire_load,
                              global_activity=(global_activity, duty) if global_activity is not None else None)
            for c, t in res.timing.items():
                if as_json:
                    typer.echo(json.dumps({"corner": c, **t.to_json(paths)}, indent=2))
                    continue
                if report_checks_n:
                    from flow.engines.sta_report import report_checks

                    typer.echo(report_checks(t, report_checks_n))
                else:
                    typer.echo(t.report_checks("max", paths))
                    typer.echo(t.report_checks("min", paths))
                if check_types:
                    typer.echo(t.design_rules().report())
                if with_power:
                    typer.echo(res.power[c].report_power())
                typer.echo(f"wns {min(t.setup_wns, 0.0) * 1e9 if math.isfinite(t.setup_wns) else 0.0:.4f}")
                typer.echo(f"tns {t.setup_tns * 1e9:.4f}")
                for w in dict.fromkeys(res.warnings + t.warnings):  # the SDC ones are in both
                    typer.echo(f"Warning: {w}", err=True)

    @app.command("power")
    def power_cmd(
        lib: list[Path] = typer.Option(..., "--lib", help="Liberty file(s)."),
        netlist: list[Path] = typer.Option(..., "--netlist", help="Gate-level Verilog."),
        top: str = typer.Option(None, "--top", help="Top module."),
        sdc: Path = typer.Option(None, "--sdc", help="Constraints (clocks give activity periods)."),
        spef: Path = typer.Option(None, "--spef", help="Parasitics (SPEF)."),
        corner: str = typer.Option(None, "--corner"),
        vcd: Path = typer.Option(None, "--vcd", help="VCD activity."),
        saif: Path = typer.Option(None, "--saif", help="SAIF activity."),
        scope: str = typer.Option(None, "--scope", help="Instance path of the design in the VCD/SAIF."),
        input_activity: float = typer.Option(0.1, "--input-activity", help="Toggles per clock period."),
        global_activity: float = typer.Option(None, "--global-activity",
                                              help="Like set_power_activity -global -activity A."),
        duty: float = typer.Option(0.5, "--duty"),
        wire_load: str = typer.Option("default", "--wire-load", help=WIRE_LOAD_HELP),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Power like `report_power` (groups × internal/switching/leakage)."""

        with _collector_paused():
            from flow.stages.signoff import run_signoff

            libs, design = _read_inputs(lib, netlist, top, corner)
            res = run_signoff(netlist, top, libs, sdc, spef=spef, activity_file=vcd or saif,
                              scope=scope, input_activity=input_activity,
                              global_activity=(global_activity, duty) if global_activity is not None else None,
                              design=design, wire_load=wire_load)
            for c, p in res.power.items():
                if as_json:
                    typer.echo(json.dumps({"corner": c, **p.to_json()}, indent=2))
                else:
                    typer.echo(p.report_power())
                    typer.echo(res.activity[c].annotation_report())
                for w in dict.fromkeys(res.warnings + p.warnings):
                    typer.echo(f"Warning: {w}", err=True)
