"""ConvNet workload → accelerator activity, as a plugin.

* `vhflow convnet trace RUN_DIR --out DIR`: run a ConvNet on the run's synthesised `mac_array`
  (gate-level, real operands), write `DIR/trace.saif` + `DIR/trace.json`, and the energy per
  inference at each precision. Then `vhflow run designs/mac_array/config.toml --set
  ACTIVITY=DIR/trace.saif --set ACTIVITY_SCOPE=mac_array --set CONVNET_TRACE=DIR/trace.json`
  signs off power (and temperature) for that ConvNet; FINE-VH takes the same trace with
  `--set FINEVH_TRACE=DIR/trace.json`.
* The other `vhflow convnet` commands (pq, east, adaptive, export) come from `convnet_opt.cli`.
* With `CONVNET_TRACE` set: metrics `convnet__inference__energy_j` (sign-off power × inference
  time), `convnet__inference__cycles`, `convnet__inference__macs`, and a report section.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Annotated

import typer

from flow.errors import ConfigError
from flow.plugin_manager import hookimpl
from flow.report.sections import ReportSection
from flow.stage import Variable


@hookimpl
def vhflow_config_variables() -> list[Variable]:
    return [Variable("CONVNET_TRACE", Path | None, "trace.json written by `vhflow convnet trace` for the "
                     "workload whose SAIF is ACTIVITY: adds energy per inference to metrics and report.",
                     None, source="convnet_activity")]


def _bits_text(bits: int | dict | None) -> str:
    """`8-bit`, or the per-layer widths of a mixed-precision point (`8/4/4/2`)."""
    if isinstance(bits, dict):
        return "/".join(str(b) for b in bits.values()) + " bits per layer"
    return f"{bits}-bit"


def _trace_doc(run_dir: Path) -> dict | None:
    try:
        cfg = json.loads((Path(run_dir) / "config.resolved.json").read_text())
    except (OSError, ValueError):
        return None
    path = (cfg.get("variables", {}).get("CONVNET_TRACE") or {}).get("value")
    if not path:
        return None
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"CONVNET_TRACE {path}: {exc}") from None


def _run_power(run_dir: Path) -> float | None:
    try:
        from flow.metrics import lookup

        return float(lookup(json.loads((Path(run_dir) / "metrics.json").read_text()), "power__total"))
    except (OSError, ValueError, TypeError):
        return None


@hookimpl
def vhflow_metrics(state, run_dir) -> dict[str, float]:
    doc = _trace_doc(run_dir)
    if doc is None:
        return {}
    images = max(int(doc.get("images", 1)), 1)
    out = {"convnet__inference__cycles": doc["cycles"] / images, "convnet__inference__macs": doc["macs"] / images}
    power = state.metrics.get("power__total")
    if power is not None:
        out["convnet__inference__energy_j"] = float(power) * doc["inference_time_s"] / images
    return out


@hookimpl
def vhflow_report_sections(state, run_dir, config) -> list[ReportSection]:
    doc = _trace_doc(run_dir)
    if doc is None:
        return []
    images = max(int(doc.get("images", 1)), 1)
    energy = {x["layer"]: x for x in doc.get("layer_energy", [])}
    rows = "".join(
        f"<tr><td>{html.escape(ly['name'])}</td><td>{ly['kind']}</td><td>{ly['bits']}</td><td>{ly['macs'] // images}</td>"
        f"<td>{ly['cycles'] / images:.0f}</td><td>{ly['utilisation']:.2f}</td><td>{ly['weight_zero_fraction']:.2f}</td>"
        f"<td>{ly['act_zero_fraction']:.2f}</td><td>{ly['toggle_w']:.3f}</td><td>{ly['toggle_a']:.3f}</td>"
        f"<td>{ly['simulated_tiles']}/{ly['tiles']}</td>"
        f"<td>{energy[ly['name']]['power_w'] * 1e3:.3f}</td><td>{energy[ly['name']]['energy_j'] / images * 1e9:.3f}</td></tr>"
        if ly["name"] in energy else
        f"<tr><td>{html.escape(ly['name'])}</td><td>{ly['kind']}</td><td>{ly['bits']}</td><td>{ly['macs'] // images}</td>"
        f"<td>{ly['cycles'] / images:.0f}</td><td>{ly['utilisation']:.2f}</td><td>{ly['weight_zero_fraction']:.2f}</td>"
        f"<td>{ly['act_zero_fraction']:.2f}</td><td>{ly['toggle_w']:.3f}</td><td>{ly['toggle_a']:.3f}</td>"
        f"<td>{ly['simulated_tiles']}/{ly['tiles']}</td><td>–</td><td>–</td></tr>"
        for ly in doc["layers"])
    power = state.metrics.get("power__total")
    signoff = (f"<p>Sign-off power with this activity: {float(power) * 1e3:.3f} mW → "
               f"{float(power) * doc['inference_time_s'] / images * 1e9:.3f} nJ per inference "
               f"({doc['cycles'] / images:.0f} cycles at {doc['clock_period_s'] * 1e9:.2f} ns).</p>") if power else ""
    pts = doc.get("operating_points", [])
    prow = "".join(f"<tr><td>{html.escape(p['label'])}</td><td>{html.escape(_bits_text(p.get('bits')))}</td>"
                   f"<td>{p['flash_bytes'] if p.get('flash_bytes') else '–'}</td><td>{p['accuracy'] * 100:.1f}</td>"
                   f"<td>{p['cycles_per_inference']:.0f}</td>"
                   f"<td>{p.get('energy_per_inference_j', float('nan')) * 1e9:.3f}</td></tr>" for p in pts)
    ptable = ("<h3>Energy per inference across operating points</h3><table><tr><th>point</th><th>bits</th><th>flash B</th><th>accuracy %</th>"
              f"<th>cycles</th><th>energy nJ</th></tr>{prow}</table>") if pts else ""
    body = (f"<p>{html.escape(str(doc.get('model')))} on {html.escape(str(doc.get('dataset')))}, {images} image(s), "
            f"{html.escape(_bits_text(doc.get('bits')))} on a {doc['mac_array']['rows']}×{doc['mac_array']['cols']} mac_array; toggles from "
            "gate-level simulation of the synthesised netlist on the layer's real quantised operands "
            "(convnet_opt/trace.py; tiles sampled as shown, counts scaled). Per-layer power uses the platform's "
            f"default corner with that layer's toggles.</p>{signoff}"
            "<table><tr><th>layer</th><th>kind</th><th>bits</th><th>MACs</th><th>cycles</th><th>PE use</th>"
            "<th>w zeros</th><th>a zeros</th><th>w toggle</th><th>a toggle</th><th>tiles sim.</th><th>mW</th>"
            f"<th>nJ</th></tr>{rows}</table>{ptable}")
    return [ReportSection("ConvNet workload on the accelerator", body, order=45, source="convnet_activity")]


def trace_cmd(
    run_dir: Annotated[Path, typer.Argument(help="A run of designs/mac_array (synthesis finished).")],
    out: Annotated[Path, typer.Option(help="Output directory for trace.saif / trace.json.")] = Path("runs/convnet/trace"),
    model: Annotated[str, typer.Option(help="lenet5, resnet8 or dscnn.")] = "lenet5",
    dataset: Annotated[str, typer.Option(help="digits (bundled) or mnist.")] = "digits",
    data_path: Annotated[Path | None, typer.Option(help="Dataset directory (mnist).")] = None,
    weights: Annotated[Path | None, typer.Option(help="state_dict (.pt) of the model; else trained briefly.")] = None,
    bits: Annotated[list[int] | None, typer.Option(help="Precision(s) to trace: 8, 4, 2 (repeatable).")] = None,
    images: Annotated[int, typer.Option(help="Images per traced batch.")] = 2,
    max_tiles: Annotated[int, typer.Option(help="Tiles simulated per layer (sampled beyond).")] = 48,
    epochs: Annotated[int, typer.Option(help="Training epochs when no --weights.")] = 3,
    seed: Annotated[int, typer.Option(help="Seed for training and tile sampling.")] = 0,
    energy: Annotated[bool, typer.Option(help="Compute power and energy per layer.")] = True,
    checkpoint: Annotated[list[Path] | None, typer.Option(
        help="A model saved by `vhflow convnet pq` (models/*.pt), traced at its per-layer precisions "
             "(rounded up to 2/4/8 bits); repeatable. Without --bits, only checkpoints are traced.")] = None,
) -> None:
    """Trace a ConvNet inference on the run's mac_array: SAIF + per-layer table + energy."""
    from plugins.convnet_activity.trace_cmd import run_trace

    if images < 1 or max_tiles < 1:
        raise ConfigError("--images and --max-tiles must be at least 1")
    doc = run_trace(run_dir, out, model_name=model, dataset=dataset, data_path=data_path, weights=weights,
                    bits=bits or (None if not checkpoint else []), images=images, max_tiles=max_tiles, epochs=epochs,
                    seed=seed, energy=energy, checkpoints=checkpoint or [], log=lambda s: typer.echo(s, err=True))
    typer.echo(f"wrote {out / 'trace.saif'} and {out / 'trace.json'} ({doc['cycles']} cycles)")
    typer.echo(f"sign off with: vhflow run CONFIG --set ACTIVITY={out / 'trace.saif'} --set ACTIVITY_SCOPE=mac_array "
               f"--set CONVNET_TRACE={out / 'trace.json'}")


@hookimpl
def vhflow_cli(app) -> None:
    try:
        from convnet_opt.cli import app as sub  # pq, east, adaptive, export
    except ImportError:
        sub = typer.Typer(help="ConvNet optimisation and workload traces.", no_args_is_help=True)
    sub.command("trace")(trace_cmd)
    app.add_typer(sub, name="convnet")
