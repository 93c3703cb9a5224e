"""STA + power at one corner, as a user runs them: `vhflow sta --power` against OpenSTA 3.1
(`sta`, the reference build) as whole processes in the same run, on Nangate45 netlists:

* `replicated`: a synthesised multiply-accumulate block replicated N times inside one flat top
  (shared clock, per-copy inputs/outputs), ~100k instances by default;
* `mac_array`: designs/mac_array synthesised whole with ROWS x COLS PEs (a real design, >= 50k
  instances at 12 x 12) and its own ORFS SDC.

Both tools read the same Liberty, Verilog and SDC, report the worst setup and hold path, TNS and
the power table with the same global activity. Wall and CPU times (children included) and the
ratios are printed; the target is vhflow <= 0.5 x sta.
Usage: python benchmarks/bench_sta.py [replicated N] [mac_array ROWSxCOLS]
       (default: replicated 100000 mac_array 12x12)
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


def synth_mac_array(yosys: str, lib: Path, d: Path, rows: int, cols: int) -> Path:
    """designs/mac_array with ROWS x COLS PEs, synthesised flat to Nangate45 cells."""
    src = Path(__file__).resolve().parents[1] / "designs/mac_array/src"
    out = d / "mac_array_syn.v"
    subprocess.run([yosys, "-q", "-p", f"read_verilog {src / 'mac_pe.v'} {src / 'mac_array.v'}; "
                    f"chparam -set ROWS {rows} -set COLS {cols} mac_array; synth -top mac_array -flatten; "
                    f"dfflibmap -liberty {lib}; abc -liberty {lib}; opt_clean; "
                    f"write_verilog -noattr -noexpr -nohex -nodec {out}"], check=True)
    return out


def timed(cmd: list[str], cwd: Path) -> tuple[float, float, str]:
    """(wall s, CPU s of the process and its children, stdout) of one whole process."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"{cmd[0]} failed: {proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.stdout


def compare(sta_bin: str, lib: Path, net: Path, top: str, sdc: Path, d: Path, label: str) -> None:
    n_inst = sum(1 for ln in net.read_text().splitlines() if re.match(r"\s*[A-Z]\w*_X\d+\s+\S+\s*\(", ln))
    (d / "run.tcl").write_text(f"read_liberty {lib}\nread_verilog {net}\nlink_design {top}\nread_sdc {sdc}\n"
                               "report_checks -path_delay max -fields {slew cap fanout}\n"
                               "report_checks -path_delay min -fields {slew cap fanout}\n"
                               "report_tns\nset_power_activity -global -activity 0.1 -duty 0.5\nreport_power\n")
    s_wall, s_cpu, s_out = timed([sta_bin, "-no_splash", "-exit", str(d / "run.tcl")], d)
    vhflow = str(Path(sys.executable).with_name("vhflow"))
    v_wall, v_cpu, v_out = timed([vhflow, "sta", "--lib", str(lib), "--netlist", str(net), "--top", top,
                                  "--sdc", str(sdc), "--report-checks", "1", "--power",
                                  "--global-activity", "0.1", "--duty", "0.5"], d)
    ws_s = re.findall(r"([-\d.]+)\s+slack", s_out)[:2]
    ws_v = re.findall(r"([-\d.]+)\s+slack", v_out)[:2]
    print(f"[{label}] {n_inst} instances")
    print(f"  OpenSTA 3.1 sta : {s_wall:6.2f} s wall, {s_cpu:6.2f} s CPU; worst setup/hold slack {ws_s} ns")
    print(f"  vhflow sta --power: {v_wall:6.2f} s wall, {v_cpu:6.2f} s CPU; worst setup/hold slack {ws_v} ns")
    print(f"  ratio vhflow / sta: wall {v_wall / s_wall:.2f}, CPU {v_cpu / s_cpu:.2f} (target <= 0.5)")


def main() -> None:
    args = sys.argv[1:] or ["replicated", "100000", "mac_array", "12x12"]
    from flow.platform import load_platform
    from flow.reference_tools import reference_tool

    plat = load_platform("nangate45")
    sta_bin = reference_tool("sta")
    yosys = shutil.which("yosys")
    if sta_bin is None or yosys is None:
        sys.exit("needs the reference OpenSTA 3.1 (make reference-tools) and yosys")
    with tempfile.TemporaryDirectory() as td:
        d = Path(td)
        lib = d / "typ.lib"
        src = Path(plat.corner("typical").liberty[0])
        lib.write_bytes(gzip.decompress(src.read_bytes()) if src.suffix == ".gz" else src.read_bytes())
        for kind, arg in zip(args[::2], args[1::2], strict=True):
            if kind == "replicated":
                n, copies, one = build_netlist(yosys, lib, d, int(arg))
                sdc = d / "top.sdc"
                sdc.write_text("create_clock -name clk -period 2.0 [get_ports clk]\n"
                               "set_input_delay 0.2 -clock clk [lsearch -inline -all -not -exact [all_inputs] clk]\n"
                               "set_output_delay 0.2 -clock clk [all_outputs]\n")
                compare(str(sta_bin), lib, d / "top.v", "top", sdc, d, f"replicated {copies} x {one}")
            elif kind == "mac_array":
                rows, cols = (int(x) for x in arg.split("x"))
                net = synth_mac_array(yosys, lib, d, rows, cols)
                sdc = Path(__file__).resolve().parents[1] / "designs/mac_array/src/constraint.sdc"
                compare(str(sta_bin), lib, net, "mac_array", sdc, d, f"mac_array {rows}x{cols}")
            else:
                sys.exit(f"unknown benchmark {kind!r}")


if __name__ == "__main__":
    main()
