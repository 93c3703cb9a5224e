"""Power against OpenSTA 3.1 on the same files: `read_vcd`/`read_saif` + `report_power` +
`report_activity_annotation`, on gcd (both platforms), mac_array 2x2 (Nangate45) and a
hand-written sky130 netlist with a clock tree; VCDs from iverilog and verilator testbenches
with parameters and `$display`, a SAIF, with and without SPEF, and the activity defaults
(`set_power_activity -input/-global`). Each group within 2 %, the total within 1 %, and the
same annotation counts."""

from __future__ import annotations

import gzip
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from flow.engines import power as pw
from flow.engines import sta
from flow.engines.gatesim import verilog_cell_models
from flow.formats.liberty import read_liberty
from flow.formats.vcd import VcdActivity, read_vcd
from flow.stages.signoff import run_signoff
from tests.conftest import DESIGNS
from tests.signoff import ivsim
from tests.signoff.opensta import StaRun, run_sta, synth_nangate


def _lib(tmp: Path, platform: Any) -> Path:
    src = Path(platform.corner(platform.default_corner).liberty[0])
    out = tmp / "lib.lib"
    out.write_bytes(gzip.decompress(src.read_bytes()) if src.suffix == ".gz" else src.read_bytes())
    return out


def annotation(ref: StaRun) -> dict[str, int]:
    """`report_activity_annotation` rows of an sta run."""
    return {m.group(1): int(m.group(2)) for m in
            re.finditer(r"^(vcd|saif|input|unannotated)\s+(\d+)\s*$", ref.stdout, re.M)}


def compare(tmp: Path, lib: Path, net: Path, top: str, sdc: Path, *, activity: Path | None = None,
            scope: str | None = None, spef: Path | None = None, tcl: str = "", ours_kw: dict | None = None):
    """Run our sign-off (`vhflow power` path) and sta 3.1 on the same files; assert each group
    within 2 %, the total within 1 % and equal annotation counts. Returns (ours, ref)."""
    library = sta.load_liberty(lib)
    res = run_signoff([net], top, {"c": library}, sdc, spef=spef, activity_file=activity, scope=scope,
                      **(ours_kw or {}))
    p, a = res.power["c"], res.activity["c"]
    script = f"read_liberty {lib}\nread_verilog {net}\nlink_design {top}\nread_sdc {sdc}\n"
    if spef is not None:
        script += f"read_spef {spef}\n"
    if activity is not None:
        cmd = "read_saif" if activity.suffix == ".saif" else "read_vcd"
        script += f"{cmd} -scope {scope} {activity}\n"
    script += f"{tcl}report_activity_annotation\nreport_power -digits 8\n"
    ref = run_sta(script, tmp)
    rp = ref.power()
    g, tot = p.groups(), p.totals()
    total = rp["Total"][3]
    assert tot["total"] == pytest.approx(total, rel=0.01)
    for name in ("Sequential", "Combinational", "Clock"):
        for k, col in enumerate(("internal", "switching", "leakage", "total")):
            assert g[name][col] == pytest.approx(rp[name][k], rel=0.02, abs=1e-6 * total), (name, col)
    assert a.annotation_counts() == annotation(ref)
    return p, a, ref


def _gcd(tmp: Path, platform: Any) -> tuple[Path, Path, Path]:
    lib = _lib(tmp, platform)
    net = synth_nangate((DESIGNS / "gcd/src/gcd.v").read_text(), "gcd", lib, tmp)
    sdc = DESIGNS / ("gcd/src/constraint.sky130hd.sdc" if "sky130" in platform.name else "gcd/src/constraint.sdc")
    return lib, net, sdc


def _period(sdc: Path) -> float:
    return float(re.search(r"set clk_period ([\d.]+)", sdc.read_text()).group(1))


def _simulate(tool: str, tmp: Path, lib: Path, net: Path, top: str, period: float, cycles: int,
              reset: str | None = "rst") -> Path:
    design = sta.load_design([net], top)
    tb = ivsim.random_testbench(design, top, "clk", period, cycles, reset=reset)
    cells = verilog_cell_models(read_liberty(lib), sorted(set(design.inst_cell)))
    return ivsim.simulate(tool, tmp, net, cells, tb)


def test_gcd_sky130_iverilog_vcd(tmp_path, sky130hd):
    """gcd on sky130hd, iverilog VCD (every cell pin dumped), wire-load estimate, no SPEF."""
    lib, net, sdc = _gcd(tmp_path, sky130hd)
    vcd = _simulate("iverilog", tmp_path, lib, net, "gcd", _period(sdc), 60)
    p, a, ref = compare(tmp_path, lib, net, "gcd", sdc, activity=vcd, scope="tb/dut")
    assert a.annotation_counts()["unannotated"] == 0 and a.annotation_counts()["vcd"] > 900
    assert p.groups()["Sequential"]["internal"] > 0.3 * p.totals()["total"]  # the flops' clock pins count


def test_gcd_nangate45_saif_with_spef(tmp_path, nangate45):
    """gcd on Nangate45 with an RC SPEF and a hierarchical SAIF (instance per cell, pins as
    nets — what `read_saif` annotates) made from an iverilog dump."""
    from tests.signoff.test_sta_opensta import make_spef

    lib, net, sdc = _gcd(tmp_path, nangate45)
    vcd = _simulate("iverilog", tmp_path, lib, net, "gcd", _period(sdc), 50)
    saif = write_cell_saif(tmp_path / "gcd.saif", read_vcd(vcd, "tb/dut"), "tb", "dut")
    design = sta.load_design([net], "gcd")
    make_spef(design, tmp_path / "gcd.spef")
    p, a, ref = compare(tmp_path, lib, net, "gcd", sdc, activity=saif, scope="tb/dut", spef=tmp_path / "gcd.spef")
    assert a.annotation_counts()["saif"] > 500


def test_mac_array_nangate45_iverilog_vcd_with_spef(tmp_path, mac_array_2x2, nangate45):
    """mac_array 2x2 (the project's synthesis, hierarchical instance names) with SPEF."""
    from tests.signoff.test_sta_opensta import make_spef

    netlist, design, _ = mac_array_2x2
    lib = _lib(tmp_path, nangate45)
    sdc = DESIGNS / "mac_array/src/constraint.sdc"
    vcd = _simulate("iverilog", tmp_path, lib, Path(netlist), "mac_array", _period(sdc), 40)
    make_spef(design, tmp_path / "mac.spef")
    p, a, ref = compare(tmp_path, lib, Path(netlist), "mac_array", sdc, activity=vcd, scope="tb/dut",
                        spef=tmp_path / "mac.spef")
    assert a.annotation_counts()["unannotated"] == 0


CLOCKED_SKY130 = """module top (clk, rst, a, b, y, z);
  input clk, rst, a, b;
  output y, z;
  wire c1, c2, c3, q1, q2, q3, n1, n2, n3, n4;
  sky130_fd_sc_hd__clkbuf_1 cb1 (.A(clk), .X(c1));
  sky130_fd_sc_hd__clkbuf_2 cb2 (.A(c1), .X(c2));
  sky130_fd_sc_hd__clkinv_1 ci3 (.A(c1), .Y(c3));
  sky130_fd_sc_hd__dfxtp_1 r1 (.CLK(c2), .D(n1), .Q(q1));
  sky130_fd_sc_hd__dfxtp_1 r2 (.CLK(c2), .D(n2), .Q(q2));
  sky130_fd_sc_hd__dfxtp_1 r3 (.CLK(c3), .D(n3), .Q(q3));
  sky130_fd_sc_hd__xor2_1 x1 (.A(a), .B(q1), .X(n4));
  sky130_fd_sc_hd__nor2_1 g1 (.A(n4), .B(rst), .Y(n1));
  sky130_fd_sc_hd__a21oi_1 g2 (.A1(q1), .A2(b), .B1(rst), .Y(n2));
  sky130_fd_sc_hd__mux2_1 m1 (.A0(q2), .A1(q1), .S(a), .X(n3));
  sky130_fd_sc_hd__nand2_1 g3 (.A(q3), .B(q2), .Y(y));
  sky130_fd_sc_hd__buf_1 g4 (.A(q3), .X(z));
endmodule
"""


@pytest.mark.parametrize("source", ["verilator_vcd", "default_activity"])
def test_clock_tree_sky130(tmp_path, sky130hd, source):
    """A netlist with a clock tree (Clock group, propagated clock-pin slews), no SPEF: simulated
    by verilator (TOP scope, a real parameter in the dump; one build: verilator's C++ runtime
    costs ~12 s CPU to compile), or without a VCD, where the clock buffers, the inverted branch
    and the flops' CLK pins take the clock's activity through the tree, as OpenSTA 3.1 gives
    them, not the default input activity."""
    lib = _lib(tmp_path, sky130hd)
    net = tmp_path / "top.v"
    net.write_text(CLOCKED_SKY130)
    sdc = tmp_path / "top.sdc"
    sdc.write_text("create_clock -name clk -period 2.0 -waveform {0 0.8} [get_ports clk]\n"
                   "set_clock_transition 0.05 [get_clocks clk]\n"
                   "set_input_delay 0.3 -clock clk [get_ports {rst a b}]\n"
                   "set_output_delay 0.3 -clock clk [get_ports {y z}]\n"
                   "set_input_transition 0.08 [get_ports {rst a b}]\nset_load 0.01 [get_ports {y z}]\n"
                   "set_propagated_clock [get_clocks clk]\n")
    if source == "verilator_vcd":
        vcd = _simulate("verilator", tmp_path, lib, net, "top", 2.0, 40)
        assert "$var real" in vcd.read_text()  # verilator dumps the testbench's real parameter
        p, a, ref = compare(tmp_path, lib, net, "top", sdc, activity=vcd, scope="TOP/tb/dut",
                            ours_kw={"propagated": True})
    else:
        p, a, ref = compare(tmp_path, lib, net, "top", sdc, ours_kw={"propagated": True})
    g = p.groups()
    assert g["Clock"]["internal"] > 0 and g["Sequential"]["internal"] > 0
    nodes = sta.load_design([net], "top").node_names()
    assert a.duty[nodes.index_of("r1/CLK")] == pytest.approx(0.4)  # duty from the -waveform, as OpenSTA
    for pin in ("r1/CLK", "r3/CLK", "cb2/X"):
        assert a.density[nodes.index_of(pin)] == pytest.approx(1e9, rel=0.05), pin  # 2 edges per 2 ns


def test_activity_defaults_nangate45(tmp_path, nangate45):
    """Without a VCD: OpenSTA's default input activity (0.1 per minimum period, duty ½), then
    `-input` and `-global`, propagated through gcd's logic and registers (one sta run)."""
    lib, net, sdc = _gcd(tmp_path, nangate45)
    library = sta.load_liberty(lib)
    design = sta.load_design([net], "gcd")
    t = sta.analyze(design, library, sta.load_constraints(sdc, design, library))
    ours = [pw.propagate_activity(design, t, library),
            pw.propagate_activity(design, t, library, input_activity=0.3, input_duty=0.4),
            pw.sta_global_activity(design, t, 0.2, 0.3)]
    ref = run_sta(f"read_liberty {lib}\nread_verilog {net}\nlink_design gcd\nread_sdc {sdc}\n"
                  "report_power -digits 8\nputs ===\nset_power_activity -input -activity 0.3 -duty 0.4\n"
                  "report_power -digits 8\nputs ===\nset_power_activity -global -activity 0.2 -duty 0.3\n"
                  "report_power -digits 8\n", tmp_path)
    parts = ref.stdout.split("===\n")
    assert len(parts) == 3
    for a, text in zip(ours, parts, strict=True):
        p, rp = pw.analyze_power(design, t, a), StaRun(text).power()
        assert p.totals()["total"] == pytest.approx(rp["Total"][3], rel=0.01)
        for name in ("Sequential", "Combinational"):
            for k, col in enumerate(("internal", "switching", "leakage", "total")):
                assert p.groups()[name][col] == pytest.approx(rp[name][k], rel=0.02), (name, col)
    assert ours[0].counts()["input"] == design.port_dir.count("input") - 1  # every non-clock input port
    assert ours[2].counts()["global"] > 0.9 * ours[2].origin.size


def write_cell_saif(path: Path, act: VcdActivity, *scope: str) -> Path:
    """A backward SAIF with one INSTANCE per cell and its pins as NETs (plus the top ports),
    below the instance path `scope`; durations in the VCD's time unit."""
    ts = act.timescale
    unit = {1e-12: "1 ps", 1e-9: "1 ns", 1e-15: "1 fs"}[min((1e-12, 1e-9, 1e-15), key=lambda u: abs(u - ts))]
    dur = int(round(act.duration / ts))
    by_inst: dict[str, list[str]] = {}
    for name in act.toggles:
        inst, _, pin = name.rpartition("/")
        by_inst.setdefault(inst, []).append(pin)

    def esc(s: str) -> str:
        return re.sub(r"([\[\]./\\()])", r"\\\1", s)

    def entry(name: str) -> str:
        t1 = int(round(act.high_time[name] / ts))
        return f"({esc(name.rpartition('/')[2])} (T0 {dur - t1}) (T1 {t1}) (TX 0) (TC {int(act.toggles[name])}))"

    out = ["(SAIFILE", '(SAIFVERSION "2.0")', '(DIRECTION "backward")', '(DESIGN "tb")',
           f"(TIMESCALE {unit})", f"(DURATION {dur})"]
    out += [f"(INSTANCE {s}" for s in scope]
    out += ["(NET"] + [entry(p) for p in by_inst.get("", [])] + [")"]
    for inst, pins in sorted(by_inst.items()):
        if inst and "/" not in inst:
            out += [f"(INSTANCE {esc(inst)}", "(NET"] + [entry(f"{inst}/{p}") for p in pins] + [")", ")"]
    out += [")"] * len(scope) + [")"]
    path.write_text("\n".join(out) + "\n")
    return path


def test_annotation_counts_follow_pins_not_nets(tmp_path, nangate45):
    """A dump of module-level nets only (no cell scopes): OpenSTA annotates the ports and
    nothing else; `annotate_by_name` does the same for pins, and the net fallback is only
    taken when the file names no instance pin."""
    lib, net, sdc = _gcd(tmp_path, nangate45)
    design = sta.load_design([net], "gcd")
    ports = design.port_names[:2]
    names = {ports[0]: (1e9, 0.5), ports[1]: (2e7, 0.3), design.net_names[5]: (3e7, 0.2)}
    ann = pw.annotate_by_name(design, names)
    port_nodes = {design.node_names().index_of(p) for p in ports}
    assert port_nodes <= set(ann) and len(ann) > len(port_nodes)  # net fallback: no instance pin named
    pin = design.node_names()[0]
    ann2 = pw.annotate_by_name(design, {**names, pin: (1e7, 0.5)})
    assert set(ann2) == port_nodes | {0}
    assert np.isclose(ann2[0][0], 1e7)
