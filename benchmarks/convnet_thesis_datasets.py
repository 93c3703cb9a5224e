"""The thesis' other datasets, where the user has them: CIFAR-10 (ResNet-8), Speech Commands
keyword spotting (DS-CNN, MFCC, the standard 12 classes) and Fer2013 (ResNet-8 on 48x48 grey).

No copy exists on our machines (`/work/shared/datasets` holds MNIST only), so without data the
script prints what to expect from the literature and exits 0; with `--data-path` (or the dataset
under VHFLOW_DATASETS / ../shared/datasets) it trains the fp32 reference (cosine decay, early
stopping on validation), walks the P&Q front, runs EAST (LZ4, 4-bit) and Adaptive ConvNets, and
prints the figures. Expected fp32 accuracy (literature, *not measured here*):

* CIFAR-10, ResNet-8 (MLPerf Tiny image classification reference): about 87 % top-1; the
  benchmark's quality target for int8 deployments is 85 %.
* Speech Commands, DS-CNN, 12 classes: 94.4 % for DS-CNN-S on v1 (Zhang et al., "Hello Edge",
  2017); the MLPerf Tiny keyword-spotting reference (v2) is about 92 %, quality target 90 %.
* Fer2013, 7 classes: human accuracy about 65 %; single CNNs 65-73 % (VGG-style, 73.3 %:
  Khaireddin & Chen 2021); a ResNet-8 this small should land in the low 60s.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import torch  # noqa: E402

from convnet_opt.cli import DatasetName, ModelName, load_data, make_model  # noqa: E402
from convnet_opt.data import dataset_dirs  # noqa: E402
from convnet_opt.memory import Target  # noqa: E402
from convnet_opt.prune_quantize import PQConfig, run_pq  # noqa: E402

SETUPS = {
    "cifar10": (ModelName.resnet8, DatasetName.cifar10, "cifar-10-batches-py", "about 87 % (MLPerf Tiny ResNet-8)"),
    "speech": (ModelName.dscnn, DatasetName.speech, "speech_commands", "about 92-94 % (DS-CNN, 12 classes)"),
    "fer2013": (ModelName.resnet8, DatasetName.fer2013, "fer2013", "65-73 % for single CNNs (human ~65 %)"),
}


def find(name: str, given: Path | None) -> Path | None:
    if given is not None:
        return given if given.exists() else None
    sub = SETUPS[name][2]
    for d in dataset_dirs():
        for cand in (d / sub, d / name):
            if cand.exists():
                return cand
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", choices=sorted(SETUPS))
    ap.add_argument("--data-path", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=Path("convnet_thesis_datasets"))
    ap.add_argument("--epochs", type=float, default=60, help="most fp32 epochs (early stopping on validation)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    model_name, ds, _, expected = SETUPS[args.dataset]
    path = find(args.dataset, args.data_path)
    if path is None:
        print(f"{args.dataset}: no data here (give --data-path); expected fp32 accuracy from the literature: "
              f"{expected}. Skipped.")
        return 0
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    data = load_data(ds, path, args.seed)
    net = make_model(model_name, data, args.seed)
    target = Target.load("cortex_m7")
    cfg = PQConfig([], target.ram_bytes, "dense", eval_samples=2000, finetune_epochs=0.05, seed=args.seed,
                   reference_epochs_patience=6, reference_batch=128, test_every_point=False)
    res = run_pq(net, data, target, cfg=cfg, out=args.out / args.dataset, model_name=model_name.value,
                 pretrain_epochs=args.epochs)
    print(f"{args.dataset} / {model_name.value}: fp32 {res.fp32_bytes} B, val {100 * res.fp32_val_acc:.2f}%, "
          f"test {100 * res.fp32_test_acc:.2f}% (literature: {expected}); {time.perf_counter() - t0:.0f} s")
    for p in res.front:
        print(f"  front {p.flash:8d} B x{res.fp32_bytes / p.flash:6.1f}  val {100 * p.val_acc:6.2f}%  "
              f"test {100 * p.test_acc:6.2f}%")
    for b in res.baselines:
        print(f"  baseline {b.label:18s} {b.flash:8d} B val {100 * b.val_acc:6.2f}% test {100 * b.test_acc:6.2f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
