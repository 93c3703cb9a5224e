"""STA + power at one corner, as a user runs them: `vhflow sta --power` against OpenSTA 3.1
(`sta`, the reference build) as whole processes in the same run, on Nangate45 netlists:

* `replicated`: a synthesised multiply-accumulate block replicated N times inside one flat top
  (shared clock, per-copy inputs/outputs), ~100k instances by default;
* `mac_array`: designs/mac_array synthesised whole with ROWS x COLS PEs (a real design, >= 50k
  instances at 8 x 8: 81k), its own ORFS SDC, a star-RC SPEF we write (`write_star_spef`) and
  the default activity propagated from the inputs (`mac_array_lumped`: the same without SPEF).
  Synthesis takes minutes, so the netlist (and its SPEF) is cached under ~/.cache/vhflow-bench/,
  keyed by a hash of the sources, Liberty, script and yosys version.

Both tools read the same Liberty, Verilog, SDC (and SPEF), report the worst setup and hold path,
TNS and the power table. Wall and CPU times (children included) of the best of `--repeat` runs
(alternating tools) and the ratios are printed; the target is vhflow <= 0.5 x sta.
Usage: python benchmarks/bench_sta.py [--repeat N] [replicated N] [mac_array|mac_array_lumped RxC]
       (default: replicated 100000 mac_array 8x8)
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


def cache_dir() -> Path:
    """Where synthesised netlists are kept between runs (outside the repository)."""
    import os

    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vhflow-bench"


def synth_mac_array(yosys: str, lib: Path, rows: int, cols: int) -> Path:
    """designs/mac_array with ROWS x COLS PEs, synthesised flat to Nangate45 cells once: the
    netlist is cached under `cache_dir()`, keyed by a hash of the sources, the Liberty, the
    script and the yosys version (synthesis of the 8x8 array takes minutes)."""
    import hashlib

    src = Path(__file__).resolve().parents[1] / "designs/mac_array/src"
    script = (f"read_verilog {{src}}/mac_pe.v {{src}}/mac_array.v; "
              f"chparam -set ROWS {rows} -set COLS {cols} mac_array; synth -top mac_array -flatten; "
              f"dfflibmap -liberty {{lib}}; abc -liberty {{lib}}; opt_clean; "
              f"write_verilog -noattr -noexpr -nohex -nodec {{out}}")
    version = subprocess.run([yosys, "-V"], capture_output=True, text=True, check=True).stdout.strip()
    key = hashlib.sha256()
    for part in (script.encode(), version.encode(), (src / "mac_pe.v").read_bytes(),
                 (src / "mac_array.v").read_bytes(), lib.read_bytes()):
        key.update(hashlib.sha256(part).digest())
    out = cache_dir() / f"mac_array_{rows}x{cols}_{key.hexdigest()[:16]}.v"
    if out.exists():
        print(f"[mac_array {rows}x{cols}] cached netlist {out}")
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.v")
    t0 = time.perf_counter()
    subprocess.run([yosys, "-q", "-p", script.format(src=src, lib=lib, out=tmp)], check=True)
    tmp.replace(out)  # only a complete netlist is ever cached
    print(f"[mac_array {rows}x{cols}] synthesised in {time.perf_counter() - t0:.0f} s -> {out}")
    return out


def write_star_spef(lib: Path, net: Path, top: str, out: Path) -> int:
    """A SPEF of every driven net as a star RC (driver -> centre node -> each load), values
    fixed by fanout: R = 25 ohm + 2 ohm per load (up to 20 loads) to the centre and 10 ohm per
    branch, 0.6 fF per load at the centre and 0.2 fF at each load node. Written with our SPEF writer, read by
    both tools (OpenSTA runs its default DMP delay calculator on it). Returns the net count."""
    from flow.engines.model import cell_model
    from flow.engines.sta import load_liberty
    from flow.formats.spef import SpefNet, write_spef
    from flow.formats.verilog import read_verilog

    design = read_verilog([net], top)
    library = load_liberty(lib)
    models = {c: cell_model(library, c) for c in set(design.inst_cell)}
    by_net: dict[int, tuple[list[str], list[str]]] = {}
    for i, pin, k in zip(design.pin_inst.tolist(), design.pin_name, design.pin_net.tolist(), strict=True):
        m = models[design.inst_cell[i]]
        pm = m.pins.get(pin) if m is not None else None
        if pm is None:
            continue
        node = f"{design.inst_names[i]}:{pin}"
        drv, lds = by_net.setdefault(k, ([], []))
        (drv if pm.direction == "output" else lds).append(node)
    for q, (name, d) in enumerate(zip(design.port_names, design.port_dir, strict=True)):
        drv, lds = by_net.setdefault(int(design.port_net[q]), ([], []))
        (drv if d == "input" else lds).append(name)
    nets = []
    for k, (drv, lds) in sorted(by_net.items()):
        if len(drv) != 1 or not lds:
            continue
        name = design.net_names[k]
        centre = f"{name}:1"
        caps = {centre: 0.6e-15 * len(lds)} | {ld: 0.2e-15 for ld in lds}
        res = [(drv[0], centre, 25.0 + 2.0 * min(len(lds), 20))] + [(centre, ld, 10.0) for ld in lds]
        conns = [(drv[0], "O" if ":" in drv[0] else "I")] + [(ld, "I" if ":" in ld else "O") for ld in lds]
        nets.append(SpefNet(name, sum(caps.values()), conns, caps, res))
    write_spef(out, top, nets)
    return len(nets)


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


def compare(sta_bin: str, lib: Path, net: Path, top: str, sdc: Path, d: Path, label: str, *,
            spef: Path | None = None, global_activity: bool = True, repeat: int = 3) -> None:
    """Both tools as whole processes, alternately, best of `repeat` (wall; CPU of that run)."""
    n_inst = sum(1 for ln in net.read_text().splitlines() if re.match(r"\s*[A-Z]\w*_X\d+\s+\S+\s*\(", ln))
    activity = "set_power_activity -global -activity 0.1 -duty 0.5\n" if global_activity else ""
    (d / "run.tcl").write_text(f"read_liberty {lib}\nread_verilog {net}\nlink_design {top}\nread_sdc {sdc}\n"
                               + (f"read_spef {spef}\n" if spef else "")
                               + "report_checks -path_delay max -fields {slew cap fanout}\n"
                               "report_checks -path_delay min -fields {slew cap fanout}\n"
                               f"report_tns\n{activity}report_power\n")
    vhflow = str(Path(sys.executable).with_name("vhflow"))
    v_cmd = [vhflow, "sta", "--lib", str(lib), "--netlist", str(net), "--top", top, "--sdc", str(sdc),
             "--report-checks", "1", "--power"]
    v_cmd += ["--spef", str(spef)] if spef else []
    v_cmd += ["--global-activity", "0.1", "--duty", "0.5"] if global_activity else []
    runs_s, runs_v = [], []
    for _ in range(repeat):
        runs_s.append(timed([sta_bin, "-no_splash", "-exit", str(d / "run.tcl")], d))
        runs_v.append(timed(v_cmd, d))
    s_wall, s_cpu, s_out = min(runs_s)
    v_wall, v_cpu, v_out = min(runs_v)
    ws_s = re.findall(r"([-\d.]+)\s+slack", s_out)[:2]
    ws_v = re.findall(r"([-\d.]+)\s+slack", v_out)[:2]
    p_s = re.findall(r"(?m)^Total\s+\S+\s+\S+\s+\S+\s+(\S+)", s_out)[:1]
    p_v = re.findall(r"(?m)^Total\s+\S+\s+\S+\s+\S+\s+(\S+)", v_out)[:1]
    how = ("SPEF" if spef else "no SPEF") + (", global activity 0.1" if global_activity else ", default activity")
    print(f"[{label}] {n_inst} instances, {how}; best of {repeat}")
    print(f"  OpenSTA 3.1 sta   : {s_wall:6.2f} s wall, {s_cpu:6.2f} s CPU; worst setup/hold slack {ws_s} ns, "
          f"total power {p_s} W")
    print(f"  vhflow sta --power: {v_wall:6.2f} s wall, {v_cpu:6.2f} s CPU; worst setup/hold slack {ws_v} ns, "
          f"total power {p_v} W")
    print(f"  ratio vhflow / sta: wall {v_wall / s_wall:.2f}, CPU {v_cpu / s_cpu:.2f} (target <= 0.5)", flush=True)


def main() -> None:
    args = sys.argv[1:]
    if {"-h", "--help"} & set(args):
        print(__doc__)
        return
    repeat = 3
    if "--repeat" in args:
        k = args.index("--repeat")
        repeat = int(args[k + 1])
        del args[k:k + 2]
    args = args or ["replicated", "100000", "mac_array", "8x8"]
    if len(args) % 2:
        sys.exit(f"benchmarks come in pairs (name and size), got {' '.join(args)!r}; see --help")
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
                compare(str(sta_bin), lib, d / "top.v", "top", sdc, d, f"replicated {copies} x {one}", repeat=repeat)
            elif kind in ("mac_array", "mac_array_lumped"):
                rows, cols = (int(x) for x in arg.split("x"))
                cached = synth_mac_array(yosys, lib, rows, cols)
                net = d / "mac_array_syn.v"  # yosys names the chparam'd top `$paramod...mac_array`
                net.write_text(re.sub(r"(?m)^module\s+\\\S+", "module mac_array", cached.read_text(), count=1))
                sdc = Path(__file__).resolve().parents[1] / "designs/mac_array/src/constraint.sdc"
                spef = None
                if kind == "mac_array":
                    spef = cached.with_suffix(".star1.spef")  # cached beside the netlist it describes
                    if not spef.exists():
                        tmp = spef.with_suffix(".tmp")
                        write_star_spef(lib, net, "mac_array", tmp)
                        tmp.replace(spef)
                compare(str(sta_bin), lib, net, "mac_array", sdc, d, f"mac_array {rows}x{cols}", spef=spef,
                        global_activity=False, repeat=repeat)
            else:
                sys.exit(f"unknown benchmark {kind!r}")


if __name__ == "__main__":
    main()
