"""Sign-off stage: multi-corner STA and activity-based power with the embedded engines.

Reads `verilog` + `sdc` (+ `spef`, + `saif`/`vcd` or the `ACTIVITY` file, + `islands` for a
per-instance corner), writes the `timing` (JSON) and `power` (JSON + per-instance NPZ) views,
`reports/checks.rpt` (paths, then the max slew / capacitance / fanout checks), `timing.rpt`
(OpenSTA `report_checks -fields {slew cap fanout}` layout), `reports/power.rpt`,
`reports/activity.rpt`, and ORFS-style metrics (`finish__timing__drv__*` included).
`run_signoff` is the same pipeline as a function (the CLI `vhflow sta` / `vhflow power` use it).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from flow.engines import power as pw
from flow.engines import sta
from flow.engines.model import FlatDesign
from flow.engines.parasitics import Parasitics, WireLoad
from flow.errors import ConfigError
from flow.metrics import signoff_orfs_metrics, timing_summary
from flow.stage import Stage, StageContext, StageResult, Variable
from flow.state import State


@dataclass
class SignoffResult:
    design: FlatDesign
    timing: dict[str, sta.TimingResult]
    power: dict[str, pw.PowerResult]
    activity: dict[str, pw.PinActivity]
    warnings: list[str]


def load_activity(path: Path, scope: str | None) -> dict[str, tuple[float, float]]:
    """Net name -> (density 1/s, duty) from a VCD or SAIF file."""
    from flow.formats.saif import read_saif
    from flow.formats.vcd import read_vcd

    name = path.name.lower()
    data = read_saif(path, scope) if ".saif" in name else read_vcd(path, scope)
    return {nm: (data.density(nm), data.duty(nm)) for nm in data.toggles}


def run_signoff(verilog: Sequence[Path], top: str | None, libs: Mapping[str, Any], sdc: Path | None, *,
                spef: Path | None = None, activity_file: Path | None = None, scope: str | None = None,
                input_activity: float = 0.1, global_activity: tuple[float, float] | None = None,
                propagated: bool | None = None, instance_corner: np.ndarray | None = None,
                level_shifter_delay: float = 0.0, do_power: bool = True,
                design: FlatDesign | None = None, wire_load: str = "default") -> SignoffResult:
    """STA (+ power) of one netlist at each corner in `libs` (name -> Library).

    With `instance_corner` (per instance, index into the *order* of `libs`), a single mixed
    analysis named "mixed" is run instead, each instance on its own library and supply.
    `design`, when given, is the already-read `verilog` (see `sta.load_design_async`).
    Without `spef`, nets are estimated as OpenSTA 3.1 does: `wire_load` "default" uses the
    SDC's `set_wire_load_model` and otherwise no wire load (OpenSTA 3 ignores the Liberty
    `default_wire_load`), "library" the library's `default_wire_load`, a model name, or "none".
    """
    if design is None:
        design = sta.load_design(verilog, top)
    tc = sta.load_constraints(sdc, design, next(iter(libs.values()))) if sdc is not None else sta.TimingConstraints()
    warnings: list[str] = list(tc.warnings)
    par = None
    if spef is not None:
        from flow.formats.spef import read_spef

        par = Parasitics.from_spef(read_spef(spef), design)
        warnings += par.warnings
    ann = load_activity(activity_file, scope) if activity_file is not None else None

    def wire_parasitics(lib: Any) -> Parasitics | None:
        if par is not None or wire_load == "none":
            return par
        if wire_load == "default":
            if tc.wire_load_model is None:
                return None
            wl = WireLoad.from_library(lib, tc.wire_load_model)
        else:
            wl = WireLoad.from_library(lib, None if wire_load == "library" else wire_load)
        return Parasitics.from_wire_load(design, wl) if wl is not None else None

    runs: dict[str, tuple[Any, np.ndarray | None, list[str] | None]] = {}
    if instance_corner is not None:
        runs["mixed"] = (list(libs.values()), instance_corner, list(libs))
    else:
        for c, lib in libs.items():
            runs[c] = (lib, None, [c])
    timing, power, acts = {}, {}, {}
    for c, (lib, ic, sup) in runs.items():
        t = sta.analyze(design, lib, tc, parasitics=wire_parasitics(lib[0] if isinstance(lib, list) else lib),
                        instance_corner=ic,
                        level_shifter_delay=level_shifter_delay, propagated_clock=propagated)
        timing[c] = t
        if not do_power:
            continue
        if global_activity is not None:
            a = pw.sta_global_activity(design, t, *global_activity)
        elif acts:  # activity depends on functions and clocks, not on the corner: reuse it
            a = next(iter(acts.values()))
        else:
            a = pw.propagate_activity(design, t, lib, input_activity=input_activity, annotated=ann,
                                      origin="saif" if ".saif" in str(activity_file).lower() else "vcd")
        if ann is not None and global_activity is None:
            cnt = a.annotation_counts()
            hit = cnt.get("vcd", 0) + cnt.get("saif", 0)
            if hit == 0:
                raise ConfigError(f"activity file {activity_file}: none of its {len(ann)} signals name a pin, port "
                                  f"or net of {top or 'the design'} (wrong scope {scope!r}?)")
            warnings.append(f"activity: {hit} of {a.origin.size} pins annotated from {activity_file.name}")
        acts[c] = a
        power[c] = pw.analyze_power(design, t, a, supply_names=sup, instance_corner=ic)
    return SignoffResult(design, timing, power, acts, warnings)


def _view(state: State, name: str) -> Path | None:
    """A view's path or None (State's `in`/`get` raise for missing views)."""
    return state[name] if name in set(state) else None


def corner_library(plat: Any, corner: str) -> Any:
    """The engines' library for a platform corner: the Platform parses and merges it once."""
    return plat.liberty(corner)


def _fin(x: float) -> float | None:
    return round(x, 15) if math.isfinite(x) else None


class SignoffStage(Stage):
    id = "signoff"
    name = "Sign-off STA and power (embedded)"
    inputs = ("verilog", "sdc")
    outputs = ("timing", "power")
    config_vars = (
        Variable("ACTIVITY", Path | None, "VCD or SAIF file with switching activity for power.", None,
                 source="signoff"),
        Variable("ACTIVITY_SCOPE", str | None, "Instance path of the design inside the VCD/SAIF.", None,
                 source="signoff"),
        Variable("INPUT_ACTIVITY", float, "Default toggles per clock period on unannotated inputs.", 0.1,
                 source="signoff"),
        Variable("SIGNOFF_CORNERS", list[str] | None, "Corners to sign off; default all of the platform.",
                 None, source="signoff"),
        Variable("CLOCK_PROPAGATED", bool | None, "Force propagated (True) or ideal (False) clocks; "
                 "default as the SDC says.", None, source="signoff"),
        Variable("SIGNOFF_REPORT_PATHS", int, "Worst setup and hold paths per corner in timing.rpt.", 5,
                 source="signoff"),
    )

    def run(self, state: State, ctx: StageContext) -> StageResult:
        cfg = ctx.config
        plat = ctx.platform
        corners = list(cfg.get("SIGNOFF_CORNERS") or plat.corners)
        libs = {c: ctx.cached(("engine_liberty", c), lambda c=c: corner_library(plat, c)) for c in corners}
        act_file = cfg.get("ACTIVITY")
        for view in ("saif", "vcd"):
            if act_file is None and view in set(state):
                act_file = state[view]
        spef = _view(state, "spef")
        islands = _view(state, "islands")
        from flow.stages.floorplan import load_netlist  # placement engines: not for `vhflow sta`

        design = load_netlist(ctx, state)  # parsed once per run (cached), as the other stages do
        ic = None
        ls_delay = 0.0
        if islands is not None:
            doc = json.loads(Path(islands).read_text())
            ic, libs = _island_corners(doc, libs, plat, design)
            # inserted level-shifter cells are timed from their Liberty; otherwise the model delay
            if not doc.get("level_shifters_inserted"):
                ls_delay = float(plat.level_shifter.get("delay_ps", 0.0)) * 1e-12
        res = run_signoff([state["verilog"]], cfg.get("DESIGN_NAME"), libs, state["sdc"], spef=spef,
                          activity_file=act_file, scope=cfg.get("ACTIVITY_SCOPE"),
                          input_activity=cfg.get("INPUT_ACTIVITY", 0.1), propagated=cfg.get("CLOCK_PROPAGATED"),
                          instance_corner=ic, level_shifter_delay=ls_delay, design=design)
        rpt = ctx.path("reports/checks.rpt")
        lines = []
        for c, t in res.timing.items():
            lines += [f"==== corner {c}", t.report_checks("max", 5), t.report_checks("min", 5),
                      f"wns {t.setup_wns * 1e9 if math.isfinite(t.setup_wns) else 0:.4f}",
                      f"tns {t.setup_tns * 1e9:.4f}", *(f"Warning: {w}" for w in t.warnings), ""]
        for c, t in res.timing.items():
            lines += [f"==== corner {c}: design rules (report_check_types -max_slew -max_capacitance -max_fanout)",
                      t.design_rules().table(), "", t.design_rules().report(), ""]
        rpt.write_text("\n".join(lines))
        # timing.rpt: OpenSTA `report_checks -fields {slew cap fanout}` of the worst setup and hold
        # paths per corner
        from flow.engines.sta_report import report_checks

        n_paths = int(cfg.get("SIGNOFF_REPORT_PATHS", 5) or 5)
        ctx.path("timing.rpt").write_text("\n".join(f"==== corner {c}\n{report_checks(t, n_paths)}"
                                                    for c, t in res.timing.items()))
        plines = []
        for c, p in res.power.items():
            plines += [f"==== corner {c}", p.report_power(), res.activity[c].annotation_report(),
                       *(f"Warning: {w}" for w in p.warnings), ""]
        ctx.path("reports/power.rpt").write_text("\n".join(plines + [f"Warning: {w}" for w in res.warnings]))
        timing_path = ctx.path("timing.json")
        timing_path.write_text(sta.timing_json(res.timing))
        # per-endpoint slacks (s) for histograms: setup:<corner> / hold:<corner>
        np.savez_compressed(ctx.path("timing_endpoints.npz"),
                            **{f"{kind}:{c}": getattr(t, f"{kind}_slack") for c, t in res.timing.items()
                               for kind in ("setup", "hold")})
        # power view: the worst (highest total) corner is the headline, all corners inside
        worst = max(res.power, key=lambda c: res.power[c].totals()["total"])
        pres = res.power[worst]
        npz = ctx.path("power_instances.npz")
        doc = pres.to_json(npz.name)
        doc["corner"] = worst
        doc["corners"] = {c: {"groups": p.groups(), "total_w": p.totals()["total"], "per_supply": p.per_supply()}
                          for c, p in res.power.items()}
        np.savez_compressed(npz, inst_names=np.asarray(pres.inst_names), internal_w=pres.internal,
                            switching_w=pres.switching, leakage_w=pres.leakage, total_w=pres.total,
                            group=np.asarray(pres.group), supply=np.asarray(pres.supply))
        power_path = ctx.path("power.json")
        power_path.write_text(json.dumps(doc, indent=2))
        metrics: dict[str, Any] = {}
        ws = [t.setup_wns for t in res.timing.values()]
        hs = [t.hold_wns for t in res.timing.values()]
        metrics["timing__setup__ws"] = _fin(min(ws))
        metrics["timing__setup__tns"] = min(t.setup_tns for t in res.timing.values())
        metrics["timing__hold__ws"] = _fin(min(hs))
        metrics["timing__hold__tns"] = min(t.hold_tns for t in res.timing.values())
        for c, t in res.timing.items():
            metrics[f"timing__setup__ws__corner:{c}"] = _fin(t.setup_wns)
            metrics[f"timing__setup__tns__corner:{c}"] = t.setup_tns
            metrics[f"timing__hold__ws__corner:{c}"] = _fin(t.hold_wns)
            metrics[f"timing__hold__tns__corner:{c}"] = t.hold_tns
        # design-rule checks: worst corner (most violations, then worst slack) as ORFS reports
        drv = [t.design_rules().metrics() for t in res.timing.values()]
        for key in drv[0]:
            vals = [m[key] for m in drv if m[key] is not None]
            metrics[key] = (max(vals) if not key.endswith("_slack") else min(vals)) if vals else None
        tot = pres.totals()
        metrics["power__internal__total"] = tot["internal"]
        metrics["power__switching__total"] = tot["switching"]
        metrics["power__leakage__total"] = tot["leakage"]
        metrics["power__total"] = tot["total"]
        for c, p in res.power.items():
            metrics[f"power__total__corner:{c}"] = p.totals()["total"]
        metrics.update(_design_area(design, libs, state))
        # ORFS finish/constraints figures; globalroute__timing__*: the same STA, since the
        # embedded route stage's Steiner RC is a global-route-level estimate (no detailed route)
        metrics.update(signoff_orfs_metrics(res.timing))
        metrics.update(timing_summary("globalroute", res.timing))
        for w in res.warnings:
            ctx.log.warning("signoff: %s", w)
        return StageResult(views={"timing": timing_path, "power": power_path}, metrics=metrics)


def _design_area(design: FlatDesign, libs: dict[str, Any], state: State) -> dict[str, float]:
    """Cell area as OpenROAD's report_design_area gives it (µm²): the netlist's cells from
    Liberty plus the placed well taps, and its ratio to the core area."""
    cells = next(iter(libs.values())).get("cells", {}) if libs and isinstance(next(iter(libs.values())), dict) else {}
    if not cells:
        return {}
    area = sum(float(cells.get(c, {}).get("area", 0.0)) for c in design.inst_cell)
    if "placement" in set(state):
        with np.load(state["placement"]) as fp:  # taps are placed, not in the netlist
            if "tap_w" in fp.files:
                area += float(np.sum(np.asarray(fp["tap_w"], float) * np.asarray(fp["tap_h"], float)))
    out = {"design__instance__area": round(area * 1e12, 4)}
    core = state.metrics.get("floorplan__design__core__area")
    if core:
        out["design__instance__utilization"] = round(area * 1e12 / float(core), 6)
    return out


def _island_corners(doc: dict, libs: dict[str, Any], plat: Any, design: FlatDesign):
    """Per-instance corner indices from the FINE-VH `islands` JSON ({"instances": {name: island},
    "rails": {island: corner}}); libraries for every rail corner are added."""
    rails: dict[str, str] = {str(k): str(v) for k, v in doc.get("rails", {}).items()}
    inst_island: dict[str, Any] = doc.get("instances", doc.get("island_of", {}))
    for c in set(rails.values()):
        if c not in libs:
            libs[c] = corner_library(plat, c)
    order = list(libs)
    default = order.index(plat.default_corner) if plat.default_corner in order else 0
    ic = np.full(len(design.inst_names), default, dtype=np.int64)
    for k, nm in enumerate(design.inst_names):
        isl = inst_island.get(nm)
        if isl is not None and str(isl) in rails:
            ic[k] = order.index(rails[str(isl)])
    return ic, libs
