"""The openroad backend's rendered files, command by command, and the `openroad` runner.

The Tcl is evaluated in a real Tcl interpreter whose OpenROAD commands are stubs checking each
command's options (tests/openroad/tclstub.py); values are compared with the config and the
platform they came from. The runner is exercised with a fake `openroad` on PATH.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import time
import tkinter
from pathlib import Path

import pytest

from flow.backends import openroad
from flow.backends.openroad_reports import parse_log
from flow.errors import ConfigError, StageError, ToolError
from tests.conftest import DESIGNS, unavailable
from tests.openroad.conftest import install_fake_openroad
from tests.openroad.tclstub import Session

CONFIGS = {"nangate45": DESIGNS / "gcd/config.toml", "sky130hd": DESIGNS / "gcd/config.sky130hd.toml"}
# Liberty header units of the shipped libraries (what set_layer_rc values are scaled to)
UNITS = {"nangate45": {"time_s": 1e-9, "cap_f": 1e-15, "res_ohm": 1e3},
         "sky130hd": {"time_s": 1e-9, "cap_f": 1e-12, "res_ohm": 1e3}}


_TCL = tkinter.Tcl()


def tcl_list(text: str) -> list[str]:
    """Words of a Tcl list as the interpreter splits them."""
    return list(_TCL.splitlist(text))


def setup_for(platform_name: str, overrides: tuple[str, ...] = ()):
    from flow.runner import prepare

    return prepare(CONFIGS[platform_name], overrides)


@pytest.fixture(params=["nangate45", "sky130hd"])
def gcd(request, tmp_path):
    request.getfixturevalue(request.param)  # skips (fails under CI=true) without the PDK
    setup = setup_for(request.param)
    files = openroad.render(setup.config, setup.platform, tmp_path / "or")
    return setup, files


def run_all(files: dict[str, Path], session: Session | None = None) -> dict[str, object]:
    session = session or Session()
    return {stage: session.source(files[stage]) for stage in openroad.STAGES}


def test_render_returns_every_file(gcd):
    _, files = gcd
    assert set(files) >= {"config", "sdc", "manifest", *openroad.STAGES}
    assert [k for k in files if files[k].suffix == ".tcl"] == list(openroad.STAGES)
    for p in files.values():
        assert p.exists() and p.stat().st_size > 0


def test_floorplan_commands(gcd):
    setup, files = gcd
    plat, cfg = setup.platform, setup.config
    fp = Session().source(files["floorplan"])
    names = fp.names()
    # order of a real session
    for a, b in [("read_lef", "link_design"), ("read_liberty", "link_design"), ("link_design", "read_sdc"),
                 ("read_sdc", "initialize_floorplan"), ("initialize_floorplan", "make_tracks"),
                 ("make_tracks", "place_pins"), ("place_pins", "write_db")]:
        assert names.index(a) < names.index(b), (a, b)
    lefs = [Path(c.positional[0]) for c in fp.of("read_lef")]
    assert len(lefs) == 1 + len(plat.cell_lefs) and all(p.exists() for p in lefs)
    assert lefs[0] == plat.tech_lef  # tech first
    libs = [Path(c.positional[0]) for c in fp.of("read_liberty")]
    assert libs == list(plat.corner().liberty) and all(p.exists() for p in libs)
    assert fp.one("link_design").positional == ["gcd"]
    assert fp.one("read_verilog").positional == [str(cfg["VERILOG_FILES"][0])]
    assert Path(fp.one("read_sdc").positional[0]) == files["sdc"]
    init = fp.one("initialize_floorplan").keys
    assert float(init["-utilization"]) == cfg["CORE_UTILIZATION"] == 40
    assert init["-site"] == plat.site.name
    assert float(init["-aspect_ratio"]) == cfg["CORE_ASPECT_RATIO"]
    assert float(init["-core_space"]) == cfg["CORE_MARGIN"]
    tap = fp.one("tapcell").keys
    assert tap["-tapcell_master"] == plat.cells["tapcell"]
    assert float(tap["-distance"]) == plat.cells["tapcell_distance_um"]
    pins = fp.one("place_pins")
    assert pins.keys["-hor_layers"] == plat.extra["io_layer_horizontal"]
    assert pins.keys["-ver_layers"] == plat.extra["io_layer_vertical"]
    assert fp.one("write_db").positional == [str(files["floorplan"].with_suffix(".odb"))]
    assert not fp.of("create_voltage_domain") and not fp.of("read_upf")


def test_stages_chain_through_odb_and_reload_liberty_and_sdc(gcd):
    _, files = gcd
    runs = run_all(files)
    for prev, stage in zip(openroad.STAGES, openroad.STAGES[1:], strict=False):
        r = runs[stage]
        assert r.one("read_db").positional == runs[prev].one("write_db").positional
        names = r.names()
        assert names.index("read_liberty") < names.index("read_db") < names.index("read_sdc")
    assert not runs["signoff"].of("write_db")


def test_parasitics_use_platform_layer_rc_in_liberty_units(gcd):
    setup, files = gcd
    plat = setup.platform
    units = openroad.load_manifest(files["manifest"].parent)["units"]
    assert units == pytest.approx(UNITS[plat.name])
    cts = run_all(files)["cts"]
    rc = {c.keys["-layer"]: c for c in cts.of("set_layer_rc") if "-layer" in c.keys}  # vias: test_layer_rc_orfs
    assert set(rc) == set(plat.layers)
    for name, layer in plat.layers.items():
        assert float(rc[name].keys["-resistance"]) == pytest.approx(layer.r_per_m * 1e-6 / units["res_ohm"], rel=1e-5)
        assert float(rc[name].keys["-capacitance"]) == pytest.approx(layer.c_per_m * 1e-6 / units["cap_f"], rel=1e-5)
    wire = {("-clock" in c.flags): c.keys["-layer"] for c in cts.of("set_wire_rc")}
    assert wire == {False: plat.signal_wire_layer, True: plat.clock_wire_layer}


def test_setup_move_sequence_is_repair_timing_sequence(tmp_path, nangate45):
    setup = setup_for("nangate45", ("SETUP_MOVE_SEQUENCE=unbuffer,sizeup,buffer",))
    runs = run_all(openroad.render(setup.config, setup.platform, tmp_path / "or"))
    for st in ("cts", "route"):
        setup_repair = [c for c in runs[st].of("repair_timing") if "-setup" in c.flags]
        assert setup_repair and all(c.keys.get("-sequence") == "unbuffer,sizeup,buffer" for c in setup_repair)
    default = setup_for("nangate45")
    runs = run_all(openroad.render(default.config, default.platform, tmp_path / "or2"))
    assert not any("-sequence" in c.keys for c in runs["cts"].of("repair_timing"))


def test_place_cts_route_signoff_commands(gcd):
    setup, files = gcd
    plat, cfg = setup.platform, setup.config
    runs = run_all(files)
    gp = runs["place"].of("global_placement")
    assert [float(c.keys["-density"]) for c in gp] == [cfg["PLACE_DENSITY"]] * 2
    assert "-skip_io" in gp[0].flags and "-skip_io" not in gp[1].flags
    names = runs["place"].names()
    assert names.index("detailed_placement") < names.index("check_placement")
    assert "-verbose" in runs["place"].one("check_placement").flags
    assert runs["place"].of("report_design_area")
    assert runs["place"].of("set_dont_use")[0].positional[0] == " ".join(sorted(plat.cells["dont_use"]))
    cts = runs["cts"].one("clock_tree_synthesis").keys
    assert cts["-root_buf"] == plat.cells["cts_buffer"] and cts["-buf_list"].split() == [plat.cells["cts_buffer"]]
    assert runs["cts"].of("repair_clock_nets") and runs["cts"].of("detailed_placement")
    assert runs["cts"].names().index("clock_tree_synthesis") < runs["cts"].names().index("set_propagated_clock")
    gr = runs["route"].of("global_route")
    assert gr[0].keys["-guide_file"].endswith("route.guide")
    assert "-start_incremental" in gr[1].flags and "-end_incremental" in gr[2].flags
    assert all("-global_routing" in c.flags for c in runs["route"].of("estimate_parasitics"))
    # the ORFS steps: ABC buffers removed, ports buffered, design rules, clock inverters, setup then
    # hold repair after CTS and after global route, antennas, detailed route, routed parasitics
    assert runs["floorplan"].of("remove_buffers")
    place = runs["place"].names()
    assert place.index("global_placement") < place.index("buffer_ports") < place.index("repair_design")
    ct = runs["cts"].names()
    assert ct.index("repair_clock_inverters") < ct.index("clock_tree_synthesis") < ct.index("set_propagated_clock")
    for st in ("cts", "route"):
        rt = runs[st].of("repair_timing")
        assert ["-setup" in c.flags for c in rt] == [True, False] and "-hold" in rt[1].flags
    rn = runs["route"].names()
    assert (rn.index("global_route") < rn.index("repair_design") < rn.index("repair_timing")
            < rn.index("repair_antennas") < rn.index("detailed_route"))
    layers = runs["route"].one("set_routing_layers").keys["-signal"]
    assert layers == f"{plat.extra['min_routing_layer']}-{plat.extra['max_routing_layer']}"
    so = runs["signoff"]
    corners = so.one("define_corners").positional
    assert corners[0] == plat.default_corner and set(corners) == set(cfg["SIGNOFF_CORNERS"] or plat.corners)
    for c in so.of("read_liberty"):
        assert Path(c.positional[0]) in plat.corner(c.keys["-corner"]).liberty and Path(c.positional[0]).exists()
    checks = {c.keys["-path_delay"]: c.keys for c in so.of("report_checks")}
    assert set(checks) == {"max", "min"} and all(k["-format"] == "full_clock_expanded" for k in checks.values())
    assert {tuple(sorted(c.flags)) for c in so.of("report_worst_slack")} == {("-max",), ("-min",)}
    assert so.of("report_tns") and so.of("report_wns")
    assert so.one("report_power").keys["-corner"] == plat.default_corner
    assert so.one("set_power_activity").keys["-activity"] == "0.1"  # INPUT_ACTIVITY without an activity file


def test_sdc_and_config_mk(gcd, tmp_path):
    setup, files = gcd
    cfg = setup.config
    sdc = files["sdc"].read_text()
    assert sdc.endswith("\n") and "\r" not in sdc
    assert Path(cfg["SDC_FILE"]).read_text().strip() in sdc
    mk = dict(re.findall(r"^export (\w+) = (.*)$", files["config"].read_text(), re.M))
    assert mk["DESIGN_NAME"] == "gcd" and mk["PLATFORM"] == setup.platform.name
    assert [Path(p) for p in mk["VERILOG_FILES"].split()] == list(cfg["VERILOG_FILES"])
    assert Path(mk["SDC_FILE"]) == files["sdc"]
    assert float(mk["CORE_UTILIZATION"]) == 40 and float(mk["PLACE_DENSITY"]) == cfg["PLACE_DENSITY"]
    from flow.config import clock_period_from_sdc

    assert float(mk["CLOCK_PERIOD"]) == pytest.approx(clock_period_from_sdc(cfg["SDC_FILE"]))
    assert "DIE_AREA" not in mk
    make = shutil.which("make")
    if make is None:
        unavailable("make not on PATH")
    (tmp_path / "Makefile").write_text(f'include {files["config"]}\nshow:\n\t@echo "$(CORE_UTILIZATION)|$(DESIGN_NAME)"\n')
    out = subprocess.run([make, "-s", "-C", str(tmp_path), "show"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "40|gcd", out.stderr


def test_die_area_replaces_utilization(nangate45, tmp_path):
    setup = setup_for("nangate45", ("DIE_AREA=[0, 0, 60, 60]", "CORE_AREA=[5, 5, 55, 55]"))
    files = openroad.render(setup.config, setup.platform, tmp_path)
    init = Session().source(files["floorplan"]).one("initialize_floorplan").keys
    assert init["-die_area"].split() == ["0", "0", "60", "60"] and init["-core_area"].split() == ["5", "5", "55", "55"]
    assert "-utilization" not in init and init["-site"] == setup.platform.site.name
    mk = files["config"].read_text()
    assert "export DIE_AREA = 0 0 60 60" in mk and "CORE_UTILIZATION" not in mk


def test_floorplan_def_replaces_initialize_floorplan(nangate45, tmp_path):
    fp = tmp_path / "fp.def"
    fp.write_text("VERSION 5.8 ;\nDESIGN gcd ;\nUNITS DISTANCE MICRONS 2000 ;\nDIEAREA ( 0 0 ) ( 1000 1000 ) ;\n"
                  "END DESIGN\n")
    setup = setup_for("nangate45", (f"FLOORPLAN_DEF={fp}",))
    files = openroad.render(setup.config, setup.platform, tmp_path / "or")
    calls = Session().source(files["floorplan"])
    assert calls.one("read_def").args == ["-floorplan_initialize", str(fp)]
    assert "initialize_floorplan -" not in files["floorplan"].read_text()
    mk = files["config"].read_text()
    assert f"export FLOORPLAN_DEF = {fp}" in mk and "CORE_UTILIZATION" not in mk and "DIE_AREA" not in mk


def test_place_density_lb_addon_as_orfs(nangate45, tmp_path):
    """PLACE_DENSITY_LB_ADDON: config.mk exports it instead of PLACE_DENSITY and global placement
    gets lb + (1 - lb) * addon + 0.01 (the stub's lower bound is 0.5 -> 0.5 + 0.5 * 0.2 + 0.01)."""
    setup = setup_for("nangate45", ("PLACE_DENSITY_LB_ADDON=0.2",))
    files = openroad.render(setup.config, setup.platform, tmp_path / "or")
    gp = [c for c in Session().source(files["place"]).calls if c.name == "global_placement"]
    assert [float(c.keys["-density"]) for c in gp] == pytest.approx([0.61, 0.61])
    mk = files["config"].read_text()
    assert "export PLACE_DENSITY_LB_ADDON = 0.2" in mk and "PLACE_DENSITY =" not in mk


def test_config_errors_are_reported(nangate45, tmp_path):
    with pytest.raises(ConfigError, match="PLACE_DENSITY"):  # the variable's range, checked on --set
        setup_for("nangate45", ("PLACE_DENSITY=1.5",))
    setup = setup_for("nangate45", ("DIE_AREA=[0, 0, 60, 60]",))
    with pytest.raises(ConfigError, match="CORE_AREA"):
        openroad.render(setup.config, setup.platform, tmp_path)
    setup = setup_for("nangate45")
    with pytest.raises(ConfigError, match="rect"):
        openroad.render(setup.config, setup.platform, tmp_path, islands={"regions": [{"name": "a", "rects": [[1, 1, 0, 0]]}]})
    with pytest.raises(ConfigError, match="netlist"):
        openroad.render(setup.config, setup.platform, tmp_path, netlist=tmp_path / "none.v")


def test_netlist_replaces_rtl(nangate45, tmp_path):
    setup = setup_for("nangate45")
    net = tmp_path / "gcd_synth.v"
    net.write_text("module gcd(); endmodule\n")
    files = openroad.render(setup.config, setup.platform, tmp_path / "or", netlist=net)
    assert Session().source(files["floorplan"]).one("read_verilog").positional == [str(net.resolve())]


# ---- voltage islands ------------------------------------------------------------------------------
ISLANDS = {"regions": [
    {"name": "isl0", "rects": [[10.0e-6, 11.2e-6, 30.4e-6, 25.2e-6]], "instances": ["_101_", "_102_", "u0.r[3]"],
     "exclusive": True},
    {"name": "isl1", "rects": [[30.4e-6, 11.2e-6, 50.16e-6, 25.2e-6]], "instances": ["_201_"], "exclusive": True},
]}


def _rect_um(isl: dict) -> list[float]:
    return [v * 1e6 for v in isl["rects"][0]]


def test_islands_floorplan_pdn_place(any_platform, tmp_path):
    setup = setup_for(any_platform.name)
    files = openroad.render(setup.config, setup.platform, tmp_path, islands=ISLANDS)
    s = Session()
    runs = {st: s.source(files[st]) for st in openroad.STAGES}
    fp = runs["floorplan"]
    cvd = {c.positional[0]: [float(v) for v in c.keys["-area"].split()] for c in fp.of("create_voltage_domain")}
    assert fp.names().index("create_voltage_domain") < fp.names().index("initialize_floorplan")
    assert set(cvd) == {"isl0", "isl1"}
    for isl in ISLANDS["regions"]:
        assert cvd[isl["name"]] == pytest.approx(_rect_um(isl), abs=1e-4)
    assert sorted(c.args for c in fp.of("setRegionType")) == [["isl0", "EXCLUSIVE"], ["isl1", "EXCLUSIVE"]]
    regions = s.regions()
    pdn = runs["pdn"]
    domains = [c for c in pdn.of("set_voltage_domain") if c.keys.get("-name") != "CORE"]
    assert len(domains) == len(ISLANDS["regions"])
    for isl in ISLANDS["regions"]:
        (vd,) = [c for c in domains if c.keys["-name"] == isl["name"]]
        assert regions[vd.keys["-region"]] == pytest.approx(_rect_um(isl), abs=1e-4)
        assert vd.keys["-power"] == f"VDD_{isl['name']}" and vd.keys["-ground"] == "VSS"
        grids = [c for c in pdn.of("define_pdn_grid") if c.keys.get("-voltage_domains") == isl["name"]]
        assert len(grids) == 1
        gname = grids[0].keys["-name"]
        assert [c for c in pdn.of("add_pdn_stripe") if c.keys.get("-grid") == gname]
        conns = [c for c in pdn.of("add_global_connection") if c.keys.get("-region") == vd.keys["-region"]]
        assert conns and all(c.keys["-net"] == vd.keys["-power"] for c in conns)
    core = [c for c in pdn.of("set_voltage_domain") if c.keys.get("-name") == "CORE"]
    assert len(core) == 1 and "-region" not in core[0].keys
    assert pdn.names().index("pdngen") > max(i for i, n in enumerate(pdn.names()) if n == "add_pdn_connect")
    # place: each island's instances fenced in its group before global placement
    assert sorted((g, i) for op, g, i in s.members if op == "add") == sorted(
        (isl["name"], i) for isl in ISLANDS["regions"] for i in isl["instances"])
    names = runs["place"].names()
    assert "global_connect" in names and names.index("detailed_placement") < names.index("global_connect")
    assert not [ln for ln in runs["place"].output if "WARNING" in ln]


def test_pre_placed_cells_fixed_before_tapcell(sky130hd, tmp_path):
    """FINE-VH level shifters come with the islands as `fixed` (metres): the floorplan script
    puts each at its lower-left in DBU, orientation R0, FIXED, before tapcell runs."""
    setup = setup_for("sky130hd")
    islands = {**ISLANDS, "fixed": [{"name": "finevh_ls_isl1_0", "x": 30.36e-6, "y": 11.2e-6},
                                    {"name": "ls {odd}", "x": 31.28e-6, "y": 16.64e-6}]}
    files = openroad.render(setup.config, setup.platform, tmp_path, islands=islands)
    fp = Session().source(files["floorplan"])
    locs = {c.args[0]: (int(c.args[1]), int(c.args[2])) for c in fp.of("setLocation")}
    assert locs == {"finevh_ls_isl1_0": (30360, 11200), "ls {odd}": (31280, 16640)}
    assert sorted(c.args for c in fp.of("setPlacementStatus")) == [["finevh_ls_isl1_0", "FIXED"], ["ls {odd}", "FIXED"]]
    names = fp.names()
    assert max(i for i, n in enumerate(names) if n == "setPlacementStatus") < names.index("tapcell")
    with pytest.raises(ConfigError, match="fixed"):
        openroad.render(setup.config, setup.platform, tmp_path, islands={**ISLANDS, "fixed": [{"name": "a"}]})


def test_islands_report_missing_instances(nangate45, tmp_path):
    setup = setup_for("nangate45")
    files = openroad.render(setup.config, setup.platform, tmp_path, islands=ISLANDS)
    s = Session(missing_insts=("_102_",))
    for st in ("floorplan", "pdn", "place"):
        run = s.source(files[st])
    assert any("1 of 3 instances of island isl0" in ln for ln in run.output)


def test_islands_with_upf_and_power_switch(nangate45, tmp_path):
    """FINE-VH's own UPF: regions come from set_domain_area, switched island rails from VDDH."""
    from flow.formats.upf import write_upf
    from plugins.finevh.plugin import build_upf

    names = [r["name"] for r in ISLANDS["regions"]]
    members = {r["name"]: r["instances"] for r in ISLANDS["regions"]}
    rects = [r["rects"][0] for r in ISLANDS["regions"]]
    doc = {"rail_voltage": {"VDDH": 1.1, "VDDL": 0.95}, "vddh": "VDDH", "vddl": "VDDL"}
    upf = tmp_path / "gcd.upf"
    write_upf(build_upf(names, members, rects, doc), upf)
    plat = dataclasses.replace(nangate45, power_switch={**nangate45.power_switch, "cell": "HEADER_X1",
                                                        "control_pin": "SLEEP", "switched_power_pin": "VDD",
                                                        "power_pin": "VDDG", "ground_pin": "VSS"})
    setup = setup_for("nangate45")
    files = openroad.render(setup.config, plat, tmp_path / "or", islands=ISLANDS, upf=upf)
    s = Session()
    runs = {st: s.source(files[st]) for st in openroad.STAGES}
    fp = runs["floorplan"]
    assert Path(fp.one("read_upf").keys["-file"]) == files["upf"]
    assert fp.names().index("read_upf") < fp.names().index("initialize_floorplan")
    assert not fp.of("create_voltage_domain")  # read_upf makes the regions
    assert "set_domain_voltage PD_isl0 -rails" not in "\n".join(
        ln for ln in files["upf"].read_text().splitlines() if not ln.startswith("#"))
    regions = s.regions()
    pdn = runs["pdn"]
    assert pdn.one("define_power_switch_cell").keys == {"-name": "HEADER_X1", "-control": "SLEEP",
                                                         "-power_switchable": "VDD", "-power": "VDDG", "-ground": "VSS"}
    core = [c for c in pdn.of("set_voltage_domain") if c.keys["-name"] == "CORE"][0]
    assert core.keys["-power"] == "VDDH"
    for isl in ISLANDS["regions"]:
        n = isl["name"]
        (vd,) = [c for c in pdn.of("set_voltage_domain") if c.keys["-name"] == n]
        assert vd.keys["-region"] == f"PD_{n}"
        assert regions[f"PD_{n}"] == pytest.approx(_rect_um(isl), abs=1e-3)
        assert (vd.keys["-power"], vd.keys["-switched_power"], vd.keys["-secondary_power"]) == ("VDDH", f"VDD_{n}", "VDDL")
        (grid,) = [c for c in pdn.of("define_pdn_grid") if c.keys.get("-voltage_domains") == n]
        assert grid.keys["-power_switch_cell"] == "HEADER_X1" and grid.keys["-power_control"] == f"hop_{n}"
    assert [c.positional[0] for c in pdn.of("odb::dbNet_create")] == ["hop_isl0", "hop_isl1"]
    assert any(c.keys["-pin_pattern"] == "^VDDG$" and c.keys["-net"] == "VDDH" for c in pdn.of("add_global_connection"))


# ---- the section markers agree with the report parser ---------------------------------------------
def test_signoff_sections_feed_the_parser(nangate45, tmp_path):
    from tests.openroad.test_reports import MODERN_CHECKS_MAX, MODERN_POWER

    setup = setup_for("nangate45")
    files = openroad.render(setup.config, setup.platform, tmp_path)
    reports = {"report_tns": "tns max -0.12", "report_wns": "wns max -0.05",
               "report_worst_slack": "worst slack max -0.05", "report_power": MODERN_POWER,
               "report_checks": MODERN_CHECKS_MAX, "report_design_area": "Design area 512 um^2 38% utilization."}
    s = Session(reports=reports)
    for st in openroad.STAGES:
        run = s.source(files[st])
    m = parse_log(run.log())
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "signoff.log").write_text(run.log())
    assert openroad.metrics(files, run_dir) == m  # what the runner calls, with render's units
    assert m["timing__setup__tns"] == pytest.approx(-0.12e-9)
    assert m["timing__setup__ws"] == pytest.approx(-0.05e-9)
    assert m["power__total"] == pytest.approx(2.38e-3)
    assert m["design__instance__area"] == 512 and m["design__instance__utilization"] == pytest.approx(0.38)


# ---- run -------------------------------------------------------------------------------------
FAKE = r'''#!{python}
"""Fake openroad for tests: behaviour from "# FAKE:" lines of the script it is given."""
import json, os, sys, time
args = sys.argv[1:]
assert args[:2] == ["-exit", "-no_init"], args
metrics = args[args.index("-metrics") + 1]
script = open(args[-1]).read()
with open(os.path.join(os.getcwd(), "calls.txt"), "a") as fh:
    fh.write(os.path.basename(args[-1]) + "\n")
for line in script.splitlines():
    if not line.startswith("# FAKE: "):
        continue
    op, _, arg = line[8:].partition(" ")
    if op == "print":
        print(arg, flush=True)
    elif op == "sleep":
        time.sleep(float(arg))
    elif op == "pidfile":
        open(arg, "w").write(str(os.getpid()))
    elif op == "metrics":
        open(metrics, "w").write(arg)
    elif op == "exit":
        sys.exit(int(arg))
'''


@pytest.fixture
def fake_openroad(tmp_path, monkeypatch):
    return install_fake_openroad(tmp_path, monkeypatch, FAKE)


def _script(tmp_path: Path, name: str, *ops: str) -> Path:
    p = tmp_path / f"{name}.tcl"
    p.write_text("\n".join(f"# FAKE: {op}" for op in ops) + "\n")
    return p


def test_find_openroad(fake_openroad, monkeypatch, tmp_path):
    assert openroad.find_openroad() == fake_openroad
    monkeypatch.setenv("OPENROAD_EXE", str(fake_openroad))
    assert openroad.find_openroad() == fake_openroad
    monkeypatch.setenv("OPENROAD_EXE", str(tmp_path / "nope"))
    with pytest.raises(ToolError, match="OPENROAD_EXE"):
        openroad.find_openroad()
    monkeypatch.delenv("OPENROAD_EXE")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert openroad.find_openroad() is None
    with pytest.raises(ToolError, match="openroad not found"):
        openroad.run({"a": _script(tmp_path, "a", "exit 0")}, tmp_path / "run", 10, lambda s: None)


def test_run_streams_lines_in_order(fake_openroad, tmp_path):
    scripts = {
        "floorplan": _script(tmp_path, "floorplan", "print first", "sleep 1.0", "print second",
                             'metrics {"floorplan__design__instance__area": 12.5}', "exit 0"),
        "place": _script(tmp_path, "place", "print vhflow-section: report_design_area",
                         "print Design area 99 um^2 40% utilization.", "exit 0"),
        "config": tmp_path / "config.mk",  # not a script: skipped
    }
    got: list[tuple[float, str]] = []
    run_dir = tmp_path / "run"
    openroad.run(scripts, run_dir, 30, lambda ln: got.append((time.monotonic(), ln)))
    lines = [ln for _, ln in got]
    assert lines == ["first", "second", "vhflow-section: report_design_area", "Design area 99 um^2 40% utilization."]
    assert got[1][0] - got[0][0] >= 0.8  # "first" arrived while the process was still sleeping
    assert (run_dir / "calls.txt").read_text().split() == ["floorplan.tcl", "place.tcl"]
    assert "second" in (run_dir / "floorplan.log").read_text()
    from flow.backends.openroad_reports import collect_metrics

    m = collect_metrics(run_dir, ["floorplan", "place"])
    assert m["design__instance__area"] == 99 and m["floorplan__design__instance__area"] == 12.5


def test_run_failure_names_script_and_stops(fake_openroad, tmp_path):
    scripts = {"floorplan": _script(tmp_path, "floorplan", "print ok", "exit 0"),
               "pdn": _script(tmp_path, "pdn", "print [ERROR PDN-0175] no grid defined", "print tail line", "exit 1"),
               "place": _script(tmp_path, "place", "print never", "exit 0")}
    lines: list[str] = []
    with pytest.raises(StageError) as exc:
        openroad.run(scripts, tmp_path / "run", 30, lines.append)
    msg = str(exc.value)
    assert "pdn.tcl" in msg and "exit status 1" in msg and "tail line" in msg and "PDN-0175" in msg
    assert "never" not in lines and not (tmp_path / "run" / "place.log").exists()


def test_run_error_line_with_zero_exit_fails(fake_openroad, tmp_path):
    scripts = {"route": _script(tmp_path, "route", "print [ERROR GRT-0118] Routing congestion too high.", "exit 0")}
    with pytest.raises(StageError, match="GRT-0118"):
        openroad.run(scripts, tmp_path / "run", 30, lambda s: None)


def test_run_timeout_kills_the_process(fake_openroad, tmp_path):
    pidfile = tmp_path / "pid"
    scripts = {"cts": _script(tmp_path, "cts", f"pidfile {pidfile}", "print started", "sleep 60", "exit 0")}
    t0 = time.monotonic()
    with pytest.raises(StageError, match=r"cts\.tcl timed out after 1\.5 s") as exc:
        openroad.run(scripts, tmp_path / "run", 1.5, lambda s: None)
    assert time.monotonic() - t0 < 15
    assert "started" in str(exc.value)
    pid = int(pidfile.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
