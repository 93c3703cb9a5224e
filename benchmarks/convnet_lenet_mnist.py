"""LeNet-5 on MNIST (from ../shared/datasets or --data-path), minutes on a CPU:

* Prune-and-Quantize: the greedy walk's Pareto front; target: >= 40x smaller flash than fp32
  with <= 1 point of test accuracy lost. Baselines: uniform quantisation, magnitude + int8.
* EAST (LZ4, 4-bit weights) vs magnitude pruning: encoded size at equal sparsity, and sparsity
  and accuracy at the same encoded-size budget.
* Adaptive ConvNets: NSGA-II (energy, accuracy) front on one set of weights, energy saving vs
  all-8-bit, and a battery-driven switch trace.

Writes JSON and plots under --out (default: a temporary directory) and prints the figures.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import torch  # noqa: E402

from convnet_opt.adaptive import run_adaptive  # noqa: E402
from convnet_opt.data import load_mnist  # noqa: E402
from convnet_opt.east import EASTConfig, run_east  # noqa: E402
from convnet_opt.energy import EnergyModel  # noqa: E402
from convnet_opt.memory import Target, fp32_bytes  # noqa: E402
from convnet_opt.prune_quantize import PQConfig, run_pq  # noqa: E402
from convnet_opt.train import Data, build_model, evaluate, train  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-path", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs", type=float, default=4.0, help="float training epochs")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip", nargs="*", default=[], choices=["pq", "east", "adaptive"])
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = args.out or Path(tempfile.mkdtemp(prefix="convnet_lenet_mnist_"))
    t_all = time.perf_counter()

    x, y = load_mnist(args.data_path, "train")
    xt, yt = load_mnist(args.data_path, "test")
    data = Data.split(x, y, xt, yt, val_fraction=5000 / 60000, seed=args.seed)
    print(f"MNIST: {len(data.x_train)} train / {len(data.x_val)} val / {len(data.x_test)} test; out {out}")

    torch.manual_seed(args.seed)
    base = build_model("lenet5", data.input_shape, 10)
    t0 = time.perf_counter()
    train(base, data, args.epochs, 1e-3, args.seed)
    fp_acc = evaluate(base, data.x_test, data.y_test)
    fp = fp32_bytes(base)
    print(f"fp32 LeNet-5: {fp} B, test acc {100 * fp_acc:.2f}% ({time.perf_counter() - t0:.0f} s)")
    ok = True

    if "pq" not in args.skip:
        t0 = time.perf_counter()
        target = Target.load("cortex_m4_small")
        budgets = [fp // 10, fp // 20, fp // 40, fp // 60]
        cfg = PQConfig(budgets, target.ram_bytes, "dense", eval_samples=2000, finetune_epochs=0.1, lr=5e-4,
                       seed=args.seed)
        model = build_model("lenet5", data.input_shape, 10)
        model.load_state_dict(base.state_dict())
        res = run_pq(model, data, target, cfg=cfg, out=out / "pq", pretrain_epochs=0)
        print(f"\nPrune-and-Quantize ({len(res.walk)} points, {time.perf_counter() - t0:.0f} s), "
              f"budgets {list(budgets)} B flash, {target.ram_bytes} B RAM")
        print(f"{'flash B':>8} {'RAM B':>6} {'x fp32':>7} {'test %':>7} {'loss pt':>8}  bits / channels")
        for p in res.front:
            print(f"{p.flash:8d} {p.ram:6d} {fp / p.flash:7.1f} {100 * p.test_acc:7.2f} "
                  f"{100 * (fp_acc - p.test_acc):8.2f}  {list(p.bits.values())} {list(p.channels.values())}")
        print("baselines (distance below the front, points):")
        for b in res.baselines:
            print(f"  {b.label:18s} {b.flash:7d} B x{fp / b.flash:5.1f} {100 * b.test_acc:6.2f}% "
                  f"gap {100 * res.baseline_gap[b.label]:5.2f}")
        good = [p for p in res.walk if fp_acc - p.test_acc <= 0.01]
        best = min(good, key=lambda p: p.flash) if good else None
        if best is not None:
            ratio = fp / best.flash
            print(f"smallest configuration within 1 point: {best.flash} B = {ratio:.1f}x smaller than fp32, "
                  f"{100 * best.test_acc:.2f}% (target >= 40x): {'PASS' if ratio >= 40 else 'FAIL'}")
            ok &= ratio >= 40
        else:
            print("no configuration within 1 point of fp32: FAIL")
            ok = False

    if "east" not in args.skip:
        t0 = time.perf_counter()
        model = build_model("lenet5", data.input_shape, 10)
        model.load_state_dict(base.state_dict())
        from convnet_opt.east import encoded_size
        from convnet_opt.train import attach_quant

        probe = build_model("lenet5", data.input_shape, 10)
        probe.load_state_dict(base.state_dict())
        attach_quant(probe, 4)
        dense = encoded_size(probe, 4, "lz4")
        cfg = EASTConfig(int(0.3 * dense), "lz4", 4, epochs=2.0, rounds=16, lr=5e-4, seed=args.seed)
        res = run_east(model, data, cfg, pretrain_epochs=1.0, pretrain_lr=5e-4, out=out / "east")
        print(f"\nEAST, LZ4, 4-bit weights ({time.perf_counter() - t0:.0f} s): dense-4bit LZ4 image {res.dense_size} B, "
              f"QAT acc {100 * res.pretrained_test_acc:.2f}%, budget {res.budget_bytes} B")
        for r in res.equal_sparsity:
            print(f"  sparsity {100 * r['sparsity']:3.0f}%: EAST {r['shaped']:6d} B vs magnitude {r['magnitude']:6d} B "
                  f"({100 * (1 - r['shaped'] / r['magnitude']):.0f}% smaller)")
        for r in (res.east, res.magnitude):
            print(f"  {('EAST ' + r.shape):14s}: {r.size_bytes} B at {100 * r.sparsity:4.1f}% sparsity, "
                  f"test acc {100 * r.test_acc:.2f}%")
        ok &= all(r["shaped"] < r["magnitude"] for r in res.equal_sparsity)

    if "adaptive" not in args.skip:
        t0 = time.perf_counter()
        model = build_model("lenet5", data.input_shape, 10)
        model.load_state_dict(base.state_dict())
        em = EnergyModel.load("mac_array")
        res = run_adaptive(model, data, em, pretrain_epochs=0, epochs=2.0, lr=5e-4, seed=args.seed, pop_size=20,
                           n_gen=12, eval_samples=2000, out=out / "adaptive")
        print(f"\nAdaptive ConvNets ({time.perf_counter() - t0:.0f} s, {res.evaluations} assignments evaluated): "
              f"all 8-bit {res.all8.energy_pj / 1e3:.1f} nJ, {100 * res.all8.test_acc:.2f}%")
        print(f"{'energy nJ':>10} {'saving %':>9} {'test %':>7} {'loss pt':>8}  bits per layer")
        for p in res.points:
            print(f"{p.energy_pj / 1e3:10.1f} {100 * p.saving:9.1f} {100 * p.test_acc:7.2f} {100 * p.acc_loss:8.2f}  {p.bits}")
        within3 = [p for p in res.points if p.acc_loss < 0.03]
        if within3:
            b = max(within3, key=lambda p: p.saving)
            print(f"best saving with < 3 points lost: {100 * b.saving:.1f}% (original work: up to 35%)")
        sw = sum(s["switched"] for s in res.switch_trace)
        print(f"battery trace: {len(res.switch_trace)} steps, {sw} switches, "
              f"{100 * res.trace_energy_pj / res.trace_energy_all8_pj:.1f}% of the all-8-bit energy")
        ok &= len(res.points) >= 3

    print(f"\ntotal {time.perf_counter() - t_all:.0f} s; results in {out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
