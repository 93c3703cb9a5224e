"""`convnet` commands (typer): pq, east, adaptive, export. Registered into `vhflow` by the lead.

Errors are one line: bad options raise `typer.BadParameter` (exit 2); data and format problems
are `VhflowError`s, printed on stderr with their exit code (2 for bad input).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from flow.errors import VhflowError

if TYPE_CHECKING:  # torch loads when a command runs, not when `vhflow` starts
    import torch

app = typer.Typer(name="convnet", help="ConvNet compression for edge targets: Prune-and-Quantize, EAST, "
                  "Adaptive ConvNets, ONNX export.", no_args_is_help=True, add_completion=False,
                  pretty_exceptions_enable=False)

T = TypeVar("T")


class ModelName(StrEnum):
    lenet5 = "lenet5"
    resnet8 = "resnet8"
    dscnn = "dscnn"


class DatasetName(StrEnum):
    digits = "digits"
    mnist = "mnist"
    cifar10 = "cifar10"
    speech = "speech"
    fer2013 = "fer2013"


class EncoderName(StrEnum):
    dense = "dense"
    lz4 = "lz4"
    rle = "rle"
    csr = "csr"
    bitmap = "bitmap"
    huffman = "huffman"
    best = "best"  # pq only: per layer the smallest of dense/bitmap/CSR/Huffman/LZ4


ModelOpt = Annotated[ModelName, typer.Option("--model", help="Network to train and compress.")]
DatasetOpt = Annotated[DatasetName, typer.Option("--dataset", help="digits is bundled; others need files.")]
DataPathOpt = Annotated[Path | None, typer.Option("--data-path", help="Dataset directory (MNIST idx, CIFAR-10 "
                                                  "python/binary batches, Speech Commands folders, fer2013.csv).")]
TargetOpt = Annotated[str, typer.Option("--target", help="Target TOML (name in convnet_opt/targets or a path).")]
OutOpt = Annotated[Path, typer.Option("--out", help="Output directory (default under runs/convnet/, beside the flow runs).")]
EpochsOpt = Annotated[int, typer.Option("--epochs", min=0, help="Most epochs of fp32 training before compressing "
                                          "(cosine decay, early stopping on validation where the command says so).")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of data split, init and training.")]
LimitOpt = Annotated[int | None, typer.Option("--limit", min=1, help="Use at most this many training samples.")]
ThreadsOpt = Annotated[int | None, typer.Option("--threads", min=1, help="torch CPU threads.")]
ProgressOpt = Annotated[bool, typer.Option("--progress/--no-progress", help="Show training progress bars.")]


def _guard(fn: Callable[[], T]) -> T:
    """Run a command body; a VhflowError becomes one stderr line and its exit code."""
    try:
        return fn()
    except VhflowError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(exc.exit_code) from None


def load_data(dataset: DatasetName, data_path: Path | None, seed: int, limit: int | None = None):
    """A `train.Data` for the CLI's dataset names (validation split carved from training)."""
    import numpy as np

    from convnet_opt.data import load_cifar10, load_digits_split, load_mnist
    from convnet_opt.train import Data

    if dataset == DatasetName.digits:
        x, y, xt, yt = load_digits_split(seed)
    elif dataset == DatasetName.mnist:
        x, y = load_mnist(data_path, "train")
        xt, yt = load_mnist(data_path, "test")
    elif dataset == DatasetName.cifar10:
        if data_path is None:
            raise typer.BadParameter("cifar10 needs --data-path (the python batches directory)", param_hint="--data-path")
        x, y = load_cifar10(data_path, "train")
        xt, yt = load_cifar10(data_path, "test")
    elif dataset == DatasetName.fer2013:
        from convnet_opt.data import load_fer2013

        if data_path is None:
            raise typer.BadParameter("fer2013 needs --data-path (fer2013.csv or its directory)", param_hint="--data-path")
        x, y = load_fer2013(data_path, "train")
        xv, yv = load_fer2013(data_path, "validation")
        xt, yt = load_fer2013(data_path, "test")
        idx = np.random.default_rng(seed).permutation(len(x))[: limit or len(x)]
        return Data(x[idx], y[idx], xv, yv, xt, yt)
    else:
        from convnet_opt.speech import load_kws12

        if data_path is None:
            raise typer.BadParameter("speech needs --data-path (Speech Commands folders)", param_hint="--data-path")
        # the standard 12 classes (silence, unknown, 10 keywords), MFCC normalised with training stats
        x, y, norm = load_kws12(data_path, "train", seed)
        xv, yv, _ = load_kws12(data_path, "validation", seed, norm=norm)
        xt, yt, _ = load_kws12(data_path, "test", seed, norm=norm)
        idx = np.random.default_rng(seed).permutation(len(x))[: limit or len(x)]
        return Data(x[idx], y[idx], xv, yv, xt, yt)
    if limit is not None and limit < len(x):
        idx = np.random.default_rng(seed).permutation(len(x))[:limit]
        x, y = x[idx], y[idx]
    return Data.split(x, y, xt, yt, 0.1, seed)


def make_model(name: ModelName, data, seed: int) -> torch.nn.Module:
    import torch

    from convnet_opt.train import build_model

    torch.manual_seed(seed)
    model = build_model(name.value, data.input_shape, data.classes)
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, *data.input_shape))
    except RuntimeError as exc:
        raise typer.BadParameter(f"{name.value} does not fit input shape {data.input_shape}: {str(exc).splitlines()[0]}",
                                 param_hint="--model") from None
    return model


def _setup(threads: int | None, out: Path) -> None:
    if threads:
        import torch

        torch.set_num_threads(threads)
    out.mkdir(parents=True, exist_ok=True)


def _target(name: str):
    from convnet_opt.memory import Target

    try:
        return Target.load(name)
    except (FileNotFoundError, KeyError, VhflowError) as exc:
        raise typer.BadParameter(f"cannot load target {name!r}: {exc}", param_hint="--target") from None


@app.command("pq")
def pq_cmd(model: ModelOpt = ModelName.lenet5, dataset: DatasetOpt = DatasetName.digits, data_path: DataPathOpt = None,
           budget_kib: Annotated[list[float] | None, typer.Option(
               "--budget-kib", help="Flash budget(s) in KiB (repeat for several); default: walk the whole "
               "memory-accuracy front until accuracy collapses.")] = None,
           target: TargetOpt = "cortex_m4_small",
           encoder: Annotated[EncoderName, typer.Option("--encoder", help="Weight encoder counted in flash "
                                                        "(best: the smallest per layer).")]
           = EncoderName.dense,
           out: OutOpt = Path("runs/convnet/pq"), epochs: EpochsOpt = 30, seed: SeedOpt = 0,
           finetune: Annotated[float, typer.Option("--finetune", min=0, help="Epochs of fine-tuning per move.")] = 0.2,
           collapse: Annotated[float, typer.Option("--collapse", min=0.1, help="Without budgets: stop once "
                                                   "validation accuracy is this many points below fp32.")] = 10,
           limit: LimitOpt = None, threads: ThreadsOpt = None, progress: ProgressOpt = False) -> None:
    """Prune-and-Quantize: greedy walk (to the budgets, or the whole front), Pareto front on
    validation accuracy, MCU-size picks, baselines (uniform, magnitude + best encoder, torch.ao).
    Resumable: re-run with the same --out to continue an interrupted walk."""
    from convnet_opt.prune_quantize import PQConfig, run_pq

    _setup(threads, out)
    tgt = _target(target)
    if budget_kib and min(budget_kib) <= 0:
        raise typer.BadParameter("budgets must be positive", param_hint="--budget-kib")

    def body() -> None:
        data = load_data(dataset, data_path, seed, limit)
        net = make_model(model, data, seed)
        budgets = [int(b * 1024) for b in budget_kib] if budget_kib else []
        cfg = PQConfig(budgets, tgt.ram_bytes, encoder.value, finetune_epochs=finetune, seed=seed, progress=progress,
                       collapse=collapse / 100)
        res = run_pq(net, data, tgt, cfg=cfg, out=out, model_name=model.value, pretrain_epochs=epochs)
        typer.echo(f"fp32: {res.fp32_bytes} B, val acc {100 * res.fp32_val_acc:.2f}%, test acc "
                   f"{100 * res.fp32_test_acc:.2f}%; walk: {len(res.walk)} points ({res.stop_reason})")
        for p in res.front:
            typer.echo(f"front: {p.flash:8d} B flash {p.ram:7d} B RAM  val {100 * p.val_acc:6.2f}%  test "
                       f"{100 * p.test_acc:6.2f}%  x{res.fp32_bytes / p.flash:5.1f}  {p.label} {p.move}")
        for b in res.baselines:
            typer.echo(f"baseline: {b.flash:8d} B flash  val {100 * b.val_acc:6.2f}%  test {100 * b.test_acc:6.2f}%  "
                       f"x{res.fp32_bytes / b.flash:5.1f}  {b.label} ({b.encoder})")
        for k, label in res.mcu.items():
            typer.echo(f"MCU {k}: {label or 'nothing fits'}")
        for k, p in res.chosen.items():
            typer.echo(f"chosen {k}: {p.flash} B, acc {100 * p.test_acc:.2f}% -> {out / 'models' / f'budget_{k}.pt'}")
        if budgets and not res.chosen:
            typer.echo("no configuration met the budget(s)", err=True)
    _guard(body)


@app.command("east")
def east_cmd(model: ModelOpt = ModelName.lenet5, dataset: DatasetOpt = DatasetName.digits, data_path: DataPathOpt = None,
             budget_kib: Annotated[float | None, typer.Option("--budget-kib", min=0.01,
                                                              help="Encoded flash budget in KiB; default: target flash.")] = None,
             target: TargetOpt = "cortex_m4_small",
             encoder: Annotated[EncoderName, typer.Option("--encoder", help="Encoder the pruning is shaped for.")]
             = EncoderName.lz4,
             bits: Annotated[int, typer.Option("--bits", min=2, max=8, help="Weight bit width.")] = 4,
             out: OutOpt = Path("runs/convnet/east"), epochs: EpochsOpt = 5, seed: SeedOpt = 0,
             sparse_epochs: Annotated[float, typer.Option("--sparse-epochs", min=0.1,
                                                          help="Epochs of sparse training.")] = 4,
             limit: LimitOpt = None, threads: ThreadsOpt = None, progress: ProgressOpt = False) -> None:
    """Encoding-Aware Sparse Training vs magnitude pruning under an encoded-size budget."""
    from convnet_opt.east import EASTConfig, run_east

    if encoder is EncoderName.best:
        raise typer.BadParameter("EAST shapes its sparsity for one encoder; name it", param_hint="--encoder")
    _setup(threads, out)
    tgt = _target(target)

    def body() -> None:
        data = load_data(dataset, data_path, seed, limit)
        net = make_model(model, data, seed)
        budget = int(budget_kib * 1024) if budget_kib else tgt.flash_bytes
        cfg = EASTConfig(budget, encoder.value, bits, epochs=sparse_epochs, seed=seed, progress=progress)
        res = run_east(net, data, cfg, pretrain_epochs=epochs, out=out)
        typer.echo(f"dense {encoder.value} size {res.dense_size} B, budget {budget} B")
        for r in res.equal_sparsity:
            typer.echo(f"sparsity {100 * r['sparsity']:.0f}%: EAST {r['shaped']} B vs magnitude {r['magnitude']} B")
        runs = [(f"EAST {res.east.shape} + {res.east.encoder}", res.east),
                (f"magnitude {res.magnitude.shape} + {res.magnitude.encoder}", res.magnitude)]
        if res.magnitude_best is not None:
            runs.append((f"magnitude element + {res.magnitude_best.encoder} (best encoder)", res.magnitude_best))
        for label, r in runs:
            typer.echo(f"{label}: {r.size_bytes} B at {100 * r.sparsity:.1f}% sparsity, val acc {100 * r.val_acc:.2f}%, "
                       f"test acc {100 * r.test_acc:.2f}%")
    _guard(body)


@app.command("adaptive")
def adaptive_cmd(model: ModelOpt = ModelName.lenet5, dataset: DatasetOpt = DatasetName.digits,
                 data_path: DataPathOpt = None, out: OutOpt = Path("runs/convnet/adaptive"), epochs: EpochsOpt = 5,
                 seed: SeedOpt = 0,
                 switch_epochs: Annotated[float, typer.Option("--switch-epochs", min=0.1,
                                                              help="Epochs of random-precision training.")] = 5,
                 energy_model: Annotated[str, typer.Option("--energy-model", help="Energy TOML (name or path).")]
                 = "mac_array",
                 signoff: Annotated[Path | None, typer.Option("--signoff", help="Metrics JSON with power__total "
                                                              "to calibrate the per-MAC energy.")] = None,
                 calibration: Annotated[Path | None, typer.Option(
                     "--calibration", help="trace.json of `vhflow convnet trace --bits 8 --bits 4 --bits 2`: "
                     "array energy per MAC and per cycle at each precision from the gate-level trace.")] = None,
                 target: TargetOpt = "cortex_m4_small",
                 trace: Annotated[Path | None, typer.Option("--trace", help="JSON list of trigger values.")] = None,
                 trigger: Annotated[str, typer.Option("--trigger", help="battery (0..1) or energy (pJ budget).")]
                 = "battery",
                 pop: Annotated[int, typer.Option("--pop", min=4, help="NSGA-II population.")] = 16,
                 gens: Annotated[int, typer.Option("--gens", min=1, help="NSGA-II generations.")] = 10,
                 limit: LimitOpt = None, threads: ThreadsOpt = None, progress: ProgressOpt = False) -> None:
    """Adaptive ConvNets: NSGA-II precision front on shared weights + run-time switching."""
    from convnet_opt.adaptive import run_adaptive
    from convnet_opt.energy import EnergyModel, calibrate

    _setup(threads, out)
    if trigger not in ("battery", "energy"):
        raise typer.BadParameter("must be battery or energy", param_hint="--trigger")
    em = _guard(lambda: EnergyModel.load(energy_model))
    tgt = _guard(lambda: _target(target))
    _guard(lambda: em.check_storage(tgt.weight_storage))
    if calibration is not None:
        from convnet_opt.energy import calibrate_from_trace

        try:
            em = _guard(lambda: calibrate_from_trace(em, calibration))
        except (KeyError, ValueError, TypeError) as exc:
            raise typer.BadParameter(f"{calibration}: {exc}", param_hint="--calibration") from None
    if signoff is not None:
        try:
            em = calibrate(em, signoff)
        except (OSError, ValueError) as exc:
            raise typer.BadParameter(str(exc), param_hint="--signoff") from None
    values = None
    if trace is not None:
        try:
            values = [float(v) for v in json.loads(trace.read_text())]
        except (OSError, ValueError, TypeError) as exc:
            raise typer.BadParameter(f"{trace}: not a JSON list of numbers ({exc})", param_hint="--trace") from None

    def body() -> None:
        data = load_data(dataset, data_path, seed, limit)
        net = make_model(model, data, seed)
        res = run_adaptive(net, data, em, epochs, switch_epochs, seed=seed, pop_size=pop, n_gen=gens, trace=values,
                           trace_mode=trigger, out=out, progress=progress, weight_storage=tgt.weight_storage)
        typer.echo(f"energy model: {em.source}; weights stored as {tgt.weight_storage} ({tgt.name}); "
                   "activations signed as the PE computes")
        typer.echo(f"all 8-bit: {res.all8.energy_pj / 1e3:.2f} nJ, test acc {100 * res.all8.test_acc:.2f}%")
        for p in res.points:
            typer.echo(f"bits {p.bits}: {p.energy_pj / 1e3:8.2f} nJ  saving {100 * p.saving:5.1f}%  "
                       f"acc {100 * p.test_acc:6.2f}% (loss {100 * p.acc_loss:+.2f})")
        if res.best_under_3pt is not None:
            p = res.best_under_3pt
            typer.echo(f"best within 3 pt (validation): bits {p.bits} saving {100 * p.saving:.1f}% "
                       f"(test loss {100 * p.acc_loss:+.2f} pt)")
        sw = sum(s["switched"] for s in res.switch_trace)
        typer.echo(f"trace: {len(res.switch_trace)} steps, {sw} switches, energy "
                   f"{100 * res.trace_energy_pj / res.trace_energy_all8_pj:.1f}% of all-8-bit -> {out / 'switch_trace.json'}")
    _guard(body)


@app.command("export")
def export_cmd(checkpoint: Annotated[Path, typer.Option("--checkpoint", help="A model saved by `pq` (models/*.pt).")],
               out: OutOpt = Path("runs/convnet/export")) -> None:
    """Export a compressed model to ONNX (int8 initialisers + DequantizeLinear, memory table) and
    to C (the flash image as a header + its decoder)."""
    from convnet_opt.c_export import export_c
    from convnet_opt.onnx_export import export_onnx
    from convnet_opt.prune_quantize import load_compressed

    if not checkpoint.is_file():
        raise typer.BadParameter(f"{checkpoint} not found", param_hint="--checkpoint")
    out.mkdir(parents=True, exist_ok=True)

    def body() -> None:
        net, cfg = load_compressed(checkpoint)
        path = out / (checkpoint.stem + ".onnx")
        scales = cfg.get("act_scales") or None
        export_onnx(net, tuple(cfg["input_shape"]), cfg["bits"], path, cfg["encoder"],
                    meta={"config": cfg}, act_scales=scales)
        acts = (f"int8 activations (QDQ), test acc {100 * cfg['int8_act_test_acc']:.2f}%" if scales
                else "float activations (checkpoint without activation scales)")
        typer.echo(f"{path}: {cfg['flash']} B flash ({cfg['encoder']}), bits {cfg['bits']}, {acts}")
        c = export_c(net, cfg["bits"], cfg["encoder"], out / "c", name="vhflow_model", act_scales=scales)
        typer.echo(f"{c['header']}: {c['size']} B flash image + C decoder {c['decoder']}")
    _guard(body)


def main() -> None:  # pragma: no cover - `python -m convnet_opt.cli`
    app(prog_name="convnet")
    sys.exit(0)


if __name__ == "__main__":  # pragma: no cover
    main()
