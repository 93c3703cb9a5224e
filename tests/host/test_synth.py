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
