"""STA + power at one corner on a ~100k-instance Nangate45 netlist: ours vs OpenSTA (`sta`).

The netlist is a synthesised multiply-accumulate block replicated N times inside one flat top
(shared clock, per-copy inputs/outputs), so it has real cells, flops and reconvergent logic.
Both tools read the same Liberty, Verilog and SDC, report the worst setup/hold path and the
power table with the same global activity; wall times and the ratio are printed. Ours reads as
`vhflow sta` does: the netlist in a child process while the Liberty file and the compiled kernels
load (two cores; VHFLOW_NO_FORK=1 reads sequentially, for comparison).
Usage: python benchmarks/bench_sta.py [target_instances]
"""

from __future__ import annotations

import gzip
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

RTL = """module blk(input clk, input [7:0] a, input [7:0] b, input sel, output reg [15:0] y);
  reg [7:0] ra, rb; reg [15:0] acc;
  always @(posedge clk) begin
    ra <= a; rb <= b;
    acc <= sel ? acc + ra * rb : acc - (ra ^ rb);
    y <= acc;
  end
endmodule
"""


def replicate(netlist: Path, copies: int, out: Path) -> int:
    """Flat top with `copies` prefixed copies of the synthesised block; returns instance count."""
    text = netlist.read_text()
    body = re.search(r"module blk\s*\((.*?)\);(.*)endmodule", text, re.S)
    assert body is not None
    decls, rest = [], []
    for stmt in body.group(2).split(";"):
        s = stmt.strip()
        if not s:
            continue
        (decls if re.match(r"(input|output|wire|reg)\b", s) else rest).append(s)
    ports_in = ["a", "b", "sel"]
    lines = ["module top(clk, " + ", ".join(f"{p}_{k}" for k in range(copies) for p in ports_in + ["y"]) + ");",
             "  input clk;"]
    n_inst = 0
    inst_re = re.compile(r"^(\w+)\s+(\S+)\s*\((.*)\)$", re.S)
    for k in range(copies):
        ren = {}

        def nm(s: str, k: int = k) -> str:
            return f"c{k}_{s}" if not s.startswith("\\") else f"\\c{k}_{s[1:]}"

        for d in decls:
            m = re.match(r"(input|output|wire|reg)\s*(\[\d+:\d+\])?\s*(.*)", d, re.S)
            kind, rng, names = m.group(1), m.group(2) or "", m.group(3)
            for n in [x.strip() for x in names.split(",")]:
                if n == "clk":
                    continue
                new = f"{n}_{k}" if kind in ("input", "output") else nm(n)
                ren[n] = new
                kw = {"input": "input", "output": "output"}.get(kind, "wire")
                lines.append(f"  {kw} {rng} {new};")
        ren["clk"] = "clk"

        def sub(expr: str, ren: dict = ren) -> str:
            return re.sub(r"(\\\S+|[A-Za-z_][\w$]*)", lambda mt: ren.get(mt.group(1), mt.group(1)), expr)

        for s in rest:
            if s.startswith("assign"):
                lhs, rhs = s[len("assign"):].split("=", 1)
                lines.append(f"  assign {sub(lhs.strip())} = {sub(rhs.strip())};")
                continue
            m = inst_re.match(s)
            if m is None:
                continue
            cell, iname, conns = m.groups()
            conns = re.sub(r"\.(\w+)\(([^()]*)\)", lambda mm: f".{mm.group(1)}({sub(mm.group(2))})", conns)
            lines.append(f"  {cell} {nm(iname)} ({conns});")
            n_inst += 1
    lines.append("endmodule")
    out.write_text("\n".join(lines) + "\n")
    return n_inst


def build_netlist(yosys: str, lib: Path, d: Path, target: int) -> tuple[int, int, int]:
    """Synthesise the block with Debian yosys and replicate it to ~target instances in d/top.v;
    returns (instances, copies, instances per copy)."""
    (d / "blk.v").write_text(RTL)
    subprocess.run([yosys, "-q", "-p", f"read_verilog {d / 'blk.v'}; synth -top blk -flatten; "
                    f"dfflibmap -liberty {lib}; abc -liberty {lib}; opt_clean; "
                    f"write_verilog -noattr -noexpr -nohex -nodec {d / 'blk_syn.v'}"], check=True)
    one = replicate(d / "blk_syn.v", 1, d / "one.v")
    copies = max(1, round(target / one))
    return replicate(d / "blk_syn.v", copies, d / "top.v"), copies, one


def main() -> None:
    target = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    from flow.background import worth_forking
    from flow.engines import power as pw
    from flow.engines import sta
    from flow.engines.parasitics import Parasitics, WireLoad
    from flow.platform import load_platform

    plat = load_platform("nangate45")
    sta_bin = shutil.which("sta")
    yosys = shutil.which("yosys")
    if sta_bin is None or yosys is None:
        sys.exit("needs Debian `sta` and `yosys`")
    with tempfile.TemporaryDirectory() as td:
        d = Path(td)
        lib = d / "typ.lib"
        src = Path(plat.corner("typical").liberty[0])
        lib.write_bytes(gzip.decompress(src.read_bytes()) if src.suffix == ".gz" else src.read_bytes())
        n, copies, one = build_netlist(yosys, lib, d, target)
        (d / "top.sdc").write_text("create_clock -name clk -period 2.0 [get_ports clk]\n"
                                   "set_input_delay 0.2 -clock clk [lsearch -inline -all -not -exact [all_inputs] clk]\n"
                                   "set_output_delay 0.2 -clock clk [all_outputs]\n")
        # no SPEF: both sides estimate the nets from the library's default wire load
        (d / "run.tcl").write_text(f"read_liberty {lib}\nread_verilog {d / 'top.v'}\nlink_design top\n"
                                   f"read_sdc {d / 'top.sdc'}\nreport_checks -path_delay max -digits 4\n"
                                   "report_checks -path_delay min -digits 4\nreport_tns\n"
                                   "set_power_activity -global -activity 0.1 -duty 0.5\nreport_power\n")
        t0 = time.perf_counter()
        proc = subprocess.run([sta_bin, "-no_splash", "-exit", str(d / "run.tcl")], capture_output=True, text=True)
        t_sta = time.perf_counter() - t0
        ws = re.findall(r"([-\d.]+)\s+slack", proc.stdout)
        # as `vhflow sta`: the netlist is read in a child process while this one reads the
        # Liberty file and loads the compiled kernels
        t0 = time.perf_counter()
        pending = sta.load_design_async([d / "top.v"], "top")
        library = sta.load_liberty(lib)
        t_lib = time.perf_counter() - t0
        sta.prepare_kernels()
        t_kern = time.perf_counter() - t0 - t_lib
        design = pending.result()
        tc = sta.load_constraints(d / "top.sdc", design)
        t_read = time.perf_counter() - t0 - t_lib - t_kern
        t1 = time.perf_counter()
        par = Parasitics.from_wire_load(design, WireLoad.from_library(library))
        res = sta.analyze(design, library, tc, parasitics=par)
        t_sta_ours = time.perf_counter() - t1
        t1 = time.perf_counter()
        p = pw.analyze_power(design, res, pw.sta_global_activity(design, res, 0.1, 0.5))
        t_pow = time.perf_counter() - t1
        ours = time.perf_counter() - t0
        print(f"netlist: {n} instances ({copies} copies of a {one}-cell block), {len(design.pin_name)} pins")
        print(f"OpenSTA (sta): {t_sta:.2f} s wall; worst setup/hold slack {ws[:2]} ns")
        print(f"vhflow: {ours:.2f} s wall (liberty {t_lib:.2f}, kernels {t_kern:.2f}, netlist+sdc {t_read:.2f} "
              f"more (read concurrently in a child: {'yes' if worth_forking([d / 'top.v']) else 'no'}), "
              f"sta {t_sta_ours:.2f}, "
              f"power {t_pow:.2f}); worst setup {res.setup_wns * 1e9:.4f} ns, hold {res.hold_wns * 1e9:.4f} ns, "
              f"power {p.totals()['total'] * 1e3:.3f} mW")
        print(f"ratio vhflow / sta = {ours / t_sta:.2f} (target <= 0.33)")
        m = re.search(r"^Total\s+\S+\s+\S+\s+\S+\s+(\S+)", proc.stdout, re.M)
        print(f"OpenSTA power {float(m.group(1)) * 1e3:.3f} mW" if m else "OpenSTA power: not found")


if __name__ == "__main__":
    main()
