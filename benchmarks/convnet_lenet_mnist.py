"""LeNet-5 on MNIST (from ../shared/datasets or --data-path), tens of CPU minutes, over seeds:

* fp32 reference: Adam with cosine decay, early stopping on a 5,000-image validation split
  (test never looked at); mean ± spread (min–max) over the seeds.
* Prune-and-Quantize, default mode (whole front until validation accuracy is 10 pt below
  fp32): the headline is the smallest front point within 1 point of fp32 *on validation*,
  reported with its test accuracy; target >= 40x smaller flash than fp32. Baselines measured
  the same way: torch.ao int8 PTQ/QAT, uniform 8..2 bits, global magnitude + int8 with the best
  encoder. "Dominated" = some P&Q front point is as small and at least as accurate (validation).
* EAST (LZ4-shaped, 4-bit) vs global magnitude pruning (4-bit) with the encoder that suits it
  best, at equal flash budget and at equal accuracy.
* Adaptive ConvNets with one memory model (int8 weights read at every precision, signed
  activations), energy calibrated from a gate-level trace when --calibration is given: the largest
  saving within 3 points of all-8-bit (validation), test loss reported.

Writes JSON and plots under --out (default: a temporary directory) and prints the figures.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import numpy as np  # noqa: E402
import torch  # noqa: E402

from convnet_opt.adaptive import run_adaptive  # noqa: E402
from convnet_opt.baselines import magnitude_best_encoder_at_budget  # noqa: E402
from convnet_opt.data import load_mnist  # noqa: E402
from convnet_opt.east import EASTConfig, east_train, encoded_size  # noqa: E402
from convnet_opt.energy import EnergyModel, calibrate_from_trace  # noqa: E402
from convnet_opt.memory import Target, fp32_bytes  # noqa: E402
from convnet_opt.prune_quantize import PQConfig, run_pq  # noqa: E402
from convnet_opt.train import Data, attach_quant, build_model, evaluate, fit, train  # noqa: E402


def spread(values: list[float], scale: float = 1.0, fmt: str = ".2f") -> str:
    v = np.asarray(values, dtype=float) * scale
    return f"{v.mean():{fmt}} ± {(v.max() - v.min()) / 2:{fmt}} (min {v.min():{fmt}}, max {v.max():{fmt}}, n={len(v)})"


def run_seed(seed: int, args, out: Path, em: EnergyModel) -> dict:
    x, y = load_mnist(args.data_path, "train")
    xt, yt = load_mnist(args.data_path, "test")
    if args.limit:  # smoke runs only
        x, y = x[:args.limit], y[:args.limit]
    data = Data.split(x, y, xt, yt, val_fraction=5000 / 60000, seed=seed)
    rec: dict = {"seed": seed}
    torch.manual_seed(seed)
    base = build_model("lenet5", data.input_shape, 10)
    t0 = time.perf_counter()
    ref = fit(base, data, args.epochs, 2e-3, seed, patience=args.patience, batch_size=128)
    rec["fp32"] = {"bytes": fp32_bytes(base), "val_acc": ref["val_acc"], "test_acc": evaluate(base, xt, yt),
                   "best_epoch": ref["best_epoch"], "epochs_run": ref["epochs_run"]}
    print(f"[seed {seed}] fp32: {rec['fp32']['bytes']} B, val {100 * ref['val_acc']:.2f}%, test "
          f"{100 * rec['fp32']['test_acc']:.2f}% (best epoch {ref['best_epoch']} of {ref['epochs_run']}, "
          f"{time.perf_counter() - t0:.0f} s)", flush=True)

    if "pq" not in args.skip:
        t0 = time.perf_counter()
        target = Target.load("cortex_m4_small")
        cfg = PQConfig([], target.ram_bytes, "dense", eval_samples=1000, finetune_epochs=args.finetune, lr=5e-4,
                       seed=seed, baseline_sparsities=(0.5, 0.8, 0.9, 0.95), test_every_point=False)
        model = build_model("lenet5", data.input_shape, 10)
        model.load_state_dict(base.state_dict())
        res = run_pq(model, data, target, cfg=cfg, out=out / f"seed{seed}" / "pq", pretrain_epochs=0)
        fp, fpv, fpt = res.fp32_bytes, res.fp32_val_acc, res.fp32_test_acc
        good = [p for p in res.front if p.val_acc >= fpv - 0.01]
        best = min(good, key=lambda p: p.flash) if good else None
        dominated = {b.label: any(f.flash <= b.flash and f.val_acc >= b.val_acc for f in res.front)
                     for b in res.baselines}
        rec["pq"] = {"walk": len(res.walk), "front": [(p.flash, p.val_acc, p.test_acc) for p in res.front],
                     "best": None if best is None else {"flash": best.flash, "ratio": fp / best.flash,
                                                        "val_acc": best.val_acc, "test_acc": best.test_acc,
                                                        "test_loss": fpt - best.test_acc},
                     "baselines": {b.label: {"flash": b.flash, "val_acc": b.val_acc, "test_acc": b.test_acc,
                                             "encoder": b.encoder, "dominated": dominated[b.label]}
                                   for b in res.baselines},
                     "seconds": time.perf_counter() - t0}
        print(f"[seed {seed}] P&Q: {len(res.walk)} walk points, {len(res.front)} on the front "
              f"({res.stop_reason}), {time.perf_counter() - t0:.0f} s", flush=True)
        for p in res.front:
            print(f"    {p.flash:7d} B x{fp / p.flash:6.1f}  val {100 * p.val_acc:6.2f}%  test {100 * p.test_acc:6.2f}%")
        for b in res.baselines:
            print(f"    baseline {b.label:18s} {b.flash:7d} B x{fp / b.flash:5.1f} ({b.encoder:7s}) val "
                  f"{100 * b.val_acc:6.2f}% test {100 * b.test_acc:6.2f}%  dominated by the front: "
                  f"{dominated[b.label]}")
        if best is not None:
            print(f"    within 1 pt of fp32 on validation: {best.flash} B = {fp / best.flash:.1f}x, test "
                  f"{100 * best.test_acc:.2f}% (fp32 test {100 * fpt:.2f}%)", flush=True)

    if "east" not in args.skip and seed in args.east_seeds:
        t0 = time.perf_counter()
        probe = build_model("lenet5", data.input_shape, 10)
        probe.load_state_dict(base.state_dict())
        attach_quant(probe, 4)
        train(probe, data, 0.5, 5e-4, seed)  # 4-bit QAT start shared by both methods
        dense = encoded_size(probe, 4, "lz4")
        rows = []
        for frac in args.east_budgets:
            budget = int(frac * dense)
            east = east_train(copy.deepcopy(probe), data, EASTConfig(budget, "lz4", 4, epochs=args.east_epochs,
                                                                     lr=5e-4, seed=seed))
            mag, need = magnitude_best_encoder_at_budget(probe, data, budget, 4, args.east_epochs, 5e-4, seed)
            rows.append({"budget": budget, "east": east.__dict__ | {"history": None},
                         "magnitude": None if mag is None else mag.__dict__ | {"history": None},
                         "magnitude_sparsity_needed": need})
            print(f"[seed {seed}] EAST budget {budget} B ({frac:.0%} of dense 4-bit LZ4 {dense} B): EAST-lz4 "
                  f"{east.size_bytes} B at {100 * east.sparsity:.1f}% sparsity, val {100 * east.val_acc:.2f}% test "
                  f"{100 * east.test_acc:.2f}%", flush=True)
            if mag is not None:
                print(f"    magnitude + {mag.encoder} (best encoder; sparsity needed per encoder "
                      f"{ {k: (round(v, 3) if v is not None else None) for k, v in need.items()} }): {mag.size_bytes} B "
                      f"at {100 * mag.sparsity:.1f}%, val {100 * mag.val_acc:.2f}% test {100 * mag.test_acc:.2f}%")
        # equal accuracy: for each EAST point, the smallest magnitude point at least as accurate (val)
        mags = [r["magnitude"] for r in rows if r["magnitude"] is not None]
        for r in rows:
            e = r["east"]
            ok = [m for m in mags if m["val_acc"] >= e["val_acc"]]
            r["magnitude_size_at_equal_accuracy"] = min((m["size_bytes"] for m in ok), default=None)
            s = r["magnitude_size_at_equal_accuracy"]
            print(f"    equal accuracy (val >= {100 * e['val_acc']:.2f}%): EAST {e['size_bytes']} B vs magnitude "
                  + (f"{s} B ({100 * (1 - e['size_bytes'] / s):.0f}% smaller)" if s else "none of its points reaches it"))
        rec["east"] = {"dense_lz4_4bit": dense, "rows": rows, "seconds": time.perf_counter() - t0}

    if "adaptive" not in args.skip:
        t0 = time.perf_counter()
        model = build_model("lenet5", data.input_shape, 10)
        model.load_state_dict(base.state_dict())
        res = run_adaptive(model, data, em, pretrain_epochs=0, epochs=args.adaptive_epochs, lr=5e-4, seed=seed,
                           pop_size=16, n_gen=10, eval_samples=2000, out=out / f"seed{seed}" / "adaptive",
                           weight_storage="int8")
        b = res.best_under_3pt
        rec["adaptive"] = {"all8_val": res.all8.val_acc, "all8_test": res.all8.test_acc,
                           "all8_energy_pj": res.all8.energy_pj, "points": len(res.points),
                           "best": None if b is None else {"bits": b.bits, "saving": b.saving, "val_acc": b.val_acc,
                                                           "test_loss": b.acc_loss},
                           "switches": sum(s["switched"] for s in res.switch_trace),
                           "trace_energy_ratio": res.trace_energy_pj / res.trace_energy_all8_pj,
                           "seconds": time.perf_counter() - t0}
        print(f"[seed {seed}] Adaptive ({res.evaluations} assignments, {time.perf_counter() - t0:.0f} s): all-8-bit "
              f"{res.all8.energy_pj / 1e3:.1f} nJ, val {100 * res.all8.val_acc:.2f}% test {100 * res.all8.test_acc:.2f}%",
              flush=True)
        for p in res.points:
            print(f"    {p.energy_pj / 1e3:9.1f} nJ saving {100 * p.saving:5.1f}%  val {100 * p.val_acc:6.2f}%  "
                  f"test {100 * p.test_acc:6.2f}%  {p.bits}")
        if b is not None:
            print(f"    best within 3 pt (validation): saving {100 * b.saving:.1f}%, test loss {100 * b.acc_loss:.2f} pt")
    return rec


def summary(recs: list[dict]) -> bool:
    ok = True
    print("\n==== summary over seeds (mean ± half-range) ====")
    print(f"fp32 test accuracy: {spread([r['fp32']['test_acc'] for r in recs], 100)} %")
    print(f"fp32 val accuracy:  {spread([r['fp32']['val_acc'] for r in recs], 100)} %")
    pq = [r["pq"] for r in recs if "pq" in r]
    if pq:
        bests = [p["best"] for p in pq if p["best"]]
        if bests:
            ratios = [b["ratio"] for b in bests]
            print(f"P&Q smallest within 1 pt (val): compression {spread(ratios, 1, '.1f')} x; test loss "
                  f"{spread([b['test_loss'] for b in bests], 100)} pt")
            ok &= min(ratios) >= 40 and len(bests) == len(pq)
            print(f"  >= 40x at every seed: {'PASS' if min(ratios) >= 40 and len(bests) == len(pq) else 'FAIL'}")
        for label in pq[0]["baselines"]:
            fl = [p["baselines"][label]["flash"] for p in pq]
            te = [p["baselines"][label]["test_acc"] for p in pq]
            dom = sum(p["baselines"][label]["dominated"] for p in pq)
            print(f"  baseline {label:18s}: {np.mean(fl):8.0f} B, test {spread(te, 100)} %, dominated by the P&Q "
                  f"front at {dom}/{len(pq)} seeds")
    ad = [r["adaptive"] for r in recs if "adaptive" in r and r["adaptive"]["best"]]
    if ad:
        print(f"Adaptive best saving within 3 pt (val): {spread([a['best']['saving'] for a in ad], 100, '.1f')} %; "
              f"test loss {spread([a['best']['test_loss'] for a in ad], 100)} pt")
    return ok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-path", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--epochs", type=float, default=12.0, help="most fp32 epochs (early stopping on validation)")
    ap.add_argument("--patience", type=int, default=3)
    ap.add_argument("--finetune", type=float, default=0.05, help="epochs of QAT after each P&Q move")
    ap.add_argument("--east-seeds", type=int, nargs="*", default=[0])
    ap.add_argument("--east-budgets", type=float, nargs="+", default=[0.4, 0.25])
    ap.add_argument("--east-epochs", type=float, default=1.0)
    ap.add_argument("--adaptive-epochs", type=float, default=1.5)
    ap.add_argument("--calibration", type=Path, default=None,
                    help="trace.json of `vhflow convnet trace --bits 8 --bits 4 --bits 2` to calibrate the energy model")
    ap.add_argument("--limit", type=int, default=None, help="training images (smoke runs; default all)")
    ap.add_argument("--skip", nargs="*", default=[], choices=["pq", "east", "adaptive"])
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = args.out or Path(tempfile.mkdtemp(prefix="convnet_lenet_mnist_"))
    out.mkdir(parents=True, exist_ok=True)
    em = EnergyModel.load("mac_array")
    if args.calibration is not None:
        em = calibrate_from_trace(em, args.calibration)
    print(f"energy model: {em.source}; out {out}", flush=True)
    t_all = time.perf_counter()
    recs = []
    for seed in args.seeds:
        recs.append(run_seed(seed, args, out, em))
        (out / "summary.json").write_text(json.dumps(recs, indent=1, default=str))
    ok = summary(recs)
    print(f"\ntotal {time.perf_counter() - t_all:.0f} s; results in {out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
