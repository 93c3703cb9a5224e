"""Structural Verilog read/write speed on a ~100k-instance Nangate45 netlist (the bench_sta
block replicated), and the round trip through `write_verilog`. Target: a 100k-cell netlist
read in seconds. Usage: python benchmarks/bench_verilog.py [target_instances]"""

from __future__ import annotations

import gzip
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_sta import build_netlist  # noqa: E402

from flow.formats.verilog import read_verilog, write_verilog  # noqa: E402
from flow.platform import load_platform  # noqa: E402


def main() -> None:
    target = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    yosys = shutil.which("yosys")
    if yosys is None:
        sys.exit("needs Debian `yosys` to synthesise the block")
    plat = load_platform("nangate45")
    with tempfile.TemporaryDirectory() as td:
        d = Path(td)
        src = Path(plat.corner("typical").liberty[0])
        lib = d / "typ.lib"
        lib.write_bytes(gzip.decompress(src.read_bytes()) if src.suffix == ".gz" else src.read_bytes())
        n, _, _ = build_netlist(yosys, lib, d, target)
        size = (d / "top.v").stat().st_size / 1e6
        t0 = time.perf_counter()
        design = read_verilog([d / "top.v"], "top")
        t_read = time.perf_counter() - t0
        t0 = time.perf_counter()
        write_verilog(design, d / "out.v", "top")
        t_write = time.perf_counter() - t0
        t0 = time.perf_counter()
        back = read_verilog([d / "out.v"], "top")
        t_back = time.perf_counter() - t0
        assert back.inst_names == design.inst_names and len(back.pin_name) == len(design.pin_name)
        print(f"netlist: {n} instances, {len(design.pin_name)} pins, {size:.1f} MB")
        print(f"read {t_read:.2f} s ({n / t_read / 1e3:.0f} k instances/s), write {t_write:.2f} s, "
              f"read back {t_back:.2f} s")


if __name__ == "__main__":
    main()
