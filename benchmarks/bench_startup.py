"""Start-up time of the `vhflow` command as a user sees it: whole processes, best of N.

Why: every command pays the start-up cost; `vhflow --help` must answer in <= 0.3 s (issue 15,
item 7), which only holds when plugins and commands import numpy/scipy/numba/torch lazily.
Compared in the same run with the bare interpreter (`python -c pass`), the floor no CLI can beat.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def best_of(cmd: list[str], n: int = 7) -> float:
    """Best wall time of n runs (the least disturbed by the rest of the machine)."""
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> int:
    exe = shutil.which("vhflow", path=str(Path(sys.executable).parent)) or "vhflow"
    floor = best_of([sys.executable, "-c", "pass"])
    ok = True
    for args, target in ((["--help"], 0.3), (["--version"], 0.3), (["run", "--help"], 0.5)):
        t = best_of([exe, *args])
        verdict = "OK" if t <= target else "MISSED"
        ok &= t <= target
        print(f"vhflow {' '.join(args):<12} {t * 1e3:7.0f} ms (interpreter alone {floor * 1e3:.0f} ms, "
              f"ratio {t / floor:.1f}x) -> {verdict} (target <= {target * 1e3:.0f} ms)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
