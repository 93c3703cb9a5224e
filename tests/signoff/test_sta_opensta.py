"""Synthesised Nangate45 design: our STA and power against Debian OpenSTA on the same files,
with an SPEF (RC trees, so Elmore delays matter) written for both sides."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from flow.engines import power as pw
from flow.engines import sta
from flow.engines.parasitics import Parasitics
from flow.formats.spef import SpefNet, read_spef, write_spef
from tests.signoff.opensta import run_sta, synth_nangate

RTL = """module top(input clk, input [7:0] a, input [7:0] b, input sel, output reg [7:0] y, output reg z);
  reg [7:0] ra, rb;
  always @(posedge clk) begin
    ra <= a; rb <= b;
    y <= sel ? ra * rb + (ra ^ rb) : ra - rb;
    z <= ^(ra & rb);
  end
endmodule
"""
SDC = """set clk_period 0.9
create_clock -name clk -period $clk_period [get_ports clk]
set non_clock_inputs [lsearch -inline -all -not -exact [all_inputs] clk]
set_input_delay [expr $clk_period * 0.2] -clock clk $non_clock_inputs
set_output_delay [expr $clk_period * 0.2] -clock clk [all_outputs]
set_clock_uncertainty 0.03 [get_clocks clk]
set_load 3.0 [all_outputs]
set_input_transition 0.05 $non_clock_inputs
"""
TOL = 5e-12  # 5 ps


def make_spef(design: sta.FlatDesign, path: Path, seed: int = 7, r_scale: float = 1.0) -> None:
    """A driver -> trunk node -> each load RC tree per net, deterministic pseudo-random values."""
    rng = np.random.default_rng(seed)
    names = design.node_names()
    order = np.argsort(np.concatenate([design.pin_net, design.port_net]), kind="stable")
    nets = np.concatenate([design.pin_net, design.port_net])[order]
    nodes = order
    out = []
    n_pins = len(design.pin_name)
    for k in np.unique(nets):
        members = nodes[nets == k]
        if members.size < 2:
            continue
        net = design.net_names[k]

        def spef_name(v: int) -> str:
            return names[v].replace("/", ":") if v < n_pins else names[v]

        trunk = f"{net}:1"
        caps = {trunk: float(rng.uniform(0.5e-15, 3e-15))}
        res = []
        conns = []
        for v in members:
            nm = spef_name(v)
            conns.append((nm, "B"))
            res.append((trunk, nm, float(rng.uniform(10.0, 150.0)) * r_scale))
            caps[nm] = float(rng.uniform(0.1e-15, 1e-15))
        out.append(SpefNet(net, sum(caps.values()), conns, caps, res))
    write_spef(path, "top", out)


@pytest.fixture(scope="module")
def synth(tmp_path_factory, nangate45):
    d = tmp_path_factory.mktemp("nangate")
    lib_gz = nangate45.corner("typical").liberty[0]
    lib = d / "typ.lib"
    lib.write_bytes(gzip.decompress(Path(lib_gz).read_bytes()) if str(lib_gz).endswith(".gz") else Path(lib_gz).read_bytes())
    net = synth_nangate(RTL, "top", lib, d)
    (d / "top.sdc").write_text(SDC)
    design = sta.load_design([net], "top")
    # wire resistances of 2-30 ohm per segment: OpenSTA then switches to its DMP effective-
    # capacitance driver model, which we approximate by the lumped load (see sta.py)
    make_spef(design, d / "top.spef", r_scale=0.2)
    library = sta.load_liberty(lib)
    return d, library, design, sta.load_constraints(d / "top.sdc", design, library)


def _sta_script(d: Path, spef: bool) -> str:
    return f"""read_liberty {d / 'typ.lib'}
read_verilog {d / 'netlist.v'}
link_design top
read_sdc {d / 'top.sdc'}
{'read_spef ' + str(d / 'top.spef') if spef else ''}
report_checks -path_delay max -digits 6
report_checks -path_delay min -digits 6
report_tns -digits 6
set_power_activity -global -activity 0.2 -duty 0.5
report_power -digits 8
"""


def test_timing_and_power_match_opensta_with_spef(synth):
    d, lib, design, tc = synth
    par = Parasitics.from_spef(read_spef(d / "top.spef"), design)
    assert not par.warnings
    t = sta.analyze(design, lib, tc, parasitics=par)
    ref = run_sta(_sta_script(d, True), d)
    setup, hold = ref.slacks()
    assert abs(t.setup_wns - setup * 1e-9) < TOL
    assert abs(t.hold_wns - hold * 1e-9) < TOL
    assert abs(t.setup_tns - ref.value("tns") * 1e-9) < TOL * max(1, int((t.setup_slack < 0).sum()))
    p = pw.analyze_power(design, t, pw.sta_global_activity(design, t, 0.2, 0.5)).groups()
    rp = ref.power()
    tot = sum(p[g]["total"] for g in ("Sequential", "Combinational", "Clock"))
    assert tot == pytest.approx(rp["Total"][3], rel=0.01)  # OpenSTA 3.1 power rules (flow.engines.power)
    for g in ("Sequential", "Combinational"):
        assert p[g]["total"] == pytest.approx(rp[g][3], rel=0.02), g
        assert p[g]["switching"] == pytest.approx(rp[g][1], rel=0.02), g
        assert p[g]["leakage"] == pytest.approx(rp[g][2], rel=0.02), g


def test_elmore_changes_arrivals(synth):
    """The RC trees must matter: scaling every resistor by 20 makes the worst slack worse."""
    d, lib, design, tc = synth
    make_spef(design, d / "big.spef", r_scale=20.0)  # 200-3000 ohm
    lo = sta.analyze(design, lib, tc, parasitics=Parasitics.from_spef(read_spef(d / "top.spef"), design))
    hi = sta.analyze(design, lib, tc, parasitics=Parasitics.from_spef(read_spef(d / "big.spef"), design))
    assert hi.setup_wns < lo.setup_wns - 1e-12


def test_spef_unknown_nets_are_counted(synth, tmp_path):
    d, lib, design, tc = synth
    write_spef(tmp_path / "x.spef", "top", [SpefNet("no_such_net", 1e-15, [], {"no_such_net:1": 1e-15}, [])])
    par = Parasitics.from_spef(read_spef(tmp_path / "x.spef"), design)
    assert par.warnings and "1 net(s) not in the netlist" in par.warnings[0]


def test_sky130_matches_opensta(tmp_path, sky130hd):
    """Same check on a library with pF/ns units and different table templates. Wire capacitance
    only (zero-ohm trees): with resistance OpenSTA's DMP effective-capacitance model on sky130's
    slow-slew cells differs from our lumped load by ~16 ps at 2-30 ohm per segment (documented
    gap, see flow/engines/sta.py)."""
    src = Path(sky130hd.corner(sky130hd.default_corner).liberty[0])
    lib = tmp_path / "sky.lib"
    lib.write_bytes(gzip.decompress(src.read_bytes()) if src.suffix == ".gz" else src.read_bytes())
    rtl = RTL.replace("ra * rb + ", "")  # keep yosys/abc quick on the big library
    net = synth_nangate(rtl, "top", lib, tmp_path)
    (tmp_path / "top.sdc").write_text(SDC.replace("0.9", "1.5").replace("set_load 3.0", "set_load 0.004"))
    library = sta.load_liberty(lib)
    design = sta.load_design([net], "top")
    tc = sta.load_constraints(tmp_path / "top.sdc", design, library)
    make_spef(design, tmp_path / "top.spef", r_scale=0.0)
    t = sta.analyze(design, library, tc, parasitics=Parasitics.from_spef(read_spef(tmp_path / "top.spef"), design))
    script = _sta_script(tmp_path, True).replace(str(tmp_path / "typ.lib"), str(lib))
    ref = run_sta(script, tmp_path)
    setup, hold = ref.slacks()
    assert abs(t.setup_wns - setup * 1e-9) < 1e-15  # report precision (1 fs)
    assert abs(t.hold_wns - hold * 1e-9) < 1e-15
    p = pw.analyze_power(design, t, pw.sta_global_activity(design, t, 0.2, 0.5)).groups()
    rp = ref.power()
    for g in ("Sequential", "Combinational"):
        assert p[g]["total"] == pytest.approx(rp[g][3], rel=0.02), g
    assert sum(p[g]["total"] for g in ("Sequential", "Combinational", "Clock")) == pytest.approx(rp["Total"][3], rel=0.01)


def test_gcd_design_matches_opensta(tmp_path, nangate45):
    """Our gcd design with its ORFS-style SDC (Tcl variables, lsearch, expr), C-only SPEF."""
    from tests.conftest import DESIGNS

    src = Path(nangate45.corner("typical").liberty[0])
    lib = tmp_path / "typ.lib"
    lib.write_bytes(gzip.decompress(src.read_bytes()) if src.suffix == ".gz" else src.read_bytes())
    net = synth_nangate((DESIGNS / "gcd/src/gcd.v").read_text(), "gcd", lib, tmp_path)
    sdc = DESIGNS / "gcd/src/constraint.sdc"
    library = sta.load_liberty(lib)
    design = sta.load_design([net], "gcd")
    tc = sta.load_constraints(sdc, design, library)
    make_spef(design, tmp_path / "top.spef", r_scale=0.0)
    t = sta.analyze(design, library, tc, parasitics=Parasitics.from_spef(read_spef(tmp_path / "top.spef"), design))
    ref = run_sta(f"""read_liberty {lib}
read_verilog {net}
link_design gcd
read_sdc {sdc}
read_spef {tmp_path / 'top.spef'}
report_checks -path_delay max -digits 6
report_checks -path_delay min -digits 6
report_tns -digits 6
set_power_activity -global -activity 0.1 -duty 0.5
report_power -digits 8
""", tmp_path)
    setup, hold = ref.slacks()
    assert abs(t.setup_wns - setup * 1e-9) < 1e-15
    assert abs(t.hold_wns - hold * 1e-9) < 1e-15
    assert abs(t.setup_tns - ref.value("tns") * 1e-9) < 1e-14
    p = pw.analyze_power(design, t, pw.sta_global_activity(design, t, 0.1, 0.5)).groups()
    rp = ref.power()
    assert sum(p[g]["total"] for g in ("Sequential", "Combinational", "Clock")) == pytest.approx(rp["Total"][3], rel=0.01)
    for g in ("Sequential", "Combinational"):
        assert p[g]["total"] == pytest.approx(rp[g][3], rel=0.02), g


def test_driving_cell_matches_opensta(synth, tmp_path):
    """`set_driving_cell`: the driver's slew into the port's load and its delay added to the input
    arrival, as OpenSTA does; the input paths are made critical so the driver shows in WNS."""
    d, lib, design, _ = synth
    sdc = tmp_path / "drv.sdc"
    sdc.write_text(SDC.replace("set_input_transition 0.05 $non_clock_inputs",
                               "set_driving_cell -lib_cell BUF_X1 -pin Z $non_clock_inputs")
                   .replace("[expr $clk_period * 0.2] -clock clk $non_clock_inputs",
                            "[expr $clk_period * 0.05] -clock clk $non_clock_inputs"))
    tc = sta.load_constraints(sdc, design, lib)
    assert set(tc.driving_cells) == {p for p, dr in zip(design.port_names, design.port_dir, strict=True)
                                     if dr == "input" and p != "clk"}
    par = Parasitics.from_spef(read_spef(d / "top.spef"), design)
    t = sta.analyze(design, lib, tc, parasitics=par)
    script = _sta_script(d, True).replace(str(d / "top.sdc"), str(sdc))
    ref = run_sta(script, d)
    setup, hold = ref.slacks()
    assert abs(t.setup_wns - setup * 1e-9) < TOL
    assert abs(t.hold_wns - hold * 1e-9) < 0.5e-12  # the driver's few ps must be right, not just close
    # the worst hold path starts at an input: without the driver its slack is smaller
    tc.driving_cells.clear()
    bare = sta.analyze(design, lib, tc, parasitics=par)
    assert bare.hold_wns < t.hold_wns - 1e-13
