"""FINE-VH study: where does Vdd-hopping beat ideal chip-wide DVFS after every overhead?

Designs (synthesised here on sky130hd) × island granularity × rails × workload -> energy of
nominal / realistic DVFS / ideal DVFS / FINE-VH / ideal per-island, deadline misses, level
shifters, area overhead, and the verification status of FINE-VH's two modes (both re-timed by the
multi-voltage STA with the real level-shifter cells; see plugins/finevh/study.py). Writes
`<out>/finevh_study.json`, `<out>/finevh_study.md` (the table) and `<out>/finevh_study.png`.

    .venv/bin/python benchmarks/finevh_study.py [--out runs/finevh_study] [--quick]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DESIGNS = REPO / "designs"


def configs(quick: bool) -> list[dict]:
    mac = [DESIGNS / "mac_array/src/mac_pe.v", DESIGNS / "mac_array/src/mac_array.v"]
    out = [
        {"name": "dp_ctrl 16x16", "top": "dp_ctrl", "src": [DESIGNS / "dp_ctrl/src/dp_ctrl.v"],
         "params": {"LANES": 16, "W": 16, "CW": 16}, "ks": [2, 8, 64, 512]},
        {"name": "gcd", "top": "gcd", "src": [DESIGNS / "gcd/src/gcd.v"], "params": {}, "ks": [2, 8, 32]},
        {"name": "mac_array 2x2", "top": "mac_array", "src": mac, "params": {"ROWS": 2, "COLS": 2, "ACC_W": 20},
         "ks": [2, 8, 64], "convnet": (2, 2)},
    ]
    if not quick:
        out += [
            {"name": "dp_ctrl 32x16", "top": "dp_ctrl", "src": [DESIGNS / "dp_ctrl/src/dp_ctrl.v"],
             "params": {"LANES": 32, "W": 16, "CW": 16}, "ks": [8, 1024]},
            {"name": "mac_array 4x4", "top": "mac_array", "src": mac, "params": {"ROWS": 4, "COLS": 4, "ACC_W": 24},
             "ks": [8, 128, 1024], "convnet": (4, 4)},
        ]
    return out


def sdc_text(period_ns: float) -> str:
    """ORFS-style constraints (I/O delays 20 % of the clock); the study re-clocks each design to
    its VDDH fmax anyway."""
    return (f"create_clock -name core_clock -period {period_ns} [get_ports clk]\n"
            "set_input_delay [expr {0.2 * %s}] -clock core_clock [lsearch -inline -all -not -exact [all_inputs] "
            "[get_ports clk]]\nset_output_delay [expr {0.2 * %s}] -clock core_clock [all_outputs]\n"
            % (period_ns, period_ns))


def table(rows: list[dict]) -> str:
    head = ("| design | cells | clock ns | rails V | islands (hop) | LS | area % | workload | nominal µJ | DVFS µJ | "
            "ideal DVFS µJ | FINE-VH µJ | ideal islands µJ | misses (D/FV) | FV vs ideal DVFS % | FV vs DVFS % | verified |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]

    def f(x: float | None) -> str:
        return "n/a" if x is None else f"{x:+.1f}"

    for r in rows:
        e = r["energy_uj"]
        lines.append(
            f"| {r['design']} | {r['cells']} | {r['clock_ns']:.2f} | {'/'.join(f'{v:.2f}' for v in r['rails_v'])} | "
            f"{r['islands']} ({r['hopping']}) | {r['level_shifters']} | {r['area_overhead_pct']:.1f} | {r['workload']} | "
            f"{e['nominal']:.4g} | {e['dvfs']:.4g} | {e['ideal_dvfs']:.4g} | {e['finevh']:.4g} | {e['ideal_islands']:.4g} | "
            f"{r['misses']['dvfs']}/{r['misses']['finevh']} | {f(r['finevh_vs_ideal_dvfs_pct'])} | "
            f"{f(r['finevh_vs_dvfs_pct'])} | {'yes' if r['verified'] else 'NO'} |")
    return "\n".join(lines)


def routed_rows(run: Path) -> list[dict]:
    """Rows of a flow run's routed FINE-VH re-check, on the run's own workload (FINEVH_TRACE) and
    the synthetic and burst traces."""
    from plugins.finevh import policy as pol
    from plugins.finevh.plugin import _trace_path, workload
    from plugins.finevh.study import workloads

    doc = json.loads(sorted(Path(run).glob("*_finevh_signoff/islands.json"))[-1].read_text())
    m = pol.SystemModel.from_json(doc["policy_model_routed"])
    r = doc["routed"]
    traces = dict(workloads(m.f_nom, None))
    own = _trace_path(run)
    if own is not None:
        traces[f"{own.name}"] = workload(m, own)[0]
    rows = []
    for wname, tr in traces.items():
        res = pol.compare(m, tr)
        sv = pol.savings(res)
        rows.append({
            "design": f"{doc.get('design', Path(run).parts[-3])} (routed)", "cells": len(doc["instances"]),
            "clock_ns": doc["clock_period_s"] * 1e9, "k": len(doc["islands"]), "islands": len(doc["islands"]),
            "hopping": sum(1 for i in doc["islands"] if i.get("hopping")),
            "rails_v": [doc["rail_voltage"][c] for c in doc["rail_corners"]], "workload": wname,
            "energy_uj": {p: x.energy_j * 1e6 for p, x in res.items()}, "misses": {p: x.misses for p, x in res.items()},
            "finevh_vs_ideal_dvfs_pct": sv["finevh_vs_ideal_dvfs_pct"], "finevh_vs_dvfs_pct": sv["finevh_vs_dvfs_pct"],
            "finevh_above_bound_pct": sv["finevh_above_lower_bound_pct"],
            "level_shifters": int(doc.get("level_shifters_planned", 0)), "area_overhead_pct": doc["area_overhead_pct"],
            "fast_wns_ns": r["fast_wns_s"] * 1e9, "slow_wns_ns": r["slow_wns_s"] * 1e9, "verified": bool(r["meets"]),
            "routed": r, "run": str(run),
        })
    return rows


def best(rows: list[dict], key: str) -> dict | None:
    ok = [r for r in rows if r["verified"] and r[key] is not None]
    return max(ok, key=lambda r: r[key]) if ok else None


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.8))
    designs = sorted({r["design"] for r in rows})
    marks = {"synthetic": "o", "burst": "s", "convnet": "^"}
    for j, d in enumerate(designs):
        for w, mk in marks.items():
            pts = [(r["islands"], r["finevh_vs_ideal_dvfs_pct"]) for r in rows
                   if r["design"] == d and r["workload"] == w and r["finevh_vs_ideal_dvfs_pct"] is not None and r["verified"]]
            if pts:
                x, y = zip(*pts, strict=True)
                ax.scatter(x, y, marker=mk, color=f"C{j}", label=f"{d} / {w}", s=22)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("islands")
    ax.set_ylabel("FINE-VH saving over ideal chip-wide DVFS (%)")
    ax.set_title("FINE-VH vs ideal DVFS, sky130hd ss_n40C, every mode STA-verified (all rail sets)")
    ax.legend(fontsize=6, ncol=2, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=REPO / "runs/finevh_study")
    ap.add_argument("--quick", action="store_true", help="small designs only (a few minutes)")
    ap.add_argument("--only", action="append", default=[], help="design names to run (default all)")
    ap.add_argument("--routed", action="append", default=[], type=Path,
                    help="a finished flow run with FINE-VH islands (vhflow run ... through signoff): its routed "
                         "re-check (finevh_signoff) adds rows with every point re-timed and re-powered on the SPEF")
    args = ap.parse_args(argv)
    from flow.engines import sta
    from flow.platform import load_platform
    from flow.synth import synthesize
    from plugins.finevh.study import lenet_layers, precision_modes, study_design

    plat = load_platform("sky130hd")
    args.out.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    t0 = time.perf_counter()
    for cfg in configs(args.quick):
        if args.only and cfg["name"] not in args.only:
            continue
        work = args.out / cfg["name"].replace(" ", "_")
        syn = synthesize(cfg["src"], cfg["top"], plat, work, clock_period_ns=10.0, params=cfg["params"])
        (work / "constraint.sdc").write_text(sdc_text(10.0))
        design = sta.load_design([syn.netlist], cfg["top"])
        tc = sta.load_constraints(work / "constraint.sdc", design, plat.liberty("ss_n40C_1v76"))
        conv = lenet_layers(*cfg["convnet"]) if "convnet" in cfg else lenet_layers(4, 4)
        modes = precision_modes(design, plat.liberty("ss_n40C_1v76"), tc) if cfg["top"] == "mac_array" else None
        rows += study_design(cfg["name"], design, tc, plat, cfg["ks"], convnet=conv, modes=modes)
        (args.out / "finevh_study.json").write_text(json.dumps(rows, indent=1))
    for run in args.routed:
        rows += routed_rows(run)
    md = ["# FINE-VH study (sky130hd ss_n40C, 1.28–1.76 V)", "",
          "Energies per workload; `misses (D/FV)` = deadline misses of realistic DVFS / FINE-VH (a policy with "
          "misses is not compared: n/a). FINE-VH modes re-timed by the multi-voltage STA with the sky130 level-shifter "
          "cells (`verified`) on the synthesised netlist, before placement (no wire parasitics: the SDCs set no "
          "wire-load model), at each design's VDDH fmax + 3 %; the flow re-checks the fast mode after routing "
          "(`finevh__signoff__fast_mode__ws`). Ideal DVFS and ideal islands interpolate between the Liberty corners "
          "(model). Rows `... (routed)` come from a flow run's `finevh_signoff`: placed, repaired at the mixed rails, "
          "routed, and every energy (nominal, DVFS levels, ideal DVFS curve, both FINE-VH modes, switches, shifters, "
          "leakage of both rails, hops) re-timed and re-powered with its SPEF; `verified` there means both modes, "
          "their hold and the all-VDDH nominal meet timing. `convnet/per-mode`: each layer on the model its "
          "precision's case-analysis timing signs off.", "",
          table(rows), ""]
    for key, label in (("finevh_vs_ideal_dvfs_pct", "ideal DVFS"), ("finevh_vs_dvfs_pct", "realistic DVFS")):
        b = best(rows, key)
        if b:
            md.append(f"- Best verified saving over {label}: **{b[key]:.1f} %** — {b['design']}, {b['workload']}, "
                      f"rails {b['rails_v']} V, {b['islands']} islands ({b['hopping']} hopping), {b['level_shifters']} "
                      f"level shifters, area +{b['area_overhead_pct']:.1f} %.")
    (args.out / "finevh_study.md").write_text("\n".join(md) + "\n")
    plot(rows, args.out / "finevh_study.png")
    print("\n".join(md))
    print(f"\nstudy: {len(rows)} rows in {time.perf_counter() - t0:.0f} s -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
