"""The signoff stage on a hand-made State, the `vhflow sta/power` commands, the plugin hooks."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from flow.commands import sta as sta_cmd
from flow.stage import StageContext
from flow.stages.signoff import SignoffStage
from flow.state import State
from tests.signoff.handlib import write_lib
from tests.signoff.test_sta_hand import NETLIST, SDC


def test_stage_writes_views_metrics_reports(tmp_path, nangate45):
    v = tmp_path / "top.v"
    # the hand netlist uses Nangate cell names for the two cell types
    v.write_text(NETLIST.replace("INV_X1", "INV_X1").replace("DFF_X1", "DFF_X1"))
    (tmp_path / "top.sdc").write_text(SDC)
    state = State({"verilog": v, "sdc": tmp_path / "top.sdc"})
    cfg = {"DESIGN_NAME": "top", "ACTIVITY": None, "ACTIVITY_SCOPE": None, "INPUT_ACTIVITY": 0.1,
           "SIGNOFF_CORNERS": ["typical", "slow"], "CLOCK_PROPAGATED": None}
    ctx = StageContext(cfg, nangate45, tmp_path / "stage", tmp_path, tmp_path, log=logging.getLogger("t"))
    res = SignoffStage().run(state, ctx)
    m = res.metrics
    assert m["timing__setup__ws"] == pytest.approx(min(m["timing__setup__ws__corner:typical"],
                                                       m["timing__setup__ws__corner:slow"]))
    # the slow corner (0.95 V, 125 C) is slower than typical
    assert m["timing__setup__ws__corner:slow"] < m["timing__setup__ws__corner:typical"]
    assert m["power__total"] == pytest.approx(m["power__internal__total"] + m["power__switching__total"]
                                              + m["power__leakage__total"])
    assert m["power__leakage__total"] > 0 and m["power__switching__total"] > 0
    doc = json.loads(res.views["power"].read_text())
    npz = np.load(res.views["power"].parent / doc["instances_npz"])
    assert float(npz["total_w"].sum()) == pytest.approx(doc["total_w"])
    assert list(npz["inst_names"]) == ["r1", "u1", "r2", "u2"]
    checks = (ctx.stage_dir / "reports/checks.rpt").read_text()
    assert "slack" in checks and "max capacitance" in checks
    # timing.rpt in OpenSTA report_checks -fields {slew cap fanout} layout, both corners
    rpt = (ctx.stage_dir / "timing.rpt").read_text()
    assert rpt.count("==== corner") == 2 and rpt.count("Path Type: max") >= 2 and rpt.count("Path Type: min") >= 2
    assert "Fanout     Cap    Slew   Delay    Time   Description" in rpt
    # DRV metrics: Nangate45's default_max_transition (0.1985 ns) is met by this small netlist
    assert m["finish__timing__drv__max_slew"] == 0 and m["finish__timing__drv__max_slew_slack"] > 0
    assert m["finish__timing__drv__max_slew_slack"] < 0.1985
    assert "Sequential" in (ctx.stage_dir / "reports/power.rpt").read_text()
    t = json.loads(res.views["timing"].read_text())
    assert set(t["corners"]) == {"typical", "slow"}
    # plugin hooks read the views
    from plugins.power_signoff import plugin

    st = state.updated(res.views, res.metrics)
    pm = plugin.vhflow_metrics(st, tmp_path)
    assert sum(v for k, v in pm.items() if k.startswith("power__per_supply__")) == pytest.approx(doc["total_w"])
    secs = plugin.vhflow_report_sections(st, tmp_path, cfg)
    assert secs and "Sequential" in secs[0].html


def test_cli_sta_and_power(tmp_path):
    lib = write_lib(tmp_path / "hand.lib")
    (tmp_path / "top.v").write_text(NETLIST)
    (tmp_path / "top.sdc").write_text(SDC)
    app = typer.Typer()
    sta_cmd.register(app)

    @app.callback()
    def _main() -> None:  # keep sub-commands as sub-commands
        pass

    r = CliRunner().invoke(app, ["sta", "--lib", str(lib), "--netlist", str(tmp_path / "top.v"), "--top", "top",
                                 "--sdc", str(tmp_path / "top.sdc"), "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["setup_ws"] == pytest.approx(0.6721e-9, abs=1e-15)  # OpenSTA: 0.672100 ns
    r = CliRunner().invoke(app, ["power", "--lib", str(lib), "--netlist", str(tmp_path / "top.v"), "--top", "top",
                                 "--sdc", str(tmp_path / "top.sdc"), "--global-activity", "0.1"])
    assert r.exit_code == 0, r.output
    assert "Sequential" in r.stdout and "1.020000e-05" in r.stdout  # sta 3.1: 1.02000010e-05 W (2019: 2.02e-05)


def test_vcd_activity_wrong_scope_is_an_error(tmp_path):
    from flow.engines.sta import load_liberty
    from flow.errors import FormatError
    from flow.stages.signoff import run_signoff

    lib = write_lib(tmp_path / "hand.lib")
    (tmp_path / "top.v").write_text(NETLIST)
    (tmp_path / "top.sdc").write_text(SDC)
    vcd = tmp_path / "a.vcd"
    vcd.write_text("$timescale 1ns $end\n$scope module tb $end\n$scope module dut $end\n"
                   "$var wire 1 ! n1 $end\n$upscope $end\n$upscope $end\n$enddefinitions $end\n#0\n0!\n#5\n1!\n#10\n")
    with pytest.raises(FormatError, match="scope"):
        run_signoff([tmp_path / "top.v"], "top", {"t": load_liberty(lib)}, tmp_path / "top.sdc",
                    activity_file=vcd, scope="tb/xyz")
    res = run_signoff([tmp_path / "top.v"], "top", {"t": load_liberty(lib)}, tmp_path / "top.sdc",
                      activity_file=vcd, scope="tb/dut")
    a = res.activity["t"]
    names = res.design.node_names()
    k = names.index("u1/ZN")
    assert a.density[k] == pytest.approx(1 / 10e-9) and a.duty[k] == pytest.approx(0.5)
    assert "vcd" in res.power["t"].activity_counts
    # a dump of module nets only (no cell scopes): the net annotates each of its pins
    on_n1 = int((res.design.pin_net == res.design.net_names.index("n1")).sum())
    assert any(f"{on_n1} of {a.origin.size} pins annotated" in w for w in res.warnings)


def test_islands_mixed_supply_and_ir_drop(tmp_path, nangate45):
    """FINE-VH view: u1 on the slow (0.95 V) rail, the rest typical (1.10 V): one mixed run,
    per-supply power, a level shifter on the crossings, per-island power and IR drop."""
    v = tmp_path / "top.v"
    v.write_text(NETLIST)
    (tmp_path / "top.sdc").write_text(SDC)
    isl = tmp_path / "islands.json"
    isl.write_text(json.dumps({"instances": {"u1": "i1", "r1": "i0", "r2": "i0", "u2": "i0"},
                               "rails": {"i0": "typical", "i1": "slow"},
                               "switch_width_um": {"i0": 10.0, "i1": 2.0}, "switch_r_on_ohm_um": 1500.0,
                               "rail_voltage": {"typical": 1.1, "slow": 0.95}}))
    state = State({"verilog": v, "sdc": tmp_path / "top.sdc", "islands": isl})
    cfg = {"DESIGN_NAME": "top", "ACTIVITY": None, "ACTIVITY_SCOPE": None, "INPUT_ACTIVITY": 0.1,
           "SIGNOFF_CORNERS": ["typical"], "CLOCK_PROPAGATED": None}
    ctx = StageContext(cfg, nangate45, tmp_path / "stage", tmp_path, tmp_path, log=logging.getLogger("t"))
    res = SignoffStage().run(state, ctx)
    doc = json.loads(res.views["power"].read_text())
    assert set(doc["per_supply"]) == {"typical", "slow"}
    assert sum(doc["per_supply"].values()) == pytest.approx(doc["total_w"])
    timing = json.loads(res.views["timing"].read_text())
    assert "mixed" in timing["corners"]
    from plugins.power_signoff import plugin

    st = state.updated(res.views, res.metrics)
    m = plugin.vhflow_metrics(st, tmp_path)
    npz = np.load(res.views["power"].parent / doc["instances_npz"])
    p_i1 = float(npz["total_w"][list(npz["inst_names"]).index("u1")])
    assert m["power__per_island__i1"] == pytest.approx(p_i1)
    # dV = P / V * r_on / W
    drops = plugin.ir_drop(st)
    assert drops["i1"] == pytest.approx(p_i1 / 0.95 * 1500.0 / 2.0)
    assert m["power__ir_drop__worst"] == pytest.approx(max(drops.values()))
    html = plugin.vhflow_report_sections(st, tmp_path, cfg)[0].html
    assert "i1" in html and "IR drop" in html
