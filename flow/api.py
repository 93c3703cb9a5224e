"""The Python API: what `vhflow run` and `vhflow sta` do, callable from a script or notebook.

    import flow.api as vhflow

    res = vhflow.run("designs/gcd/config.toml", tag="t1", overrides={"CORE_UTILIZATION": 30})
    res.metrics["finish__timing__setup__ws"]       # ns, ORFS names as in metrics.json
    sta = vhflow.sta(lib=["typical.lib"], netlist=["gcd.v"], top="gcd", sdc="gcd.sdc")
    sta.setup_ws_ns, sta.report                    # worst slack (ns), report_checks text

Both raise `flow.errors.VhflowError` subclasses on bad input, with the file and line, as the
command line does (`exit_code` 2 for bad input, 1 for a failed tool or stage).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flow.runner import RunResult

__all__ = ["RunResult", "StaResult", "run", "sta"]


def _overrides(overrides: Mapping[str, Any] | Iterable[str] | None) -> list[str]:
    """`{"KEY": value}` or `["KEY=VALUE"]` -> the `--set` form the runner takes."""
    if overrides is None:
        return []
    if isinstance(overrides, Mapping):
        import json

        return [f"{k}={json.dumps(v)}" for k, v in overrides.items()]  # JSON scalars/lists are TOML
    return list(overrides)


def run(
    config: str | Path | None = None,
    *,
    tag: str | None = None,
    overrides: Mapping[str, Any] | Iterable[str] | None = None,
    raw: Mapping[str, Any] | None = None,
    backend: str = "embedded",
    from_stage: str | None = None,
    to_stage: str | None = None,
    out: str | Path | None = None,
    dry_run: bool = False,
) -> RunResult:
    """Run the flow (as `vhflow run`). `config` is a TOML or an ORFS `config.mk`; `raw` gives
    variables directly (instead of or on top of a file); `out` is where run directories go
    (`--out`, default ./runs). Returns the run directory, status, report path and the metrics
    of `metrics.json` (ORFS names and units: ns, W, µm, µm²)."""
    from flow.runner import run_flow

    return run_flow(
        Path(config) if config is not None else None, tag=tag, overrides=_overrides(overrides),
        raw=dict(raw) if raw is not None else None, backend=backend, from_stage=from_stage,
        to_stage=to_stage, runs_dir=out, dry_run=dry_run,
    )


@dataclass
class StaResult:
    """Timing of one corner, in ns (as OpenSTA reports with a ns library)."""

    corner: str
    setup_ws_ns: float | None
    setup_tns_ns: float
    hold_ws_ns: float | None
    hold_tns_ns: float
    endpoints: int
    report: str
    warnings: list[str] = field(default_factory=list)
    timing: Any = None  # the engine's full result (paths, slacks per endpoint, DRV checks)


def sta(
    *,
    lib: Sequence[str | Path],
    netlist: Sequence[str | Path],
    top: str | None = None,
    sdc: str | Path | None = None,
    spef: str | Path | None = None,
    corner: str | None = None,
    wire_load: str = "default",
    propagated_clock: bool = False,
    paths: int = 1,
) -> StaResult:
    """Static timing analysis (as `vhflow sta`): Liberty files merged into one corner, a
    gate-level netlist, SDC and optional SPEF; without SPEF, the Liberty wire-load model as
    OpenSTA 3.1 uses it. `report` holds `paths` worst setup and hold paths in report_checks form."""
    from flow.commands.sta import _read_inputs
    from flow.stages.signoff import run_signoff

    libs_p, nets_p = [Path(p) for p in lib], [Path(p) for p in netlist]
    libs, design = _read_inputs(libs_p, nets_p, top, corner)
    res = run_signoff(nets_p, top, libs, Path(sdc) if sdc else None, spef=Path(spef) if spef else None,
                      propagated=True if propagated_clock else None, do_power=False, design=design,
                      wire_load=wire_load)
    name, t = next(iter(res.timing.items()))

    def ns(v: float | None) -> float | None:
        return None if v is None or not math.isfinite(v) else v * 1e9

    s = t.summary()
    return StaResult(
        corner=name, setup_ws_ns=ns(s["setup_ws"]), setup_tns_ns=s["setup_tns"] * 1e9,
        hold_ws_ns=ns(s["hold_ws"]), hold_tns_ns=s["hold_tns"] * 1e9, endpoints=s["endpoints"],
        report=t.report_checks("max", paths) + "\n" + t.report_checks("min", paths),
        warnings=list(dict.fromkeys(res.warnings + t.warnings)), timing=t,
    )
