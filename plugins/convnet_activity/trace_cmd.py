"""`vhflow convnet trace RUN_DIR`: a ConvNet inference on the run's synthesised mac_array →
per-layer trace, SAIF for sign-off, and energy per inference at each precision.

Power per layer uses the run's own netlist, SDC and platform corner with the layer's simulated
toggles as annotations (STA once, power per layer), so energy = Σ_layers P_layer · t_layer.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from convnet_opt.mac_array_driver import MacArrayShape
from convnet_opt.trace import TraceResult, layer_workloads, quantised_accuracy, simulate_workload, write_trace
from convnet_opt.train import build_model, train
from flow.errors import ConfigError


def load_run(run_dir: Path) -> dict[str, Any]:
    """What the trace needs from a finished run: config values, netlist, SDC, platform."""
    cfg_path = run_dir / "config.resolved.json"
    if not cfg_path.is_file():
        raise ConfigError(f"{run_dir}: not a run directory (no config.resolved.json)")
    cfg = json.loads(cfg_path.read_text())
    values = {k: v["value"] for k, v in cfg["variables"].items()}
    synth = sorted(run_dir.glob("*_synth/state_out.json"))
    if not synth:
        raise ConfigError(f"{run_dir}: synthesis has not finished in this run")
    views = json.loads(synth[-1].read_text())["views"]
    params = values.get("VERILOG_TOP_PARAMS") or {}
    if values.get("DESIGN_NAME") != "mac_array" and "ROWS" not in params:
        raise ConfigError(f"{run_dir}: the trace drives designs/mac_array (ROWS/COLS parameters); this run is "
                          f"{values.get('DESIGN_NAME')}")
    try:
        metrics = json.loads((run_dir / "metrics.json").read_text())
    except (OSError, ValueError):
        metrics = {}
    return {"values": values, "metrics": metrics, "platform": cfg["platform"], "netlist": run_dir / views["verilog"],
            "sdc": run_dir / views["sdc"], "run_dir": run_dir,
            "shape": MacArrayShape(int(params.get("ROWS", 4)), int(params.get("COLS", 4)), int(params.get("ACC_W", 24)))}


def load_data(dataset: str, data_path: Path | None) -> tuple[torch.Tensor, ...]:
    """(x_train, y_train, x_test, y_test) as tensors, from the loaders `vhflow convnet pq` uses,
    so a P&Q checkpoint sees the inputs it was trained on."""
    from convnet_opt import data

    if dataset == "digits":
        xtr, ytr, xte, yte = data.load_digits_split()
    elif dataset == "mnist":
        xtr, ytr = data.load_mnist(data_path, "train")
        xte, yte = data.load_mnist(data_path, "test")
    else:
        raise ConfigError(f"unknown dataset {dataset!r} (digits, mnist)")
    return (torch.from_numpy(np.ascontiguousarray(xtr)), torch.from_numpy(np.asarray(ytr, dtype=np.int64)),
            torch.from_numpy(np.ascontiguousarray(xte)), torch.from_numpy(np.asarray(yte, dtype=np.int64)))


def array_bits(bits: int) -> int:
    """The mac_array precision that computes a `bits`-wide operand: the next of 2, 4, 8 up."""
    for b in (2, 4, 8):
        if bits <= b:
            return b
    raise ConfigError(f"{bits}-bit layers do not fit mac_array (8 bits at most)")


def load_checkpoint(path: Path, input_shape: tuple[int, ...]) -> tuple[torch.nn.Module, dict[str, int], dict]:
    """A model saved by `vhflow convnet pq` (compacted, per-layer bits), its per-layer array
    precision, and its saved configuration."""
    from convnet_opt.prune_quantize import load_compressed

    model, cfg = load_compressed(path)
    if tuple(cfg["input_shape"]) != tuple(input_shape):
        raise ConfigError(f"{path}: trained on inputs {tuple(cfg['input_shape'])}, the dataset gives {tuple(input_shape)}")
    return model, {name: array_bits(int(b)) for name, b in cfg["bits"].items()}, cfg


def layer_energy(design, lib: dict, timing, result: TraceResult, period_s: float) -> list[dict]:
    """Power of each layer from its own toggles, on the accelerator's timing at the platform's
    default corner (analysed once by the caller for every operating point)."""
    from flow.engines import power as pw

    out = []
    for ly, tog in zip(result.layers, result.per_layer_toggles, strict=True):
        t_layer = ly.cycles * period_s
        ann = {n: (float(c) / t_layer, 0.5) for n, c in zip(design.net_names, tog, strict=True)}
        act = pw.propagate_activity(design, timing, lib, annotated=ann)
        p = pw.analyze_power(design, timing, act)
        total = float(p.total.sum())
        out.append({"layer": ly.name, "power_w": total, "time_s": t_layer, "energy_j": total * t_layer,
                    "leakage_w": float(p.leakage.sum())})
    return out


def island_activity(run_dir: Path, design, lib: dict, result: TraceResult) -> list[dict[str, float]] | None:
    """Per layer, each FINE-VH island's net toggles per cycle relative to its inference average
    (what `policy.read_trace` multiplies the island's sign-off energy per cycle by), or None
    when the run has no islands."""
    files = sorted(run_dir.glob("*_finevh_islands/islands.json")) or sorted(run_dir.glob("*_finevh_partition/islands.json"))
    if not files:
        return None
    of = json.loads(files[-1].read_text()).get("instances", {})
    names = sorted(set(of.values()))
    col = {n: k for k, n in enumerate(names)}
    net_island = np.full(len(design.net_names), -1, dtype=np.int64)
    for p in range(len(design.pin_name)):
        i = int(design.pin_inst[p])
        cell = lib["cells"].get(design.inst_cell[i], {})
        if cell.get("pins", {}).get(design.pin_name[p], {}).get("direction") == "output" and design.inst_names[i] in of:
            net_island[design.pin_net[p]] = col[of[design.inst_names[i]]]
    keep = net_island >= 0
    per_layer = np.array([np.bincount(net_island[keep], weights=t[keep], minlength=len(names)) for t in result.per_layer_toggles])
    cycles = np.array([ly.cycles for ly in result.layers], dtype=float)
    mean = per_layer.sum(axis=0) / cycles.sum()
    rate = per_layer / cycles[:, None]
    rel = np.divide(rate, mean, out=np.ones_like(rate), where=mean > 0)
    return [{n: round(float(rel[k, j]), 4) for j, n in enumerate(names)} for k in range(len(cycles))]


def run_trace(run_dir: Path, out: Path, *, model_name: str = "lenet5", dataset: str = "digits",
              data_path: Path | None = None, weights: Path | None = None, bits: list[int] | None = None,
              images: int = 2, max_tiles: int = 48, epochs: int = 3, seed: int = 0, clock: str = "clk",
              energy: bool = True, checkpoints: list[Path] | None = None, log=print) -> dict[str, Any]:
    """Trace each operating point — the model at each uniform precision in `bits`, then each P&Q
    checkpoint at its per-layer precisions — on the run's netlist. The first point's trace is
    written to `out` (the SAIF for sign-off), the others to sub-directories."""
    from flow.engines import sta
    from flow.engines.gatesim import GateSim
    from flow.formats.verilog import read_verilog
    from flow.platform import load_platform

    run = load_run(run_dir)
    period_s = float(run["values"].get("CLOCK_PERIOD") or run["metrics"].get("synth__clock__period_ns") or 0) * 1e-9
    if period_s <= 0:
        raise ConfigError(f"{run_dir}: no CLOCK_PERIOD in the run's configuration")
    xtr, ytr, xte, yte = load_data(dataset, data_path)
    try:
        model = build_model(model_name, tuple(xtr.shape[1:]), int(max(ytr.max(), yte.max())) + 1)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if weights is not None:
        try:
            model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
        except (OSError, RuntimeError) as exc:
            raise ConfigError(f"{weights}: cannot load model weights: {str(exc).splitlines()[0]}") from None
    elif bits != []:
        log(f"training {model_name} on {dataset} for {epochs} epochs (seed {seed})")
        train(model, (xtr, ytr), epochs, 2e-3, seed)
    for b in bits or []:
        if b not in (8, 4, 2):
            raise ConfigError(f"--bits {b}: mac_array computes in 8, 4 or 2 bits")
    # operating points: (label, model, per-layer bits or one width, directory name, extra fields)
    todo: list[tuple[str, torch.nn.Module, int | dict[str, int], str, dict[str, Any]]] = [
        (f"{b}-bit", model, b, f"bits{b}", {"bits": b}) for b in (bits if bits is not None else [8, 4, 2])]
    for ck in checkpoints or []:
        m, layer_bits, cfg = load_checkpoint(Path(ck), tuple(xtr.shape[1:]))
        todo.append((f"P&Q {Path(ck).stem}", m, layer_bits, f"pq_{Path(ck).stem}",
                     {"bits": layer_bits, "flash_bytes": cfg.get("flash"), "checkpoint": str(ck)}))
    if not todo:
        raise ConfigError("nothing to trace: give --bits and/or --checkpoint")
    design = read_verilog([run["netlist"]], "mac_array")
    lib = load_platform(run["platform"]).liberty()
    sim = GateSim(design, lib, clock)
    timing = sta.analyze(design, lib, sta.load_constraints(run["sdc"], design, lib)) if energy else None
    points = []
    for k, (label, net, b, sub, extra) in enumerate(todo):
        wls = layer_workloads(net, xte[:images], b)
        res = simulate_workload(wls, sim, run["shape"], max_tiles=max_tiles, seed=seed)
        acc = quantised_accuracy(net, xte, yte, b)
        pdir = out if k == 0 else out / sub
        meta = {"model": model_name, "dataset": dataset, "images": images, "bits": b, "accuracy": acc,
                "point": label, "mac_array": asdict(run["shape"]), "run_dir": str(run_dir), "max_tiles": max_tiles}
        point = {"label": label, **extra, "accuracy": acc, "cycles_per_inference": res.cycles / images,
                 "macs_per_inference": sum(ly.macs for ly in res.layers) / images, "trace": str(pdir / "trace.json")}
        if energy:
            le = layer_energy(design, lib, timing, res, period_s)
            e = sum(x["energy_j"] for x in le) / images
            meta["layer_energy"] = le
            meta["energy_per_inference_j"] = e
            point["energy_per_inference_j"] = e
        paths = write_trace(pdir, res, "mac_array", design.net_names, period_s, meta)
        isl = island_activity(run_dir, design, lib, res)
        if isl is not None:
            doc = json.loads(paths["json"].read_text())
            for ly, a in zip(doc["layers"], isl, strict=True):
                ly["island_activity"] = a
            paths["json"].write_text(json.dumps(doc, indent=1))
        points.append(point)
        log(f"{label}: accuracy {acc:.3f}, {res.cycles / images:.0f} cycles/inference"
            + (f", {point['energy_per_inference_j'] * 1e9:.2f} nJ/inference" if energy else ""))
    main = json.loads((out / "trace.json").read_text())
    main["operating_points"] = points
    if energy and sum(isinstance(p.get("bits"), int) for p in points) >= 1:
        # the Adaptive ConvNets energy model fitted to these uniform-precision traces, and how well
        # it predicts every traced point (`vhflow convnet adaptive --calibration trace.json`)
        from convnet_opt.energy import EnergyModel, calibrate_from_trace, trace_agreement

        em = calibrate_from_trace(EnergyModel.load("mac_array"), main)
        main["energy_model"] = {"mac_pj": em.mac_pj, "cycle_pj": em.cycle_pj, "rows": em.rows, "cols": em.cols,
                                "clock_hz": em.clock_hz, "agreement": trace_agreement(em, main)}
        for a in main["energy_model"]["agreement"]:
            log(f"energy model vs trace, {a['label']}: {a['model_pj'] / 1e3:.2f} nJ vs {a['trace_pj'] / 1e3:.2f} nJ "
                f"({100 * a['rel_error']:+.1f}%)")
    (out / "trace.json").write_text(json.dumps(main, indent=1))
    return main
