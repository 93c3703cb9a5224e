"""Thermal sign-off plugin: the `thermal` stage, `vhflow thermal`, report section, metrics.

The stage bins the per-instance power of the `power` view over the placed die (`placement`),
solves the HotSpot-style package model with the leakage–temperature fixed point, and writes the
`thermal` view (JSON summary + NPZ maps) and `thermal__*` metrics.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer

from flow.errors import ConfigError
from flow.plugin_manager import hookimpl
from flow.report.sections import ReportSection
from flow.stage import Stage, StageContext, StageResult, Variable
from flow.state import State

# HotSpot's physical package parameters (THERMAL_PARAMS, names of flow.engines.thermal.ThermalConfig);
# the mode switches are CLI/.config only. Literal, so that loading the plugin imports no numpy.
HOTSPOT_NAMES = ("t_chip", "k_chip", "p_chip", "t_interface", "k_interface", "p_interface", "s_spreader",
                 "t_spreader", "k_spreader", "p_spreader", "s_sink", "t_sink", "k_sink", "p_sink", "r_convec",
                 "c_convec", "ambient")


class ThermalStage(Stage):
    id = "thermal"
    name = "Thermal sign-off (compact model)"
    inputs = ("placement", "power")
    outputs = ("thermal",)
    config_vars = (
        Variable("THERMAL_ANALYSIS", bool, "Run thermal sign-off after power sign-off.", True, source="thermal"),
        Variable("THERMAL_GRID", str, "Die grid of the thermal model, ROWSxCOLS.", "32x32", source="thermal"),
        Variable("THERMAL_AMBIENT_C", float, "Ambient temperature.", 45.0, unit="°C", source="thermal"),
        Variable("THERMAL_LIMIT_C", float, "Maximum allowed die temperature (sign-off check).", 85.0,
                 unit="°C", source="thermal"),
        Variable("THERMAL_PARAMS", dict[str, float],
                 "HotSpot parameters by their HotSpot names (t_chip, k_chip, r_convec, s_sink, ...).", {},
                 source="thermal"),
        Variable("THERMAL_TRANSIENT_STEPS", int, "Steps of the power-on transient (0: steady only).", 60,
                 source="thermal"),
        Variable("THERMAL_TRANSIENT_DT", float, "Time step of the power-on transient.", 1.0, unit="s",
                 source="thermal"),
        Variable("THERMAL_LEAKAGE_BETA", float | None,
                 "Leakage temperature coefficient in exp(β·ΔT); default: fitted from two Liberty corners "
                 "differing only in temperature, else 0.02.", None, unit="1/K", source="thermal"),
    )

    @classmethod
    def enabled(cls, config) -> bool:
        return bool(config.get("THERMAL_ANALYSIS", True))

    def run(self, state: State, ctx: StageContext) -> StageResult:
        import numpy as np

        from flow.engines.thermal import KELVIN
        from plugins.thermal_signoff.analysis import config_from, leakage_beta, limit_metrics, solve_placed

        cfg = ctx.config
        params = dict(cfg["THERMAL_PARAMS"])
        bad = set(params) - set(HOTSPOT_NAMES)
        if bad:
            raise ConfigError(f"THERMAL_PARAMS: unknown HotSpot parameter(s) {', '.join(sorted(bad))}")
        tcfg = config_from(cfg["THERMAL_GRID"], params, ambient_c=cfg["THERMAL_AMBIENT_C"])
        place = np.load(state["placement"])
        pdoc = json.loads(Path(state["power"]).read_text())
        pw = np.load(Path(state["power"]).parent / pdoc.get("instances_npz", "power_instances.npz"))
        index = {str(n): i for i, n in enumerate(place["inst_names"])}
        sel = np.array([index.get(str(n), -1) for n in pw["inst_names"]])
        if np.any(sel < 0):
            missing = int(np.sum(sel < 0))
            ctx.log.warning("thermal: %d powered instances have no placement (ignored)", missing)
        ok = sel >= 0
        x = place["x"][sel[ok]] + place["w"][sel[ok]] / 2
        y = place["y"][sel[ok]] + place["h"][sel[ok]] / 2
        dyn = (pw["internal_w"] + pw["switching_w"])[ok]
        leak = pw["leakage_w"][ok]
        corner = pdoc.get("corner") or ctx.platform.default_corner
        info = {c.name: (c.process, c.voltage, c.temperature) for c in ctx.platform.corners.values()}
        beta, how = leakage_beta(pdoc.get("corners", {}), info, 0.02)
        if cfg["THERMAL_LEAKAGE_BETA"] is not None:
            beta, how = float(cfg["THERMAL_LEAKAGE_BETA"]), "set by THERMAL_LEAKAGE_BETA"
        t_ref = info.get(corner, (None, None, 25.0))[2]
        die = tuple(float(v) for v in place["die"])
        res = solve_placed(x, y, dyn, leak, die, tcfg, t_ref, beta, cfg["THERMAL_TRANSIENT_STEPS"],
                           cfg["THERMAL_TRANSIENT_DT"])
        if res.runaway:
            ctx.log.error("thermal runaway: leakage–temperature loop diverges (β=%.4g /K)", beta)
        maps = ctx.path("thermal_maps.npz")
        extra = {} if res.step_times_s is None else {"transient_t_s": res.step_times_s,
                                                     "transient_max_c": res.step_max_k - KELVIN}
        np.savez_compressed(maps, temperature_c=res.die_map_k - KELVIN, power_w=res.power_map_w, die=np.array(die),
                            **extra)
        metrics = res.metrics()
        metrics.update(limit_metrics(metrics, float(cfg["THERMAL_LIMIT_C"])))
        doc = {
            "corner": corner, "grid": [tcfg.grid_rows, tcfg.grid_cols], "ambient_c": tcfg.ambient - KELVIN,
            "hotspot_params": {k: getattr(tcfg, k) for k in HOTSPOT_NAMES}, "leakage_beta_per_k": beta,
            "leakage_beta_source": how, "converged": res.converged, "runaway": res.runaway,
            "iterations": res.iterations, "heat_out_w": res.heat_out_w, "maps_npz": maps.name, **metrics,
        }
        out = ctx.path("thermal.json")
        out.write_text(json.dumps(doc, indent=2))
        ctx.log.info("thermal: max %.2f °C (β %.4g /K, %s)", metrics["thermal__max_c"], beta, how)
        return StageResult(views={"thermal": out}, metrics=metrics)


@hookimpl
def vhflow_add_stages(flow) -> None:
    if "signoff" in flow.ids():
        flow.insert_after("signoff", ThermalStage)
    else:
        flow.append(ThermalStage)


@hookimpl
def vhflow_report_sections(state, run_dir, config) -> list[ReportSection]:
    if "thermal" not in state:
        return []
    import numpy as np

    from flow.report import figures

    doc = json.loads(Path(state["thermal"]).read_text())
    maps = np.load(Path(state["thermal"]).parent / doc["maps_npz"])
    die = maps["die"] * 1e6
    fig, axes = figures.plt.subplots(1, 2, figsize=(11, 4.6), layout="constrained")
    for ax, data, title, unit, cmap in (
        (axes[0], maps["power_w"] * 1e3, "Power per grid cell", "mW", "magma"),
        (axes[1], maps["temperature_c"], "Steady temperature", "°C", "coolwarm"),
    ):
        im = ax.imshow(data, origin="lower", extent=(die[0], die[2], die[1], die[3]), cmap=cmap, aspect="equal")
        figures.colorbar(fig, im, ax, unit)  # plain numbers, no offset notation
        ax.set_xlabel("x (µm)")
        ax.set_ylabel("y (µm)")
        ax.set_title(title)
    img = figures.to_img(fig, "thermal maps")
    if "transient_t_s" in maps.files:
        fig, ax = figures.plt.subplots(figsize=(6.5, 3.2))
        ax.plot(maps["transient_t_s"], maps["transient_max_c"], color="#c62828")
        ax.axhline(float(doc["thermal__max_c"]), ls="--", color="gray", lw=0.8, label="steady state")
        ax.set_xlabel("time after power-on (s)")
        ax.set_ylabel("hottest cell (°C)")
        ax.set_title("Power-on transient of the hottest cell")
        ax.legend(fontsize=8)
        img += figures.to_img(fig, "thermal transient")
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(str(v))}</td></tr>" for k, v in (
        ("max / mean / min (°C)", f"{doc['thermal__max_c']:.3f} / {doc['thermal__mean_c']:.3f} / {doc['thermal__min_c']:.3f}"),
        ("limit (°C)", doc.get("thermal__limit_c")),
        ("hotspot (µm)", f"({doc['thermal__hotspot_x_um']:.1f}, {doc['thermal__hotspot_y_um']:.1f})"),
        ("max gradient (°C/mm)", doc["thermal__gradient_max_c_per_mm"]),
        ("power corner", doc["corner"]),
        ("leakage β (1/K)", f"{doc['leakage_beta_per_k']:.4g} — {doc['leakage_beta_source']}"),
        ("leakage loop", f"{doc['iterations']} iterations, converged={doc['converged']}, runaway={doc['runaway']}"),
        ("ambient (°C)", doc["ambient_c"]), ("grid", "×".join(map(str, doc["grid"]))),
        ("package (HotSpot parameters)", ", ".join(f"{k}={v:g}" for k, v in doc["hotspot_params"].items())),
    ))
    return [ReportSection("Thermal sign-off", img + f"<table>{rows}</table>", order=60, source="thermal_signoff")]


# `vhflow thermal`'s options, parsed by argparse: typer >= 0.25 builds a pydantic TypeAdapter for
# every typed option (≈ 0.15 s CPU with pydantic's import, a third of a 64×64 steady run), and a
# thermal run is meant to be a fraction of HotSpot's second (issue 15 item 7)
THERMAL_OPTIONS: tuple[tuple[tuple[str, ...], dict[str, Any]], ...] = (
    (("--flp",), {"type": Path, "required": True, "help": "HotSpot floorplan (.flp)."}),
    (("--ptrace",), {"type": Path, "required": True, "help": "HotSpot power trace (.ptrace)."}),
    (("--config",), {"type": Path, "help": "HotSpot .config file (HotSpot 6 defaults without)."}),
    (("--model",), {"help": "block or grid (default: grid when --grid is given, else the config's model_type, "
                            "else HotSpot's block)."}),
    (("--grid",), {"help": "Grid ROWSxCOLS (default: the config's grid_rows/cols, else 64x64)."}),
    (("--transient",), {"action": "store_true", "help": "Transient: one ptrace row per sampling interval."}),
    (("--sampling-intvl", "--dt"), {"dest": "dt", "type": float, "help": "Seconds per ptrace row (default: the "
                                    "config's sampling_intvl, else 3.333e-6)."}),
    (("--init-file",), {"type": Path, "help": "Initial temperatures (HotSpot -init_file, e.g. a previous "
                                              "--steady-file); default: init_temp."}),
    (("--ttrace",), {"type": Path, "help": "Write the transient trace here (HotSpot -o format, K); implies "
                                           "--transient."}),
    (("--steady-file",), {"type": Path, "help": "Write steady temperatures of every layer and inode (HotSpot "
                                                "-steady_file format, K)."}),
    (("--map-mode",), {"help": "Grid-to-block temperature: avg, min, max, center (default: the config's "
                                "grid_map_mode, else center)."}),
    (("--kelvin",), {"action": "store_true", "help": "Print kelvin instead of °C."}),
    (("--json",), {"dest": "as_json", "action": "store_true", "help": "JSON output."}),
)


def thermal_cmd(ctx: typer.Context) -> None:
    """HotSpot 6 on a block floorplan: steady state (mean power) and optionally the transient.

    Temperatures on stdout (text and --json alike) are °C, or K with --kelvin; the files written
    with --steady-file / --ttrace are kelvin, as HotSpot writes them. `vhflow thermal --help`
    lists the options."""
    import argparse

    parser = argparse.ArgumentParser(prog="vhflow thermal", allow_abbrev=False, description=(
        "HotSpot 6 on a block floorplan: steady state (mean power) and optionally the transient. Temperatures on "
        "stdout are °C, or K with --kelvin; --steady-file and --ttrace are written in kelvin, as HotSpot does."))
    for flags, kw in THERMAL_OPTIONS:
        parser.add_argument(*flags, **kw)
    thermal(**vars(parser.parse_args(ctx.args)))


def thermal(flp: Path, ptrace: Path, config: Path | None = None, model: str | None = None, grid: str | None = None,
            transient: bool = False, dt: float | None = None, init_file: Path | None = None,
            ttrace: Path | None = None, steady_file: Path | None = None, map_mode: str | None = None,
            kelvin: bool = False, as_json: bool = False) -> None:
    """`vhflow thermal` once its options are parsed (THERMAL_OPTIONS say what each one means)."""
    from flow.engines.thermal import KELVIN
    from flow.formats.hotspot import (
        read_config,
        read_flp,
        read_ptrace,
        read_ptrace_header,
        read_temperature_file,
        write_temperature_file,
        write_ttrace,
    )
    from plugins.thermal_signoff.analysis import config_from, solve_floorplan

    fp = read_flp(flp)
    names, powers = read_ptrace(ptrace, fp)
    overrides: dict[str, Any] = {}
    if model is not None:
        overrides["model_type"] = model
    elif grid is not None:  # asking for a grid size means the grid model
        overrides["model_type"] = "grid"
    if dt is not None:
        overrides["sampling_intvl"] = dt
    if map_mode is not None:
        overrides["grid_map_mode"] = map_mode
    cfg = config_from(grid, overrides, config_file=config)
    # HotSpot also takes -init_file / -steady_file from the .config (the command line wins)
    conf_files = {k: v for k, v in (read_config(config) if config else {}).items()
                  if k in ("init_file", "steady_file") and isinstance(v, str) and v != "(null)"}
    init_file = init_file or (Path(conf_files["init_file"]) if "init_file" in conf_files else None)
    steady_file = steady_file or (Path(conf_files["steady_file"]) if "steady_file" in conf_files else None)
    init = read_temperature_file(init_file, fp.names) if init_file is not None else None
    transient = transient or ttrace is not None
    res = solve_floorplan(fp, names, powers, cfg, transient=transient, init=init)
    if steady_file is not None:
        write_temperature_file(res.names, res.steady_layers_k, res.steady_inodes_k, steady_file)
    if ttrace is not None and res.trace_k is not None:
        order = [res.names.index(n) for n in names]  # HotSpot writes the trace in ptrace column order
        write_ttrace(read_ptrace_header(ptrace), res.trace_k[:, order], ttrace)  # and spelling
    unit, off = ("K", 0.0) if kelvin else ("°C", KELVIN)
    steady = res.block_k - off
    if as_json:
        out: dict[str, Any] = {
            "unit": unit, "model": res.model_type, "units": dict(zip(res.names, steady.round(4).tolist(), strict=True)),
            "max": round(float(steady.max()), 4), "power_w": res.power_w, "heat_out_w": res.heat_out_w,
        }
        if cfg.model_type == "grid":
            out["grid"] = [cfg.grid_rows, cfg.grid_cols]
            out["grid_map_mode"] = cfg.grid_map_mode
        if res.trace_k is not None and res.times_s is not None:
            out["sampling_intvl_s"] = cfg.sampling_intvl
            out["times_s"] = res.times_s.tolist()
            out["trace"] = (res.trace_k - off).round(4).tolist()
        typer.echo(json.dumps(out, indent=2, ensure_ascii=False))
        return
    typer.echo(f"# steady state, {res.model_type} model, {unit}")
    for n, t in zip(res.names, steady, strict=True):
        typer.echo(f"{n}\t{t:.2f}")
    if res.trace_k is not None and res.times_s is not None:
        typer.echo(f"# transient, every {cfg.sampling_intvl:g} s, {unit}")
        typer.echo("t_s\t" + "\t".join(res.names))
        for t_s, row in zip(res.times_s, res.trace_k - off, strict=True):
            typer.echo(f"{t_s:.6g}\t" + "\t".join(f"{v:.2f}" for v in row))


def thermal_dvfs_cmd(
    trace: Annotated[Path, typer.Option(help="Workload: ConvNet layer trace or task list (JSON).")],
    points: Annotated[Path, typer.Option(help="Operating points JSON (voltage, frequency_hz, dynamic_w, leakage_w).")],
    tmax: Annotated[float, typer.Option(help="Maximum die temperature (°C).")] = 85.0,
    duration: Annotated[float, typer.Option(help="Simulated horizon (s).")] = 5.0,
    dt: Annotated[float, typer.Option(help="Control interval (s).")] = 1e-3,
    die_mm: Annotated[float, typer.Option(help="Die side (mm), uniform power.")] = 5.0,
    beta: Annotated[float, typer.Option(help="Leakage temperature coefficient (1/K).")] = 0.02,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """Thermal-aware DVFS: static, reactive, proactive and optimal policies on a workload."""
    from rich.console import Console
    from rich.table import Table

    from plugins.thermal_signoff.dvfs import (
        ThermalDvfs,
        read_points,
        read_workload,
        run_policies,
        time_constant_s,
    )

    for name, value in (("--tmax", tmax), ("--duration", duration), ("--dt", dt), ("--die-mm", die_mm)):
        if not math.isfinite(value) or (name != "--tmax" and value <= 0):
            raise ConfigError(f"{name} {value:g}: must be a finite{' positive' if name != '--tmax' else ''} number")
    if not math.isfinite(beta) or beta < 0:
        raise ConfigError(f"--beta {beta:g}: must be a finite non-negative number")
    if duration / dt > 5e6:
        raise ConfigError(f"--duration/--dt = {duration / dt:.3g} control steps: at most 5e6")
    pts, t_ref = read_points(points)
    sim = ThermalDvfs(pts, read_workload(trace), tmax, die_w=die_mm * 1e-3, die_h=die_mm * 1e-3, dt=dt,
                      t_ref_c=t_ref, beta=beta)
    results = run_policies(sim, duration)
    tau = time_constant_s(sim)
    if as_json:
        typer.echo(json.dumps({"time_constant_s": tau, "horizon_s": duration,
                               "policies": [r.summary() for r in results]}, indent=2))
        return
    table = Table(title=f"thermal-aware DVFS, T_MAX {tmax:g} °C, horizon {duration:g} s (τ ≈ {tau:.2g} s)")
    for col in ("policy", "inferences/s", "energy/inference (mJ)", "peak (°C)", "time above T_MAX−2 (s)"):
        table.add_column(col, justify="right")
    for r in results:
        s = r.summary()
        table.add_row(r.policy, f"{s['inferences_per_s']:.2f}", f"{s['energy_per_inference_mj']:.3f}",
                      f"{s['peak_c']:.2f}", f"{s['time_above_threshold_s']:.3f}")
    Console().print(table)


@hookimpl
def vhflow_cli(app) -> None:
    app.command("thermal", add_help_option=False,  # argparse parses the options and --help
                context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(thermal_cmd)
    app.command("thermal-dvfs")(thermal_dvfs_cmd)
