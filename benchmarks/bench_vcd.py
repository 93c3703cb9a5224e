"""VCD reading speed (MB/s): a synthetic dump of 2,000 scalar and 200 8-bit vector signals with
random toggles, ~100 MB, read with `flow.formats.vcd.read_vcd`. Target: >= 50 MB/s."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from flow.formats.vcd import read_vcd


def _code(i: int) -> str:
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 94)
        s += chr(33 + r)
    return s


def make_vcd(path: Path, target_mb: float = 100.0, n_scalar: int = 2000, n_vec: int = 200, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    codes = [_code(i) for i in range(n_scalar + n_vec)]
    with open(path, "w") as fh:
        fh.write("$timescale 1ps $end\n$scope module tb $end\n$scope module dut $end\n")
        for i in range(n_scalar):
            fh.write(f"$var wire 1 {codes[i]} s{i} $end\n")
        for j in range(n_vec):
            fh.write(f"$var wire 8 {codes[n_scalar + j]} v{j} [7:0] $end\n")
        fh.write("$upscope $end\n$upscope $end\n$enddefinitions $end\n#0\n$dumpvars\n")
        for i in range(n_scalar):
            fh.write(f"0{codes[i]}\n")
        for j in range(n_vec):
            fh.write(f"b0 {codes[n_scalar + j]}\n")
        fh.write("$end\n")
        t = 0
        state = np.zeros(n_scalar, dtype=np.int8)
        while fh.tell() < target_mb * 1e6:
            t += 1000
            lines = [f"#{t}"]
            ch = rng.random(n_scalar) < 0.2
            state[ch] ^= 1
            lines += [f"{state[i]}{codes[i]}" for i in np.flatnonzero(ch)]
            for j in np.flatnonzero(rng.random(n_vec) < 0.2):
                lines.append(f"b{int(rng.integers(0, 256)):b} {codes[n_scalar + j]}")
            fh.write("\n".join(lines) + "\n")


def main() -> None:
    mb = float(sys.argv[1]) if len(sys.argv) > 1 else 100.0
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "bench.vcd"
        make_vcd(p, mb)
        size = p.stat().st_size / 1e6
        times, cpus = [], []
        for _ in range(3):  # the first call also loads the compiled scanner from numba's cache
            t0, c0 = time.perf_counter(), time.process_time()
            a = read_vcd(p, "tb/dut")
            times.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
        best = min(range(1, 3), key=lambda k: times[k])
        print(f"VCD {size:.1f} MB, {len(a.toggles)} bits, {sum(a.toggles.values())} toggles: "
              f"first read {times[0]:.2f} s -> {size / times[0]:.1f} MB/s; best of the next two "
              f"{times[best]:.2f} s wall, {cpus[best]:.2f} s CPU -> {size / times[best]:.1f} MB/s wall, "
              f"{size / cpus[best]:.1f} MB/s CPU (target >= 50 MB/s)")


if __name__ == "__main__":
    main()
