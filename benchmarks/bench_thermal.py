"""Thermal speed as the user sees it: `vhflow thermal` and HotSpot 6's `hotspot` as whole
processes, same files, same run. Cases: grid steady state at 64×64 and 128×128 (target: ≥ 2×
faster than HotSpot), grid transients at 64×64 (target: ≥ 50× faster) at three sampling
intervals, on an EV6-like 12 mm floorplan with template.config's package. Prints CPU seconds
(user+sys of the child, best of N: the host is shared, so wall time is noisy and printed too),
the ratios, and the largest block difference between the two tools' outputs (the parity check of
each case; tests/thermal/test_hotspot_parity.py asserts it).

Runs as a user's machine does: with Python's bytecode cache (PYTHONDONTWRITEBYTECODE, set on CI
machines, would recompile every changed source on every run). `vhflow --version` is printed too:
the CLI's own start-up, part of every `vhflow thermal` figure.

    .venv/bin/python benchmarks/bench_thermal.py [-n 3] [--only steady|transient]

`--parity N [--seed S] [--kind K]` instead runs N generated stranger cases
(tests/thermal/hotspot_cases.py: floorplan kinds, sizes 1..20 mm, grids 16..256, package and
run options, file styles) through both tools and prints each one's largest differences; exit
status 1 when a steady block is 0.05 K or more off, or a transient step 0.1 K or more (the
contract is 0.5 K).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from flow.formats.hotspot import read_flp, read_temperature_file, write_flp, write_ptrace  # noqa: E402
from flow.reference_tools import reference_tool  # noqa: E402
from tests.thermal.test_hotspot_parity import TEMPLATE, ev6_like, power_trace  # noqa: E402

VHFLOW = str(Path(sys.executable).with_name("vhflow"))
USER_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
# (label, grid, sampling interval or None for steady only, trace rows, target ratio)
CASES = [("steady 64x64", 64, None, 1, 2.0), ("steady 128x128", 128, None, 1, 2.0),
         ("transient 64x64, 10 x 0.1 ms", 64, 1e-4, 10, 50.0), ("transient 64x64, 200 x 0.1 ms", 64, 1e-4, 200, 50.0),
         ("transient 64x64, 4 x 1 ms", 64, 1e-3, 4, 50.0),
         ("transient 64x64, 40 x 1 ms", 64, 1e-3, 40, 50.0),
         ("transient 64x64, 12 x 10 ms", 64, 1e-2, 12, 50.0)]  # 10 ms: template.config's interval


def timed(cmd: list[str]) -> tuple[float, float]:
    """(CPU s, wall s) of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=USER_ENV)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed: {proc.stdout[-800:]}{proc.stderr[-800:]}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall


def best_of(cmd: list[str], n: int) -> tuple[float, float]:
    runs = [timed(cmd) for _ in range(n)]
    return min(c for c, _ in runs), min(w for _, w in runs)


def ttrace(path: Path) -> np.ndarray:
    return np.array([ln.split() for ln in path.read_text().splitlines()[1:] if ln.strip()], dtype=float)


def parity(hotspot: str, n: int, seed: int, kind: str | None) -> int:
    """The stranger-case hunt: n generated cases from `seed` on, both tools, largest differences."""
    from tests.thermal.hotspot_cases import compare, random_case

    tmp = Path(tempfile.mkdtemp(prefix="bench_thermal_parity_"))
    worst_steady, worst_step, bad = 0.0, 0.0, 0
    for s in range(seed, seed + n):
        case = random_case(s, kind=kind)
        out = compare(case, tmp / f"case{s}", hotspot)
        step = float(out.step_k.max()) if out.step_k is not None else 0.0
        worst_steady, worst_step = max(worst_steady, out.steady_all_k), max(worst_step, step)
        flag = out.steady_all_k >= 0.05 or step >= 0.1
        bad += flag
        print(f"{'OFF' if flag else 'ok '} {case.describe()}: steady {out.steady_all_k:.3f} K"
              + (f", transient steps {step:.3f} K" if out.step_k is not None else "")
              + f" (HotSpot {out.hs_cpu_s:.2f} s CPU, rise {out.hotspot_rise_k:.1f} K)", flush=True)
    print(f"{n} cases: worst steady {worst_steady:.3f} K (any layer or inode), worst transient step {worst_step:.3f} K, "
          f"{bad} at or above 0.05 K steady / 0.1 K transient")
    return 1 if bad else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=3, help="runs per tool and case (best kept); HotSpot runs "
                                                    "longer than 10 s once")
    ap.add_argument("--only", choices=("steady", "transient"))
    ap.add_argument("--parity", type=int, metavar="N", help="run N generated stranger cases instead")
    ap.add_argument("--seed", type=int, default=0, help="first seed of --parity")
    ap.add_argument("--kind", help="floorplan kind of every --parity case (default: cycle ev6, slices, many, "
                                   "strips, dead; also scattered)")
    args = ap.parse_args()
    hotspot = reference_tool("hotspot")
    if hotspot is None:
        print("HotSpot 6 not built (make reference-tools): nothing to compare with")
        return 1
    if args.parity:
        return parity(str(hotspot), args.parity, args.seed, args.kind)
    tmp = Path(tempfile.mkdtemp(prefix="bench_thermal_"))
    fp = ev6_like()
    write_flp(fp, tmp / "ev6.flp")
    names = read_flp(tmp / "ev6.flp").names
    subprocess.run([sys.executable, "-m", "compileall", "-q", "flow", "plugins"], cwd=REPO, env=USER_ENV,
                   stdout=subprocess.DEVNULL, check=True)
    startup, _ = best_of([VHFLOW, "--version"], args.n)
    missed = 0
    for label, n, intvl, steps, target in CASES:
        if args.only and not label.startswith(args.only):
            continue
        tnames, rows = power_trace(fp, 40.0, steps, seed=3)
        write_ptrace(tnames, rows, tmp / "p.ptrace")
        conf = tmp / "hs.config"
        conf.write_text(TEMPLATE + "-model_type grid\n-grid_map_mode avg\n"
                        + (f"-sampling_intvl {intvl}\n" if intvl else ""))
        common = ["-c", str(conf), "-f", str(tmp / "ev6.flp"), "-p", str(tmp / "p.ptrace"),
                  "-grid_rows", str(n), "-grid_cols", str(n), "-steady_file", str(tmp / "hs.steady")]
        hs_cmd = [str(hotspot), *common, *(["-o", str(tmp / "hs.ttrace")] if intvl else [])]
        hs_cpu, hs_wall = timed(hs_cmd)
        if hs_cpu < 10.0 and args.n > 1:
            hs_cpu, hs_wall = (min(a, b) for a, b in zip((hs_cpu, hs_wall), best_of(hs_cmd, args.n - 1), strict=True))
        v_args = ["--flp", str(tmp / "ev6.flp"), "--ptrace", str(tmp / "p.ptrace"), "--config", str(conf),
                  "--grid", f"{n}x{n}", "--steady-file", str(tmp / "v.steady"),
                  *(["--ttrace", str(tmp / "v.ttrace")] if intvl else [])]
        timed([VHFLOW, "thermal", *v_args])  # warm-up: the bytecode cache, as a user's first run
        v_cpu, v_wall = best_of([VHFLOW, "thermal", *v_args], args.n)
        diff = np.abs(read_temperature_file(tmp / "v.steady", names)[0]
                      - read_temperature_file(tmp / "hs.steady", names)[0]).max()
        if intvl:
            diff = max(diff, float(np.abs(ttrace(tmp / "v.ttrace") - ttrace(tmp / "hs.ttrace")).max()))
        ratio = hs_cpu / v_cpu
        missed += ratio < target
        print(f"{label:30s} hotspot {hs_cpu:6.2f} s CPU ({hs_wall:6.2f} s wall)  vhflow thermal {v_cpu:5.2f} s CPU "
              f"({v_wall:5.2f} s wall)  ratio {ratio:5.1f}x CPU, {hs_wall / v_wall:5.1f}x wall "
              f"(target >= {target:g}x: {'OK' if ratio >= target else 'MISSED'})  |  max |dT| vs hotspot {diff:.3f} K",
              flush=True)
    print(f"vhflow --version: {startup:.2f} s CPU, the CLI's start-up inside every 'vhflow thermal' figure "
          f"(best of {args.n}; {'all targets met' if not missed else f'{missed} target(s) missed'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
