"""The Python API in one script: run gcd to sign-off, read ORFS metrics, then time the final
netlist again with `sta` on the typical corner.

    .venv/bin/python examples/api_gcd.py [--out runs]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import flow.api as vhflow

HERE = Path(__file__).resolve().parent
DESIGN = HERE.parent / "designs" / "gcd" / "config.toml"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs", help="where run directories go (default ./runs)")
    args = ap.parse_args()

    res = vhflow.run(DESIGN, tag="api", out=args.out, overrides={"CORE_UTILIZATION": 35})
    m = res.metrics  # metrics.json: ORFS names, ns / W / µm²
    print(f"{res.run_dir}: {res.status}")
    print(f"setup WS {m['finish__timing__setup__ws']:.3f} ns, power {m['finish__power__total'] * 1e3:.3f} mW, "
          f"area {m['synth__design__instance__area__stdcell']:.1f} µm²")

    views = json.loads(next(res.run_dir.glob("*_signoff/state_out.json")).read_text())["views"]
    from flow.platform import load_platform

    lib = load_platform("nangate45").corner("typical").liberty
    t = vhflow.sta(lib=lib, netlist=[res.run_dir / views["verilog"]], top="gcd", sdc=res.run_dir / views["sdc"],
                   spef=res.run_dir / views["spef"], propagated_clock=True)
    print(f"sta, typical corner: setup WS {t.setup_ws_ns:.3f} ns, hold WS {t.hold_ws_ns:.3f} ns "
          f"(the run at typical: {m['finish__timing__setup__ws__corner:typical']:.3f} ns, "
          f"{m['finish__timing__hold__ws__corner:typical']:.3f} ns)")
    print(t.report.splitlines()[0])


if __name__ == "__main__":
    main()
