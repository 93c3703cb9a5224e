"""Liberty reading speed: our reader (flow/formats/liberty.py) vs the `liberty-parser` package on
the Nangate45 typical library (6.7 MB), measured in one run. Target: ≤ 1.5 s and ≥ 5× faster."""

from __future__ import annotations

import gzip
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flow.formats.liberty import read_liberty  # noqa: E402
from flow.platform import load_platform  # noqa: E402


def main() -> int:
    lib = load_platform("nangate45").corner("typical").liberty[0]
    with tempfile.TemporaryDirectory() as d:
        plain = Path(d) / "typical.lib"
        plain.write_bytes(gzip.decompress(lib.read_bytes()) if lib.suffix == ".gz" else lib.read_bytes())
        t_ours = float("inf")
        for _ in range(3):  # best of 3 on both sides: the machine is shared
            t0 = time.perf_counter()
            ours = read_liberty(plain)
            t_ours = min(t_ours, time.perf_counter() - t0)
        print(f"ours: {t_ours:.2f} s, {len(ours['cells'])} cells")
        try:
            from liberty.parser import parse_liberty
        except ImportError:
            print("liberty-parser not installed: no ratio")
            return 0
        t_ref = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            ref = parse_liberty(plain.read_text())
            t_ref = min(t_ref, time.perf_counter() - t0)
        n_ref = len(ref.get_groups("cell"))
        print(f"liberty-parser: {t_ref:.2f} s, {n_ref} cells")
        print(f"ratio: ours is {t_ref / t_ours:.1f}x faster (target >= 5x; ours <= 1.5 s: "
              f"{'OK' if t_ours <= 1.5 else 'MISSED'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
